// A hostile transport peer: a separate process that sends one malformed or lying handle
// message (hostile_scenarios.h) over the Unix socket it inherited, then stays until the
// receiver closes its end (or exits at once, for the scenarios that close mid-message).
// It does not link baton: it writes the bytes itself, as a foreign program would.
//   hostile_peer <scenario> <socket fd> <device UUID hex> <driver UUID hex>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <string>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "hostile_scenarios.h"

using namespace hostile;

namespace {

int g_sock = -1;
uint8_t g_device[VK_UUID_SIZE], g_driver[VK_UUID_SIZE];

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "hostile_peer: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
}

void parseUuid(const char* hex, uint8_t* out) {
    if (std::strlen(hex) != 2 * VK_UUID_SIZE) die("bad UUID argument");
    for (unsigned i = 0; i < VK_UUID_SIZE; ++i) out[i] = static_cast<uint8_t>(std::stoul(std::string(hex + 2 * i, 2), nullptr, 16));
}

// Sends len bytes with fds in one sendmsg (an empty message is allowed: datagram sockets).
// mayFail: the receiver may have refused an earlier part and closed its end.
void sendRaw(const void* data, size_t len, const std::vector<int>& fds, bool mayFail = false) {
    std::vector<char> ctrl(CMSG_SPACE(sizeof(int) * fds.size()) + 1);
    iovec iov{const_cast<void*>(data), len};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (!fds.empty()) {
        m.msg_control = ctrl.data();
        m.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    if (sendmsg(g_sock, &m, MSG_NOSIGNAL) != static_cast<ssize_t>(len) && !mayFail) die("sendmsg");
}

int pipeFd() {
    int p[2];
    if (pipe(p) != 0) die("pipe");
    return p[0];
}

int sealedMemfd(const void* page, size_t size, unsigned seals) {
    int fd = memfd_create("hostile", MFD_ALLOW_SEALING);
    if (fd < 0) die("memfd_create");
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) die("ftruncate");
    if (page && pwrite(fd, page, 4096, 0) != 4096) die("pwrite");
    if (seals && fcntl(fd, F_ADD_SEALS, seals) != 0) die("F_ADD_SEALS");
    return fd;
}

// A baton-shaped semaphore page: magic, version, kind, then zeros or garbage.
int batonPage(uint32_t version, uint32_t kind, bool garbage, unsigned seals) {
    uint32_t page[1024] = {};
    if (garbage) {
        std::mt19937 rng(1234);
        for (auto& w : page) w = rng();
    }
    page[0] = kPageMagic;
    page[1] = version;
    page[2] = kind;
    return sealedMemfd(page, 4096, seals);
}
constexpr unsigned kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

batonHandleHeader header(int kind, int backend) {
    batonHandleHeader h{};
    std::memcpy(&h.kind, &kind, sizeof kind);  // any int, as a foreign program may write
    std::memcpy(&h.backend, &backend, sizeof backend);
    std::memcpy(h.deviceUUID, g_device, VK_UUID_SIZE);
    std::memcpy(h.driverUUID, g_driver, VK_UUID_SIZE);
    h.value = 5;
    return h;
}

Wire wire(const batonHandleHeader& h) { return Wire{kMagic, kVersion, static_cast<uint16_t>(sizeof h), h}; }

void sendWire(const Wire& w, const std::vector<int>& fds) { sendRaw(&w, sizeof w, fds); }

const int kTimeline = batonHandleKindTimelineSemaphore, kPortable = batonSemaphoreBackendPortable,
          kNative = batonSemaphoreBackendNative;

void sendPortable(int fd) { sendWire(wire(header(kTimeline, kPortable)), {fd}); }
void sendNative(int fd) { sendWire(wire(header(kTimeline, kNative)), {fd}); }

batonHandleHeader memoryHeader(int descKind, uint64_t size) {
    batonHandleHeader h = header(batonHandleKindMemory, kNative);
    std::memcpy(&h.memory.kind, &descKind, sizeof descKind);
    h.memory.size = size;
    h.memory.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    // No required properties: memory type 0 then fits on every driver (on NVIDIA it is not
    // host-visible), so these scenarios reach the fd checks they are about.
    h.memory.memoryProperties = 0;
    h.allocationSize = size;
    return h;
}

