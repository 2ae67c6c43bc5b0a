// The bad-input table: one CTest case per row. Each row makes one call with one bad argument
// and expects the code baton.h documents for it. Around every row the fixture checks what
// must hold whatever the input:
//  - the call returns the row's code, and a failure leaves a non-empty
//    batonGetLastErrorMessage();
//  - an fd the row hands in is still open afterwards and still the same file (device, inode,
//    file offset and close-on-exec flag unchanged); the test closes it;
//  - the process has exactly as many open fds afterwards as before;
//  - baton still fully works afterwards: export a timeline, import a dup of its fd, signal
//    it on one stream, wait on it on another, synchronize (expectBatonStillWorks).
// On lavapipe every semaphore is portable (a sealed memfd); the rows hold on any backend.
#include <baton/baton.h>
#include <gtest/gtest.h>

#include <climits>
#include <iterator>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <ostream>
#include <string>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <vector>

#include "baton_test.h"

// c_caller.c: calls with raw ints in enum parameters, made from C.
extern "C" {
const char* batontestErrorName(int code);
const char* batontestErrorString(int code);
batonError_t batontestMessageCount(int severity, unsigned long long* count);
}

namespace {

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

constexpr auto kBinary = batonExternalSemaphoreHandleTypeOpaqueFd;
constexpr auto kTimeline = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
constexpr auto kKeyedMutex = batonExternalSemaphoreHandleTypeKeyedMutex;

// Stores an arbitrary int in an enum field the way a C caller can: C++ may not form an
// out-of-range enum value, but the field is the C ABI's int.
template <class E>
void setRaw(E& field, int value) {
    static_assert(sizeof(E) == sizeof(int));
    std::memcpy(&field, &value, sizeof value);
}

// Addresses that were never handles.
char g_bogus[64];
template <class H>
H madeUp() {
    return reinterpret_cast<H>(&g_bogus[8]);
}

batonExternalSemaphoreHandleDesc fdDesc(batonExternalSemaphoreHandleType type, int fd) {
    batonExternalSemaphoreHandleDesc d{};
    d.type = type;
    d.handle.fd = fd;
    return d;
}

batonExternalSemaphoreHandleDesc win32Desc(batonExternalSemaphoreHandleType type, bool handle, bool name) {
    static const wchar_t kName[] = L"Global\\baton-test";
    batonExternalSemaphoreHandleDesc d{};
    d.type = type;
    d.handle.win32.handle = handle ? reinterpret_cast<void*>(0x1234) : nullptr;
    d.handle.win32.name = name ? kName : nullptr;
    return d;
}

batonExternalSemaphoreSignalParams signalValue(unsigned long long v) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = v;
    return p;
}

batonExternalSemaphoreWaitParams waitValue(unsigned long long v) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = v;
    return p;
}

batonExternalSemaphoreInfo infoOf(batonExternalSemaphore_t s) {
    batonExternalSemaphoreInfo info{};
    batonError_t e = batonExternalSemaphoreGetInfo(s, &info);
    EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
    return info;
}

void noopRecord(VkCommandBuffer, void*) {}
void noopHost(void*) {}

// After any row: a full export -> import(dup) -> signal on one stream -> wait on another ->
// synchronize round trip works, and leaves nothing behind.
void expectBatonStillWorks() {
    struct Cleanup {
        int fd = -1;
        batonExternalSemaphore_t exported = nullptr, imported = nullptr;
        batonStream_t a = nullptr, b = nullptr;
        ~Cleanup() {
            batonStreamDestroy(a);
            batonStreamDestroy(b);
            batonDestroyExternalSemaphore(imported);
            batonDestroyExternalSemaphore(exported);
            if (fd >= 0) close(fd);
        }
    } c;
    batonExternalSemaphoreExportDesc d{};
    d.type = kTimeline;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&c.fd, &c.exported, &d));
    const int dupFd = dup(c.fd);
    ASSERT_GE(dupFd, 0);
    batonExternalSemaphoreHandleDesc h = fdDesc(kTimeline, dupFd);
    const batonError_t imported = batonImportExternalSemaphore(&c.imported, &h);
    if (imported != batonSuccess) close(dupFd);  // still ours on failure
    BATON_ASSERT_OK(imported);
    BATON_ASSERT_OK(batonStreamCreate(&c.a));
    BATON_ASSERT_OK(batonStreamCreate(&c.b));
    batonExternalSemaphoreWaitParams wp = waitValue(1);
    batonExternalSemaphoreSignalParams sp = signalValue(1);
    BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&c.imported, &wp, 1, c.b));
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&c.exported, &sp, 1, c.a));
    BATON_ASSERT_OK(batonStreamSynchronize(c.b));
    BATON_ASSERT_OK(batonStreamSynchronize(c.a));
    EXPECT_EQ(infoOf(c.imported).currentValue, 1u);
    EXPECT_EQ(infoOf(c.exported).currentValue, 1u);
}

// ------------------------------------------------------------------------------------------
// The fds a row can hand in
// ------------------------------------------------------------------------------------------

enum class Fd {
    None,             // the row uses no fd (or passes a literal like -1)
    Closed,           // a number that was an fd a moment ago and is closed now
    NotOpenHigh,      // a number far above any open fd
    PipeRead,
    PipeWrite,
    UnixStream,       // one end of an AF_UNIX stream socketpair
    UnixDgram,        // one end of an AF_UNIX datagram socketpair
    Eventfd,
    Epoll,
    Timerfd,
    DevNull,
    DevZero,
    RegularFile,      // a deleted temporary file with a few bytes in it
    FileBatonCopy,    // a regular file holding a copy of a baton semaphore's page
    Directory,
    MemfdTiny,        // a sealed memfd of 100 bytes
    MemfdNoMagic,     // a sealed memfd of one page, all zero
    MemfdBig,         // a sealed memfd of two pages starting with a copy of a baton page
    MemfdUnsealed,    // a memfd of one page holding a copy of a baton page, not sealed
    MemfdBadVersion,  // a sealed copy of a baton page with another layout version
    MemfdBadKind,     // a sealed copy of a baton page whose kind is none of baton's
    BatonBinary,      // a real baton binary semaphore's fd
    BatonTimeline,    // a real baton timeline's fd
    BatonReadOnly,    // a baton timeline's memfd reopened read-only
    BatonOPath,       // a baton timeline's memfd reopened O_PATH
};

int exportFd(batonExternalSemaphoreHandleType type) {
    batonExternalSemaphoreExportDesc d{};
    d.type = type;
    d.flags = batonExportFlagPortable;  // memfd-backed on every driver: the rows about baton's memfds need one
    int fd = -1;
    batonExternalSemaphore_t s = nullptr;
    batonError_t e = batonExportExternalSemaphore(&fd, &s, &d);
    EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
    batonDestroyExternalSemaphore(s);  // the fd stays a valid baton semaphore
    return fd;
}

int reopen(int fd, int flags) {
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    return open(path.c_str(), flags | O_CLOEXEC);
}

// Baton's memfd layout starts with three 32-bit words: magic, version, kind (plugin/src/
// shared_state.h). The forged memfds below copy a real page and change one of them.
constexpr size_t kPage = 4096, kVersionOffset = 4, kKindOffset = 8;

std::vector<char> batonPage() {
    std::vector<char> page(kPage);
    int fd = exportFd(kTimeline);
    EXPECT_EQ(pread(fd, page.data(), kPage, 0), static_cast<ssize_t>(kPage));
    close(fd);
    uint32_t magic = 0, kind = 0;
    std::memcpy(&magic, page.data(), 4);
    std::memcpy(&kind, page.data() + kKindOffset, 4);
    // Guards the offsets above: a timeline page has a magic and kind 2.
    EXPECT_NE(magic, 0u);
    EXPECT_EQ(kind, 2u) << "baton's shared layout changed: update the offsets in test_bad_input.cpp";
    return page;
}

