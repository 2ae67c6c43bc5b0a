#include "sync/shared_state.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"

namespace baton {

uint64_t monotonicNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

// Shared (not FUTEX_PRIVATE): the word lives in a MAP_SHARED memfd seen by other processes.
long futexWait(std::atomic<uint32_t>* addr, uint32_t expected, const timespec* relTimeout) {
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT, expected, relTimeout, nullptr, 0);
}
long futexWake(std::atomic<uint32_t>* addr) {
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

const char* pageFaultText(PageFault f) {
    switch (f) {
        case PageFault::None: return "no fault";
        case PageFault::Header: return "its magic, version, kind or id changed after it was opened";
        case PageFault::TimelineBackwards: return "the timeline value went below a value this process already saw";
        case PageFault::TimelineAbovePending: return "the timeline value is above every value signaled or pending";
        case PageFault::TimelineStepTooLarge:
            return "the timeline value is further from the local value than maxTimelineSemaphoreValueDifference";
        case PageFault::BinaryBackwards: return "a binary semaphore's signal or consume count went backwards";
        case PageFault::BinaryConsumedAboveValue: return "a binary semaphore consumed more signals than were signaled";
        case PageFault::BinaryValueAhead: return "a binary semaphore holds more than one signal";
        case PageFault::KeyedWordInvalid: return "the keyed-mutex word is not a state the protocol can reach";
        case PageFault::KeyedWordBackwards: return "the keyed-mutex generation went backwards";
    }
    return "unknown fault";
}

namespace {

// Reads header fields as a peer may be writing them: relaxed atomics, never torn, never UB.
template <typename T>
T peek(const T& field) {
    return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

PageFault checkHeader(const SharedLayout& page, const PageExpect& expect) {
    if (peek(page.magic) != kSharedMagic || peek(page.version) != kSharedVersion || peek(page.kind) != expect.kind)
        return PageFault::Header;
    for (size_t i = 0; i < sizeof page.id; ++i)
        if (peek(page.id[i]) != expect.id[i]) return PageFault::Header;
    return PageFault::None;
}

PageFault checkTimeline(const SharedLayout& page, const PageExpect& expect, PageReading* out) {
    // value before pending: pending only grows past a value before it is reached, so an
    // honest page read in this order always has value <= pending.
    out->submitted = page.submitted.load();
    out->value = page.value.load();
    out->pending = page.pending.load();
    if (out->value < expect.value) return PageFault::TimelineBackwards;
    if (out->value > out->pending) return PageFault::TimelineAbovePending;
    return PageFault::None;
}

PageFault checkBinary(const SharedLayout& page, const PageExpect& expect, PageReading* out) {
    // Honest invariant: consumed <= value <= consumed + 1. Read consumed around value: if
    // both reads agree, consumed did not move while value was read, so the pair is exact.
    // A peer churning consumed can keep the reads apart: then only the floors are checked.
    bool exact = false;
    for (int attempt = 0; attempt < 16 && !exact; ++attempt) {
        const uint64_t c1 = page.consumed.load();
        out->value = page.value.load();
        out->consumed = page.consumed.load();
        exact = c1 == out->consumed;
    }
    if (out->value < expect.value || out->consumed < expect.consumed) return PageFault::BinaryBackwards;
    if (exact && out->consumed > out->value) return PageFault::BinaryConsumedAboveValue;
    if (exact && out->value - out->consumed > 1) return PageFault::BinaryValueAhead;
    return PageFault::None;
}

PageFault checkKeyedWord(const SharedLayout& page, const PageExpect& expect, PageReading* out) {
    const uint64_t w = out->kmWord = page.kmWord.load();
    const bool held = w & kKmHeld, abandoned = w & kKmAbandoned, holder = (w & kKmHolderMask) != 0;
    // Transitions (keyed_mutex.h): released (no holder), held (holder), abandoned (no holder).
    if (held != holder || (held && abandoned)) return PageFault::KeyedWordInvalid;
    if ((w >> kKmGenShift) < expect.kmGen) return PageFault::KeyedWordBackwards;
    return PageFault::None;
}

}  // namespace

PageFault readSharedPage(const SharedLayout& page, PageExpect* expect, PageReading* out) {
    *out = PageReading{};
    PageFault f = checkHeader(page, *expect);
    if (f != PageFault::None) return f;
    switch (static_cast<SharedKind>(expect->kind)) {
        case SharedKind::Timeline: f = checkTimeline(page, *expect, out); break;
        case SharedKind::Binary: f = checkBinary(page, *expect, out); break;
        case SharedKind::KeyedMutex: f = checkKeyedWord(page, *expect, out); break;
        default: return PageFault::Header;
    }
    if (f != PageFault::None) return f;
    expect->value = std::max(expect->value, out->value);
    expect->consumed = std::max(expect->consumed, out->consumed);
    expect->kmGen = std::max(expect->kmGen, out->kmWord >> kKmGenShift);
    return PageFault::None;
}

PageFault checkTimelineStep(uint64_t local, uint64_t target, uint64_t maxDifference) {
    if (target > local && target - local > maxDifference) return PageFault::TimelineStepTooLarge;
    return PageFault::None;
}

SharedState::~SharedState() {
    if (layout_) munmap(layout_, kSharedSize);
    if (fd_ >= 0) close(fd_);
}

batonError_t SharedState::create(SharedKind kind, uint64_t initial) {
    int fd = memfd_create("baton-semaphore", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return fail(batonErrorOperatingSystem, "memfd_create failed: %s", strerror(errno));
    if (ftruncate(fd, kSharedSize) != 0 ||
        // Sealed so that no peer can shrink it under another's mapping (SIGBUS) or grow it.
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        return fail(batonErrorOperatingSystem, "sizing/sealing the memfd failed: %s", strerror(e));
    }
    void* p = mmap(nullptr, kSharedSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return fail(batonErrorOperatingSystem, "mmap of the memfd failed: %s", strerror(e));
    }
    auto* l = static_cast<SharedLayout*>(p);  // zero-filled by the kernel
    if (getrandom(l->id, sizeof l->id, 0) != static_cast<ssize_t>(sizeof l->id)) {
        // Identity only needs to be unlikely to repeat; fall back to address and time.
        uint64_t a = reinterpret_cast<uintptr_t>(p) ^ monotonicNs();
        std::memcpy(l->id, &a, sizeof a);
    }
    l->kind = static_cast<uint32_t>(kind);
    l->version = kSharedVersion;
    if (kind == SharedKind::Timeline) {
        l->value.store(initial, std::memory_order_relaxed);
        l->pending.store(initial, std::memory_order_relaxed);
        l->submitted.store(initial, std::memory_order_relaxed);
    } else if (kind == SharedKind::KeyedMutex) {
        l->kmKey.store(initial, std::memory_order_relaxed);
    }
    // Magic last: a peer that maps a half-made state sees no magic and refuses it.
    __atomic_store_n(&l->magic, kSharedMagic, __ATOMIC_RELEASE);
    fd_ = fd;
    layout_ = l;
    kind_ = static_cast<uint32_t>(kind);
    std::memcpy(id_, l->id, sizeof id_);
    return batonSuccess;
}

batonError_t SharedState::open(int fd, SharedKind expected) {
    void* p = mmap(nullptr, kSharedSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail(batonErrorInvalidResourceHandle, "fd %d cannot be mapped: %s", fd, strerror(errno));
    auto* l = static_cast<SharedLayout*>(p);
    if (__atomic_load_n(&l->magic, __ATOMIC_ACQUIRE) != kSharedMagic || l->version != kSharedVersion) {
        munmap(p, kSharedSize);
        return fail(batonErrorInvalidResourceHandle, "fd %d is a memfd but not a baton semaphore", fd);
    }
    const uint32_t kind = l->kind;
    if (kind < static_cast<uint32_t>(SharedKind::Binary) || kind > static_cast<uint32_t>(SharedKind::KeyedMutex)) {
        // Not a baton semaphore of another kind (WrongKind) but no semaphore baton knows.
        munmap(p, kSharedSize);
        return fail(batonErrorInvalidResourceHandle, "fd %d is a memfd with baton's magic but an unknown kind %u", fd, kind);
    }
    if (kind != static_cast<uint32_t>(expected)) {
        static const char* names[] = {"?", "binary", "timeline", "keyed mutex"};
        const uint32_t k = kind;
        munmap(p, kSharedSize);
        return fail(batonErrorWrongKind, "fd %d is a baton %s semaphore, not a %s one", fd, names[k],
                    names[static_cast<uint32_t>(expected)]);
    }
    fd_ = fd;
    layout_ = l;
    kind_ = kind;
    for (size_t i = 0; i < sizeof id_; ++i) id_[i] = peek(l->id[i]);
    // The floors start at what the page says now: a value this process has seen.
    PageReading r;
    PageExpect e;
    e.kind = kind_;
    std::memcpy(e.id, id_, sizeof id_);
    if (PageFault f = readSharedPage(*l, &e, &r); f != PageFault::None) {
        layout_ = nullptr;
        fd_ = -1;
        munmap(p, kSharedSize);
        return fail(batonErrorInvalidResourceHandle, "fd %d is a baton semaphore whose shared page is corrupt: %s", fd,
                    pageFaultText(f));
    }
    seenValue_.store(e.value);
    seenConsumed_.store(e.consumed);
    seenKmGen_.store(e.kmGen);
    return batonSuccess;
}

void SharedState::recordFault(PageFault f) {
    PageFault none = PageFault::None;
    fault_.compare_exchange_strong(none, f, std::memory_order_acq_rel);
}

batonError_t SharedState::faultError() const {
    const PageFault f = fault_.load(std::memory_order_acquire);
    if (f == PageFault::None) return batonSuccess;
    return fail(batonErrorIllegalState, "the shared page of this portable semaphore was corrupted by a peer process: %s",
                pageFaultText(f));
}

batonError_t SharedState::read(PageReading* out) {
    if (faulted()) return faultError();
    // Floors before the page: a floor was read from the page earlier, so an honest page is
    // at or above it now (another thread may raise it meanwhile; that is a later reading).
    PageExpect e;
    e.kind = kind_;
    std::memcpy(e.id, id_, sizeof id_);
    e.value = seenValue_.load(std::memory_order_acquire);
    e.consumed = seenConsumed_.load(std::memory_order_acquire);
    e.kmGen = seenKmGen_.load(std::memory_order_acquire);
    if (PageFault f = readSharedPage(*layout_, &e, out); f != PageFault::None) {
        recordFault(f);
        return faultError();
    }
    auto raise = [](std::atomic<uint64_t>& floor, uint64_t v) {
        uint64_t cur = floor.load(std::memory_order_relaxed);
        while (cur < v && !floor.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
        }
    };
    raise(seenValue_, e.value);
    raise(seenConsumed_, e.consumed);
    raise(seenKmGen_, e.kmGen);
    return batonSuccess;
}

batonError_t SharedState::readValue(uint64_t* value) {
    PageReading r;
    batonError_t e = read(&r);
    *value = r.value;
    return e;
}

batonError_t SharedState::readValueForSignal(uint64_t local, uint64_t maxDifference, uint64_t* value) {
    PageReading r;
    batonError_t e = read(&r);
    *value = r.value;
    if (e != batonSuccess) return e;
    if (PageFault f = checkTimelineStep(local, r.value, maxDifference); f != PageFault::None) {
        recordFault(f);
        return faultError();
    }
    return batonSuccess;
}

void SharedState::releaseFd() {
    if (layout_) munmap(layout_, kSharedSize);
    layout_ = nullptr;
    fd_ = -1;
}

int SharedState::exportFd() const { return fcntl(fd_, F_DUPFD_CLOEXEC, 0); }

void SharedState::wakeAll() {
    // Sequentially consistent on both sides (here and in waitChange) so a waiter that has
    // announced itself either sees the new seq or is counted here: no lost wake-up.
    layout_->seq.fetch_add(1);
    if (localWaiters_.load() != 0 || layout_->waiters.load() != 0) futexWake(&layout_->seq);
}

void SharedState::publish(uint64_t v) {
    uint64_t cur = layout_->value.load(std::memory_order_acquire);
    while (cur < v) {
        // Below a value this process already read: a peer wrote it (a timeline never goes
        // back). Raising it would hide that from every reader; the checked read faults the
        // page instead (defect 8), and waiters end with the peer's error.
        if (cur < seenValue_.load(std::memory_order_acquire)) {
            PageReading r;
            read(&r);
            break;
        }
        if (layout_->value.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) break;
    }
    wakeAll();
}

void SharedState::signalBinary() {
    // Signaled means value > consumed. Signaling a signaled semaphore leaves it signaled once.
    uint64_t v = layout_->value.load(std::memory_order_acquire);
    for (;;) {
        uint64_t c = layout_->consumed.load(std::memory_order_acquire);
        if (v > c) break;
        if (layout_->value.compare_exchange_weak(v, c + 1, std::memory_order_acq_rel)) break;
    }
    wakeAll();
}

bool SharedState::tryConsumeBinary() {
    PageReading r;
    if (read(&r) != batonSuccess) return false;  // never consume from a page a peer corrupted
    uint64_t c = layout_->consumed.load(std::memory_order_acquire);
    for (;;) {
        uint64_t v = layout_->value.load(std::memory_order_acquire);
        if (v <= c) return false;
        if (layout_->consumed.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) {
            wakeAll();
            return true;
        }
    }
}

bool SharedState::reserve(uint64_t v, uint64_t* prev) {
    uint64_t p = layout_->pending.load(std::memory_order_acquire);
    for (;;) {
        uint64_t floor = std::max(p, layout_->value.load(std::memory_order_acquire));
        if (v <= floor) {
            if (prev) *prev = floor;
            return false;
        }
        if (layout_->pending.compare_exchange_weak(p, v, std::memory_order_acq_rel)) {
            if (prev) *prev = p;
            return true;
        }
    }
}

void SharedState::markSubmitted(uint64_t v) {
    uint64_t cur = layout_->submitted.load(std::memory_order_relaxed);
    while (cur < v && !layout_->submitted.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
    }
}

bool SharedState::waitChange(uint32_t seen, uint64_t deadlineNs) {
    // Counted here first (never on the page alone): a peer can zero the page's count, not ours.
    localWaiters_.fetch_add(1);
    layout_->waiters.fetch_add(1);
    bool woke = true;
    // One bounded sleep, not a loop until seq differs: a peer can write seq back to `seen`
    // (ABA), so that the bump of a real change lands on the value we sleep on; a loop would
    // then sleep forever. Callers re-check their condition after every return anyway.
    uint64_t d = kMaxSleepNs;
    if (deadlineNs) {
        const uint64_t now = monotonicNs();
        if (now >= deadlineNs) woke = false;
        else d = std::min(d, deadlineNs - now);
    }
    if (woke && layout_->seq.load() == seen) {
        timespec rel{};
        rel.tv_sec = static_cast<time_t>(d / 1000000000ull);
        rel.tv_nsec = static_cast<long>(d % 1000000000ull);
        futexWait(&layout_->seq, seen, &rel);  // woken, EAGAIN (changed), EINTR or ETIMEDOUT: all return
    }
    // Peer-writable: may wrap if a peer zeroed it meanwhile; it is only a hint.
    layout_->waiters.fetch_sub(1);
    localWaiters_.fetch_sub(1);
    return woke;
}

}  // namespace baton
