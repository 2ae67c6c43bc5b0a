// The semaphore backends behind one table (the shape of Mesa's vk_sync_type,
// src/vulkan/runtime/vk_sync.h): a Semaphore points at the const table of its backend
// (native binary, native timeline, portable binary, portable timeline, keyed mutex), and
// everything a stream, the channel or an entry point does with a semaphore goes through it.
// Only sync/ knows what a backend is made of; code elsewhere asks the table, or tests a
// feature bit.
#pragma once

#include <atomic>
#include <cstdint>

#include <baton/baton.h>

namespace baton {

class Semaphore;
struct Op;
struct Queue;
struct SubmitBatch;

// How a stream carries out a wait (Stream::processWait).
enum class WaitPlan : uint8_t {
    Gpu,   // a semaphore wait in the stream's next submission
    Skip,  // already reached: nothing to wait for
    Host,  // the stream thread waits first, then submits what follows
    // A stream of this process signals it but has not submitted that yet: the stream thread
    // waits until a signal of it is on a queue (Semaphore::waitSubmitted), then a GPU wait.
    // Never a GPU wait ahead of a signal that this process still has to submit (defect 9).
    AfterSubmit,
};

enum SemFeature : uint32_t {
    kSemTimeline = 1u << 0,            // waits are "value >= v"; signals set a value
    kSemKeyedMutex = 1u << 1,          // acquire(key)/release(key) instead of wait/signal
    kSemNative = 1u << 2,              // the driver's semaphore: waits/signals go to the GPU as they are
    kSemPortable = 1u << 3,            // baton's shared page, bridged to the GPU by proxies
    kSemSignalOnStreamThread = 1u << 4,// a signal depends on what the stream thread did before (keyed mutex)
    kSemHostWaitTimed = 1u << 5,       // its stream waits run on the host and go to telemetry as such
};

struct SemaphoreBackend {
    const char* name;
    uint32_t features;
    batonSemaphoreBackend publicBackend;
    batonExternalSemaphoreHandleType handleType;

    // Values: what has taken effect, and the highest signaled or pending.
    uint64_t (*currentValue)(const Semaphore&);
    uint64_t (*pendingValue)(const Semaphore&);
    // Timeline: the floor a new signal value must exceed; *knownCurrent gets the counter
    // value read for it (UINT64_MAX: none), for reserveValue.
    uint64_t (*signalFloor)(const Semaphore&, uint64_t* knownCurrent);
    // Timeline: claims v for a signal; *prevPending: the pending value it replaced.
    batonError_t (*reserveValue)(Semaphore&, uint64_t v, uint64_t knownCurrent, uint64_t* prevPending);
    std::atomic<uint64_t>& (*pendingWord)(Semaphore&);  // what reserveValue raised (giveBack)

    // Streams.
    WaitPlan (*planWait)(const Semaphore&, uint64_t v, Queue& waiterQueue);
    void (*addWait)(Semaphore&, SubmitBatch&, uint64_t v);         // WaitPlan::Gpu; takes the op's reference
    bool (*addSignal)(Semaphore&, SubmitBatch&, const Op&);        // takes the op's reference; false: nothing to signal
    batonError_t (*streamHostWait)(Semaphore&, const Op&, const std::atomic<bool>& cancel);  // WaitPlan::Host
    void (*wakeWaiters)(Semaphore&);                               // make host waits recheck their cancel flag

    // The host and a renderer's own submissions.
    batonError_t (*hostWait)(Semaphore&, uint64_t v, uint64_t timeoutNs);
    batonError_t (*rendererWait)(Semaphore&, uint64_t v, VkSemaphore* out);
    batonError_t (*rendererSignal)(Semaphore&, uint64_t v, VkSemaphore* out);

    // Sharing: an fd for another process (*owned: the caller closes it).
    batonError_t (*shareableFd)(Semaphore&, int* fd, bool* owned);

    // A timeline signal of v whose submission failed, once the GPU has passed everything
    // submitted before it: makes v come anyway where the backend can, so that GPU waits
    // already submitted for it (another stream, an importer) end instead of hanging.
    void (*signalNeverSubmitted)(Semaphore&, uint64_t v);
    // The same signal, carried instead by the stream's signal-only recovery submission
    // (Stream::resubmitSignals), under ctx->proxySignalMutex: whether it may go there (no
    // higher value went to the GPU since, the GPU has not reached v). Portable: never (the
    // failed value was marked failed, which ends its waiters).
    bool (*resignalNeverSubmitted)(Semaphore&, uint64_t v);
};

// The table for a semaphore of `kind` (SemKind) on the native or portable backend.
const SemaphoreBackend& backendFor(int kind, bool portable);

}  // namespace baton