int forgedMemfd(size_t size, const std::vector<char>* content, bool seal) {
    int fd = memfd_create("baton-semaphore", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    if (content) {
        EXPECT_EQ(pwrite(fd, content->data(), content->size(), 0), static_cast<ssize_t>(content->size()));
    }
    if (seal) {
        EXPECT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
    }
    return fd;
}

int makeFd(Fd kind) {
    int p[2] = {-1, -1};
    switch (kind) {
        case Fd::None: return -1;
        case Fd::Closed: {
            int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            close(fd);
            return fd;
        }
        case Fd::NotOpenHigh: return 1 << 20;  // above RLIMIT_NOFILE's usual hard limit
        case Fd::PipeRead:
        case Fd::PipeWrite:
            if (pipe2(p, O_CLOEXEC) != 0) return -1;
            close(kind == Fd::PipeRead ? p[1] : p[0]);
            return kind == Fd::PipeRead ? p[0] : p[1];
        case Fd::UnixStream:
        case Fd::UnixDgram:
            if (socketpair(AF_UNIX, (kind == Fd::UnixStream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0, p) != 0)
                return -1;
            close(p[1]);
            return p[0];
        case Fd::Eventfd: return eventfd(0, EFD_CLOEXEC);
        case Fd::Epoll: return epoll_create1(EPOLL_CLOEXEC);
        case Fd::Timerfd: return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        case Fd::DevNull: return open("/dev/null", O_RDWR | O_CLOEXEC);
        case Fd::DevZero: return open("/dev/zero", O_RDWR | O_CLOEXEC);
        case Fd::RegularFile:
        case Fd::FileBatonCopy: {
            char path[] = "/tmp/baton-bad-input-XXXXXX";
            int fd = mkostemp(path, O_CLOEXEC);
            if (fd < 0) return -1;
            unlink(path);
            if (kind == Fd::FileBatonCopy) {
                std::vector<char> page = batonPage();
                EXPECT_EQ(write(fd, page.data(), page.size()), static_cast<ssize_t>(page.size()));
            } else {
                EXPECT_EQ(write(fd, "not a semaphore", 15), 15);
            }
            lseek(fd, 3, SEEK_SET);  // an offset the call must not move
            return fd;
        }
        case Fd::Directory: return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        case Fd::MemfdTiny: return forgedMemfd(100, nullptr, true);
        case Fd::MemfdNoMagic: return forgedMemfd(kPage, nullptr, true);
        case Fd::MemfdBig: {
            std::vector<char> page = batonPage();
            return forgedMemfd(2 * kPage, &page, true);
        }
        case Fd::MemfdUnsealed: {
            std::vector<char> page = batonPage();
            return forgedMemfd(kPage, &page, false);
        }
        case Fd::MemfdBadVersion:
        case Fd::MemfdBadKind: {
            std::vector<char> page = batonPage();
            const uint32_t bad = 99;
            std::memcpy(page.data() + (kind == Fd::MemfdBadVersion ? kVersionOffset : kKindOffset), &bad, 4);
            return forgedMemfd(kPage, &page, true);
        }
        case Fd::BatonBinary: return exportFd(kBinary);
        case Fd::BatonTimeline: return exportFd(kTimeline);
        case Fd::BatonReadOnly:
        case Fd::BatonOPath: {
            int fd = exportFd(kTimeline);
            int r = reopen(fd, kind == Fd::BatonReadOnly ? O_RDONLY : O_PATH);
            close(fd);
            return r;
        }
    }
    return -1;
}

// What must not change about the caller's fd.
struct FdIdentity {
    bool open = false;
    dev_t dev = 0;
    ino_t ino = 0;
    mode_t mode = 0;
    int fdFlags = -1;
    off_t offset = -1;
};

FdIdentity identityOf(int fd) {
    FdIdentity id;
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) return id;
    id.open = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.mode = st.st_mode;
    id.fdFlags = fcntl(fd, F_GETFD);
    id.offset = lseek(fd, 0, SEEK_CUR);  // -1 for pipes, sockets and O_PATH: compared as is
    return id;
}

// ------------------------------------------------------------------------------------------
// A row's environment: the fd under test, the objects it made, and the call's result
// ------------------------------------------------------------------------------------------

struct Env {
    int fd = -1;
    batonError_t got = batonErrorUnknown;
    std::string message;
    int calls = 0;

    std::vector<batonExternalSemaphore_t> sems;
    std::vector<batonStream_t> streams;
    std::vector<batonEvent_t> events;
    std::vector<batonContext_t> contexts;
    std::vector<const void*> dead;  // handles destroyed on purpose

    // Records the result of the call under test, with the message it left.
    void result(batonError_t e) {
        got = e;
        message = batonGetLastErrorMessage();
        ++calls;
    }

    // A new object must not land on the address of a handle the row destroyed: the "dead"
    // handle would be live again and the row would test nothing. Rows make dead handles last.
    template <class H>
    H track(H h) {
        for (const void* d : dead)
            if (d == static_cast<const void*>(h)) ADD_FAILURE() << "test bug: a new handle reuses a destroyed one";
        return h;
    }

    batonExternalSemaphore_t exportNew(batonExternalSemaphoreHandleType type, unsigned long long initial = 0,
                                       int* fdOut = nullptr) {
        batonExternalSemaphoreExportDesc d{};
        d.type = type;
        d.initialValue = initial;
        int fdNew = -1;
        batonExternalSemaphore_t s = nullptr;
        batonError_t e = batonExportExternalSemaphore(&fdNew, &s, &d);
        EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        if (fdOut)
            *fdOut = fdNew;
        else if (fdNew >= 0)
            close(fdNew);
        sems.push_back(s);
        return track(s);
    }
    batonExternalSemaphore_t timeline(unsigned long long initial = 0) { return exportNew(kTimeline, initial); }
    batonExternalSemaphore_t binary() { return exportNew(kBinary); }
    // Another handle of the same timeline, imported from a dup of its fd.
    batonExternalSemaphore_t importedTwin(batonExternalSemaphore_t* original) {
        int fdNew = -1;
        *original = exportNew(kTimeline, 0, &fdNew);
        batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, fdNew);
        batonExternalSemaphore_t s = nullptr;
        batonError_t e = batonImportExternalSemaphore(&s, &d);
        EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        if (e != batonSuccess) close(fdNew);
        sems.push_back(s);
        return track(s);
    }
    batonStream_t stream() {
        batonStream_t s = nullptr;
        batonError_t e = batonStreamCreate(&s);
        EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        streams.push_back(s);
        return track(s);
    }
    batonEvent_t event() {
        batonEvent_t ev = nullptr;
        batonError_t e = batonEventCreate(&ev);
        EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        events.push_back(ev);
        return track(ev);
    }
    // A second context, made current until the row calls setCurrent(nullptr).
    batonContext_t otherContext() {
        batonContextCreateInfo ci = batontest::contextCreateInfo();
        batonContext_t c = nullptr;
        batonError_t e = batonContextCreate(&c, &ci);
        EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        contexts.push_back(c);
        EXPECT_EQ(batonCtxSetCurrent(c), batonSuccess);
        return track(c);
    }
    void setCurrent(batonContext_t c) { EXPECT_EQ(batonCtxSetCurrent(c), batonSuccess) << batonGetLastErrorMessage(); }

    batonExternalSemaphore_t deadSemaphore() {
        batonExternalSemaphore_t s = timeline();
        sems.pop_back();
        EXPECT_EQ(batonDestroyExternalSemaphore(s), batonSuccess);
        dead.push_back(s);
        return s;
    }
    batonStream_t deadStream() {
        batonStream_t s = stream();
        streams.pop_back();
        EXPECT_EQ(batonStreamDestroy(s), batonSuccess);
        dead.push_back(s);
        return s;
    }
    batonEvent_t deadEvent() {
        batonEvent_t ev = event();
        events.pop_back();
        EXPECT_EQ(batonEventDestroy(ev), batonSuccess);
        dead.push_back(ev);
        return ev;
    }
    batonContext_t deadContext() {
        batonContextCreateInfo ci = batontest::contextCreateInfo();
        batonContext_t c = nullptr;
        EXPECT_EQ(batonContextCreate(&c, &ci), batonSuccess) << batonGetLastErrorMessage();
        EXPECT_EQ(batonContextDestroy(c), batonSuccess);
        dead.push_back(c);
        return c;
    }

    ~Env() {
        batonCtxSetCurrent(nullptr);
        for (batonStream_t s : streams) batonStreamDestroy(s);
        for (batonEvent_t ev : events) batonEventDestroy(ev);
        for (batonExternalSemaphore_t s : sems) batonDestroyExternalSemaphore(s);
        for (batonContext_t c : contexts) batonContextDestroy(c);
    }
};

