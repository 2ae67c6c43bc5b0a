// A hostile peer: maps the shared pages it is sent and writes what the test tells it to
// (tests/hostile/peer_commands.h). Plain C++ with no baton: it plays a process that has the
// fd, as any importer has, and does not follow the protocol.
//   page_writer <socket fd>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

#include "fd_passing.h"
#include "peer_commands.h"

namespace {

uint8_t* g_pages[hostile::kMaxPages];
uint32_t g_count = 0;
std::atomic<bool> g_stop{false};
std::thread g_hammer;

template <typename T>
void store(uint8_t* page, uint32_t offset, T v) {
    if (offset + sizeof(T) > hostile::kPageBytes) return;
    __atomic_store_n(reinterpret_cast<T*>(page + (offset & ~(sizeof(T) - 1))), v, __ATOMIC_SEQ_CST);
}

// Values a protocol reader is most likely to mishandle, mixed with plain random bytes.
uint64_t pickValue(std::mt19937_64& rng, uint64_t old) {
    switch (rng() % 8) {
        case 0: return 0;
        case 1: return UINT64_MAX;
        case 2: return old + 1 + rng() % 4;
        case 3: return old ? old - 1 : 0;
        case 4: return old + (1ull << 40);
        case 5: return 1ull << (rng() % 64);
        default: return rng();
    }
}

void randomWrites(uint8_t* page, uint64_t seed, uint32_t count, uint32_t from) {
    std::mt19937_64 rng(seed);
    if (from >= 256) from = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const uint32_t offset = (from + static_cast<uint32_t>(rng() % (256 - from))) & ~7u;
        uint64_t old = __atomic_load_n(reinterpret_cast<uint64_t*>(page + offset), __ATOMIC_SEQ_CST);
        store<uint64_t>(page, offset, pickValue(rng, old));
        if (rng() % 4 == 0) __atomic_fetch_add(reinterpret_cast<uint32_t*>(page + 32), 1, __ATOMIC_SEQ_CST);  // seq
    }
}

void stopHammer() {
    g_stop.store(true);
    if (g_hammer.joinable()) g_hammer.join();
    g_stop.store(false);
}

bool handle(int sock, const hostile::Command& c, int fd) {
    uint8_t* page = c.page < g_count ? g_pages[c.page] : nullptr;
    switch (c.op) {
        case hostile::Op::Map: {
            if (fd < 0 || g_count == hostile::kMaxPages) return false;
            void* p = mmap(nullptr, hostile::kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
            if (p == MAP_FAILED) return false;
            g_pages[g_count++] = static_cast<uint8_t*>(p);
            break;
        }
        case hostile::Op::Store64: if (!page) return false; store<uint64_t>(page, c.offset, c.value); break;
        case hostile::Op::Store32: if (!page) return false; store<uint32_t>(page, c.offset, static_cast<uint32_t>(c.value)); break;
        case hostile::Op::HammerStart:
        case hostile::Op::ChurnSeq: {
            if (!page) return false;
            stopHammer();
            const bool churn = c.op == hostile::Op::ChurnSeq;
            g_hammer = std::thread([page, c, churn] {
                while (!g_stop.load(std::memory_order_relaxed)) {
                    store<uint32_t>(page, c.offset, static_cast<uint32_t>(c.value));
                    if (churn) __atomic_fetch_add(reinterpret_cast<uint32_t*>(page + 32), 1, __ATOMIC_SEQ_CST);
                }
            });
            break;
        }
        case hostile::Op::HammerStop: stopHammer(); break;
        case hostile::Op::Random: if (!page) return false; randomWrites(page, c.seed, c.count, c.offset); break;
        case hostile::Op::Exit: stopHammer(); _exit(0);
    }
    hostile::Ack ack{1, g_count};
    return batontest::sendAll(sock, &ack, sizeof ack);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: page_writer <socket fd>\n");
        return 2;
    }
    const int sock = std::atoi(argv[1]);
    for (;;) {
        hostile::Command c{};
        int fd = -1, n = 0;
        if (!batontest::recvWithFds(sock, &c, sizeof c, &fd, 1, &n)) {
            stopHammer();
            return 0;  // the test closed its end (or died): nothing left to do
        }
        if (!handle(sock, c, n ? fd : -1)) {
            std::fprintf(stderr, "page_writer: command %u failed\n", static_cast<unsigned>(c.op));
            hostile::Ack nack{0, g_count};
            if (!batontest::sendAll(sock, &nack, sizeof nack)) return 1;
        }
    }
}
