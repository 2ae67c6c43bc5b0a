// An external semaphore: small state plus its backend's table (sync/backend.h).
//  - Native: the driver's exportable VkSemaphore (VK_KHR_external_semaphore_fd). Waits and
//    signals go straight into queue submissions.
//  - Portable: a SharedState in a memfd. A GPU signal completes on a local "signal proxy"
//    timeline that a publisher thread watches and publishes; a stream's GPU wait is a host
//    wait (futex) in the stream's submission thread before the work behind it is submitted;
//    a renderer's GPU wait is a local "wait proxy" timeline that a mirror thread signals from
//    the host as the shared value advances.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include <baton/baton.h>

#include "core/object.h"
#include "core/thread_safety.h"
#include "exec/context.h"
#include "fd/fd_check.h"
#include "sync/earlier_signals.h"
#include "sync/backend.h"
#include "sync/keyed_mutex.h"
#include "sync/shared_state.h"
#include "sync/spin_wait.h"

namespace baton {

class Context;
struct SubmitBatch;

enum class SemKind { Binary, Timeline, KeyedMutex };

// The kind a handle type imports/exports as; false for types baton does not make.
bool semKindOfHandleType(int type, SemKind* kind);

// How long a sleep on a shared page lasts at most. The waiter count that lets a waker skip
// FUTEX_WAKE is writable by every peer: a sleeper never trusts it to be woken.
inline constexpr uint64_t kSharedWaitSliceNs = 100'000'000;

class Semaphore final : public Object {
public:
    Semaphore(Context* c, SemKind k) : Object(ObjectType::Semaphore), ctx(c), kind(k) {}
    ~Semaphore() override;

    // Creates a new exportable semaphore; *fdOut gets an fd the caller owns.
    static batonError_t exportNew(Context* ctx, const batonExternalSemaphoreExportDesc& desc, int* fdOut,
                                  Semaphore** out);
    // Imports fd, already classified (portable: a baton memfd; else checked to be the
    // driver's kind of fd). Takes the fd only on success.
    static batonError_t importFd(Context* ctx, SemKind kind, int fd, bool portable, Semaphore** out);
    // Imports fd of class cls (fd_check.h) as kind: a baton memfd goes to the portable
    // backend; anything else only if it is checked to be the driver's own semaphore fd.
    static batonError_t importClassified(Context* ctx, SemKind kind, int fd, FdClass cls, Semaphore** out);
    // The export descriptor's value fields for kind.
    static batonError_t checkExportDesc(SemKind kind, const batonExternalSemaphoreExportDesc& desc);

    bool native() const { return vk != VK_NULL_HANDLE && !shared; }

    // ---- Through the backend table (sync/backend.h) ----
    const SemaphoreBackend& backend() const { return *backend_; }
    bool has(uint32_t features) const { return (backend_->features & features) == features; }
    batonSemaphoreBackend publicBackend() const { return backend_->publicBackend; }
    // batonExternalSemaphoreGetInfo.
    void describe(batonExternalSemaphoreInfo* info) const;
    // Timeline: the floor a new signal value must exceed (*knownCurrent: see reserveSignal).
    uint64_t signalFloor(uint64_t* knownCurrent) const { return backend_->signalFloor(*this, knownCurrent); }
    WaitPlan planWait(uint64_t v, Queue& waiterQueue) const { return backend_->planWait(*this, v, waiterQueue); }
    void addWait(SubmitBatch& b, uint64_t v) { backend_->addWait(*this, b, v); }
    bool addSignal(SubmitBatch& b, const Op& op) { return backend_->addSignal(*this, b, op); }
    batonError_t streamHostWait(const Op& op, const std::atomic<bool>& cancel) {
        return backend_->streamHostWait(*this, op, cancel);
    }
    void wakeWaiters() { backend_->wakeWaiters(*this); }
    void signalNeverSubmitted(uint64_t v) { backend_->signalNeverSubmitted(*this, v); }
    bool resignalNeverSubmitted(uint64_t v) { return backend_->resignalNeverSubmitted(*this, v); }
    batonError_t rendererWait(uint64_t v, VkSemaphore* out) { return backend_->rendererWait(*this, v, out); }
    batonError_t shareableFd(int* fd, bool* owned) { return backend_->shareableFd(*this, fd, owned); }
    // The semaphore a stream of this process signals v on (native: itself; portable: the
    // local proxy), for a GPU wait on that signal; and whether that signal is on a queue yet.
    VkSemaphore localSignalSemaphore() const { return shared ? signalProxy : vk; }
    bool signalOnQueue(uint64_t v) const;
    // Keyed mutex: the enqueue-time turn of an acquire (or release) on stream st; others:
    // nothing to do. undoTurn restores it when the op is not enqueued after all.
    batonError_t beginTurn(const void* st, bool acquire, uint32_t* ticket, KeyedMutex::EnqueueState* saved);
    void undoTurn(const KeyedMutex::EnqueueState& saved);

