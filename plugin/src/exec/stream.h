// A stream: an ordered queue of operations executed by its own submission thread.
//
// API calls validate, then push fixed-size Ops into a bounded ring and return: no
// allocation, no Vulkan call, no syscall unless the thread sleeps. The submission thread
// turns consecutive ops into as few vkQueueSubmit2 calls as stream order allows, chaining
// each submission to the previous one through the stream's private timeline (which gives
// stream order even when several streams and the host share one queue). Host-side steps
// (a portable wait, a host function) block only this thread, so work behind them is
// submitted only once they are done: no submission ever waits on something the host has
// yet to do, which keeps single-queue devices (lavapipe) from stalling their only queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include <baton/baton.h>

#include "core/object.h"
#include "core/thread_safety.h"
#include "exec/retire_queue.h"
#include "sync/earlier_signals.h"
#include "exec/submit_batch.h"
#include "sync/backend.h"
#include "sync/spin_wait.h"

namespace baton {

class Context;
struct Queue;
class Semaphore;
class Event;
class StreamTelemetry;

enum class OpKind : uint8_t {
    Record,      // submit the command buffer of slot
    Wait,        // wait on sem (value for timelines)
    Signal,      // signal sem (value for timelines; proxyValue for portable)
    HostFn,      // run fn(user) after prior work
    EventRecord, // resolve event to the current point
    WaitEvent,   // wait for event's recorded point (generation gen)
};

struct Op {
    OpKind kind;
    uint32_t slot;        // Record: command buffer; keyed-mutex Wait/Signal: the acquire's ticket
    uint64_t value;       // keyed mutex: the key
    uint64_t proxyValue;  // keyed-mutex Wait: timeoutMs
    Semaphore* sem;  // retained for the op's lifetime
    Event* event;    // retained for the op's lifetime
    batonHostFn_t fn;
    void* user;
};

class Stream final : public Object {
public:
    static batonError_t create(Context* ctx, Stream** out);
    ~Stream() override;

    // Pushes ops (all or none). Takes ownership of the references the ops hold. Returns the
    // stream's pending asynchronous error instead, without enqueuing, if there is one.
    // submitNow: when the stream thread is idle, the caller submits the ops itself, as far as
    // none of them has to wait on the host (one vkQueueSubmit2 for the lot, no thread hop).
    // For calls that make a whole unit of work at once (a channel frame, a record), not for
    // single signal/wait calls, which stay a ring push.
    batonError_t enqueue(const Op* ops, uint32_t count, bool submitNow = false) BATON_EXCLUDES(mutex_);
    // Records through the user's callback into a pooled command buffer and enqueues it.
    batonError_t record(batonRecordFn fn, void* user);
    // The first half of record: records into a pooled command buffer and makes *op its Record
    // op, for the caller to enqueue together with other ops, or to give back with abandonRecord.
    batonError_t prepareRecord(batonRecordFn fn, void* user, Op* op);
    void abandonRecord(const Op& op);
    // The most ops one enqueue takes (all or none).
    static constexpr uint32_t kMaxEnqueue = 1024;
    // Records a timestamp write for an event and enqueues its resolution.
    batonError_t recordEvent(Event* event);
    batonError_t synchronize() BATON_EXCLUDES(mutex_);
    batonError_t query() BATON_EXCLUDES(mutex_);
    // Drains (or, with cancel, abandons host waits), stops the thread. Idempotent.
    void close(bool cancel = false) BATON_EXCLUDES(closeMutex_, waitMutex_, mutex_);

