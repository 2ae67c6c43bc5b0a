#include "sync/shared_state.h"

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
    if (layout_->waiters.load() != 0) futexWake(&layout_->seq);
}

void SharedState::publish(uint64_t v) {
    uint64_t cur = layout_->value.load(std::memory_order_relaxed);
    while (cur < v && !layout_->value.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
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
    layout_->waiters.fetch_add(1);
    bool woke = true;
    for (;;) {
        if (layout_->seq.load() != seen) break;
        timespec rel{};
        const timespec* relp = nullptr;
        if (deadlineNs) {
            uint64_t now = monotonicNs();
            if (now >= deadlineNs) {
                woke = false;
                break;
            }
            uint64_t d = deadlineNs - now;
            rel.tv_sec = static_cast<time_t>(d / 1000000000ull);
            rel.tv_nsec = static_cast<long>(d % 1000000000ull);
            relp = &rel;
        }
        futexWait(&layout_->seq, seen, relp);  // EAGAIN/EINTR/ETIMEDOUT: loop re-checks
    }
    layout_->waiters.fetch_sub(1);
    return woke;
}

}  // namespace baton