// Pending/current values of semaphores, to show that a refused call enqueued nothing.
std::vector<batonExternalSemaphoreInfo> infos(const std::vector<batonExternalSemaphore_t>& sems) {
    std::vector<batonExternalSemaphoreInfo> out;
    for (batonExternalSemaphore_t s : sems) out.push_back(infoOf(s));
    return out;
}

void expectUnmoved(const std::vector<batonExternalSemaphore_t>& sems,
                   const std::vector<batonExternalSemaphoreInfo>& before) {
    for (size_t i = 0; i < sems.size(); ++i) {
        batonExternalSemaphoreInfo now = infoOf(sems[i]);
        EXPECT_EQ(now.pendingValue, before[i].pendingValue) << "semaphore " << i << ": a signal was reserved";
        EXPECT_EQ(now.currentValue, before[i].currentValue) << "semaphore " << i << ": a signal took effect";
    }
}

// A signal array whose last element is made bad by `spoil`; nothing may be enqueued.
void signalLastBad(Env& e, unsigned n, void (*spoil)(Env&, batonExternalSemaphore_t*, batonExternalSemaphoreSignalParams*)) {
    batonStream_t st = e.stream();
    std::vector<batonExternalSemaphore_t> sems;
    std::vector<batonExternalSemaphoreSignalParams> params;
    for (unsigned i = 0; i + 1 < n; ++i) {
        sems.push_back(i % 3 == 2 ? e.binary() : e.timeline());
        params.push_back(signalValue(1));
    }
    sems.push_back(e.timeline(5));
    params.push_back(signalValue(6));
    spoil(e, &sems.back(), &params.back());
    std::vector<batonExternalSemaphore_t> good(sems.begin(), sems.end() - 1);
    auto before = infos(good);
    e.result(batonSignalExternalSemaphoresAsync(sems.data(), params.data(), n, st));
    BATON_ASSERT_OK(batonStreamSynchronize(st));
    expectUnmoved(good, before);
    // Value 1 is still free on every timeline: nothing was reserved for it.
    for (unsigned i = 0; i + 1 < n; ++i)
        if (i % 3 != 2) BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&sems[i], &params[i], 1, st));
    BATON_ASSERT_OK(batonStreamSynchronize(st));
}

// A wait array whose last element is bad: nothing may be enqueued, so the stream, whose
// earlier waits could never be satisfied, is idle right away.
void waitLastBad(Env& e, void (*spoil)(Env&, batonExternalSemaphore_t*, batonExternalSemaphoreWaitParams*)) {
    batonStream_t st = e.stream();
    batonExternalSemaphore_t sems[3] = {e.timeline(), e.binary(), e.timeline()};
    batonExternalSemaphoreWaitParams params[3] = {waitValue(1), waitValue(0), waitValue(1)};
    spoil(e, &sems[2], &params[2]);
    e.result(batonWaitExternalSemaphoresAsync(sems, params, 3, st));
    const batonError_t q = batonStreamQuery(st);
    EXPECT_EQ(q, batonSuccess) << "a wait was enqueued: " << batonGetErrorName(q);
    if (q != batonSuccess) {
        // Unblock the stream so that the row ends instead of hanging in destroy.
        batonStream_t other = e.stream();
        batonExternalSemaphoreSignalParams sp[2] = {signalValue(1), signalValue(0)};
        batonSignalExternalSemaphoresAsync(sems, sp, 2, other);
        batonStreamSynchronize(other);
    }
}

void spoilDestroyed(Env& e, batonExternalSemaphore_t* s, batonExternalSemaphoreSignalParams*) { *s = e.deadSemaphore(); }
void spoilMadeUp(Env&, batonExternalSemaphore_t* s, batonExternalSemaphoreSignalParams*) {
    *s = madeUp<batonExternalSemaphore_t>();
}
void spoilBackwards(Env&, batonExternalSemaphore_t*, batonExternalSemaphoreSignalParams* p) { p->params.fence.value = 4; }
void spoilEqual(Env&, batonExternalSemaphore_t*, batonExternalSemaphoreSignalParams* p) { p->params.fence.value = 5; }
void spoilZero(Env&, batonExternalSemaphore_t*, batonExternalSemaphoreSignalParams* p) { p->params.fence.value = 0; }
void spoilFlags(Env&, batonExternalSemaphore_t*, batonExternalSemaphoreSignalParams* p) { p->flags = 1; }
void spoilWaitDestroyed(Env& e, batonExternalSemaphore_t* s, batonExternalSemaphoreWaitParams*) { *s = e.deadSemaphore(); }
void spoilWaitFlags(Env&, batonExternalSemaphore_t*, batonExternalSemaphoreWaitParams* p) { p->flags = 1; }
void spoilWaitNull(Env&, batonExternalSemaphore_t* s, batonExternalSemaphoreWaitParams*) { *s = nullptr; }

// ------------------------------------------------------------------------------------------
// The table
// ------------------------------------------------------------------------------------------