    Context* const ctx;
    Queue* queue = nullptr;
    VkSemaphore timeline = VK_NULL_HANDLE;  // the stream's private order/completion timeline
    std::atomic<uint64_t> submittedPoint{0};

private:
    explicit Stream(Context* c) : Object(ObjectType::Stream), ctx(c) {}
    void workerLoop() BATON_EXCLUDES(mutex_);
    void submitInline() BATON_EXCLUDES(mutex_);
    using WaitPlan = baton::WaitPlan;
    void processOne(const Op& op, uint64_t index, WaitPlan plan);
    void process(const Op& op, uint64_t index, WaitPlan plan);
    void flush();
    VkResult submitBatch(uint32_t cmdInfoCount);
    void markProcessed(uint64_t upTo) BATON_EXCLUDES(mutex_);
    WaitPlan planWait(const Op& op) const;  // how a Wait op is carried out (see processWait)
    bool runsWithoutHostWait(const Op& op, WaitPlan* plan) const;
    void processWait(const Op& op, uint64_t index, WaitPlan plan);
    void waitSubmitted(const Op& op, uint64_t index);
    void processWaitEvent(const Op& op, uint64_t index);
    void waitPoint(uint64_t point);
    void noteDone(uint64_t v);
    // The highest value of `timeline` this stream has read or waited for: what the GPU has
    // surely passed (a hint that only saves driver calls; never ahead of the GPU).
    std::atomic<uint64_t> knownDone_{0};
    void retireCompleted(bool all);
    void submitFailed(VkResult r, uint64_t point);
    bool resubmitSignals(uint64_t point);
    void retireBatch(uint64_t point, bool submitted);
    void retireLater(uint64_t point, Object* obj, Semaphore* publishOf, uint64_t ticket, uint64_t value);
    bool retireUpTo(uint64_t point, bool block);
    // The portable timeline signals this stream submitted that may not be published yet
    // (earlier_signals.h): noted at retireBatch, copied into each binary/keyed publish,
    // dropped once the shared page shows them.
    // point: the stream point by which the GPU has passed it (the batch's). upTo: only those.
    void noteUnpublished(Semaphore* sem, uint64_t value, uint64_t point) BATON_EXCLUDES(unpublishedMutex_);
    void copyUnpublished(EarlierSignals* out, uint64_t upTo = UINT64_MAX) BATON_EXCLUDES(unpublishedMutex_);
    void pruneUnpublished(bool all = false) BATON_EXCLUDES(unpublishedMutex_);
    void inheritUnpublished(Stream& other, uint64_t otherPoint) BATON_EXCLUDES(unpublishedMutex_);
    Mutex unpublishedMutex_;
    EarlierSignals unpublished_ BATON_GUARDED_BY(unpublishedMutex_);
    uint64_t unpublishedPoint_[EarlierSignals::kMax] BATON_GUARDED_BY(unpublishedMutex_) = {};
    std::atomic<uint32_t> unpublishedCount_{0};  // unpublished_.count, so that an empty prune takes no lock

public:
    // Whether every portable signal submitted up to `point` has taken effect (the GPU having
    // reached `point`), releasing what the GPU no longer needs; with block, waits until so.
    bool publishedUpTo(uint64_t point, bool block) { return retireUpTo(point, block); }

private:
    void setError(batonError_t e) BATON_EXCLUDES(errorMutex_);
    uint32_t acquireSlot() BATON_REQUIRES(recordMutex_);

    // Ring of ops; head_ = first not yet processed-and-submitted, tail_ = next free. An op is
    // written under mutex_ and then read without it by the thread that runs the ring (the ops
    // between head_ and the tail it read under the lock are its own until head_ passes them).
    static constexpr uint32_t kRing = kMaxEnqueue;
    Mutex mutex_;
    Op ring_[kRing];
    uint64_t head_ BATON_GUARDED_BY(mutex_) = 0;
    uint64_t tail_ BATON_GUARDED_BY(mutex_) = 0;
    // head_ without the lock: only on the thread that runs the ring, the one that moves it.
    uint64_t runnerHead() const BATON_NO_THREAD_SAFETY_ANALYSIS { return head_; }
    std::atomic<uint64_t> published_{0};  // tail_, readable without the lock (worker's spin)
    uint64_t headPoint_ BATON_GUARDED_BY(mutex_) = 0;  // submittedPoint when head_ last advanced
    std::condition_variable workCv_;      // worker waits for ops
    std::condition_variable progressCv_;  // producers wait for space, synchronize for progress
    bool workerSleeping_ BATON_GUARDED_BY(mutex_) = false;
    bool inline_ BATON_GUARDED_BY(mutex_) = false;  // a caller is submitting ops itself (enqueue with submitNow)
    bool closing_ BATON_GUARDED_BY(mutex_) = false;
    std::atomic<bool> cancel_{false};
    Mutex waitMutex_;
    Semaphore* waitingOn_ BATON_GUARDED_BY(waitMutex_) = nullptr;  // a host wait in progress
    void setWaitingOn(Semaphore* s) BATON_EXCLUDES(waitMutex_);
    bool waitEventResolved(const Op& op, uint64_t index, Stream** other, uint64_t* point);
    std::atomic<int> error_{batonSuccess};
    Mutex errorMutex_;      // error_ and its message change together
    char errorMessage_[256] BATON_GUARDED_BY(errorMutex_) = {};
    batonError_t takeError(const char* what) BATON_EXCLUDES(errorMutex_);
    std::thread worker_;
    Mutex closeMutex_;
    bool closed_ BATON_GUARDED_BY(closeMutex_) = false;

    // Command buffers, recycled once the GPU passed the point they were submitted with.
    static constexpr uint32_t kSlots = 64;
    static constexpr uint64_t kUnsubmitted = UINT64_MAX;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmds_[kSlots] = {};
    std::atomic<uint64_t> slotPoint_[kSlots] = {};
    Mutex recordMutex_;  // the command pool is externally synchronised: recording is under it
    uint32_t nextSlot_ BATON_GUARDED_BY(recordMutex_) = 0;

    // The batch being built by the worker, or by a caller submitting inline: whoever runs the
    // ring (handed over under mutex_).
    SubmitBatch batch_;

    // References the GPU still needs, and portable signals still to take effect.
    RetireQueue retire_;

    // How long waitPoint polls before it blocks (adapts to how long this stream's waits last).
    SpinBudget waitSpin_;

    // Telemetry (telemetry.h): made by the worker the first time the context records.
    StreamTelemetry* telemetry();
    std::atomic<StreamTelemetry*> tel_{nullptr};

public:
    // Resolves GPU times of completed submissions (any thread; for telemetry readers).
    void resolveTelemetry();
};

// Resolves a user stream argument (NULL: the current context's default stream), retained.
batonError_t resolveStream(batonStream_t s, Stream** out);

}  // namespace baton
