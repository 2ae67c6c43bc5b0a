#include "sync/keyed_mutex.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/error.h"

namespace baton {
namespace {

constexpr uint64_t kPidMask = kKmHolderMask;  // the holder field: a token since defect 7, still < 2^23
constexpr uint64_t kHeld = kKmHeld;
constexpr uint64_t kAbandoned = kKmAbandoned;
constexpr int kGenShift = kKmGenShift;

uint64_t genOf(uint64_t w) { return w >> kGenShift; }
uint64_t tokenOf(uint64_t w) { return w & kPidMask; }
// The word after w with the generation bumped and the given flags and token.
uint64_t nextWord(uint64_t w, uint64_t flagsAndToken) { return ((genOf(w) + 1) << kGenShift) | flagsAndToken; }

// The lock that backs a token: one byte at offset `token` (beyond the 4 KiB page: locks may
// lie past the end of a file, and a sealed memfd keeps its size).
struct flock tokenLock(uint64_t token, short type) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(token);
    fl.l_len = 1;
    fl.l_pid = 0;  // required by the OFD lock calls
    return fl;
}

uint64_t randomToken(uint64_t attempt) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))
        r = monotonicNs() * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(getpid()) + attempt;
    return 1 + r % kPidMask;  // 1 .. 2^23-1: 0 means "no holder"
}

}  // namespace

KeyedMutex::~KeyedMutex() {
    if (liveFd_ >= 0) close(liveFd_);
}

batonError_t KeyedMutex::ensureToken() {
    MutexLock lock(tokenMutex_);
    if (token_.load(std::memory_order_acquire)) return batonSuccess;
    // A new open file description of the same memfd: OFD locks belong to a description, and
    // every fd of the memfd that came by dup or SCM_RIGHTS shares one with the other processes.
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", shared_.fd());
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(batonErrorOperatingSystem, "cannot open %s for the keyed mutex's liveness lock: %s (is /proc mounted?)",
                    path, strerror(errno));
    for (uint64_t attempt = 0; attempt < 64; ++attempt) {
        const uint64_t t = randomToken(attempt);
        struct flock fl = tokenLock(t, F_WRLCK);
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
            liveFd_ = fd;
            token_.store(t, std::memory_order_release);
            return batonSuccess;
        }
        if (errno != EAGAIN && errno != EACCES) break;  // EAGAIN/EACCES: another live handle has that token
    }
    const int e = errno;
    close(fd);
    return fail(batonErrorOperatingSystem, "cannot take the keyed mutex's liveness lock: %s", strerror(e));
}

batonError_t KeyedMutex::checkProcess() {
    // The holder field holds a token, not a pid (defect 7): every process fits.
    return batonSuccess;
}

batonError_t KeyedMutex::beginAcquire(const void* stream, uint32_t* ticket, EnqueueState* saved) {
    MutexLock lock(enqueueMutex_);
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
    MutexLock lock(enqueueMutex_);
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
    MutexLock lock(enqueueMutex_);
    enq_ = saved;
}

bool KeyedMutex::holderDead(uint64_t word) const {
    // Our own token: this handle's previous hold, whose release the publisher thread has not
    // run yet (it runs once the GPU finished the work under the hold). Alive by definition;
    // and our own description's lock would read as unlocked, so it must not be tested.
    if (tokenOf(word) == token_.load(std::memory_order_acquire)) return false;
    // Whoever holds the token's lock is alive; nobody: the holder is dead (or never existed:
    // a peer wrote a word naming a token nobody owns).
    struct flock fl = tokenLock(tokenOf(word), F_WRLCK);
    if (fcntl(liveFd_, F_OFD_GETLK, &fl) != 0) return false;  // cannot tell: never take a hold over
    return fl.l_type == F_UNLCK;
}

batonError_t KeyedMutex::acquire(uint64_t key, uint32_t timeoutMs, uint32_t ticket, const std::atomic<bool>& cancel) {
    SharedLayout& l = shared_.s();
    if (batonError_t e = ensureToken(); e != batonSuccess) {
        failedTicket_.store(kValid | ticket, std::memory_order_release);
        return e;
    }
    const uint64_t me = token_.load(std::memory_order_acquire);
    constexpr uint64_t kPeriodNs = uint64_t{kLivenessPeriodMs} * 1000000ull;
    const uint64_t start = monotonicNs();
    const uint64_t deadline = timeoutMs == BATON_INFINITE ? 0 : start + uint64_t{timeoutMs} * 1000000ull;
    // The holder is looked at (one fcntl on its token's lock) only once per period of waiting, never on the
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
        // Checked: a word no honest process can write is the peer's error, not a holder.
        PageReading reading;
        if (batonError_t e = shared_.read(&reading); e != batonSuccess) {
            failedTicket_.store(kValid | ticket, std::memory_order_release);
            return e;
        }
        uint64_t w = reading.kmWord;
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
        if (held && (now >= nextLook || last)) {
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
    if (testAfterClaim) testAfterClaim();
    heldWord_.store(claimed, std::memory_order_relaxed);
    heldTicket_.store(kValid | ticket, std::memory_order_release);
    // failedTicket_ is left alone: acquires of one handle run on different streams' threads,
    // so this one may complete after a LATER ticket failed, and clearing it would erase that
    // failure (beginAcquire would refuse the next acquire). A stale failure of an older
    // ticket is harmless: beginAcquire compares it with the newest ticket only.
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