struct Row {
    const char* name;
    batonError_t expected;
    Fd fd;
    void (*run)(Env&);
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

void importFdAs(Env& e, batonExternalSemaphoreHandleType type) {
    batonExternalSemaphore_t s = nullptr;
    batonExternalSemaphoreHandleDesc d = fdDesc(type, e.fd);
    e.result(batonImportExternalSemaphore(&s, &d));
    if (s) e.sems.push_back(s);
}
void importTimeline(Env& e) { importFdAs(e, kTimeline); }
void importBinary(Env& e) { importFdAs(e, kBinary); }

void importWin32(Env& e, batonExternalSemaphoreHandleType type, bool handle, bool name) {
    batonExternalSemaphore_t s = nullptr;
    batonExternalSemaphoreHandleDesc d = win32Desc(type, handle, name);
    e.result(batonImportExternalSemaphore(&s, &d));
}

void exportWith(Env& e, void (*edit)(batonExternalSemaphoreExportDesc&)) {
    batonExternalSemaphoreExportDesc d{};
    d.type = kTimeline;
    edit(d);
    int fd = -1;
    batonExternalSemaphore_t s = nullptr;
    e.result(batonExportExternalSemaphore(&fd, &s, &d));
    if (s) e.sems.push_back(s);
    if (fd >= 0) close(fd);
}

void signalOne(Env& e, batonExternalSemaphore_t s, unsigned long long value, batonStream_t st = nullptr) {
    batonExternalSemaphoreSignalParams p = signalValue(value);
    e.result(batonSignalExternalSemaphoresAsync(&s, &p, 1, st));
}
void waitOne(Env& e, batonExternalSemaphore_t s, unsigned long long value, batonStream_t st = nullptr) {
    batonExternalSemaphoreWaitParams p = waitValue(value);
    e.result(batonWaitExternalSemaphoresAsync(&s, &p, 1, st));
}
// Signals s to v on a stream of its own and waits for it, as setup for a row.
void signalAndSync(Env& e, batonExternalSemaphore_t s, unsigned long long v) {
    batonStream_t st = e.stream();
    batonExternalSemaphoreSignalParams p = signalValue(v);
    EXPECT_EQ(batonSignalExternalSemaphoresAsync(&s, &p, 1, st), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(batonStreamSynchronize(st), batonSuccess);
}

constexpr batonError_t kOk = batonSuccess;
constexpr batonError_t kInvalid = batonErrorInvalidValue;
constexpr batonError_t kBadHandle = batonErrorInvalidResourceHandle;
constexpr batonError_t kNotSupported = batonErrorNotSupported;
constexpr batonError_t kWrongKind = batonErrorWrongKind;

const Row kRows[] = {
    // --- batonImportExternalSemaphore: arguments ---------------------------------------
    {"Import_NullOut", kInvalid, Fd::BatonTimeline,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, e.fd);
         e.result(batonImportExternalSemaphore(nullptr, &d));
     }},
    {"Import_NullDesc", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, nullptr));
     }},
    {"Import_Type0", kInvalid, Fd::BatonTimeline,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, e.fd);
         setRaw(d.type, 0);
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},
    {"Import_Type11", kInvalid, Fd::BatonTimeline,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, e.fd);
         setRaw(d.type, 11);
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},
    {"Import_TypeMinus1", kInvalid, Fd::BatonTimeline,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, e.fd);
         setRaw(d.type, -1);
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},
    {"Import_FlagsNonzero", kInvalid, Fd::BatonTimeline,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, e.fd);
         d.flags = 1;
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
         if (s) e.sems.push_back(s);
     }},
    {"Import_FlagsHighBit", kInvalid, Fd::BatonTimeline,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, e.fd);
         d.flags = 0x80000000u;
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
         if (s) e.sems.push_back(s);
     }},

    // --- Windows-only types: a valid descriptor is NotSupported, an invalid one InvalidValue
    {"Import_OpaqueWin32_Handle", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32, true, false); }},
    {"Import_OpaqueWin32_Name", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32, false, true); }},
    {"Import_OpaqueWin32_Both", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32, true, true); }},
    {"Import_OpaqueWin32_Neither", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32, false, false); }},
    {"Import_OpaqueWin32Kmt_Handle", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32Kmt, true, false); }},
    {"Import_OpaqueWin32Kmt_HandleAndName", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32Kmt, true, true); }},
    {"Import_OpaqueWin32Kmt_NameOnly", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32Kmt, false, true); }},
    {"Import_OpaqueWin32Kmt_Neither", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeOpaqueWin32Kmt, false, false); }},
    {"Import_D3D12Fence_Handle", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeD3D12Fence, true, false); }},
    {"Import_D3D12Fence_Name", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeD3D12Fence, false, true); }},
    {"Import_D3D12Fence_Both", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeD3D12Fence, true, true); }},
    {"Import_D3D12Fence_Neither", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeD3D12Fence, false, false); }},
    {"Import_D3D11Fence_Handle", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeD3D11Fence, true, false); }},
    {"Import_D3D11Fence_Both", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeD3D11Fence, true, true); }},
    {"Import_D3D11Fence_Neither", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeD3D11Fence, false, false); }},
    {"Import_KeyedMutexKmt_Handle", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeKeyedMutexKmt, true, false); }},
    {"Import_KeyedMutexKmt_HandleAndName", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeKeyedMutexKmt, true, true); }},
    {"Import_KeyedMutexKmt_Neither", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeKeyedMutexKmt, false, false); }},
    {"Import_TimelineWin32_Name", kNotSupported, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32, false, true); }},
    {"Import_TimelineWin32_Both", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32, true, true); }},
    {"Import_TimelineWin32_Neither", kInvalid, Fd::None,
     [](Env& e) { importWin32(e, batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32, false, false); }},
    {"Import_NvSciSync", kNotSupported, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d{};
         d.type = batonExternalSemaphoreHandleTypeNvSciSync;
         d.handle.nvSciSyncObj = &g_bogus;
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},
    {"Import_NvSciSync_NullObject", kNotSupported, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d{};
         d.type = batonExternalSemaphoreHandleTypeNvSciSync;
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},

    // --- fds that are not baton's, or not open: the caller keeps them --------------------
    {"Import_FdMinus1", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, -1);
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},
    {"Import_FdIntMin", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kBinary, INT_MIN);
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},
    {"Import_ClosedFd", kBadHandle, Fd::Closed, importTimeline},
    {"Import_FdNeverOpened", kBadHandle, Fd::NotOpenHigh, importTimeline},
    {"Import_FdIntMax", kBadHandle, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreHandleDesc d = fdDesc(kTimeline, INT_MAX);
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},
    {"Import_PipeReadEnd", kBadHandle, Fd::PipeRead, importTimeline},
    {"Import_PipeWriteEnd", kBadHandle, Fd::PipeWrite, importBinary},
    {"Import_UnixStreamSocket", kBadHandle, Fd::UnixStream, importTimeline},
    {"Import_UnixDatagramSocket", kBadHandle, Fd::UnixDgram, importBinary},
    {"Import_Eventfd", kBadHandle, Fd::Eventfd, importTimeline},
    {"Import_Epoll", kBadHandle, Fd::Epoll, importTimeline},
    {"Import_Timerfd", kBadHandle, Fd::Timerfd, importBinary},
    {"Import_DevNull", kBadHandle, Fd::DevNull, importTimeline},
    {"Import_DevNullAsBinary", kBadHandle, Fd::DevNull, importBinary},
    {"Import_DevZero", kBadHandle, Fd::DevZero, importTimeline},
    {"Import_RegularFile", kBadHandle, Fd::RegularFile, importTimeline},
    {"Import_RegularFileWithBatonPage", kBadHandle, Fd::FileBatonCopy, importTimeline},
    {"Import_Directory", kBadHandle, Fd::Directory, importTimeline},
    {"Import_MemfdWrongSize", kBadHandle, Fd::MemfdTiny, importTimeline},
    {"Import_MemfdRightSizeNoMagic", kBadHandle, Fd::MemfdNoMagic, importTimeline},
    {"Import_MemfdTwoPagesWithBatonPage", kBadHandle, Fd::MemfdBig, importTimeline},
    {"Import_MemfdUnsealedBatonCopy", kBadHandle, Fd::MemfdUnsealed, importTimeline},
    {"Import_MemfdOtherLayoutVersion", kBadHandle, Fd::MemfdBadVersion, importTimeline},
    {"Import_MemfdUnknownKind", kBadHandle, Fd::MemfdBadKind, importTimeline},
    {"Import_BatonMemfdReadOnly", kBadHandle, Fd::BatonReadOnly, importTimeline},
    {"Import_BatonMemfdOPath", kBadHandle, Fd::BatonOPath, importTimeline},

    // --- type mismatches --------------------------------------------------------------
    {"Import_BinaryAsTimeline", kWrongKind, Fd::BatonBinary, importTimeline},
    {"Import_TimelineAsBinary", kWrongKind, Fd::BatonTimeline, importBinary},
    {"Import_TimelineAsKeyedMutex", kWrongKind, Fd::BatonTimeline, [](Env& e) { importFdAs(e, kKeyedMutex); }},
    {"Import_PipeAsKeyedMutex", kBadHandle, Fd::PipeRead, [](Env& e) { importFdAs(e, kKeyedMutex); }},
    {"Import_TimelineFdWithWin32Type", kNotSupported, Fd::BatonTimeline,
     [](Env& e) {
         // A valid fd in the union read as a Win32 handle (fd in the low bits, name NULL):
         // still a Windows type, refused without touching the fd.
         batonExternalSemaphoreHandleDesc d{};
         d.type = batonExternalSemaphoreHandleTypeOpaqueWin32;
         d.handle.fd = e.fd;
         batonExternalSemaphore_t s = nullptr;
         e.result(batonImportExternalSemaphore(&s, &d));
     }},

    // --- batonExportExternalSemaphore ---------------------------------------------------
    {"Export_NullFdOut", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreExportDesc d{};
         d.type = kTimeline;
         batonExternalSemaphore_t s = nullptr;
         e.result(batonExportExternalSemaphore(nullptr, &s, &d));
         if (s) e.sems.push_back(s);
     }},
    {"Export_NullSemOut", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreExportDesc d{};
         d.type = kTimeline;
         int fd = -1;
         e.result(batonExportExternalSemaphore(&fd, nullptr, &d));
         if (fd >= 0) close(fd);
     }},
    {"Export_NullDesc", kInvalid, Fd::None,
     [](Env& e) {
         int fd = -1;
         batonExternalSemaphore_t s = nullptr;
         e.result(batonExportExternalSemaphore(&fd, &s, nullptr));
         if (s) e.sems.push_back(s);
         if (fd >= 0) close(fd);
     }},
    {"Export_Type0", kInvalid, Fd::None, [](Env& e) { exportWith(e, [](auto& d) { setRaw(d.type, 0); }); }},
    {"Export_Type11", kInvalid, Fd::None, [](Env& e) { exportWith(e, [](auto& d) { setRaw(d.type, 11); }); }},
    {"Export_TypeMinus1", kInvalid, Fd::None, [](Env& e) { exportWith(e, [](auto& d) { setRaw(d.type, -1); }); }},
    {"Export_OpaqueWin32", kNotSupported, Fd::None,
     [](Env& e) { exportWith(e, [](auto& d) { d.type = batonExternalSemaphoreHandleTypeOpaqueWin32; }); }},
    {"Export_NvSciSync", kNotSupported, Fd::None,
     [](Env& e) { exportWith(e, [](auto& d) { d.type = batonExternalSemaphoreHandleTypeNvSciSync; }); }},
    {"Export_UnknownFlag", kInvalid, Fd::None, [](Env& e) { exportWith(e, [](auto& d) { d.flags = 0x2; }); }},
    {"Export_AllFlags", kInvalid, Fd::None, [](Env& e) { exportWith(e, [](auto& d) { d.flags = ~0u; }); }},
    {"Export_ReservedNonzero", kInvalid, Fd::None, [](Env& e) { exportWith(e, [](auto& d) { d.reserved[15] = 1; }); }},
    {"Export_BinaryWithInitialValue", kInvalid, Fd::None,
     [](Env& e) {
         exportWith(e, [](auto& d) {
             d.type = kBinary;
             d.initialValue = 3;
         });
     }},

    // --- batonSignalExternalSemaphoresAsync / batonWaitExternalSemaphoresAsync -----------
    {"Signal_NullArray", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreSignalParams p = signalValue(1);
         e.result(batonSignalExternalSemaphoresAsync(nullptr, &p, 1, e.stream()));
     }},
    {"Signal_NullParams", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         e.result(batonSignalExternalSemaphoresAsync(&s, nullptr, 1, e.stream()));
     }},
    {"Signal_ZeroCount", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         batonExternalSemaphoreSignalParams p = signalValue(1);
         e.result(batonSignalExternalSemaphoresAsync(&s, &p, 0, e.stream()));
     }},
    {"Signal_ZeroCountNullArrays", kInvalid, Fd::None,
     [](Env& e) { e.result(batonSignalExternalSemaphoresAsync(nullptr, nullptr, 0, nullptr)); }},
    {"Wait_NullArray", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreWaitParams p = waitValue(1);
         e.result(batonWaitExternalSemaphoresAsync(nullptr, &p, 1, e.stream()));
     }},
    {"Wait_NullParams", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         e.result(batonWaitExternalSemaphoresAsync(&s, nullptr, 1, e.stream()));
     }},
    {"Wait_ZeroCount", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         batonExternalSemaphoreWaitParams p = waitValue(1);
         e.result(batonWaitExternalSemaphoresAsync(&s, &p, 0, e.stream()));
     }},
    {"Signal_NullElement", kBadHandle, Fd::None, [](Env& e) { signalOne(e, nullptr, 1, e.stream()); }},
    {"Wait_NullElement", kBadHandle, Fd::None, [](Env& e) { waitOne(e, nullptr, 1, e.stream()); }},
    {"Signal_DestroyedSemaphore", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         signalOne(e, e.deadSemaphore(), 1, st);
     }},
    {"Wait_DestroyedSemaphore", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         waitOne(e, e.deadSemaphore(), 1, st);
     }},
    {"Signal_MadeUpSemaphore", kBadHandle, Fd::None,
     [](Env& e) { signalOne(e, madeUp<batonExternalSemaphore_t>(), 1, e.stream()); }},
    {"Wait_MadeUpSemaphore", kBadHandle, Fd::None,
     [](Env& e) { waitOne(e, madeUp<batonExternalSemaphore_t>(), 1); }},
    {"Signal_StreamAsSemaphore", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         signalOne(e, reinterpret_cast<batonExternalSemaphore_t>(st), 1, st);
     }},
    {"Signal_DestroyedStream", kBadHandle, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         signalOne(e, s, 1, e.deadStream());
         EXPECT_EQ(infoOf(s).pendingValue, 0u);
     }},
    {"Wait_DestroyedStream", kBadHandle, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         waitOne(e, s, 1, e.deadStream());
     }},
    {"Signal_MadeUpStream", kBadHandle, Fd::None,
     [](Env& e) { signalOne(e, e.timeline(), 1, madeUp<batonStream_t>()); }},
    {"Wait_SemaphoreAsStream", kBadHandle, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         waitOne(e, s, 1, reinterpret_cast<batonStream_t>(s));
     }},
    {"Signal_ParamsFlags", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         batonExternalSemaphoreSignalParams p = signalValue(1);
         p.flags = 1;
         e.result(batonSignalExternalSemaphoresAsync(&s, &p, 1, e.stream()));
         EXPECT_EQ(infoOf(s).pendingValue, 0u);
     }},
    {"Wait_ParamsFlags", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         batonExternalSemaphoreWaitParams p = waitValue(1);
         p.flags = 0x10;
         e.result(batonWaitExternalSemaphoresAsync(&s, &p, 1, e.stream()));
     }},
    {"Signal_TimelineValue0", kInvalid, Fd::None, [](Env& e) { signalOne(e, e.timeline(), 0, e.stream()); }},
    {"Signal_TimelineBackwards", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         signalAndSync(e, s, 5);
         signalOne(e, s, 3, e.stream());
         EXPECT_EQ(infoOf(s).currentValue, 5u);
     }},
    {"Signal_TimelineEqual", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         signalAndSync(e, s, 5);
         signalOne(e, s, 5, e.stream());
     }},
    {"Signal_TimelineBelowPending", kInvalid, Fd::None,
     [](Env& e) {
         // 9 is pending (enqueued behind a wait on a gate nobody has opened yet): 8 is refused.
         batonExternalSemaphore_t s = e.timeline(), gate = e.timeline();
         batonStream_t st = e.stream();
         batonExternalSemaphoreWaitParams w1 = waitValue(1);
         batonExternalSemaphoreSignalParams s9 = signalValue(9);
         BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&gate, &w1, 1, st));
         BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&s, &s9, 1, st));
         signalOne(e, s, 8, e.stream());
         EXPECT_EQ(infoOf(s).pendingValue, 9u);
         EXPECT_EQ(infoOf(s).currentValue, 0u);
         signalAndSync(e, gate, 1);
         BATON_ASSERT_OK(batonStreamSynchronize(st));
         EXPECT_EQ(infoOf(s).currentValue, 9u);
     }},
    {"Signal_TimelineEqualInitial", kInvalid, Fd::None, [](Env& e) { signalOne(e, e.timeline(7), 7, e.stream()); }},
    {"Signal_TimelineBelowInitial", kInvalid, Fd::None, [](Env& e) { signalOne(e, e.timeline(7), 6, e.stream()); }},
    {"Signal_TimelineBelowOtherHandle", kInvalid, Fd::None,
     [](Env& e) {
         // Two handles of one timeline: the value 5 signaled through one bars 4 through the other.
         batonExternalSemaphore_t original = nullptr;
         batonExternalSemaphore_t twin = e.importedTwin(&original);
         signalAndSync(e, original, 5);
         signalOne(e, twin, 4, e.stream());
     }},
    {"Signal_SameTimelineTwiceSameValue", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         batonExternalSemaphore_t sems[2] = {s, s};
         batonExternalSemaphoreSignalParams p[2] = {signalValue(2), signalValue(2)};
         e.result(batonSignalExternalSemaphoresAsync(sems, p, 2, e.stream()));
         EXPECT_EQ(infoOf(s).pendingValue, 0u);
     }},
    {"Signal_SameTimelineTwiceDecreasing", kInvalid, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         batonExternalSemaphore_t sems[2] = {s, s};
         batonExternalSemaphoreSignalParams p[2] = {signalValue(3), signalValue(2)};
         e.result(batonSignalExternalSemaphoresAsync(sems, p, 2, e.stream()));
         EXPECT_EQ(infoOf(s).pendingValue, 0u);
     }},
    {"Signal_OtherContextSemaphore", kBadHandle, Fd::None,
     [](Env& e) {
         e.otherContext();
         batonExternalSemaphore_t foreign = e.timeline();
         e.setCurrent(nullptr);
         signalOne(e, foreign, 1, e.stream());
     }},
    {"Wait_OtherContextSemaphore", kBadHandle, Fd::None,
     [](Env& e) {
         e.otherContext();
         batonExternalSemaphore_t foreign = e.timeline();
         e.setCurrent(nullptr);
         waitOne(e, foreign, 1, nullptr);
     }},
    {"Signal_LastOfThreeDestroyed", kBadHandle, Fd::None, [](Env& e) { signalLastBad(e, 3, spoilDestroyed); }},
    {"Signal_LastOfThreeMadeUp", kBadHandle, Fd::None, [](Env& e) { signalLastBad(e, 3, spoilMadeUp); }},
    {"Signal_LastOfThreeBackwards", kInvalid, Fd::None, [](Env& e) { signalLastBad(e, 3, spoilBackwards); }},
    {"Signal_LastOfThreeEqual", kInvalid, Fd::None, [](Env& e) { signalLastBad(e, 3, spoilEqual); }},
    {"Signal_LastOfThreeValue0", kInvalid, Fd::None, [](Env& e) { signalLastBad(e, 3, spoilZero); }},
    {"Signal_LastOfThreeFlags", kInvalid, Fd::None, [](Env& e) { signalLastBad(e, 3, spoilFlags); }},
    {"Signal_LastOfTwentyDestroyed", kBadHandle, Fd::None, [](Env& e) { signalLastBad(e, 20, spoilDestroyed); }},
    {"Signal_LastOfTwentyBackwards", kInvalid, Fd::None, [](Env& e) { signalLastBad(e, 20, spoilBackwards); }},
    {"Wait_LastOfThreeDestroyed", kBadHandle, Fd::None, [](Env& e) { waitLastBad(e, spoilWaitDestroyed); }},
    {"Wait_LastOfThreeNull", kBadHandle, Fd::None, [](Env& e) { waitLastBad(e, spoilWaitNull); }},
    {"Wait_LastOfThreeFlags", kInvalid, Fd::None, [](Env& e) { waitLastBad(e, spoilWaitFlags); }},

    // --- batonDestroyExternalSemaphore --------------------------------------------------
    {"Destroy_Null", kOk, Fd::None, [](Env& e) { e.result(batonDestroyExternalSemaphore(nullptr)); }},
    {"Destroy_Twice", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonDestroyExternalSemaphore(e.deadSemaphore())); }},
    {"Destroy_MadeUp", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonDestroyExternalSemaphore(madeUp<batonExternalSemaphore_t>())); }},
    {"Destroy_StreamAsSemaphore", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         e.result(batonDestroyExternalSemaphore(reinterpret_cast<batonExternalSemaphore_t>(st)));
         BATON_ASSERT_OK(batonStreamSynchronize(st));  // the stream is untouched
     }},
    {"Destroy_ImportedTwinTwice", kBadHandle, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t original = nullptr;
         batonExternalSemaphore_t twin = e.importedTwin(&original);
         e.sems.pop_back();
         BATON_ASSERT_OK(batonDestroyExternalSemaphore(twin));
         e.dead.push_back(twin);
         e.result(batonDestroyExternalSemaphore(twin));
         signalAndSync(e, original, 1);  // the other handle of the timeline still works
     }},

    // --- renderer helpers and semaphore queries ----------------------------------------
    {"GetInfo_NullInfo", kInvalid, Fd::None,
     [](Env& e) { e.result(batonExternalSemaphoreGetInfo(e.timeline(), nullptr)); }},
    {"GetInfo_Destroyed", kBadHandle, Fd::None,
     [](Env& e) {
         batonExternalSemaphoreInfo info{};
         e.result(batonExternalSemaphoreGetInfo(e.deadSemaphore(), &info));
     }},
    {"HostWait_Destroyed", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonExternalSemaphoreHostWait(e.deadSemaphore(), 1, 0)); }},
    {"WaitSubmitInfo_NullInfo", kInvalid, Fd::None,
     [](Env& e) {
         e.result(batonGetWaitSubmitInfo(e.timeline(), 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, nullptr));
     }},
    {"WaitSubmitInfo_Destroyed", kBadHandle, Fd::None,
     [](Env& e) {
         VkSemaphoreSubmitInfo info{};
         e.result(batonGetWaitSubmitInfo(e.deadSemaphore(), 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &info));
     }},
    {"SignalSubmitInfo_Value0", kInvalid, Fd::None,
     [](Env& e) {
         VkSemaphoreSubmitInfo info{};
         e.result(batonGetSignalSubmitInfo(e.timeline(), 0, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &info));
     }},
    {"SignalSubmitInfo_Backwards", kInvalid, Fd::None,
     [](Env& e) {
         VkSemaphoreSubmitInfo info{};
         e.result(batonGetSignalSubmitInfo(e.timeline(4), 2, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &info));
     }},
    {"SignalSubmitInfo_Destroyed", kBadHandle, Fd::None,
     [](Env& e) {
         VkSemaphoreSubmitInfo info{};
         e.result(batonGetSignalSubmitInfo(e.deadSemaphore(), 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &info));
     }},

    // --- streams ---------------------------------------------------------------------
    {"StreamCreate_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonStreamCreate(nullptr)); }},
    {"StreamDestroy_Null", kOk, Fd::None, [](Env& e) { e.result(batonStreamDestroy(nullptr)); }},
    {"StreamDestroy_Twice", kBadHandle, Fd::None, [](Env& e) { e.result(batonStreamDestroy(e.deadStream())); }},
    {"StreamDestroy_MadeUp", kBadHandle, Fd::None, [](Env& e) { e.result(batonStreamDestroy(madeUp<batonStream_t>())); }},
    {"StreamDestroy_SemaphoreAsStream", kBadHandle, Fd::None,
     [](Env& e) {
         batonExternalSemaphore_t s = e.timeline();
         e.result(batonStreamDestroy(reinterpret_cast<batonStream_t>(s)));
         signalAndSync(e, s, 1);  // the semaphore is untouched
     }},
    {"StreamSynchronize_Destroyed", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonStreamSynchronize(e.deadStream())); }},
    {"StreamSynchronize_MadeUp", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonStreamSynchronize(madeUp<batonStream_t>())); }},
    {"StreamQuery_Destroyed", kBadHandle, Fd::None, [](Env& e) { e.result(batonStreamQuery(e.deadStream())); }},
    {"StreamRecord_NullFn", kInvalid, Fd::None, [](Env& e) { e.result(batonStreamRecord(e.stream(), nullptr, nullptr)); }},
    {"StreamRecord_Destroyed", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonStreamRecord(e.deadStream(), noopRecord, nullptr)); }},
    {"LaunchHostFunc_NullFn", kInvalid, Fd::None,
     [](Env& e) { e.result(batonLaunchHostFunc(e.stream(), nullptr, nullptr)); }},
    {"LaunchHostFunc_Destroyed", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonLaunchHostFunc(e.deadStream(), noopHost, nullptr)); }},

    // --- events ------------------------------------------------------------------------
    {"EventCreate_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonEventCreate(nullptr)); }},
    {"EventDestroy_Null", kOk, Fd::None, [](Env& e) { e.result(batonEventDestroy(nullptr)); }},
    {"EventDestroy_Twice", kBadHandle, Fd::None, [](Env& e) { e.result(batonEventDestroy(e.deadEvent())); }},
    {"EventDestroy_MadeUp", kBadHandle, Fd::None, [](Env& e) { e.result(batonEventDestroy(madeUp<batonEvent_t>())); }},
    {"EventDestroy_StreamAsEvent", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         e.result(batonEventDestroy(reinterpret_cast<batonEvent_t>(st)));
         BATON_ASSERT_OK(batonStreamSynchronize(st));
     }},
    {"EventRecord_DestroyedEvent", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         e.result(batonEventRecord(e.deadEvent(), st));
     }},
    {"EventRecord_DestroyedStream", kBadHandle, Fd::None,
     [](Env& e) {
         batonEvent_t ev = e.event();
         e.result(batonEventRecord(ev, e.deadStream()));
     }},
    {"EventRecord_OtherContextStream", kBadHandle, Fd::None,
     [](Env& e) {
         e.otherContext();
         batonStream_t foreign = e.stream();
         e.setCurrent(nullptr);
         e.result(batonEventRecord(e.event(), foreign));
     }},
    {"EventQuery_Destroyed", kBadHandle, Fd::None, [](Env& e) { e.result(batonEventQuery(e.deadEvent())); }},
    {"EventSynchronize_Destroyed", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonEventSynchronize(e.deadEvent())); }},
    {"EventElapsedTime_NullMs", kInvalid, Fd::None,
     [](Env& e) {
         batonEvent_t a = e.event(), b = e.event();
         e.result(batonEventElapsedTime(nullptr, a, b));
     }},
    {"EventElapsedTime_DestroyedStart", kBadHandle, Fd::None,
     [](Env& e) {
         float ms = 0;
         batonEvent_t b = e.event();
         e.result(batonEventElapsedTime(&ms, e.deadEvent(), b));
     }},
    {"EventElapsedTime_DestroyedEnd", kBadHandle, Fd::None,
     [](Env& e) {
         float ms = 0;
         batonEvent_t a = e.event();
         e.result(batonEventElapsedTime(&ms, a, e.deadEvent()));
     }},
    {"EventElapsedTime_NeverRecorded", kBadHandle, Fd::None,
     [](Env& e) {
         float ms = 0;
         batonEvent_t a = e.event(), b = e.event();
         e.result(batonEventElapsedTime(&ms, a, b));
     }},
    {"StreamWaitEvent_Flags", kInvalid, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         e.result(batonStreamWaitEvent(st, e.event(), 1));
     }},
    {"StreamWaitEvent_DestroyedEvent", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         e.result(batonStreamWaitEvent(st, e.deadEvent(), 0));
     }},
    {"StreamWaitEvent_NullEvent", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonStreamWaitEvent(e.stream(), nullptr, 0)); }},
    {"StreamWaitEvent_DestroyedStream", kBadHandle, Fd::None,
     [](Env& e) {
         batonEvent_t ev = e.event();
         e.result(batonStreamWaitEvent(e.deadStream(), ev, 0));
     }},

    // --- contexts and the rest -----------------------------------------------------------
    {"GetVersion_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonGetVersion(nullptr)); }},
    {"ContextCreate_NullOut", kInvalid, Fd::None, [](Env& e) { e.result(batonContextCreate(nullptr, nullptr)); }},
    {"ContextCreate_ReservedNonzero", kInvalid, Fd::None,
     [](Env& e) {
         batonContextCreateInfo ci = batontest::contextCreateInfo();
         ci.reserved[7] = 1;
         batonContext_t c = nullptr;
         e.result(batonContextCreate(&c, &ci));
         if (c) e.contexts.push_back(c);
     }},
    {"ContextAttach_NullInfo", kInvalid, Fd::None,
     [](Env& e) {
         batonContext_t c = nullptr;
         e.result(batonContextAttach(&c, nullptr));
         if (c) e.contexts.push_back(c);
     }},
    {"ContextAttach_NoDevice", kInvalid, Fd::None,
     [](Env& e) {
         batonContextAttachInfo ai{};  // every handle missing
         batonContext_t c = nullptr;
         e.result(batonContextAttach(&c, &ai));
         if (c) e.contexts.push_back(c);
     }},
    {"ContextDestroy_Twice", kBadHandle, Fd::None, [](Env& e) { e.result(batonContextDestroy(e.deadContext())); }},
    {"ContextDestroy_MadeUp", kBadHandle, Fd::None,
     [](Env& e) { e.result(batonContextDestroy(madeUp<batonContext_t>())); }},
    {"ContextDestroy_StreamAsContext", kBadHandle, Fd::None,
     [](Env& e) {
         batonStream_t st = e.stream();
         e.result(batonContextDestroy(reinterpret_cast<batonContext_t>(st)));
         BATON_ASSERT_OK(batonStreamSynchronize(st));
     }},
    {"CtxSetCurrent_Destroyed", kBadHandle, Fd::None, [](Env& e) { e.result(batonCtxSetCurrent(e.deadContext())); }},
    {"CtxGetCurrent_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonCtxGetCurrent(nullptr)); }},
    {"ContextGetInfo_NullInfo", kInvalid, Fd::None, [](Env& e) { e.result(batonContextGetInfo(nullptr, nullptr)); }},
    {"ContextGetInfo_Destroyed", kBadHandle, Fd::None,
     [](Env& e) {
         batonContextInfo info{};
         e.result(batonContextGetInfo(e.deadContext(), &info));
     }},
    {"ContextGetMessageCount_Severity0", kInvalid, Fd::None,
     [](Env& e) {
         unsigned long long n = 0;
         e.result(batontestMessageCount(0, &n));
     }},
    {"ContextGetMessageCount_SeverityMinus1", kInvalid, Fd::None,
     [](Env& e) {
         unsigned long long n = 0;
         e.result(batontestMessageCount(-1, &n));
     }},
    {"ContextGetMessageCount_NullCount", kInvalid, Fd::None,
     [](Env& e) { e.result(batonContextGetMessageCount(nullptr, batonMessageSeverityError, nullptr)); }},
};

// ------------------------------------------------------------------------------------------
// The fixture that runs a row
// ------------------------------------------------------------------------------------------

class BadInput : public ::testing::TestWithParam<Row> {};

TEST_P(BadInput, Row) {
    const Row& row = GetParam();
    // The default context and its fds exist before anything is counted.
    ASSERT_NO_FATAL_FAILURE(expectBatonStillWorks());
    const std::string fdListBefore = batontest::openFdList();
    {
        Env env;
        FdIdentity before;
        if (row.fd != Fd::None) {
            env.fd = makeFd(row.fd);
            before = identityOf(env.fd);
            const bool shouldBeOpen = row.fd != Fd::Closed && row.fd != Fd::NotOpenHigh;
            ASSERT_EQ(before.open, shouldBeOpen) << "could not make the row's fd";
        }
        row.run(env);
        ASSERT_EQ(env.calls, 1) << "the row must make exactly one call under test";
        EXPECT_EQ(env.got, row.expected) << "got " << batonGetErrorName(env.got) << " (\"" << env.message
                                         << "\"), want " << batonGetErrorName(row.expected);
        if (row.expected != batonSuccess) {
            EXPECT_FALSE(env.message.empty()) << "a failure must leave batonGetLastErrorMessage()";
        }
        if (row.fd != Fd::None) {
            const FdIdentity after = identityOf(env.fd);
            EXPECT_EQ(after.open, before.open) << "fd " << env.fd << " was closed (or opened) by the call";
            EXPECT_EQ(after.dev, before.dev);
            EXPECT_EQ(after.ino, before.ino) << "fd " << env.fd << " is another file now";
            EXPECT_EQ(after.mode, before.mode);
            EXPECT_EQ(after.fdFlags, before.fdFlags);
            EXPECT_EQ(after.offset, before.offset) << "the call moved the fd's file offset";
            if (before.open) {
                EXPECT_EQ(close(env.fd), 0);
            }
        }
    }
    ASSERT_NO_FATAL_FAILURE(expectBatonStillWorks());
    EXPECT_EQ(batontest::fdChanges(fdListBefore, batontest::openFdList()), "") << "fds leaked (or closed)";
}

INSTANTIATE_TEST_SUITE_P(Table, BadInput, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& p) { return std::string(p.param.name); });

