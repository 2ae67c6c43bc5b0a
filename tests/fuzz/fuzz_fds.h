// Helpers shared by the fuzz targets: the kinds of fd a hostile peer or a careless caller can
// hand baton, made fresh for one input, and checks that an fd was left alone.
#pragma once

#include <cerrno>
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

// Makes a new fd of the kind, using page (4096 bytes) for the memfd kinds. Every kind is
// made once (a template) and handed out as a fresh dup: creating files per input would cost
// more than what is fuzzed. A dup is a new fd of the same open file, which is all baton sees;
// the memfd kinds get the input's page written first.
inline int makeFreshFd(FdKind k, uint8_t* page) {
    int p[2];
    switch (k) {
        case FdKind::BatonPage:
        case FdKind::BatonPageAnyMagic: return memfdWith(page, 4096, kBatonSeals);
        case FdKind::UnsealedPage: return memfdWith(page, 4096, 0);
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
        case FdKind::Count: break;
    }
    return -1;
}

inline const int* templates() {
    static int t[static_cast<int>(FdKind::Count)];
    static bool made = false;
    if (!made) {
        uint8_t zeros[4096] = {};
        for (int i = 0; i < static_cast<int>(FdKind::Count); ++i) {
            // High numbers, out of the way of the fds the code under test opens and closes.
            const int fd = makeFreshFd(static_cast<FdKind>(i), zeros);
            t[i] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 900);
            if (fd >= 0) close(fd);
        }
        made = true;
    }
    return t;
}

inline int makeFd(FdKind k, uint8_t* page) {
    const int* templates = fuzz::templates();
    if (k == FdKind::Closed || k == FdKind::Count) {
        int d = fcntl(templates[static_cast<int>(FdKind::DevNull)], F_DUPFD_CLOEXEC, 0);
        close(d);
        return d;  // the number of an fd that was just closed
    }
    if (k == FdKind::BatonPage || k == FdKind::UnsealedPage) std::memcpy(page, &baton::kSharedMagic, 4);
    const int t = templates[static_cast<int>(k)];
    if (k <= FdKind::BigMemfd && pwrite(t, page, 4096, 0) != 4096) die("pwrite");
    // A dup shares the offset, and a driver may read() through it: every input starts at 0.
    if (lseek(t, 0, SEEK_SET) < 0 && errno != ESPIPE) die("lseek");
    const int fd = fcntl(t, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) die("dup");
    return fd;
}

inline bool isOpen(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) != -1; }

// A fuzzed fd number (the caller's "not our fd" case) may name a live fd of this process that
// the caller does not own: the driver's own memfd, the fuzzer's corpus file. Handing baton
// such a number is the caller's error, not one baton can see (it imports a driver memfd as
// it should, then closes it on destroy). Those numbers become one that is never open, so that
// the fuzzed numbers that stay are negative, huge or closed ones, and the input's own fd.
inline int unownedFdNumber(int fuzzed, int ours) {
    constexpr int kNeverOpen = 1 << 30;  // above any RLIMIT_NOFILE
    return fuzzed != ours && isOpen(fuzzed) ? kNeverOpen : fuzzed;
}

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

inline void listFds(const char* when) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) die("/proc/self/fd");
    std::fprintf(stderr, "open fds %s:", when);
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char path[300], target[256] = {};
        std::snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        if (readlink(path, target, sizeof target - 1) < 0) continue;
        std::fprintf(stderr, " %s->%s", e->d_name, target);
    }
    std::fprintf(stderr, "\n");
    closedir(d);
}

inline int openFdCount() {
    DIR* d = opendir("/proc/self/fd");
    if (!d) die("/proc/self/fd");
    int n = 0;
    while (readdir(d)) ++n;
    closedir(d);
    return n;
}

// Open fds other than pipes. libFuzzer starts llvm-symbolizer between inputs (to print
// NEW_FUNC lines) and keeps two pipe ends to it: those are not the code's. The targets check
// the pipes they hand baton one by one (isOpen), and nothing fuzzed here opens a pipe itself.
inline int openNonPipeFdCount() {
    DIR* d = opendir("/proc/self/fd");
    if (!d) die("/proc/self/fd");
    int n = 0;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char path[300], target[16] = {};
        std::snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        if (readlink(path, target, sizeof target - 1) > 0 && std::strncmp(target, "pipe:", 5) == 0) continue;
        ++n;
    }
    closedir(d);
    return n;
}

// Leak check across inputs: every input closes what it made, so the number of open fds must
// come back to what it was at the first input. Counting /proc/self/fd costs more than a
// parse, so it is counted every 64th input (a leaking input leaks on every run: found);
// FUZZ_FD_CHECK_EVERY=1 counts after every input, to name the input that leaks.
inline void checkNoFdGrowth() {
    static int baseline = -1;
    static unsigned runs = 0;
    static const unsigned period = std::getenv("FUZZ_FD_CHECK_EVERY") ? 1 : 64;
    if (baseline < 0) {
        (void)templates();  // made once, on first use: not a leak
        baseline = openNonPipeFdCount();
    }
    if (++runs % period) return;
    const int now = openNonPipeFdCount();
    if (now != baseline) {
        std::fprintf(stderr, "fuzz check failed: %d fds open, %d at the first input: an input leaks fds\n", now, baseline);
        listFds("now");
        std::abort();
    }
}

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                    \
        }                                                                                    \
    } while (0)

}  // namespace fuzz
