// Writes the seed inputs of tests/fuzz/corpus/<target>/ (a few well-formed inputs per target,
// so that the fuzzers start past the first checks). Built with BATON_FUZZ=ON:
//   build/fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
// The layouts follow each target's "Input:" comment.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <baton/baton_memory.h>
#include <baton/baton_transport.h>

#include "fd/handle_message.h"
#include "fuzz_fds.h"
#include "sync/shared_state.h"

namespace {

using Bytes = std::vector<uint8_t>;

template <class T>
void put(Bytes& b, const T& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
}

void write(const std::string& dir, const char* name, const Bytes& b) {
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(b.data(), 1, b.size(), f) != b.size()) fuzz::die(path.c_str());
    std::fclose(f);
}

baton::WireMessage wire(int kind, int backend) {
    baton::WireMessage w{};
    w.magic = baton::kWireMagic;
    w.version = baton::kWireVersion;
    w.size = sizeof(batonHandleHeader);
    std::memcpy(&w.header.kind, &kind, sizeof kind);
    std::memcpy(&w.header.backend, &backend, sizeof backend);
    w.header.value = 7;
    return w;
}

batonMemoryDesc bufferDesc() {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindBuffer;
    d.size = 4096;
    d.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    d.memoryProperties = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    return d;
}

void transportSeeds(const std::string& dir) {
    auto seed = [&](const char* name, std::vector<fuzz::FdKind> fds, uint8_t flags, int expected,
                    const baton::WireMessage& w) {
        Bytes b;
        b.push_back(static_cast<uint8_t>(fds.size()));
        for (auto k : fds) b.push_back(static_cast<uint8_t>(k));
        b.push_back(flags);
        b.push_back(static_cast<uint8_t>(expected));
        b.push_back(3);  // identity: the sender's UUIDs
        put(b, w);
        write(dir, name, b);
    };
    seed("portable-timeline", {fuzz::FdKind::BatonPage}, 0, batonHandleKindTimelineSemaphore,
         wire(batonHandleKindTimelineSemaphore, batonSemaphoreBackendPortable));
    seed("portable-keyed-mutex", {fuzz::FdKind::BatonPage}, 0, batonHandleKindKeyedMutex,
         wire(batonHandleKindKeyedMutex, batonSemaphoreBackendPortable));
    seed("native-binary-pipe", {fuzz::FdKind::Pipe}, 0, batonHandleKindBinarySemaphore,
         wire(batonHandleKindBinarySemaphore, batonSemaphoreBackendNative));
    baton::WireMessage mem = wire(batonHandleKindMemory, batonSemaphoreBackendNative);
    mem.header.memory = bufferDesc();
    mem.header.allocationSize = 4096;
    seed("memory-buffer", {fuzz::FdKind::BigMemfd}, 0, batonHandleKindMemory, mem);
    seed("two-fds", {fuzz::FdKind::BatonPage, fuzz::FdKind::Eventfd}, 0, batonHandleKindTimelineSemaphore,
         wire(batonHandleKindTimelineSemaphore, batonSemaphoreBackendPortable));
    seed("truncated", {fuzz::FdKind::DevNull}, 1, batonHandleKindTimelineSemaphore,
         wire(batonHandleKindTimelineSemaphore, batonSemaphoreBackendPortable));
}

// [fd kind][mode][L][16*L page bytes]
Bytes importPrefix(fuzz::FdKind k, uint8_t mode, uint32_t pageKind) {
    Bytes b{static_cast<uint8_t>(k), mode};
    if (!pageKind) {
        b.push_back(0);
        return b;
    }
    b.push_back(1);
    uint32_t page[4] = {baton::kSharedMagic, baton::kSharedVersion, pageKind, 0};
    put(b, page);
    return b;
}

void importSeeds(const std::string& dir) {
    const struct {
        const char* name;
        int type;
        uint32_t pageKind;
    } sems[] = {{"semaphore-binary", batonExternalSemaphoreHandleTypeOpaqueFd, 1},
                {"semaphore-timeline", batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 2},
                {"semaphore-keyed-mutex", batonExternalSemaphoreHandleTypeKeyedMutex, 3}};
    for (const auto& s : sems) {
        Bytes b = importPrefix(fuzz::FdKind::BatonPage, 0, s.pageKind);
        batonExternalSemaphoreHandleDesc d{};
        std::memcpy(&d.type, &s.type, sizeof s.type);
        put(b, d);
        b.push_back(0);          // type mode: as given
        put(b, uint64_t{1});     // host-wait value
        write(dir, s.name, b);
    }
    Bytes w = importPrefix(fuzz::FdKind::Pipe, 2, 0);
    batonExternalSemaphoreHandleDesc win{};
    win.type = batonExternalSemaphoreHandleTypeOpaqueWin32;
    win.handle.win32.handle = reinterpret_cast<void*>(1);
    put(w, win);
    w.push_back(0);
    write(dir, "semaphore-win32", w);

    Bytes m = importPrefix(fuzz::FdKind::BigMemfd, 1, 0);
    batonMemoryImportDesc md{};
    md.desc = bufferDesc();
    md.allocationSize = 4096;
    put(m, md);
    m.push_back(0);
    write(dir, "memory-buffer", m);
    m[0] = static_cast<uint8_t>(fuzz::FdKind::Count);  // fuzz_import: a dup of driver-exported memory
    write(dir, "memory-buffer-driver-fd", m);
    Bytes im = importPrefix(fuzz::FdKind::BigMemfd, 1, 0);
    batonMemoryImportDesc id{};
    id.desc.kind = batonMemoryKindImage;
    id.desc.format = VK_FORMAT_R8G8B8A8_UNORM;
    id.desc.width = id.desc.height = 16;
    id.desc.imageUsage = VK_IMAGE_USAGE_SAMPLED_BIT;
    id.desc.tiling = VK_IMAGE_TILING_LINEAR;
    id.allocationSize = 65536;
    put(im, id);
    im.push_back(0);
    write(dir, "memory-image", im);
}

// [kind byte][op count][ops: code + 8-byte argument][page]
void pageSeeds(const std::string& dir) {
    auto kindByte = [](int k) {  // 0xC0 bits: magic, version and kind forced; expected = 1 + b % 3
        for (int b = 0xC0; b < 0x100; ++b)
            if (1 + b % 3 == k) return static_cast<uint8_t>(b);
        return uint8_t{0xC0};
    };
    auto seed = [&](const char* name, int kind, std::vector<std::pair<uint8_t, uint64_t>> ops) {
        Bytes b{kindByte(kind), static_cast<uint8_t>(ops.size())};
        for (auto& o : ops) {
            b.push_back(o.first);
            put(b, o.second);
        }
        write(dir, name, b);
    };
    seed("binary", 1, {{3, 0}, {4, 0}, {4, 0}, {6, 0}});
    seed("timeline", 2, {{1, 5}, {2, 5}, {0, 5}, {1, 4}, {6, 1}, {5, 0}});
    seed("keyed-mutex", 3, {{7, 0x100000000ull}, {8, 0x100000000ull}, {7, 0}, {9, 0}});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_make_seeds <corpus dir>\n");
        return 2;
    }
    const std::string root = argv[1];
    transportSeeds(root + "/fuzz_transport_message");
    importSeeds(root + "/fuzz_import");
    pageSeeds(root + "/fuzz_shared_page");
    return 0;
}