TEST(BadInputTable, HasEnoughRows) { EXPECT_GE(std::size(kRows), 30u); }

// ------------------------------------------------------------------------------------------
// Error names, strings, the last-error message and the version
// ------------------------------------------------------------------------------------------

struct NamedCode {
    batonError_t code;
    const char* name;
};

const NamedCode kCodes[] = {
    {batonSuccess, "batonSuccess"},
    {batonErrorInvalidValue, "batonErrorInvalidValue"},
    {batonErrorMemoryAllocation, "batonErrorMemoryAllocation"},
    {batonErrorInitializationError, "batonErrorInitializationError"},
    {batonErrorNoDevice, "batonErrorNoDevice"},
    {batonErrorOperatingSystem, "batonErrorOperatingSystem"},
    {batonErrorInvalidResourceHandle, "batonErrorInvalidResourceHandle"},
    {batonErrorIllegalState, "batonErrorIllegalState"},
    {batonErrorNotReady, "batonErrorNotReady"},
    {batonErrorLaunchFailure, "batonErrorLaunchFailure"},
    {batonErrorNotSupported, "batonErrorNotSupported"},
    {batonErrorTimeout, "batonErrorTimeout"},
    {batonErrorUnknown, "batonErrorUnknown"},
    {batonErrorMissingCapability, "batonErrorMissingCapability"},
    {batonErrorKeyedMutexAbandoned, "batonErrorKeyedMutexAbandoned"},
    {batonErrorWrongKind, "batonErrorWrongKind"},
    {batonErrorForeignDevice, "batonErrorForeignDevice"},
};

