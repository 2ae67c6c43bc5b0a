// Helpers shared by the fuzz targets: the kinds of fd a hostile peer or a careless caller can
// hand baton, made fresh for one input, and checks that an fd was left alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync/shared_state.h"

namespace fuzz {

// Consumes bytes from the front of the input.
struct Input {
    const uint8_t* p;
    size_t n;
    uint8_t byte() {
        if (!n) return 0;
        --n;
        return *p++;
    }
    template <class T>
    T value() {
        T v{};
        size_t k = n < sizeof v ? n : sizeof v;
        if (k) std::memcpy(&v, p, k);
        p += k;
        n -= k;
        return v;
    }
    // Fills out[0..len) with the next bytes (zeros once the input runs out).
    void bytes(void* out, size_t len) {
        size_t k = n < len ? n : len;
        std::memset(out, 0, len);
        if (k) std::memcpy(out, p, k);
        p += k;
        n -= k;
    }
};

enum class FdKind : uint8_t {
    BatonPage,        // sealed memfd, one page, baton's magic, the rest from the input
    BatonPageAnyMagic,// sealed memfd, one page, every byte from the input
    UnsealedPage,     // baton's page, not sealed
    SealedMemfd,      // sealed memfd of another size
    BigMemfd,         // 1 MiB memfd, unsealed (what lavapipe's memory fds look like)
    Pipe,
    Socket,
    Eventfd,
    DevNull,
    File,             // a regular file
    Closed,           // an fd number that was just closed
    Count
};

inline void die(const char* what) {
    std::perror(what);
    std::abort();
}

// A memfd of size bytes whose first page is page (may be null: zeros).
inline int memfdWith(const void* page, size_t size, unsigned seals) {
    int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) die("memfd_create");
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) die("ftruncate");
    if (page && pwrite(fd, page, size < 4096 ? size : 4096, 0) < 0) die("pwrite");
    if (seals && fcntl(fd, F_ADD_SEALS, seals) != 0) die("F_ADD_SEALS");
    return fd;
}

constexpr unsigned kBatonSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

// Makes an fd of the kind, using page (4096 bytes) for the memfd kinds.
inline int makeFd(FdKind k, uint8_t* page) {
    int p[2];
    switch (k) {
        case FdKind::BatonPage:
            std::memcpy(page, &baton::kSharedMagic, sizeof baton::kSharedMagic);
            return memfdWith(page, 4096, kBatonSeals);
        case FdKind::BatonPageAnyMagic: return memfdWith(page, 4096, kBatonSeals);
        case FdKind::UnsealedPage:
            std::memcpy(page, &baton::kSharedMagic, sizeof baton::kSharedMagic);
            return memfdWith(page, 4096, 0);
        case FdKind::SealedMemfd: return memfdWith(page, 8192, kBatonSeals);
        case FdKind::BigMemfd: return memfdWith(page, 1 << 20, 0);
        case FdKind::Pipe:
            if (pipe2(p, O_CLOEXEC) != 0) die("pipe2");
            close(p[1]);
            return p[0];
        case FdKind::Socket: {
            int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (s < 0) die("socket");
            return s;
        }
        case FdKind::Eventfd: {
            int e = eventfd(0, EFD_CLOEXEC);
            if (e < 0) die("eventfd");
            return e;
        }
        case FdKind::DevNull: {
            int d = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (d < 0) die("/dev/null");
            return d;
        }
        case FdKind::File: {
            int f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
            if (f < 0) die("/proc/self/exe");
            return f;
        }
        case FdKind::Closed:
        case FdKind::Count: {
            int d = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (d < 0) die("/dev/null");
            close(d);
            return d;
        }
    }
    return -1;
}

inline bool isOpen(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) != -1; }

// What identifies an open fd: an fd that is "untouched" is still open on the same file with
// the same flags and offset.
struct FdPrint {
    bool open = false;
    dev_t dev = 0;
    ino_t ino = 0;
    int fdFlags = 0, flFlags = 0;
    off_t offset = 0;
};
inline FdPrint printOf(int fd) {
    FdPrint f;
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) return f;
    f.open = true;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.fdFlags = fcntl(fd, F_GETFD);
    f.flFlags = fcntl(fd, F_GETFL);
    f.offset = lseek(fd, 0, SEEK_CUR);
    return f;
}
inline bool samePrint(const FdPrint& a, const FdPrint& b) {
    return a.open == b.open && a.dev == b.dev && a.ino == b.ino && a.fdFlags == b.fdFlags && a.flFlags == b.flFlags &&
           a.offset == b.offset;
}

inline int openFdCount() {
    DIR* d = opendir("/proc/self/fd");
    if (!d) die("/proc/self/fd");
    int n = 0;
    while (readdir(d)) ++n;
    closedir(d);
    return n;
}

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                    \
        }                                                                                    \
    } while (0)

}  // namespace fuzz
