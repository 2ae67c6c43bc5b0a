// The keyed mutex (D3D11's IDXGIKeyedMutex, CUDA's cudaExternalSemaphoreHandleTypeKeyedMutex),
// emulated on the portable backend's shared page so that it works across processes and on
// drivers without semaphore fds.
//
// Shared protocol (SharedLayout::km*). One 64-bit word says everything a claim needs:
//     bits  0..22  pid of the holding process (Linux pids are < 2^22)
//     bit  23      held
//     bit  24      abandoned: released by death, the next acquirer (any key) is told
//     bits 25..63  generation, +1 on every transition (defeats ABA between a read and its CAS)
// - release(key): the holder stores kmKey, then CASes (g, held, pid) -> (g+1, released).
// - acquire(key): while released with kmKey == key (or abandoned), CAS -> (g+1, held, me).
//   kmKey is only written while held, and every transition bumps g, so a CAS from the word
//   that was read proves the key read in between was the key of that release.
// - holder death: a waiter that finds the holding pid dead (kill(pid, 0) == ESRCH, a zombie,
//   or a process whose start time differs from the one the holder recorded: the pid was
//   reused) CASes (g, held, dead) -> (g+1, held, me) and reports batonErrorKeyedMutexAbandoned.
//   The holder's start time and pid namespace are recorded after its claim, stamped with the
//   generation (kmOwnerGen), so a record from an earlier holder is never trusted.
//
// Waiting sleeps on the shared futex word (SharedState::waitChange) and wakes on every
// transition. A dead process cannot wake anybody, and robust futexes do not fit (the
// kernel tracks them per *thread*, while a hold spans the stream thread that acquires and
// the publisher thread that releases), so a waiter sleeps at most kLivenessPeriodMs at a
// time and, once it has waited that long, looks at a holder in another process once per
// period (kill + /proc/<pid>/stat): bounded, never a busy loop, and never on the
// hand-to-hand path, where the release's futex wake is what ends the wait.
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

#include "sync/shared_state.h"

namespace baton {

class KeyedMutex {
public:
    static constexpr uint32_t kLivenessPeriodMs = 50;

    explicit KeyedMutex(SharedState& state) : shared_(state) {}

    // Refuses processes whose pid cannot be encoded in the word (never on Linux's limits).
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
    // batonErrorTimeout, or batonErrorIllegalState when cancel was raised (nothing held).
    batonError_t acquire(uint64_t key, uint32_t timeoutMs, uint32_t ticket, const std::atomic<bool>& cancel);
    // Whether a release of ticket has something to release (false: its acquire failed).
    bool holds(uint32_t ticket) const { return heldTicket_.load(std::memory_order_acquire) == (kValid | ticket); }

    // --- Publisher thread (after the GPU finished the holder's work), or destroy. ---
    void release(uint64_t key);
    // Destroy while holding: the next acquirer gets batonErrorKeyedMutexAbandoned, as with
    // D3D when a holder lets go of the resource without ReleaseSync.
    void abandonIfHeld();

    // Introspection for batonExternalSemaphoreGetInfo.
    uint64_t lastKey() const { return shared_.s().kmKey.load(); }
    bool held() const;

private:
    bool holderDead(uint64_t word) const;
    void recordOwner(uint64_t gen);

    SharedState& shared_;
    std::mutex enqueueMutex_;
    EnqueueState enq_;
    // Tickets below carry kValid so that ticket 0 (after 2^32 acquires) is still a ticket.
    static constexpr uint64_t kValid = 1ull << 32;
    std::atomic<uint64_t> failedTicket_{0};  // kValid | ticket of an acquire that failed, else 0 (stream thread)
    std::atomic<uint64_t> heldTicket_{0};    // kValid | ticket of the current hold, else 0
    std::atomic<uint64_t> heldWord_{0};      // the word this handle's hold set
};

}  // namespace baton
