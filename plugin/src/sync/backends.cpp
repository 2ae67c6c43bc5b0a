// The five semaphore backends' tables (sync/backend.h) and the operations behind them.
// Native: the driver's exportable VkSemaphore; waits and signals go straight into queue
// submissions. Portable: a SharedState page bridged to the GPU by the semaphore's proxies
// (semaphore.h): a GPU signal completes on the local signal proxy and the publisher publishes
// it; a stream's wait is a host wait on the page; a renderer's wait is the mirror-driven wait
// proxy. The keyed mutex is portable, with acquire/release instead of wait/signal.
#include "sync/backend.h"

#include "core/assert.h"
#include "core/error.h"
#include "exec/context.h"
#include "exec/stream.h"
#include "exec/submit_batch.h"
#include "sync/semaphore.h"

namespace baton {
namespace {

bool isTimeline(const Semaphore& s) { return s.kind == SemKind::Timeline; }

batonError_t valueNotAbove(uint64_t v, uint64_t floor) {
    return fail(batonErrorInvalidValue, "timeline signal value %llu is not above %llu, the highest value signaled or pending",
                static_cast<unsigned long long>(v), static_cast<unsigned long long>(floor));
}

batonError_t notSupportedForRenderer(const char* what) {
    return fail(batonErrorNotSupported, "only timelines and native binary semaphores can be %s in a renderer's submit",
                what);
}

// Whether a renderer's wait for v can wait on the GPU for a stream signal of this process:
// it is on a queue already, or will be submitted to one that is not the renderer's.
bool streamSignalWaitable(const Semaphore& s, uint64_t v) {
    return v <= s.streamSubmitted.load() || (v <= s.streamReserved.load() && !s.ctx->queueShared);
}

batonError_t notYetSubmitted(uint64_t v) {
    return fail(batonErrorNotReady, "the stream that signals %llu has not submitted it yet; on a shared queue the wait "
                "would stall the queue that has to run it", static_cast<unsigned long long>(v));
}

// ---- Native --------------------------------------------------------------------------

uint64_t nativeCurrent(const Semaphore& s) {
    uint64_t v = 0;
    if (isTimeline(s)) s.ctx->vkd.vkGetSemaphoreCounterValue(s.ctx->device, s.vk, &v);
    return v;
}

uint64_t nativePending(const Semaphore& s) {
    uint64_t c = nativeCurrent(s), p = s.localPending.load();
    return p > c ? p : c;
}

uint64_t nativeFloor(const Semaphore& s, uint64_t* knownCurrent) {
    *knownCurrent = nativeCurrent(s);
    uint64_t p = s.localPending.load();
    return p > *knownCurrent ? p : *knownCurrent;
}

batonError_t nativeReserve(Semaphore& s, uint64_t v, uint64_t knownCurrent, uint64_t* prevPending) {
    uint64_t current = knownCurrent;
    if (current == UINT64_MAX) current = nativeCurrent(s);
    uint64_t p = s.localPending.load(std::memory_order_acquire);
    for (;;) {
        uint64_t floor = p > current ? p : current;
        if (v <= floor) return valueNotAbove(v, floor);
        if (s.localPending.compare_exchange_weak(p, v, std::memory_order_acq_rel)) {
            *prevPending = p;
            return batonSuccess;
        }
    }
}

std::atomic<uint64_t>& nativePendingWord(Semaphore& s) { return s.localPending; }

bool nativeReached(const Semaphore& s, uint64_t v) {
    uint64_t now = 0;
    return s.ctx->vkd.vkGetSemaphoreCounterValue(s.ctx->device, s.vk, &now) == VK_SUCCESS && now >= v;
}

// A GPU wait (no host round trip, and a memory dependency) whenever the signal that satisfies
// it cannot be stuck behind it on a queue. (A signal merely enqueued on some stream proves
// nothing: it may be ordered after this very wait, e.g. wait(1) then signal(2).)
WaitPlan nativePlanWait(const Semaphore& s, uint64_t v, Queue& q) {
    if (!isTimeline(s)) return WaitPlan::Gpu;  // Vulkan's rule: a binary signal is submitted first
    if (v <= s.streamSubmitted.load() || (!s.ctx->queueShared && v <= s.rendererReserved.load())) return WaitPlan::Gpu;
    // A stream of this process signals it, not yet submitted: wait for that submission first.
    // A GPU wait ahead of it could hold up a higher signal that a stream then submits
    // behind the wait, and the lower value would have to follow the higher one (defect 9).
    if (v <= s.streamReserved.load()) return nativeReached(s, v) ? WaitPlan::Gpu : WaitPlan::AfterSubmit;
    // On a queue this stream has to itself, whoever signals it (another stream, the renderer,
    // another process, CUDA), the wait can only hold up this stream, which is what stream
    // order asks for. Recomputed per wait: streams come and go.
    if (s.ctx->queueExclusive(q)) return WaitPlan::Gpu;
    // Already reached: the wait stays on the GPU (it cannot block and keeps the dependency).
    return nativeReached(s, v) ? WaitPlan::Gpu : WaitPlan::Host;
}

void nativeAddWait(Semaphore& s, SubmitBatch& b, uint64_t v) {
    if (s.foreign.load(std::memory_order_relaxed)) s.ctx->foreignGpuWaits.store(true, std::memory_order_relaxed);
    b.addWait(s.vk, isTimeline(s) ? v : 0);
    b.addRef(&s);  // the batch owns the op's reference now
}

bool nativeAddSignal(Semaphore& s, SubmitBatch& b, const Op& op) {
    if (isTimeline(s)) b.addTimelineSignal(&s, op.value);
    b.addSignal(s.vk, isTimeline(s) ? op.value : 0);
    b.addRef(&s);
    return true;
}

// In bounded slices, so that a context going away can cancel the wait.
// Whether the native timeline has reached value; polled before blocking (spin_wait.h).
bool nativeSpinUntil(Semaphore& s, uint64_t value, const std::atomic<bool>* cancel) {
    if (s.ctx->lost()) return false;  // the blocking path reports the loss
    return s.hostSpin.spin([&] {
        uint64_t v = 0;
        if (cancel && cancel->load()) return true;
        return s.ctx->vkd.vkGetSemaphoreCounterValue(s.ctx->device, s.vk, &v) == VK_SUCCESS && v >= value;
    });
}

batonError_t nativeStreamHostWait(Semaphore& s, const Op& op, const std::atomic<bool>& cancel) {
    uint64_t value = op.value;
    if (nativeSpinUntil(s, value, &cancel)) return batonSuccess;
    while (!cancel.load()) {
        if (s.ctx->lost()) return s.ctx->lostError();
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s.vk, &value};
        VkResult r = s.ctx->vkd.vkWaitSemaphores(s.ctx->device, &wi, 100'000'000ull);
        if (r == VK_SUCCESS) break;
        if (r != VK_TIMEOUT) {
            if (r == VK_ERROR_DEVICE_LOST) s.ctx->markLost("vkWaitSemaphores (stream wait)");
            return failVk(r, "vkWaitSemaphores (stream wait)");
        }
    }
    return batonSuccess;
}

void nothingToWake(Semaphore&) {}

constexpr uint64_t kHostWaitSliceNs = 100'000'000ull;

batonError_t nativeHostWait(Semaphore& s, uint64_t value, uint64_t timeoutNs) {
    if (!isTimeline(s))
        return fail(batonErrorNotSupported, "Vulkan cannot wait for a native binary semaphore on the host");
    // In slices, so that a device loss seen meanwhile by another call (a stream's failed
    // submit: the value will never come) ends the wait with the loss, not a timeout.
    if (timeoutNs && nativeSpinUntil(s, value, nullptr)) return batonSuccess;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s.vk, &value};
    const uint64_t now = monotonicNs();
    const uint64_t deadline = timeoutNs >= UINT64_MAX - now ? UINT64_MAX : now + timeoutNs;
    VkResult r = VK_TIMEOUT;
    for (uint64_t t = now;; t = monotonicNs()) {
        if (s.ctx->lost()) return s.ctx->lostError();
        const uint64_t left = deadline > t ? deadline - t : 0;
        r = s.ctx->vkd.vkWaitSemaphores(s.ctx->device, &wi, left < kHostWaitSliceNs ? left : kHostWaitSliceNs);
        if (r != VK_TIMEOUT || left <= kHostWaitSliceNs) break;
    }
    if (r == VK_TIMEOUT && s.ctx->lost()) return s.ctx->lostError();
    if (r == VK_TIMEOUT)
        return fail(batonErrorTimeout, "timeline did not reach %llu in time", static_cast<unsigned long long>(value));
    if (r == VK_ERROR_DEVICE_LOST) s.ctx->markLost("vkWaitSemaphores (host wait)");
    return r == VK_SUCCESS ? batonSuccess : failVk(r, "vkWaitSemaphores");
}