    // WaitPlan::AfterSubmit: waits (in slices) until a signal of v is on a queue, v is reached,
    // or no stream of this process has v reserved any more. False: cancelled, or lost.
    bool waitSubmitted(uint64_t v, const std::atomic<bool>& cancel);

    // ---- Submission and retirement (exec/stream.cpp) ----
    // Under ctx->proxySignalMutex, held through the batch's submission (claims are in
    // submission order): gives the batch's portable binary and keyed signals their proxy
    // values and claims its timeline signals (claimSignal).
    static void claimProxySignals(Context* ctx, SubmitBatch& b) BATON_REQUIRES(ctx->proxySignalMutex);
    // Still under that lock, after the batch's submission failed: its claims cover nothing.
    static void unclaimFailed(Context* ctx, SubmitBatch& b) BATON_REQUIRES(ctx->proxySignalMutex);
    // What the retire queue does for a portable signal once the GPU passed its batch.
    struct RetireNote {
        Semaphore* publishOf;  // nullptr: nothing to publish
        uint64_t ticket;       // binary/keyed: its publisher ticket
        uint64_t value;        // timeline: the value, which the stream publishes itself
    };
    // earlier (binary/keyed only; may be null): the stream's timeline signals to publish
    // before this one, whose references it takes over.
    RetireNote afterSubmit(uint64_t proxyValue, uint64_t value, bool superseded, bool submitted,
                           EarlierSignals* earlier = nullptr);
    // Portable timeline: whether the shared page shows at least v. A hint for pruning only,
    // read without the checked reader: a peer that scribbles a high value there costs that
    // semaphore its publication order, nothing else.
    bool publishedAtLeast(uint64_t v) const { return shared && shared->s().value.load() >= v; }
    // Makes a retired signal take effect (timeline: publish; others: whether the publisher
    // has, waiting for it with block). False: not yet (only without block).
    bool publishRetired(uint64_t value, uint64_t ticket, bool block);

    // What a reservation changed, so that a signal that never gets enqueued can give it back.
    struct Reservation {
        uint64_t value = 0;
        uint64_t prevPending = 0;  // the pending value (shared or localPending) before it
        uint64_t prevMark = 0;     // streamReserved / rendererReserved before it
        bool byRenderer = false;
        bool held = false;
    };
    // Timeline: claims value v for a signal (strictly above every value signaled or pending).
    // knownCurrent: the counter value the caller just read (native), so it is not read twice.
    // byRenderer: the value goes to a renderer's own submit (batonGetSignalSubmitInfo), not a stream.
    // *r (optional) records what to undo with giveBack() if the signal is not enqueued after all.
    batonError_t reserveSignal(uint64_t v, uint64_t knownCurrent = UINT64_MAX, bool byRenderer = false,
                               Reservation* r = nullptr);
    // Undoes a reservation whose signal was never enqueued (as far as nothing reserved a
    // higher value since: then that one stands, and so does the floor it sets).
    void giveBack(Reservation& r);
    // A renderer's signal of v (batonGetSignalSubmitInfo, the channel's release): reserves v,
    // and for portable queues its publication and tells the streams (so that none of their
    // lower values follows it onto the proxy). *semOut: the VkSemaphore the renderer signals.
    batonError_t rendererSignal(uint64_t v, VkSemaphore* semOut) { return backend_->rendererSignal(*this, v, semOut); }
    // Portable binary/keyed mutex: the proxy value of the next GPU signal. Called in
    // submission order (under ctx->proxySignalMutex), so the proxy only moves forward.
    uint64_t nextBinaryProxyValue() { return ++binaryProxyNext_; }
    // Portable: after a submission that signals signalProxy to proxyValue, publish `value`
    // once the GPU gets there. Returns a ticket for published()/waitPublished().
    uint64_t queuePublish(uint64_t proxyValue, uint64_t value, EarlierSignals* earlier = nullptr);
    // Whether the publication with this ticket has happened.
    bool published(uint64_t ticket);
    // Waits for it. Only once the GPU has passed the signal, or this could wait forever.
    void waitPublished(uint64_t ticket);
    // Portable timeline: make waitProxy follow the shared value (renderer waits).
    batonError_t startMirror();

    uint64_t currentValue() const { return backend_->currentValue(*this); }
    uint64_t pendingValue() const { return backend_->pendingValue(*this); }
    batonError_t hostWait(uint64_t value, uint64_t timeoutNs) { return backend_->hostWait(*this, value, timeoutNs); }
    // Portable: sleeps on the shared page until value (timeline) or a signal (binary, which
    // it consumes) is there, the deadline passes (false) or cancel is set (false).
    bool waitShared(uint64_t value, uint64_t deadlineNs, bool consume, const std::atomic<bool>* cancel);