// Returns false when the peer must exit at once (closing mid-message).
bool run(Scenario s) {
    const Wire good = wire(header(kTimeline, kPortable));
    switch (s) {
        case Scenario::ShortNoFd: sendRaw(&good, 10, {}); return true;
        case Scenario::ShortWithFd: sendRaw(&good, 10, {pipeFd()}); return true;
        case Scenario::ShortThenClose: sendRaw(&good, sizeof good / 2, {pipeFd()}); return false;
        case Scenario::EmptyWithFds: sendRaw(&good, 0, {pipeFd(), pipeFd()}); return true;
        case Scenario::Oversized: {
            std::vector<char> big(sizeof good + 4096, 'x');
            std::memcpy(big.data(), &good, sizeof good);
            sendRaw(big.data(), big.size(), {batonPage(1, 2, false, kSeals)});
            return true;
        }
        case Scenario::Junk: {
            std::vector<char> junk(4096);
            std::mt19937 rng(99);
            for (auto& c : junk) c = static_cast<char>(rng());
            sendRaw(junk.data(), junk.size(), {});
            return true;
        }
        case Scenario::WrongMagic: { Wire w = good; w.magic ^= 1; sendWire(w, {pipeFd()}); return true; }
        case Scenario::WrongVersion: { Wire w = good; w.version = 2; sendWire(w, {pipeFd()}); return true; }
        case Scenario::WrongSize: { Wire w = good; w.size -= 8; sendWire(w, {pipeFd()}); return true; }
        case Scenario::ReservedSet: {
            Wire w = good;
            w.header.reserved[3] = 7;
            sendWire(w, {batonPage(1, 2, false, kSeals)});
            return true;
        }
        case Scenario::NoFd: sendWire(good, {}); return true;
        case Scenario::TwoFds: sendWire(good, {batonPage(1, 2, false, kSeals), pipeFd()}); return true;
        case Scenario::ManyFds: {
            std::vector<int> fds;
            int p = pipeFd();
            for (int i = 0; i < 64; ++i) fds.push_back(p);  // the kernel installs 64 copies
            sendWire(good, fds);
            return true;
        }
        case Scenario::KindZero: sendWire(wire(header(0, kPortable)), {batonPage(1, 2, false, kSeals)}); return true;
        case Scenario::KindHuge:
            sendWire(wire(header(0x7fffffff, kPortable)), {batonPage(1, 2, false, kSeals)});
            return true;
        case Scenario::KindNegative: sendWire(wire(header(-1, kPortable)), {batonPage(1, 2, false, kSeals)}); return true;
        case Scenario::KindMemory:
            sendWire(wire(header(batonHandleKindMemory, kPortable)), {batonPage(1, 2, false, kSeals)});
            return true;
        case Scenario::KindBinary:
            sendWire(wire(header(batonHandleKindBinarySemaphore, kPortable)), {batonPage(1, 1, false, kSeals)});
            return true;
        case Scenario::BackendZero: sendWire(wire(header(kTimeline, 0)), {batonPage(1, 2, false, kSeals)}); return true;
        case Scenario::BackendHuge:
            sendWire(wire(header(kTimeline, 0x40000000)), {batonPage(1, 2, false, kSeals)});
            return true;
        case Scenario::PortablePipe: sendPortable(pipeFd()); return true;
        case Scenario::PortableDevNull: sendPortable(open("/dev/null", O_RDWR)); return true;
        case Scenario::PortableEventfd: sendPortable(eventfd(0, 0)); return true;
        case Scenario::PortableSocket: sendPortable(socket(AF_UNIX, SOCK_STREAM, 0)); return true;
        case Scenario::PortableFile: sendPortable(open("/proc/self/exe", O_RDONLY)); return true;
        case Scenario::PortableForeignMemfd: sendPortable(sealedMemfd(nullptr, 4096, kSeals)); return true;
        case Scenario::PortableUnsealedBatonPage: sendPortable(batonPage(1, 2, false, 0)); return true;
        case Scenario::PortableWriteSealedPage:
            sendPortable(batonPage(1, 2, false, kSeals | F_SEAL_WRITE));
            return true;
        case Scenario::PortablePageWrongKind: sendPortable(batonPage(1, 1, false, kSeals)); return true;
        case Scenario::PortablePageBadKind: sendPortable(batonPage(1, 77, false, kSeals)); return true;
        case Scenario::PortablePageBadVersion: sendPortable(batonPage(9, 2, false, kSeals)); return true;
        case Scenario::PortablePageGarbage: sendPortable(batonPage(1, 2, true, kSeals)); return true;
        case Scenario::NativePipe: sendNative(pipeFd()); return true;
        case Scenario::NativeEventfd: sendNative(eventfd(0, 0)); return true;
        case Scenario::NativeForgedDevice: {
            Wire w = wire(header(kTimeline, kNative));
            w.header.deviceUUID[0] ^= 0xff;
            sendWire(w, {pipeFd()});
            return true;
        }
        case Scenario::NativeForgedDriver: {
            Wire w = wire(header(kTimeline, kNative));
            w.header.driverUUID[15] ^= 0x5a;
            sendWire(w, {pipeFd()});
            return true;
        }
        case Scenario::NativeBatonMemfd: sendNative(batonPage(1, 2, false, kSeals)); return true;
        case Scenario::MemoryPipe: sendWire(wire(memoryHeader(batonMemoryKindBuffer, 4096)), {pipeFd()}); return true;
        case Scenario::MemoryBadDesc:
            sendWire(wire(memoryHeader(99, 4096)), {sealedMemfd(nullptr, 1 << 20, 0)});
            return true;
        case Scenario::MemoryNegativeFormat: {
            batonHandleHeader h = memoryHeader(batonMemoryKindImage, 0);
            const int format = -5;
            std::memcpy(&h.memory.format, &format, sizeof format);
            h.memory.bufferUsage = 0;
            h.memory.width = h.memory.height = 16;
            h.memory.imageUsage = VK_IMAGE_USAGE_SAMPLED_BIT;
            h.allocationSize = 1 << 16;
            sendWire(wire(h), {sealedMemfd(nullptr, 1 << 20, 0)});
            return true;
        }
        case Scenario::MemorySmallMemfd:
            sendWire(wire(memoryHeader(batonMemoryKindBuffer, 1 << 20)), {sealedMemfd(nullptr, 4096, 0)});
            return true;
        case Scenario::MemoryBackendPortable: {
            batonHandleHeader h = memoryHeader(batonMemoryKindBuffer, 4096);
            int portable = kPortable;
            std::memcpy(&h.backend, &portable, sizeof portable);
            sendWire(wire(h), {sealedMemfd(nullptr, 4096, 0)});
            return true;
        }
        case Scenario::MemoryForgedDevice: {
            batonHandleHeader h = memoryHeader(batonMemoryKindBuffer, 4096);
            h.deviceUUID[7] ^= 1;
            sendWire(wire(h), {sealedMemfd(nullptr, 4096, 0)});
            return true;
        }
        case Scenario::SplitMessage: {
            const char* b = reinterpret_cast<const char*>(&good);
            sendRaw(b, 7, {batonPage(1, 2, false, kSeals)});
            usleep(20000);
            sendRaw(b + 7, 50, {}, true);
            usleep(20000);
            sendRaw(b + 57, sizeof good - 57, {}, true);
            return true;
        }
        case Scenario::Good: sendPortable(batonPage(1, 2, false, kSeals)); return true;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: hostile_peer <scenario> <socket fd> <device UUID> <driver UUID>\n");
        return 2;
    }
    alarm(30);  // never outlive a broken test
    g_sock = std::atoi(argv[2]);
    parseUuid(argv[3], g_device);
    parseUuid(argv[4], g_driver);
    int which = -1;
    for (int i = 0; i <= static_cast<int>(Scenario::Good); ++i)
        if (std::strcmp(argv[1], scenarioName(static_cast<Scenario>(i))) == 0) which = i;
    if (which < 0) {
        std::fprintf(stderr, "hostile_peer: unknown scenario %s\n", argv[1]);
        return 2;
    }
    if (!run(static_cast<Scenario>(which))) return 0;
    // Stay until the receiver closes its end: what the receiver sees is only the message.
    for (;;) {
        char c;
        ssize_t n = read(g_sock, &c, 1);
        if (n == 0 || (n < 0 && errno != EINTR)) return 0;
    }
}