batonError_t nativeRendererWait(Semaphore& s, uint64_t v, VkSemaphore* out) {
    if (isTimeline(s) && !streamSignalWaitable(s, v) && v <= s.streamReserved.load() && nativeCurrent(s) < v)
        return notYetSubmitted(v);
    *out = s.vk;
    return batonSuccess;
}

batonError_t nativeRendererSignal(Semaphore& s, uint64_t v, VkSemaphore* out) {
    if (isTimeline(s)) {
        if (v == 0) return fail(batonErrorInvalidValue, "a timeline cannot be signaled to 0");
        batonError_t e = s.reserveSignal(v, UINT64_MAX, true);
        if (e != batonSuccess) return e;
    }
    *out = s.vk;
    return batonSuccess;
}

batonError_t nativeShareableFd(Semaphore& s, int* fd, bool* owned) {
    if (!s.exported)
        return fail(batonErrorNotSupported, "a native semaphore that was imported cannot be sent again; send the exporter's");
    VkSemaphoreGetFdInfoKHR gi{VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR, nullptr, s.vk,
                               VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkResult r = s.ctx->vkd.vkGetSemaphoreFdKHR(s.ctx->device, &gi, fd);
    if (r != VK_SUCCESS) return failVk(r, "vkGetSemaphoreFdKHR");
    s.foreign.store(true);
    *owned = true;
    return batonSuccess;
}

// ---- Portable --------------------------------------------------------------------------

uint64_t portableCurrent(const Semaphore& s) {
    const SharedLayout& st = s.shared->s();
    if (s.keyedMutex) return s.keyedMutex->lastKey();
    if (!isTimeline(s)) return st.value.load() > st.consumed.load() ? 1 : 0;
    uint64_t v = st.value.load();
    // Waiters of this process may pass a value on the GPU (on signalProxy) before the
    // publisher thread has published it: what the proxy reached is reached, so publish it
    // now rather than let a reader see less than work that depended on it.
    uint64_t reached = 0;
    if (s.signalProxy && s.ctx->vkd.vkGetSemaphoreCounterValue(s.ctx->device, s.signalProxy, &reached) == VK_SUCCESS &&
        reached > v) {
        s.shared->publish(reached);
        v = reached;
    }
    return v;
}

uint64_t portablePending(const Semaphore& s) {
    if (s.keyedMutex) return s.keyedMutex->held() ? 1 : 0;
    return isTimeline(s) ? s.shared->s().pending.load() : 0;
}

uint64_t portableFloor(const Semaphore& s, uint64_t* knownCurrent) {
    *knownCurrent = UINT64_MAX;
    return portablePending(s);
}

batonError_t portableReserve(Semaphore& s, uint64_t v, uint64_t, uint64_t* prevPending) {
    uint64_t floor = 0;
    if (!s.shared->reserve(v, &floor)) return valueNotAbove(v, floor);
    *prevPending = floor;
    return batonSuccess;
}

std::atomic<uint64_t>& portablePendingWord(Semaphore& s) { return s.shared->s().pending; }

WaitPlan hostPlanWait(const Semaphore&, uint64_t, Queue&) { return WaitPlan::Host; }

// A timeline wait goes on the GPU (on the local proxy) only when a stream of this process
// signals it on a queue already, or on a queue that is not the waiter's.
WaitPlan portablePlanWait(const Semaphore& s, uint64_t v, Queue&) {
    if (v <= s.streamSubmitted.load() || (!s.ctx->queueShared && v <= s.rendererReserved.load())) return WaitPlan::Gpu;
    // A value published only after its GPU signal completed: nothing to wait for (what
    // follows is submitted after this host observation).
    // Checked read: a made-up value goes to the host wait, which reports it as the peer's error.
    if (uint64_t now = 0; s.shared->readValue(&now) == batonSuccess && now >= v) return WaitPlan::Skip;
    return WaitPlan::Host;
}

void portableAddWait(Semaphore& s, SubmitBatch& b, uint64_t v) {
    b.addWait(s.signalProxy, v);
    // Once this submission completes the value is reached, so the stream publishes it itself
    // (synchronize must not return before it shows). The entry holds the op's reference.
    b.addWaitedProxy(&s, v);
}

void neverGpuWait(Semaphore& s, SubmitBatch&, uint64_t) {
    BATON_ASSERT(!"planWait never makes this backend's wait a GPU wait");
    s.release();
}

bool portableAddSignal(Semaphore& s, SubmitBatch& b, const Op& op) {
    if (isTimeline(s)) {
        b.addTimelineSignal(&s, op.value);
        b.addPublish(&s, s.signalProxy, op.value, op.value);  // proxy value == value for timelines
    } else {
        b.addPublish(&s, s.signalProxy, 0, op.value);  // proxy value given at submission
    }
    return true;
}

bool keyedAddSignal(Semaphore& s, SubmitBatch& b, const Op& op) {
    if (!s.keyedMutex->holds(op.slot)) return false;  // its acquire failed (already reported)
    b.addPublish(&s, s.signalProxy, 0, op.value);      // op.value: the key
    return true;
}

// Why a portable wait ended without its value: the peer's faulted page, the lost device, or
// a signal of that value that failed to reach the GPU here (it will never be published).
batonError_t portableWaitEnded(Semaphore& s, uint64_t value) {
    if (s.shared->faulted()) return s.shared->faultError();
    if (s.ctx->lost()) return s.ctx->lostError();
    if (s.signalFailedFor(s.kind == SemKind::Timeline ? value : 1))
        return fail(batonErrorLaunchFailure, "the signal of value %llu failed to reach the GPU (its vkQueueSubmit2 "
                    "failed); nothing will signal it", static_cast<unsigned long long>(value));
    return batonSuccess;
}

batonError_t portableStreamHostWait(Semaphore& s, const Op& op, const std::atomic<bool>& cancel) {
    // A binary one consumes the signal. A faulted page is the peer's error, not a success.
    if (s.waitShared(op.value, UINT64_MAX, true, &cancel) || cancel.load()) return batonSuccess;
    return portableWaitEnded(s, op.value);
}

// Keyed mutex: acquire on the stream thread (futex sleep, see keyed_mutex.h); what follows
// is submitted once it is held. Timeout and abandoned become the stream's error.
batonError_t keyedStreamHostWait(Semaphore& s, const Op& op, const std::atomic<bool>& cancel) {
    return s.keyedMutex->acquire(op.value, static_cast<uint32_t>(op.proxyValue), op.slot, cancel);
}

void portableWake(Semaphore& s) { s.shared->wakeAll(); }

batonError_t portableHostWait(Semaphore& s, uint64_t value, uint64_t timeoutNs) {
    // A deadline past the clock's range is no deadline (timeoutNs near UINT64_MAX would wrap).
    const uint64_t now = monotonicNs();
    const uint64_t deadline = timeoutNs >= UINT64_MAX - now ? UINT64_MAX : now + timeoutNs;
    if (s.waitShared(value, deadline, false, nullptr)) return batonSuccess;
    if (s.shared->faulted() || s.ctx->lost() || s.signalFailedFor(s.kind == SemKind::Timeline ? value : 1))
        return portableWaitEnded(s, value);
    return fail(batonErrorTimeout, "semaphore not reached within the timeout");
}

batonError_t keyedHostWait(Semaphore&, uint64_t, uint64_t) {
    return fail(batonErrorNotSupported, "a keyed mutex is acquired on a stream, not waited on the host");
}

batonError_t portableRendererWait(Semaphore& s, uint64_t v, VkSemaphore* out) {
    if (streamSignalWaitable(s, v)) {
        *out = s.signalProxy;  // a stream of this process signals it: wait on its local proxy
        return batonSuccess;
    }
    if (v <= s.streamReserved.load() && portableCurrent(s) < v) return notYetSubmitted(v);
    const SharedLayout& st = s.shared->s();
    if (s.ctx->queueShared && st.value.load() < v && st.submitted.load() < v)
        return fail(batonErrorNotReady, "no signal of %llu has been submitted yet; on a shared queue the wait would "
                    "stall the queue that has to run it", static_cast<unsigned long long>(v));
    // Never hand out a GPU wait that a corrupt page will not end (defect 8).
    if (s.shared->faulted()) return s.shared->faultError();
    batonError_t e = s.startMirror();
    if (e == batonSuccess) *out = s.waitProxy;
    return e;
}

batonError_t portableRendererSignal(Semaphore& s, uint64_t v, VkSemaphore* out) {
    if (v == 0) return fail(batonErrorInvalidValue, "a timeline cannot be signaled to 0");
    batonError_t e = s.reserveSignal(v, UINT64_MAX, true);
    if (e != batonSuccess) return e;
    s.rendererSignalPortable(v);
    *out = s.signalProxy;
    return batonSuccess;
}

batonError_t noRendererWait(Semaphore&, uint64_t, VkSemaphore*) { return notSupportedForRenderer("waited"); }
batonError_t noRendererSignal(Semaphore&, uint64_t, VkSemaphore*) { return notSupportedForRenderer("signaled"); }

batonError_t portableShareableFd(Semaphore& s, int* fd, bool* owned) {
    *fd = s.shared->fd();  // the transport passes a duplicate
    *owned = false;
    return batonSuccess;
}

// The host signals it (vkSignalSemaphore, the same payload an importer waits on), once no
// signal submitted by a stream is still pending (a host signal must stay below those), and
// only while it is still ahead of the counter. Bounded: an error path on the stream thread;
// after kNeverSubmittedWaitNs the waiters are left to the destroy bound.
constexpr uint64_t kNeverSubmittedWaitNs = 2'000'000'000ull;

void nativeSignalNeverSubmitted(Semaphore& s, uint64_t v) {
    if (!isTimeline(s)) return;
    const uint64_t submitted = s.streamSubmitted.load();
    if (submitted && !s.ctx->lost()) {
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s.vk, &submitted};
        if (s.ctx->vkd.vkWaitSemaphores(s.ctx->device, &wi, kNeverSubmittedWaitNs) != VK_SUCCESS) return;
    }
    if (s.ctx->lost() || s.streamSubmitted.load() != submitted || nativeCurrent(s) >= v) return;
    VkSemaphoreSignalInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, s.vk, v};
    s.ctx->vkd.vkSignalSemaphore(s.ctx->device, &si);
}