TEST(ErrorNames, CudaNumbers) {
    // The codes shared with CUDA keep CUDA's numbers (cudaError_t).
    EXPECT_EQ(batonSuccess, 0);
    EXPECT_EQ(batonErrorInvalidValue, 1);
    EXPECT_EQ(batonErrorMemoryAllocation, 2);
    EXPECT_EQ(batonErrorInitializationError, 3);
    EXPECT_EQ(batonErrorNoDevice, 100);
    EXPECT_EQ(batonErrorOperatingSystem, 304);
    EXPECT_EQ(batonErrorInvalidResourceHandle, 400);
    EXPECT_EQ(batonErrorIllegalState, 401);
    EXPECT_EQ(batonErrorNotReady, 600);
    EXPECT_EQ(batonErrorLaunchFailure, 719);
    EXPECT_EQ(batonErrorNotSupported, 801);
    EXPECT_EQ(batonErrorTimeout, 909);
    EXPECT_EQ(batonErrorUnknown, 999);
}

TEST(ErrorNames, EveryCodeHasItsNameAndAString) {
    const std::string unknownString = batontestErrorString(12345);
    std::vector<std::string> strings;
    for (const NamedCode& c : kCodes) {
        const char* name = batonGetErrorName(c.code);
        const char* str = batonGetErrorString(c.code);
        ASSERT_NE(name, nullptr);
        ASSERT_NE(str, nullptr);
        EXPECT_STREQ(name, c.name);
        EXPECT_GT(std::strlen(str), 5u) << c.name;
        EXPECT_NE(str, unknownString) << c.name << " has no string of its own";
        for (const std::string& s : strings) EXPECT_NE(s, str) << c.name << " shares its string";
        strings.push_back(str);
    }
}

