#include "sync/keyed_mutex.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

namespace baton {
namespace {

constexpr uint64_t kPidMask = (1ull << 23) - 1;
constexpr uint64_t kHeld = 1ull << 23;
constexpr uint64_t kAbandoned = 1ull << 24;
constexpr int kGenShift = 25;

uint64_t genOf(uint64_t w) { return w >> kGenShift; }
uint64_t pidOf(uint64_t w) { return w & kPidMask; }
// The word after w with the generation bumped and the given flags and pid.
uint64_t nextWord(uint64_t w, uint64_t flagsAndPid) { return ((genOf(w) + 1) << kGenShift) | flagsAndPid; }

// A process as /proc/<pid>/stat describes it.
struct ProcStat {
    bool exists = false;
    char state = '?';
    uint64_t startTime = 0;  // field 22, clock ticks after boot
};

ProcStat readProcStat(const char* path) {
    ProcStat ps;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ps;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return ps;
    buf[n] = '\0';
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
    char* p = std::strrchr(buf, ')');
    if (!p) return ps;
    ps.exists = true;
    p += 2;
    ps.state = *p;
    // Fields 3 (state) .. 22 (starttime): skip 19 separators.
    for (int field = 3; field < 22 && p; ++field) {
        p = std::strchr(p, ' ');
        if (p) ++p;
    }
    if (p) ps.startTime = std::strtoull(p, nullptr, 10);
    return ps;
}

uint64_t pidNamespace() {
    struct stat st {};
    return stat("/proc/self/ns/pid", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

// This process's identity, read once per pid (a fork without exec gets its own).
struct SelfIdentity {
    uint64_t pid;
    uint64_t startTime;  // 0 when /proc is not there: then liveness relies on kill() alone
    uint64_t pidNs;
};

SelfIdentity self() {
    // Process-wide cache of three integers, refreshed when the pid changes: holds no Vulkan
    // state, and spares every acquire the /proc read.
    static std::atomic<uint64_t> cachedPid{0}, cachedStart{0}, cachedNs{0};
    const uint64_t pid = static_cast<uint64_t>(getpid());
    if (cachedPid.load(std::memory_order_acquire) != pid) {
        cachedStart.store(readProcStat("/proc/self/stat").startTime, std::memory_order_relaxed);
        cachedNs.store(pidNamespace(), std::memory_order_relaxed);
        cachedPid.store(pid, std::memory_order_release);
    }
    return {pid, cachedStart.load(std::memory_order_relaxed), cachedNs.load(std::memory_order_relaxed)};
}

}  // namespace

batonError_t KeyedMutex::checkProcess() {
    if (static_cast<uint64_t>(getpid()) > kPidMask)
        return fail(batonErrorNotSupported, "pid %d does not fit the keyed mutex's 23-bit holder field", getpid());
    return batonSuccess;
}

batonError_t KeyedMutex::beginAcquire(const void* stream, uint32_t* ticket, EnqueueState* saved) {
    std::lock_guard lock(enqueueMutex_);
    *saved = enq_;
    if (enq_.acquires != enq_.releases) {
        if (failedTicket_.load(std::memory_order_acquire) != (kValid | enq_.acquires))
            return fail(batonErrorIllegalState,
                        "this keyed-mutex handle already has an acquire without a release (D3D: AcquireSync twice); "
                        "release it, or use another handle of the same mutex");
        enq_.releases = enq_.acquires;  // that acquire failed (timed out): it ended without a hold
    }
    *ticket = ++enq_.acquires;
    enq_.stream = stream;
    return batonSuccess;
}

batonError_t KeyedMutex::beginRelease(const void* stream, uint32_t* ticket, EnqueueState* saved) {
    std::lock_guard lock(enqueueMutex_);
    *saved = enq_;
    if (enq_.acquires == enq_.releases)
        return fail(batonErrorIllegalState, "this keyed-mutex handle has no acquire to release (D3D: ReleaseSync "
                    "without AcquireSync)");
    if (enq_.stream != stream)
        return fail(batonErrorIllegalState, "a keyed mutex must be released on the stream that acquired it, so that "
                    "the release follows the work done under the acquire");
    *ticket = enq_.acquires;
    enq_.releases = enq_.acquires;
    return batonSuccess;
}

void KeyedMutex::undo(const EnqueueState& saved) {
    std::lock_guard lock(enqueueMutex_);
    enq_ = saved;
}

bool KeyedMutex::holderDead(uint64_t word) const {
    const SharedLayout& l = shared_.s();
    const pid_t pid = static_cast<pid_t>(pidOf(word));
    // The holder's record, if it is the record of *this* hold (seqlock on the generation).
    const uint64_t g1 = l.kmOwnerGen.load();
    const uint64_t start = l.kmOwnerStart.load(), ns = l.kmOwnerPidNs.load();
    const bool record = g1 == genOf(word) && l.kmOwnerGen.load() == g1;
    const SelfIdentity me = self();
    // Another pid namespace: its pids mean nothing here, so we cannot judge. Never take over.
    if (record && ns && me.pidNs && ns != me.pidNs) return false;
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    if (!me.startTime) return false;  // no /proc: kill() is all we have
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    ProcStat ps = readProcStat(path);
    if (!ps.exists || ps.state == 'Z' || ps.state == 'X') return true;  // gone, or dead and not yet reaped
    return record && start && ps.startTime != start;                  // the pid now names another process
}

void KeyedMutex::recordOwner(uint64_t gen) {
    SharedLayout& l = shared_.s();
    const SelfIdentity me = self();
    l.kmOwnerGen.store(0);
    l.kmOwnerStart.store(me.startTime);
    l.kmOwnerPidNs.store(me.pidNs);
    l.kmOwnerGen.store(gen);
}

batonError_t KeyedMutex::acquire(uint64_t key, uint32_t timeoutMs, uint32_t ticket, const std::atomic<bool>& cancel) {
    SharedLayout& l = shared_.s();
    const uint64_t me = self().pid;
    constexpr uint64_t kPeriodNs = uint64_t{kLivenessPeriodMs} * 1000000ull;
    const uint64_t start = monotonicNs();
    const uint64_t deadline = timeoutMs == BATON_INFINITE ? 0 : start + uint64_t{timeoutMs} * 1000000ull;
    // The holder is looked at (a /proc read) only once per period of waiting, never on the
    // hand-to-hand path, and once more before giving up, so that a dead holder is reported
    // as abandoned rather than as a timeout, whatever the timeout.
    uint64_t nextLook = start + kPeriodNs;
    uint64_t claimed = 0;
    bool abandoned = false;
    for (;;) {
        // seq before the word: a transition after this read changes seq, so the sleep below
        // returns at once instead of missing it.
        const uint32_t seen = l.seq.load();
        if (cancel.load()) return batonErrorIllegalState;
        uint64_t w = l.kmWord.load();
        const bool held = w & kHeld;
        if (!held && ((w & kAbandoned) || l.kmKey.load() == key)) {
            claimed = nextWord(w, kHeld | me);
            if (l.kmWord.compare_exchange_strong(w, claimed)) {
                abandoned = w & kAbandoned;
                break;
            }
            continue;  // somebody moved first: look again
        }
        uint64_t now = monotonicNs();
        const bool last = timeoutMs == 0 || (deadline && now >= deadline);
        if (held && pidOf(w) != me && (now >= nextLook || last)) {
            if (holderDead(w)) {
                claimed = nextWord(w, kHeld | me);
                if (l.kmWord.compare_exchange_strong(w, claimed)) {
                    abandoned = true;
                    break;
                }
                continue;
            }
            now = monotonicNs();
        }
        if (last) {
            failedTicket_.store(kValid | ticket, std::memory_order_release);
            return batonErrorTimeout;
        }
        if (nextLook <= now) nextLook = now + kPeriodNs;
        // Bounded sleep even when nobody holds it: a holder that claims it and dies later
        // wakes nobody, so waiters come back to look at least once a period.
        shared_.waitChange(seen, deadline && deadline < nextLook ? deadline : nextLook);
    }
    recordOwner(genOf(claimed));
    heldWord_.store(claimed, std::memory_order_relaxed);
    heldTicket_.store(kValid | ticket, std::memory_order_release);
    failedTicket_.store(0, std::memory_order_relaxed);
    return abandoned ? batonErrorKeyedMutexAbandoned : batonSuccess;
}

void KeyedMutex::release(uint64_t key) {
    SharedLayout& l = shared_.s();
    uint64_t w = heldWord_.load(std::memory_order_relaxed);
    l.kmKey.store(key);
    heldTicket_.store(0, std::memory_order_release);
    // Fails only if the hold was taken from us, which needs this process to look dead.
    l.kmWord.compare_exchange_strong(w, nextWord(w, 0));
    shared_.wakeAll();
}

void KeyedMutex::abandonIfHeld() {
    if (!heldTicket_.load(std::memory_order_acquire)) return;
    uint64_t w = heldWord_.load(std::memory_order_relaxed);
    heldTicket_.store(0, std::memory_order_release);
    shared_.s().kmWord.compare_exchange_strong(w, nextWord(w, kAbandoned));
    shared_.wakeAll();
}

bool KeyedMutex::held() const { return shared_.s().kmWord.load() & kHeld; }

}  // namespace baton