// Native timeline, in the recovery submission: a higher value a stream or a renderer put on the
// GPU since would be passed backwards; a reached one needs nothing.
bool nativeResignalNeverSubmitted(Semaphore& s, uint64_t v) {
    s.ctx->proxySignalMutex.assertHeld();  // Stream::resubmitSignals holds it
    if (!isTimeline(s) || s.streamSignalMax > v || nativeCurrent(s) >= v) return false;
    s.streamSignalMax = v;
    return true;
}

// Portable: afterSubmit already marked the value failed, which ends its waiters.
void portableSignalNeverSubmitted(Semaphore&, uint64_t) {}
bool portableResignalNeverSubmitted(Semaphore&, uint64_t) { return false; }

// ---- The tables ------------------------------------------------------------------------

constexpr SemaphoreBackend kNativeBinary{
    "native binary", kSemNative, batonSemaphoreBackendNative, batonExternalSemaphoreHandleTypeOpaqueFd,
    nativeCurrent, nativePending, nativeFloor, nativeReserve, nativePendingWord,
    nativePlanWait, nativeAddWait, nativeAddSignal, nativeStreamHostWait, nothingToWake,
    nativeHostWait, nativeRendererWait, nativeRendererSignal, nativeShareableFd,
    nativeSignalNeverSubmitted, nativeResignalNeverSubmitted};