TEST(ErrorNames, UnknownCodes) {
    for (int raw : {-1, 5, 401 + 1, 998, 12345, 16383, INT_MIN}) {
        const char* name = batontestErrorName(raw);
        const char* str = batontestErrorString(raw);
        ASSERT_NE(name, nullptr) << raw;
        ASSERT_NE(str, nullptr) << raw;
        EXPECT_GT(std::strlen(name), 0u);
        EXPECT_GT(std::strlen(str), 0u);
        for (const NamedCode& c : kCodes) {
            EXPECT_STRNE(name, c.name) << raw << " is named like a real code";
            EXPECT_STRNE(str, batonGetErrorString(c.code)) << raw;
        }
    }
}

TEST(ErrorNames, LastErrorMessageFollowsTheLastCall) {
    batonExternalSemaphore_t s = nullptr;
    ASSERT_EQ(batonImportExternalSemaphore(&s, nullptr), batonErrorInvalidValue);
    const std::string message = batonGetLastErrorMessage();
    EXPECT_FALSE(message.empty());
    EXPECT_NE(message.find("semHandleDesc"), std::string::npos) << "the message should name the argument: " << message;
    int version = 0;
    BATON_ASSERT_OK(batonGetVersion(&version));
    EXPECT_STREQ(batonGetLastErrorMessage(), "") << "a successful call clears the message";
}

TEST(Version, MatchesTheHeader) {
    int version = -1;
    BATON_ASSERT_OK(batonGetVersion(&version));
    EXPECT_EQ(version, BATON_VERSION);
    EXPECT_EQ(version / 10000, BATON_VERSION_MAJOR);
    EXPECT_EQ(version / 100 % 100, BATON_VERSION_MINOR);
    EXPECT_EQ(version % 100, BATON_VERSION_PATCH);
}

}  // namespace
