// libFuzzer target: the import descriptor path. batonImportExternalSemaphore and
// batonImportMemory with fuzzed descriptor fields x every kind of fd (baton-shaped memfds
// with fuzzed page contents, other memfds sealed and not, pipe, socket, eventfd, /dev/null,
// a regular file, a closed fd number), on the default context (lavapipe where no GPU).
// Properties: no crash or UB; on failure the fd is untouched and open and no fd appeared;
// on success baton owns the fd, and destroying the handle closes it (nothing leaks).
// Input: [fd kind][mode][L][16*L page bytes][descriptor bytes][type mode][more]
#include <baton/baton.h>
#include <baton/baton_memory.h>

#include "fuzz_fds.h"

namespace {

// An fd of memory the driver exported (kept for the whole run): the one kind of fd a memory
// import can succeed with on lavapipe. Handed out as a dup, like the other kinds.
int g_driverMemory = -1;

// offsetMayMove: a memory import hands the driver a dup of the fd (frames/memory.cpp), which
// shares the file offset, and lavapipe reads its memfd header through it (32 bytes) before
// refusing it. Everything else about the fd must be as it was.
void checkFailedImport(int fd, fuzz::FdPrint before, bool offsetMayMove = false) {
    if (offsetMayMove) before.offset = fuzz::printOf(fd).offset;
    const fuzz::FdPrint after = fuzz::printOf(fd);
    if (!fuzz::samePrint(before, after))
        std::fprintf(stderr, "failed import touched fd %d (open %d->%d, ino %lu->%lu, flags %x->%x, offset %ld->%ld): %s\n",
                     fd, before.open, after.open, static_cast<unsigned long>(before.ino),
                     static_cast<unsigned long>(after.ino), before.flFlags, after.flFlags, static_cast<long>(before.offset),
                     static_cast<long>(after.offset), batonGetLastErrorMessage());
    FUZZ_CHECK(fuzz::samePrint(before, fuzz::printOf(fd)));
}

void importSemaphore(fuzz::Input& in, int fd, bool ourFd) {
    batonExternalSemaphoreHandleDesc d{};
    in.bytes(&d, sizeof d);
    const uint8_t typeMode = in.byte();
    if (typeMode & 1) {  // mostly the three Linux types, so that the fd gets looked at
        const int types[] = {batonExternalSemaphoreHandleTypeOpaqueFd, batonExternalSemaphoreHandleTypeTimelineSemaphoreFd,
                             batonExternalSemaphoreHandleTypeKeyedMutex};
        std::memcpy(&d.type, &types[(typeMode >> 1) % 3], sizeof(int));
        if (typeMode & 8) d.flags = 0;
    }
    d.handle.fd = ourFd ? fd : fuzz::unownedFdNumber(d.handle.fd, fd);
    const fuzz::FdPrint before = fuzz::printOf(fd);
    batonExternalSemaphore_t s = nullptr;
    batonError_t e = batonImportExternalSemaphore(&s, &d);
    if (std::getenv("FUZZ_VERBOSE")) std::fprintf(stderr, "semaphore import: %s %s\n", batonGetErrorName(e), batonGetLastErrorMessage());
    if (e != batonSuccess) {
        checkFailedImport(fd, before);
        FUZZ_CHECK(batonGetLastErrorMessage()[0] != '\0');
        return;
    }
    FUZZ_CHECK(s != nullptr && d.handle.fd == fd);  // only our fds are baton memfds
    batonExternalSemaphoreInfo info{};
    FUZZ_CHECK(batonExternalSemaphoreGetInfo(s, &info) == batonSuccess);
    (void)batonExternalSemaphoreHostWait(s, in.value<uint64_t>(), 1000);
    FUZZ_CHECK(batonDestroyExternalSemaphore(s) == batonSuccess);
    FUZZ_CHECK(!fuzz::isOpen(fd));
}

void importMemory(fuzz::Input& in, int fd, bool ourFd) {
    batonMemoryImportDesc d{};
    in.bytes(&d, sizeof d);
    const uint8_t mode = in.byte();
    if (mode & 1) std::memset(d.reserved, 0, sizeof d.reserved);
    if (mode & 2) std::memset(d.desc.reserved, 0, sizeof d.desc.reserved);
    if (mode & 4) d.allocationSize &= 0xffff;  // within what a memfd here holds
    if (mode & 8) d.memoryTypeIndex &= 3;
    d.fd = ourFd ? fd : fuzz::unownedFdNumber(d.fd, fd);
    const fuzz::FdPrint before = fuzz::printOf(fd);
    batonMemory_t m = nullptr;
    batonError_t e = batonImportMemory(&m, &d);
    if (std::getenv("FUZZ_VERBOSE")) std::fprintf(stderr, "memory import: %s %s\n", batonGetErrorName(e), batonGetLastErrorMessage());
    if (e != batonSuccess) {
        checkFailedImport(fd, before, true);
        return;
    }
    FUZZ_CHECK(m != nullptr && d.fd == fd);
    batonMemoryInfo info{};
    FUZZ_CHECK(batonMemoryGetInfo(m, &info) == batonSuccess);
    FUZZ_CHECK(batonDestroyMemory(m) == batonSuccess);
    FUZZ_CHECK(!fuzz::isOpen(fd));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    batonContextInfo info{};
    if (batonContextGetInfo(nullptr, &info) != batonSuccess) {  // the default context, made once
        std::fprintf(stderr, "fuzz_import: no baton context: %s\n", batonGetLastErrorMessage());
        std::abort();
    }
    // Warm-up: what the driver opens once, on its first semaphore or memory, is not a leak.
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.flags = batonExportFlagPortable;
    int fd = -1;
    batonExternalSemaphore_t s = nullptr;
    if (batonExportExternalSemaphore(&fd, &s, &d) == batonSuccess) {
        batonExternalSemaphore_t t = nullptr;
        batonExternalSemaphoreHandleDesc h{};
        h.type = d.type;
        h.handle.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (batonImportExternalSemaphore(&t, &h) == batonSuccess) batonDestroyExternalSemaphore(t);
        batonDestroyExternalSemaphore(s);
        close(fd);
    }
    batonMemoryDesc md{};
    md.kind = batonMemoryKindBuffer;
    md.size = 4096;
    md.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    md.memoryProperties = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    batonMemory_t m = nullptr;
    if (batonExportMemory(&fd, &m, &md) == batonSuccess) {
        g_driverMemory = fcntl(fd, F_DUPFD_CLOEXEC, 900);  // m stays alive: its memory is what the fd names
        batonMemoryInfo mi{};
        batonMemoryGetInfo(m, &mi);
        batonMemoryImportDesc id{};
        id.desc = mi.desc;
        id.fd = fd;
        id.allocationSize = mi.allocationSize;
        id.memoryTypeIndex = mi.memoryTypeIndex;
        id.dedicated = mi.dedicated;
        batonMemory_t m2 = nullptr;
        if (batonImportMemory(&m2, &id) == batonSuccess)
            batonDestroyMemory(m2);
        else
            close(fd);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in{data, size};
    // Kinds 0..Count-1 from fuzz_fds.h; Count: a dup of driver-exported memory.
    const auto kind = static_cast<fuzz::FdKind>(in.byte() % (static_cast<int>(fuzz::FdKind::Count) + 1));
    const uint8_t mode = in.byte();
    // The memfd kinds' first page: the next 16*L bytes, zeros after them.
    uint8_t page[4096] = {};
    size_t pageBytes = size_t{in.byte()} * 16;
    if (pageBytes > in.n) pageBytes = in.n;
    if (pageBytes) std::memcpy(page, in.p, pageBytes);
    in.p += pageBytes;
    in.n -= pageBytes;
    int fd;
    if (kind == fuzz::FdKind::Count) {
        if (lseek(g_driverMemory, 0, SEEK_SET) < 0) fuzz::die("lseek");
        fd = fcntl(g_driverMemory, F_DUPFD_CLOEXEC, 0);
    } else {
        fd = fuzz::makeFd(kind, page);
    }
    const bool ourFd = !(mode & 2);
    if (mode & 1)
        importMemory(in, fd, ourFd);
    else
        importSemaphore(in, fd, ourFd);
    if (fuzz::isOpen(fd) && kind != fuzz::FdKind::Closed) close(fd);  // refused: still ours
    fuzz::checkNoFdGrowth();
    return 0;
}