constexpr SemaphoreBackend kNativeTimeline{
    "native timeline", kSemNative | kSemTimeline, batonSemaphoreBackendNative,
    batonExternalSemaphoreHandleTypeTimelineSemaphoreFd,
    nativeCurrent, nativePending, nativeFloor, nativeReserve, nativePendingWord,
    nativePlanWait, nativeAddWait, nativeAddSignal, nativeStreamHostWait, nothingToWake,
    nativeHostWait, nativeRendererWait, nativeRendererSignal, nativeShareableFd,
    nativeSignalNeverSubmitted, nativeResignalNeverSubmitted};

constexpr SemaphoreBackend kPortableBinary{
    "portable binary", kSemPortable | kSemHostWaitTimed, batonSemaphoreBackendPortable,
    batonExternalSemaphoreHandleTypeOpaqueFd,
    portableCurrent, portablePending, portableFloor, portableReserve, portablePendingWord,
    hostPlanWait, neverGpuWait, portableAddSignal, portableStreamHostWait, portableWake,
    portableHostWait, noRendererWait, noRendererSignal, portableShareableFd,
    portableSignalNeverSubmitted, portableResignalNeverSubmitted};

constexpr SemaphoreBackend kPortableTimeline{
    "portable timeline", kSemPortable | kSemTimeline | kSemHostWaitTimed, batonSemaphoreBackendPortable,
    batonExternalSemaphoreHandleTypeTimelineSemaphoreFd,
    portableCurrent, portablePending, portableFloor, portableReserve, portablePendingWord,
    portablePlanWait, portableAddWait, portableAddSignal, portableStreamHostWait, portableWake,
    portableHostWait, portableRendererWait, portableRendererSignal, portableShareableFd,
    portableSignalNeverSubmitted, portableResignalNeverSubmitted};

constexpr SemaphoreBackend kKeyedMutex{
    "keyed mutex", kSemPortable | kSemKeyedMutex | kSemSignalOnStreamThread, batonSemaphoreBackendPortable,
    batonExternalSemaphoreHandleTypeKeyedMutex,
    portableCurrent, portablePending, portableFloor, portableReserve, portablePendingWord,
    hostPlanWait, neverGpuWait, keyedAddSignal, keyedStreamHostWait, portableWake,
    keyedHostWait, noRendererWait, noRendererSignal, portableShareableFd,
    portableSignalNeverSubmitted, portableResignalNeverSubmitted};

}  // namespace

const SemaphoreBackend& backendFor(int kind, bool portable) {
    switch (static_cast<SemKind>(kind)) {
        case SemKind::KeyedMutex: return kKeyedMutex;
        case SemKind::Timeline: return portable ? kPortableTimeline : kNativeTimeline;
        case SemKind::Binary: break;
    }
    return portable ? kPortableBinary : kNativeBinary;
}

}  // namespace baton