    Context* const ctx;
    const SemKind kind;
    VkSemaphore vk = VK_NULL_HANDLE;           // native: the semaphore itself
    std::unique_ptr<SharedState> shared;       // portable: the shared state
    std::unique_ptr<KeyedMutex> keyedMutex;    // keyed mutex: this handle's side of it
    VkSemaphore signalProxy = VK_NULL_HANDLE;  // portable: GPU-signaled local timeline
    VkSemaphore waitProxy = VK_NULL_HANDLE;    // portable timeline: host-signaled local timeline
    std::atomic<uint64_t> localPending{0};     // native timeline: highest value signaled/pending here
    bool exported = false;                     // made by exportNew: a native one can give out more fds
    std::atomic<bool> foreign{false};          // native: another process may signal it (imported, or an fd went out)
    SpinBudget hostSpin;                       // how long host waits on it poll before blocking (spin_wait.h)

    // Where this process's own signals of a timeline stand. They decide whether a wait can be a
    // GPU wait (on vk, or on signalProxy for portable): only when the signal that satisfies it
    // is already on a queue, or will be submitted to a queue that is not the waiter's.
    std::atomic<uint64_t> streamReserved{0};   // highest value a stream signal was enqueued for
    std::atomic<uint64_t> streamSubmitted{0};  // highest value a stream signal was submitted for
    // A portable signal that failed to reach the GPU (its submit failed) is never published:
    // recorded per page for this process (an imported object shares the page), so that
    // waiters here on that value fail instead of hanging. A later submitted signal at or
    // above it clears it. Binary: any pending wait (value 1).
    void noteSignalFailed(uint64_t value);
    void noteSignalSubmitted(uint64_t value);
    bool signalFailedFor(uint64_t value) const;
    std::atomic<uint64_t> rendererReserved{0}; // highest value handed to a renderer's submit
    // Highest value (portable: proxy value) submitted to the GPU timeline by a stream or handed
    // to a renderer; the same for streams only, and which stream (its batch) submitted it.
    uint64_t streamSignalMax BATON_GUARDED_BY(ctx->proxySignalMutex) = 0;
    uint64_t streamClaimMax BATON_GUARDED_BY(ctx->proxySignalMutex) = 0;
    const void* streamClaimBy BATON_GUARDED_BY(ctx->proxySignalMutex) = nullptr;
    // Records that a stream submitted a signal of v.
    void noteSubmitted(uint64_t v);
    // The portable renderer-signal step: raises streamSignalMax, queues the publication.
    void rendererSignalPortable(uint64_t v) BATON_EXCLUDES(ctx->proxySignalMutex);

    uint64_t maxValueDifference() const { return maxValueDifference_; }

private:
    const SemaphoreBackend* backend_ = nullptr;
    void setBackend(bool portable) { backend_ = &backendFor(static_cast<int>(kind), portable); }
    batonError_t createProxies();
    uint64_t waitForLowestPending();
    void publishReached(uint64_t reached);
    void publisherLoop();
    void mirrorLoop();

    std::atomic<uint64_t> binaryProxyNext_{0};

    // WaitPlan::AfterSubmit waits (waitSubmitted), woken by noteSubmitted.
    bool claimSignal(SubmitBatch& b, uint64_t v) BATON_REQUIRES(ctx->proxySignalMutex);
    std::mutex submitMutex_;
    std::condition_variable submitCv_;
    std::atomic<uint32_t> submitWaiters_{0};

    // Publisher: values to publish once signalProxy reaches them, in order.
    struct PublishEntry {
        uint64_t proxyValue;
        uint64_t value;
        bool done;  // published (entries can complete out of order: see publisherLoop)
    };
    static constexpr uint32_t kPublishRing = 1024;
    Mutex publishMutex_;
    PublishEntry publishRing_[kPublishRing] BATON_GUARDED_BY(publishMutex_);
    // Binary/keyed: per ring entry, what to publish before it (earlier_signals.h).
    std::unique_ptr<EarlierSignals[]> earlier_ BATON_GUARDED_BY(publishMutex_);
    uint64_t publishHead_ BATON_GUARDED_BY(publishMutex_) = 0;
    uint64_t publishTail_ BATON_GUARDED_BY(publishMutex_) = 0;
    bool publishedLocked(uint64_t ticket) BATON_REQUIRES(publishMutex_);
    std::atomic<uint64_t> publishedCount_{0};  // publishHead_, readable without the mutex
    std::condition_variable publishCv_;
    std::thread publisher_;
    std::thread mirror_;
    std::once_flag mirrorOnce_;
    batonError_t mirrorError_ = batonSuccess;
    std::atomic<bool> stopping_{false};
    uint64_t maxValueDifference_ = UINT64_MAX;  // maxTimelineSemaphoreValueDifference (mirror)
};

}  // namespace baton
