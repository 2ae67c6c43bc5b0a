// The keyed mutex (D3D11's IDXGIKeyedMutex, CUDA's cudaExternalSemaphoreHandleTypeKeyedMutex),
// emulated on the portable backend's shared page so that it works across processes and on
// drivers without semaphore fds.
//
// Shared protocol (SharedLayout::km*). One 64-bit word says everything a claim needs:
//     bits  0..22  holder token (1..2^23-1) of the holding handle, 0 when not held
//     bit  23      held
//     bit  24      abandoned: released by death, the next acquirer (any key) is told
//     bits 25..63  generation, +1 on every transition (defeats ABA between a read and its CAS)
// Every other word (held without token, token without held, held and abandoned) is the
// peer's error (SharedState's checked reader, PageFault::KeyedWordInvalid).
// - release(key): the holder stores kmKey, then CASes (g, held, token) -> (g+1, released).
// - acquire(key): while released with kmKey == key (or abandoned), CAS -> (g+1, held, mine).
//   kmKey is only written while held, and every transition bumps g, so a CAS from the word
//   that was read proves the key read in between was the key of that release.
// - Liveness without pids (defect 7). Pids do not name a process across pid namespaces (a
//   holder in a container may have our pid, or a pid that names nobody or somebody else
//   here), so the word names a *token*, and the token is backed by a lock the kernel drops
//   when the holder dies: before its first claim a handle opens its own file description of
//   the memfd (/proc/self/fd/N: a new open file description, unlike dup or SCM_RIGHTS) and
//   takes an OFD write lock on byte `token` (beyond the end of the file; a random token,
//   another one if that byte is locked already). It keeps that lock for its life, so the
//   lock exists BEFORE any claim CAS names the token: there is no window after the claim in
//   which a live holder looks dead. A waiter tests the lock (F_OFD_GETLK through its own
//   description): unlocked means no live handle owns the token, so the hold is dead (its
//   process died, or a peer wrote a word naming nobody); it CASes (g, held, token) ->
//   (g+1, held, mine) and reports batonErrorKeyedMutexAbandoned. This works in every pid,
//   user and mount namespace and across container restarts, since the kernel, not a pid,
//   tells. A fork()ed child keeps its parent's description (and so the lock) until it exits
//   or execs: while such a child lives, its parent's hold is not judged dead (never two holders).
//
// Waiting sleeps on the shared futex word (SharedState::waitChange) and wakes on every
// transition. A dead process cannot wake anybody, and robust futexes do not fit (the
// kernel tracks them per *thread*, while a hold spans the stream thread that acquires and
// the publisher thread that releases), so a waiter sleeps at most kLivenessPeriodMs at a
// time and, once it has waited that long, tests the holder's lock once per period (one
// fcntl): bounded, never a busy loop, and never on the hand-to-hand path, where the
// release's futex wake is what ends the wait.
//
// Per-handle state, stream-ordered like the operations:
// - at enqueue (API threads): acquire and release must alternate on a handle, and a release
//   goes on the stream of its acquire. Violations are refused when enqueued
//   (batonErrorIllegalState) and nothing is enqueued. Each acquire gets a ticket.
// - on the stream thread: a successful acquire records (ticket, generation) as the handle's
//   hold; a release whose ticket is not the hold (its acquire timed out) is dropped there.
// - on the publisher thread: once the GPU finished the work before a release, release(key).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include <baton/baton.h>

#include "core/thread_safety.h"
#include "sync/shared_state.h"

namespace baton {

class KeyedMutex {
public:
    static constexpr uint32_t kLivenessPeriodMs = 50;

    explicit KeyedMutex(SharedState& state) : shared_(state) {}
    ~KeyedMutex();  // closes the liveness description: drops the token's lock
    KeyedMutex(const KeyedMutex&) = delete;
    KeyedMutex& operator=(const KeyedMutex&) = delete;

    // Kept for the callers: the word holds a token, not a pid, so every process qualifies.
    static batonError_t checkProcess();

    // --- Enqueue-time state machine (API threads). ---
    struct EnqueueState {
        uint32_t acquires = 0;  // tickets handed out
        uint32_t releases = 0;  // acquires closed by a release (or by a failure seen before it)
        const void* stream = nullptr;  // where the open acquire was enqueued
    };
    // Checks that an acquire on `stream` may be enqueued and reserves its ticket. On success
    // *saved gets the state to restore with undo() if the enqueue fails afterwards.
    batonError_t beginAcquire(const void* stream, uint32_t* ticket, EnqueueState* saved);
    // Checks that a release on `stream` may be enqueued; *ticket is the acquire it releases.
    batonError_t beginRelease(const void* stream, uint32_t* ticket, EnqueueState* saved);
    void undo(const EnqueueState& saved);

    // --- Stream thread. ---
    // Acquires with key within timeoutMs (BATON_INFINITE: forever; 0: one try), sleeping on
    // the futex. Returns batonSuccess, batonErrorKeyedMutexAbandoned (held as well),
    // batonErrorTimeout, batonErrorIllegalState when cancel was raised or when a peer made
    // the shared page impossible (message set; nothing held), or batonErrorOperatingSystem
    // when the liveness lock cannot be set up (no /proc).
    batonError_t acquire(uint64_t key, uint32_t timeoutMs, uint32_t ticket, const std::atomic<bool>& cancel);
    // Whether a release of ticket has something to release (false: its acquire failed).
    bool holds(uint32_t ticket) const { return heldTicket_.load(std::memory_order_acquire) == (kValid | ticket); }

    // --- Publisher thread (after the GPU finished the holder's work), or destroy. ---
    void release(uint64_t key);
    // Destroy while holding: the next acquirer gets batonErrorKeyedMutexAbandoned, as with
    // D3D when a holder lets go of the resource without ReleaseSync.
    void abandonIfHeld();

    // Test seam (tests/hostile, a helper process only): called right after a claim's CAS
    // succeeded, before anything else of the claim, so that a test can stop a real holder
    // inside that window. Null in production; nothing in the library sets it.
    static inline void (*testAfterClaim)() = nullptr;

    // Introspection for batonExternalSemaphoreGetInfo.
    uint64_t lastKey() const { return shared_.s().kmKey.load(); }
    bool held() const;

private:
    batonError_t ensureToken();
    bool holderDead(uint64_t word) const;

    SharedState& shared_;
    // Liveness: set up once, by whichever stream thread acquires first (acquires of one handle
    // may run on different streams' threads one after the other).
    Mutex tokenMutex_;
    // This handle's own description of the memfd; its OFD lock backs the token. Written once,
    // under tokenMutex_, before token_ is published (release): readers load token_ first.
    int liveFd_ = -1;
    std::atomic<uint64_t> token_{0};   // 0 until set up
    Mutex enqueueMutex_;
    EnqueueState enq_ BATON_GUARDED_BY(enqueueMutex_);
    // Tickets below carry kValid so that ticket 0 (after 2^32 acquires) is still a ticket.
    static constexpr uint64_t kValid = 1ull << 32;
    std::atomic<uint64_t> failedTicket_{0};  // kValid | ticket of the latest acquire that failed (stream threads)
    std::atomic<uint64_t> heldTicket_{0};    // kValid | ticket of the current hold, else 0
    std::atomic<uint64_t> heldWord_{0};      // the word this handle's hold set
};

}  // namespace baton
