#include "exec/stream.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "core/assert.h"
#include "exec/context.h"
#include "core/error.h"
#include "exec/event.h"
#include "exec/retire_queue.h"
#include "exec/submit_batch.h"
#include "sync/semaphore.h"
#include "sync/shared_state.h"
#include "sync/spin_wait.h"
#include "telemetry/telemetry.h"

namespace baton {

namespace {

// How long a stream thread polls for the next op before sleeping. Calls often come in bursts
// (wait, record, signal); a caller that finds the thread awake pays no wake-up syscall.
// BATON_STREAM_SPIN_US overrides; off by default on machines with two cores or fewer, where
// the spinning thread would take the core the caller needs.
uint64_t spinNs() {
    static const uint64_t ns = [] {
        if (const char* v = std::getenv("BATON_STREAM_SPIN_US")) return std::strtoull(v, nullptr, 10) * 1000ull;
        return std::thread::hardware_concurrency() > 2 ? 10000ull : 0ull;
    }();
    return ns;
}

}  // namespace

batonError_t Stream::create(Context* ctx, Stream** out) {
    auto* s = new Stream(ctx);
    auto bail = [&](batonError_t e) {
        delete s;
        return e;
    };
    s->queue = &ctx->queueForNewStream();
    VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
    VkResult r = ctx->vkd.vkCreateSemaphore(ctx->device, &sci, nullptr, &s->timeline);
    if (r != VK_SUCCESS) return bail(failVk(r, "vkCreateSemaphore (stream timeline)"));
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr,
                                VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, s->queue->family};
    r = ctx->vkd.vkCreateCommandPool(ctx->device, &pci, nullptr, &s->pool_);
    if (r != VK_SUCCESS) return bail(failVk(r, "vkCreateCommandPool"));
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, s->pool_,
                                   VK_COMMAND_BUFFER_LEVEL_PRIMARY, kSlots};
    r = ctx->vkd.vkAllocateCommandBuffers(ctx->device, &ai, s->cmds_);
    if (r != VK_SUCCESS) return bail(failVk(r, "vkAllocateCommandBuffers"));
    try {
        s->worker_ = std::thread([s] { s->workerLoop(); });
    } catch (const std::system_error& e) {
        return bail(fail(batonErrorOperatingSystem, "cannot start the stream thread: %s", e.what()));
    } catch (const std::bad_alloc&) {  // the thread's state (issue 10, defect 13: a throw leaked s)
        return bail(fail(batonErrorMemoryAllocation, "cannot start the stream thread: out of host memory"));
    }
    *out = s;
    return batonSuccess;
}

Stream::~Stream() {
    close(false);
    pruneUnpublished(true);
    if (queue) ctx->releaseStreamQueue(*queue);
    delete tel_.load();
    if (pool_) ctx->vkd.vkDestroyCommandPool(ctx->device, pool_, nullptr);  // frees the command buffers
    if (timeline) ctx->vkd.vkDestroySemaphore(ctx->device, timeline, nullptr);
}

// Keeps the first error until reported, with the message of the call that failed (so that the
// report names it: "vkQueueSubmit2 failed: ...").
void Stream::setError(batonError_t e) {
    const char* msg = batonGetLastErrorMessage();
    MutexLock lock(errorMutex_);
    int expected = batonSuccess;
    if (error_.compare_exchange_strong(expected, e))
        std::snprintf(errorMessage_, sizeof errorMessage_, "%s", msg && *msg ? msg : batonGetErrorString(e));
}

// Takes the pending error, if any, reporting it with its message.
batonError_t Stream::takeError(const char* what) {
    // Every call comes here: without an error (the usual case) it costs no lock. An error set
    // meanwhile is the next call's (as it would be had it come a moment later).
    if (error_.load(std::memory_order_acquire) == batonSuccess) return batonSuccess;
    char msg[sizeof errorMessage_];
    int e;
    {
        MutexLock lock(errorMutex_);
        e = error_.exchange(batonSuccess);
        if (e != batonSuccess) std::memcpy(msg, errorMessage_, sizeof msg);
    }
    if (e == batonSuccess) return batonSuccess;
    return fail(static_cast<batonError_t>(e), "%s: %s", what, msg);
}

static void releaseOpRefs(const Op& op) {
    if (op.sem) op.sem->release();
    if (op.event) op.event->release();
}

batonError_t Stream::enqueue(const Op* ops, uint32_t count, bool submitNow) {
    BATON_ASSERT(count <= kRing);
    const batonError_t pending = takeError("an earlier operation on this stream failed");
    UniqueMutexLock lock(mutex_);
    if (pending != batonSuccess || closing_ || ctx->lost()) {
        lock.unlock();
        for (uint32_t i = 0; i < count; ++i) releaseOpRefs(ops[i]);
        if (ctx->lost()) return ctx->lostError();
        if (pending != batonSuccess) return pending;  // its message is set (takeError)
        return fail(batonErrorIllegalState, "the stream is being destroyed");
    }
    while (tail_ - head_ + count > kRing) waitHeldOnce(progressCv_, mutex_);
    // Submit here when nothing is ahead of these ops and the thread is asleep: it stays so
    // (its wake-up waits for !inline_), and the ring is this caller's until submitInline ends.
    const bool here = submitNow && workerSleeping_ && !inline_ && head_ == tail_;
    for (uint32_t i = 0; i < count; ++i) {
        Op& op = ring_[(tail_ + i) % kRing];
        op = ops[i];
        // An event's generation is taken here, with its record in the ring: a wait on this
        // stream that sees the generation is enqueued after the record (defect 4).
        if (op.kind == OpKind::EventRecord) op.value = op.event->beginRecord();
    }
    tail_ += count;
    published_.store(tail_, std::memory_order_release);
    if (here) {
        inline_ = true;
        lock.unlock();
        submitInline();
        return batonSuccess;
    }
    bool wake = workerSleeping_ && !inline_;
    lock.unlock();
    if (wake) workCv_.notify_one();
    return batonSuccess;
}

// Runs the ring on the calling thread up to the first op that could block it (a host wait,
// a host function, a keyed-mutex acquire...), submits what it took in one batch, and leaves
// the rest, and anything enqueued meanwhile, to the stream thread.
void Stream::submitInline() {
    uint64_t i = runnerHead();  // this thread runs the ring now
    const uint64_t end = published_.load(std::memory_order_acquire);
    for (; i < end; ++i) {
        const Op& op = ring_[i % kRing];
        WaitPlan plan = WaitPlan::Host;
        if (!runsWithoutHostWait(op, &plan)) break;
        processOne(op, i, plan);  // the plan made here: a second look could differ (streams come and go)
    }
    flush();
    markProcessed(i);
    retireCompleted(false);  // the stream thread, asleep, does not: drop what the GPU is done with
    bool wake;
    {
        MutexLock lock(mutex_);
        inline_ = false;
        wake = workerSleeping_ && (head_ != tail_ || closing_);
    }
    if (wake) workCv_.notify_one();
}

uint32_t Stream::acquireSlot() {
    uint32_t slot = nextSlot_++ % kSlots;
    uint64_t p = slotPoint_[slot].load(std::memory_order_acquire);
    if (p == kUnsubmitted) {
        MutexLock lock(mutex_);
        while ((p = slotPoint_[slot].load(std::memory_order_acquire)) == kUnsubmitted) waitHeldOnce(progressCv_, mutex_);
    }
    // The GPU must be done with the slot before it is re-recorded, and with baton's layer on,
    // the layer must have seen a wait that says so (H200, ProfilerLatency). A slot comes back
    // 64 submissions after its use: the timeline was almost always read past it since
    // (knownDone_), and then no driver call is made for the GPU's sake (issue 13: this was
    // one vkWaitSemaphores per record); the layer's still gets one (the settle, or with
    // foreign waits, where the settle is off, the stream's own wait as before).
    if (p == 0) return slot;
    if (p > knownDone_.load(std::memory_order_relaxed)) {
        waitPoint(p);
        ctx->settleForValidation(timeline, p);
    } else if (!ctx->settleForValidation(timeline, p)) {
        waitPoint(p);
    }
    return slot;
}

batonError_t Stream::prepareRecord(batonRecordFn fn, void* user, Op* op) {
    MutexLock rl(recordMutex_);
    uint32_t slot = acquireSlot();
    VkCommandBuffer cmd = cmds_[slot];
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = ctx->vkd.vkBeginCommandBuffer(cmd, &bi);
    if (r != VK_SUCCESS) return failVk(r, "vkBeginCommandBuffer");
    fn(cmd, user);
    r = ctx->vkd.vkEndCommandBuffer(cmd);
    if (r != VK_SUCCESS) return failVk(r, "vkEndCommandBuffer (the record callback left the buffer invalid)");
    slotPoint_[slot].store(kUnsubmitted, std::memory_order_release);
    *op = Op{};
    op->kind = OpKind::Record;
    op->slot = slot;
    return batonSuccess;
}

void Stream::abandonRecord(const Op& op) {
    {
        MutexLock lock(mutex_);  // acquireSlot waits for the slot under it (defect 16)
        slotPoint_[op.slot].store(0, std::memory_order_release);
    }
    progressCv_.notify_all();
}

batonError_t Stream::record(batonRecordFn fn, void* user) {
    Op op{};
    batonError_t e = prepareRecord(fn, user, &op);
    if (e != batonSuccess) return e;
    // A record is a whole unit of work: submitted here when the stream thread is asleep (no
    // wake-up and thread hop between the caller and its work: issue 13's short waits).
    e = enqueue(&op, 1, true);
    if (e != batonSuccess) abandonRecord(op);
    return e;
}

batonError_t Stream::recordEvent(Event* event) {
    MutexLock rl(recordMutex_);
    Op ops[2]{};
    uint32_t n = 0;
    uint32_t slot = 0;
    if (event->queries) {
        slot = acquireSlot();
        VkCommandBuffer cmd = cmds_[slot];
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                    VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        VkResult r = ctx->vkd.vkBeginCommandBuffer(cmd, &bi);
        if (r != VK_SUCCESS) return failVk(r, "vkBeginCommandBuffer");
        ctx->vkd.vkCmdResetQueryPool(cmd, event->queries, 0, 1);
        ctx->vkd.vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, event->queries, 0);
        r = ctx->vkd.vkEndCommandBuffer(cmd);
        if (r != VK_SUCCESS) return failVk(r, "vkEndCommandBuffer");
        slotPoint_[slot].store(kUnsubmitted, std::memory_order_release);
        ops[n].kind = OpKind::Record;
        ops[n++].slot = slot;
    }
    event->retain();
    ops[n].kind = OpKind::EventRecord;
    ops[n++].event = event;  // its generation is taken by enqueue
    batonError_t e = enqueue(ops, n);
    if (e != batonSuccess && event->queries) abandonRecord(ops[0]);
    return e;
}

// Raises knownDone_ to v (a value of the timeline just read: it never goes back).
void Stream::noteDone(uint64_t v) {
    uint64_t k = knownDone_.load(std::memory_order_relaxed);
    while (v > k && !knownDone_.compare_exchange_weak(k, v, std::memory_order_relaxed)) {
    }
}

void Stream::waitPoint(uint64_t point) {
    // Always asks the driver (knownDone_ is for acquireSlot only): a synchronize after a
    // device loss must hear of it even when the work was known to be done.
    if (point == 0) return;
    // Poll first (spin_wait.h): a short wait ends without the driver's sleep and wake-up.
    const auto reached = [&] {
        uint64_t v = 0;
        if (ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, timeline, &v) != VK_SUCCESS) return false;
        noteDone(v);
        return v >= point;
    };
    if (waitSpin_.spin(reached)) return;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &timeline, &point};
    VkResult r = ctx->vkd.vkWaitSemaphores(ctx->device, &wi, UINT64_MAX);
    if (r == VK_ERROR_DEVICE_LOST) ctx->markLost("vkWaitSemaphores (stream)");
    if (r != VK_SUCCESS) setError(failVk(r, "vkWaitSemaphores (stream)"));
    else noteDone(point);
}

batonError_t Stream::synchronize() {
    if (ctx->lost()) return ctx->lostError();
    uint64_t point;
    {
        MutexLock lock(mutex_);
        const uint64_t target = tail_;
        while (head_ < target) waitHeldOnce(progressCv_, mutex_);
        point = headPoint_;
    }
    waitPoint(point);
    if (ctx->lost()) return ctx->lostError();
    retireUpTo(point, true);  // portable signals published, released handles freed
    batonError_t e = takeError("an operation on this stream failed");
    return e == batonSuccess ? ok() : e;
}

batonError_t Stream::query() {
    if (ctx->lost()) return ctx->lostError();
    uint64_t point;
    {
        MutexLock lock(mutex_);
        if (head_ < tail_) return batonErrorNotReady;
        point = headPoint_;
    }
    uint64_t done = 0;
    VkResult r = ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, timeline, &done);
    if (r == VK_ERROR_DEVICE_LOST) ctx->markLost("vkGetSemaphoreCounterValue (stream query)");
    if (r != VK_SUCCESS) return failVk(r, "vkGetSemaphoreCounterValue (stream query)");
    if (done < point || !retireUpTo(point, false)) return batonErrorNotReady;
    batonError_t e = takeError("an operation on this stream failed");
    return e == batonSuccess ? ok() : e;
}

void Stream::close(bool cancel) {
    MutexLock cl(closeMutex_);
    if (closed_) return;
    closed_ = true;
    if (ctx->lost()) cancel = true;  // nothing enqueued can complete on a lost device
    if (cancel) {
        cancel_.store(true);
        // Under waitMutex_: the stream thread clears waitingOn_ under it before it lets go of
        // its reference, so the semaphore is alive while we wake it (defect 10).
        MutexLock wl(waitMutex_);
        if (waitingOn_) waitingOn_->wakeWaiters();
    }
    {
        MutexLock lock(mutex_);
        closing_ = true;
    }
    workCv_.notify_all();
    if (worker_.joinable()) worker_.join();
    // Attached, the queue is the host's, whose driver may still be finishing the last
    // submission after its signal is visible: lavapipe's queue thread was seen crashing on a
    // mutex of an object freed right after (attached.Semantics.StreamWaitEventAcrossStreams,
    // 2 of 80 runs beside two CPU hogs; 0 of 600 with this). Let it finish (bounded) before
    // the pool and the timeline go.
    if (!cancel && ctx->attached && !ctx->lost() && queue) ctx->drainQueue(*queue);
    // Its work is done: resolve the GPU times of its last submissions now, not when the last
    // reference goes (another object may hold one past the trace's end: on the H200 the
    // sandbox's trace lost the flow of its last handoff, the producer's signal unresolved).
    if (!cancel) resolveTelemetry();
}

void Stream::markProcessed(uint64_t upTo) {
    {
        MutexLock lock(mutex_);
        if (upTo > head_) head_ = upTo;
        headPoint_ = submittedPoint.load(std::memory_order_relaxed);
    }
    progressCv_.notify_all();
}

void Stream::workerLoop() {
    UniqueMutexLock lock(mutex_);
    for (;;) {
        if (head_ == tail_) {
            if (closing_) break;
            lock.unlock();
            retireCompleted(false);  // idle: drop references the GPU no longer needs
            // Spin briefly before sleeping: calls often come in bursts (wait, record, signal),
            // and a caller that finds this thread awake pays no wake-up syscall.
            const uint64_t seen = runnerHead();
            if (const uint64_t spin = spinNs()) {
                const uint64_t until = monotonicNs() + spin;
                while (published_.load(std::memory_order_acquire) == seen && monotonicNs() < until) cpuRelax();
            }
            resolveTelemetry();
            lock.lock();
            if (head_ == tail_ && !closing_) {
                workerSleeping_ = true;
                while (inline_ || (head_ == tail_ && !closing_)) waitHeldOnce(workCv_, mutex_);
                workerSleeping_ = false;
            }
            continue;
        }
        const uint64_t begin = head_, end = tail_;
        lock.unlock();
        for (uint64_t i = begin; i < end; ++i) {
            const Op& op = ring_[i % kRing];
            if (cancel_.load()) {
                if (op.kind == OpKind::EventRecord) op.event->resolve(op.value, this, submittedPoint.load());
                if (op.kind == OpKind::Record) slotPoint_[op.slot].store(0, std::memory_order_release);
                releaseOpRefs(op);
                continue;
            }
            processOne(op, i, op.kind == OpKind::Wait ? planWait(op) : WaitPlan::Host);
        }
        flush();
        markProcessed(end);
        lock.lock();
    }
    lock.unlock();
    flush();
    retireCompleted(true);
}

void Stream::processOne(const Op& op, uint64_t index, WaitPlan plan) {
    StreamTelemetry* tel = telemetry();
    if (tel) tel->stash(op);
    process(op, index, plan);
    if (tel) tel->commit();
}

void Stream::process(const Op& op, uint64_t index, WaitPlan plan) {
    switch (op.kind) {
        case OpKind::Record:
            if (batch_.signalCount) flush();  // work after a signal must not delay it
            batch_.addCommandBuffer(cmds_[op.slot], op.slot);
            if (batch_.cmdCount == SubmitBatch::kMax) flush();
            break;
        case OpKind::Wait:
            processWait(op, index, plan);
            break;
        case OpKind::Signal:
            if (batch_.signalNeedsFlush()) flush();
            if (!op.sem->addSignal(batch_, op)) op.sem->release();  // nothing to signal
            break;
        case OpKind::HostFn:
            flush();
            markProcessed(index);
            waitPoint(submittedPoint.load());
            retireUpTo(submittedPoint.load(), true);  // the host function sees earlier signals
            op.fn(op.user);
            break;
        case OpKind::EventRecord:
            flush();
            op.event->resolve(op.value, this, submittedPoint.load());
            op.event->release();
            break;
        case OpKind::WaitEvent:
            processWaitEvent(op, index);
            break;
    }
}

void Stream::processWaitEvent(const Op& op, uint64_t index) {
    Stream* other = nullptr;
    uint64_t point = 0;
    if (waitEventResolved(op, index, &other, &point)) {
        if (other != this && point != 0) {
            if (batch_.waitNeedsFlush()) flush();
            batch_.addWait(other->timeline, point);
            batch_.addRef(other);  // keeps its timeline alive until we pass
            inheritUnpublished(*other, point);
        } else {
            other->release();
        }
    }
    op.event->release();
}

// Whether the event's recording has been resolved (submitted) yet; if not, submits what came
// before the wait first (its batch may hold what the recording waits for) and waits for it,
// abandoning the wait on cancel (defect 4).
bool Stream::waitEventResolved(const Op& op, uint64_t index, Stream** other, uint64_t* point) {
    if (op.event->resolved(op.value, other, point, nullptr)) return true;
    flush();
    markProcessed(index);
    return op.event->resolved(op.value, other, point, &cancel_);
}

void Stream::setWaitingOn(Semaphore* s) {
    MutexLock lock(waitMutex_);
    waitingOn_ = s;
}

// How a wait is carried out is the backend's choice (Semaphore::planWait): on the GPU
// whenever the signal that satisfies it cannot be stuck behind it on a queue, else on this
// thread before what follows is submitted.
Stream::WaitPlan Stream::planWait(const Op& op) const { return op.sem->planWait(op.value, *queue); }

// Whether process(op) never blocks the calling thread on the host (submitInline's test).
bool Stream::runsWithoutHostWait(const Op& op, WaitPlan* plan) const {
    switch (op.kind) {
        case OpKind::Record:
            return true;
        case OpKind::Signal:
            return !op.sem->has(kSemSignalOnStreamThread);
        case OpKind::Wait:
            *plan = planWait(op);
            return *plan != WaitPlan::Host && *plan != WaitPlan::AfterSubmit;
        default:
            return false;
    }
}

void Stream::processWait(const Op& op, uint64_t index, WaitPlan plan) {
    Semaphore* s = op.sem;
    switch (plan) {
        case WaitPlan::Gpu:
            if (batch_.waitNeedsFlush()) flush();  // a wait gates everything in its submission
            s->addWait(batch_, op.value);          // the batch owns the op's reference now
            return;
        case WaitPlan::Skip:
            s->release();
            return;
        case WaitPlan::AfterSubmit:
            waitSubmitted(op, index);
            return;
        case WaitPlan::Host:
            break;
    }
    flush();
    markProcessed(index);
    StreamTelemetry* tel = s->has(kSemHostWaitTimed) ? telemetry() : nullptr;
    const uint64_t t0 = tel ? monotonicNs() : 0;
    setWaitingOn(s);  // lets close(cancel) wake the wait
    batonError_t e = s->streamHostWait(op, cancel_);
    setWaitingOn(nullptr);
    if (tel) tel->hostWait(s, op.value, t0, monotonicNs());
    if (e != batonSuccess && !cancel_.load()) setError(e);
    s->release();
}

// The signal is a stream's of this process, not on a queue yet: submit what came before, wait
// here until that signal is submitted (or reached), then wait for it on the GPU (defect 9).
void Stream::waitSubmitted(const Op& op, uint64_t index) {
    Semaphore* s = op.sem;
    flush();
    markProcessed(index);
    setWaitingOn(s);  // lets close(cancel) end the wait
    const bool submitted = s->waitSubmitted(op.value, cancel_);
    setWaitingOn(nullptr);
    if (!submitted) {  // cancelled, or the device is lost (which every later call reports)
        s->release();
        return;
    }
    s->addWait(batch_, op.value);  // the batch owns the op's reference now
}

void Stream::flush() {
    if (batch_.empty()) return;
    const uint64_t prev = submittedPoint.load(std::memory_order_relaxed);
    const uint64_t point = prev + 1;
    // Chain to the previous submission: queues do not order completion by themselves.
    batch_.addWait(timeline, prev);
    batch_.addSignal(timeline, point);
    StreamTelemetry* tel = telemetry();
    uint32_t cmdInfoCount = batch_.cmdCount;
    VkCommandBufferSubmitInfo first{}, last{};
    if (tel && tel->bracket(&first, &last)) {  // GPU timestamps around the submission's work
        std::memmove(batch_.cmds + 1, batch_.cmds, batch_.cmdCount * sizeof batch_.cmds[0]);
        batch_.cmds[0] = first;
        batch_.cmds[batch_.cmdCount + 1] = last;
        cmdInfoCount = batch_.cmdCount + 2;
    }
    VkResult r;
    if (batch_.publishCount || batch_.timelineSignalCount) {
        // Claimed and submitted under one lock, so that claims are in submission order.
        MutexLock lock(ctx->proxySignalMutex);
        Semaphore::claimProxySignals(ctx, batch_);
        r = submitBatch(cmdInfoCount);
        if (r != VK_SUCCESS) Semaphore::unclaimFailed(ctx, batch_);
    } else {
        r = submitBatch(cmdInfoCount);
    }
    if (r != VK_SUCCESS) submitFailed(r, point);
    submittedPoint.store(point, std::memory_order_release);
    if (tel) tel->submitted(point, r == VK_SUCCESS);
    for (uint32_t i = 0; i < batch_.cmdCount; ++i) slotPoint_[batch_.slots[i]].store(point, std::memory_order_release);
    // The batch still holds references to these semaphores (refs/publishes).
    if (r == VK_SUCCESS)
        for (uint32_t i = 0; i < batch_.timelineSignalCount; ++i)
            if (!batch_.timelineSignals[i].dropped)  // only what is on the GPU timeline (defect 9)
                batch_.timelineSignals[i].sem->noteSubmitted(batch_.timelineSignals[i].value);
    retireBatch(point, r == VK_SUCCESS);
    batch_.clear();
}

VkResult Stream::submitBatch(uint32_t cmdInfoCount) {
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = batch_.waitCount;
    si.pWaitSemaphoreInfos = batch_.waits;
    si.commandBufferInfoCount = cmdInfoCount;
    si.pCommandBufferInfos = batch_.cmds;
    si.signalSemaphoreInfoCount = batch_.signalCount;
    si.pSignalSemaphoreInfos = batch_.signals;
    return ctx->submit(*queue, si);
}

// A submission that failed never runs. What it would have signaled on the stream's timeline
// must still come, or everything after it waits forever; but only after the GPU has passed
// every earlier submission (the host signaling `point` at once would mark still-pending work
// done and let the GPU's later signals move the timeline backwards: defect 11).
void Stream::submitFailed(VkResult r, uint64_t point) {
    if (r == VK_ERROR_DEVICE_LOST) ctx->markLost("vkQueueSubmit2");
    setError(failVk(r, "vkQueueSubmit2"));
    if (ctx->lost()) return;  // waits on the timeline fail with VK_ERROR_DEVICE_LOST from now on
    if (resubmitSignals(point)) return;
    // That failed too: the host carries them, once the GPU passed the earlier work.
    waitPoint(point - 1);
    if (ctx->lost()) return;
    for (uint32_t i = 0; i < batch_.timelineSignalCount; ++i)
        batch_.timelineSignals[i].sem->signalNeverSubmitted(batch_.timelineSignals[i].value);
    VkSemaphoreSignalInfo sig{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, timeline, point};
    ctx->vkd.vkSignalSemaphore(ctx->device, &sig);
}

// A failed submission's signals that must come anyway: the stream's point (its later work,
// synchronize and retirement wait for it) and, where the backend can, its timeline values
// (GPU waits already submitted for them, on other streams or in an importer, would never end).
// A signal-only submission behind the stream's earlier work carries them, so that the GPU
// keeps their order: a host signal could run ahead of an earlier signal still pending.
bool Stream::resubmitSignals(uint64_t point) {
    VkSemaphoreSubmitInfo signals[SubmitBatch::kMax + 1];
    Semaphore* resignaled[SubmitBatch::kMax];
    uint32_t n = 0, count = 0;
    VkResult r = VK_ERROR_UNKNOWN;
    {
        MutexLock lock(ctx->proxySignalMutex);  // the values' order against other streams'
        for (uint32_t i = 0; i < batch_.timelineSignalCount; ++i) {
            const SubmitBatch::SemValue& t = batch_.timelineSignals[i];
            if (!t.sem->resignalNeverSubmitted(t.value)) continue;
            resignaled[count++] = t.sem;
            signals[n++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, t.sem->vk, t.value,
                            VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
        }
        signals[n++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline, point,
                        VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
        const VkSemaphoreSubmitInfo after{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline, point - 1,
                                          VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
        VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
        si.waitSemaphoreInfoCount = point > 1 ? 1 : 0;
        si.pWaitSemaphoreInfos = &after;
        si.signalSemaphoreInfoCount = n;
        si.pSignalSemaphoreInfos = signals;
        r = ctx->submit(*queue, si);
    }
    if (r != VK_SUCCESS) return false;
    for (uint32_t i = 0; i < count; ++i) resignaled[i]->noteSubmitted(signals[i].value);
    return true;
}

// Hands the batch's references to the retire queue, with what each must publish once the GPU
// passed `point` (the backend says what: Semaphore::afterSubmit).
void Stream::retireBatch(uint64_t point, bool submitted) {
    // This batch's portable timeline signals count as earlier than its binary/keyed ones: the
    // GPU has passed both once the binary/keyed proxy signal is seen (stress cause 3).
    // So do the portable timeline values it waited for on their proxies (in this process, a
    // GPU wait on another stream's signal, not yet published either): what the GPU passed
    // before the release (the H200's one-core stress: a keyed release behind such a wait).
    bool binaryOrKeyed = false;
    for (uint32_t i = 0; i < batch_.publishCount; ++i) {
        const SubmitBatch::Publish& p = batch_.publishes[i];
        if (p.sem->kind != SemKind::Timeline) binaryOrKeyed = true;
        else if (submitted) noteUnpublished(p.sem, p.value, point);
    }
    if (submitted)
        for (uint32_t i = 0; i < batch_.waitedProxyCount; ++i)
            noteUnpublished(batch_.waitedProxies[i].sem, batch_.waitedProxies[i].value, point);
    for (uint32_t i = 0; i < batch_.publishCount; ++i) {
        const SubmitBatch::Publish& p = batch_.publishes[i];
        EarlierSignals earlier;
        if (binaryOrKeyed && submitted && p.sem->kind != SemKind::Timeline) copyUnpublished(&earlier);
        Semaphore::RetireNote n = p.sem->afterSubmit(p.proxyValue, p.value, p.superseded, submitted, &earlier);
        retireLater(point, p.sem, n.publishOf, n.ticket, n.value);
    }
    for (uint32_t i = 0; i < batch_.waitedProxyCount; ++i) {
        const SubmitBatch::SemValue& w = batch_.waitedProxies[i];
        retireLater(point, w.sem, submitted ? w.sem : nullptr, 0, w.value);
    }
    for (uint32_t i = 0; i < batch_.refCount; ++i) retireLater(point, batch_.refs[i], nullptr, 0, 0);
}

// Appends to the retire queue; when it is full, the queue waits for the GPU to pass its
// oldest entry before retiring that (defect 1).
void Stream::retireLater(uint64_t point, Object* obj, Semaphore* publishOf, uint64_t ticket, uint64_t value) {
    retire_.push({point, obj, publishOf, ticket, value}, [this](uint64_t oldest) {
        waitPoint(oldest);
        return !ctx->lost();
    });
}

void Stream::retireCompleted(bool all) {
    // On close, wait for every submission even when no reference is pending: the command
    // buffers of plain records are freed with the pool right after.
    if (all) waitPoint(submittedPoint.load());
    if (retire_.empty()) return;
    if (all) {
        // The stream is closing (the GPU is done: waited above); its semaphores publish on
        // their own (or on destruction).
        retire_.releaseAll();
        return;
    }
    uint64_t done = 0;
    if (ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, timeline, &done) == VK_SUCCESS) {
        noteDone(done);
        retireUpTo(done, false);
    }
}

bool Stream::retireUpTo(uint64_t point, bool block) {
    const bool all = retire_.retireUpTo(point, block, ctx->lost());
    pruneUnpublished();  // what retired is published now: no reference kept for it
    return all;
}

void Stream::noteUnpublished(Semaphore* sem, uint64_t value, uint64_t point) {
    pruneUnpublished();
    Semaphore* evicted = nullptr;
    {
        MutexLock lock(unpublishedMutex_);
        EarlierSignals& u = unpublished_;
        for (uint32_t i = 0; i < u.count; ++i)
            if (u.sems[i] == sem) {
                if (value > u.values[i]) {
                    u.values[i] = value;
                    unpublishedPoint_[i] = point;
                }
                return;
            }
        if (u.count == EarlierSignals::kMax) {  // more than kMax at once: the oldest goes unordered
            evicted = u.sems[0];
            std::memmove(u.sems, u.sems + 1, (u.count - 1) * sizeof u.sems[0]);
            std::memmove(u.values, u.values + 1, (u.count - 1) * sizeof u.values[0]);
            std::memmove(unpublishedPoint_, unpublishedPoint_ + 1, (u.count - 1) * sizeof unpublishedPoint_[0]);
            --u.count;
        }
        sem->retain();
        u.sems[u.count] = sem;
        unpublishedPoint_[u.count] = point;
        u.values[u.count++] = value;
        unpublishedCount_.store(u.count, std::memory_order_release);
    }
    if (evicted) evicted->release();
}

void Stream::copyUnpublished(EarlierSignals* out, uint64_t upTo) {
    MutexLock lock(unpublishedMutex_);
    out->count = 0;
    for (uint32_t i = 0; i < unpublished_.count; ++i) {
        if (unpublishedPoint_[i] > upTo) continue;  // not passed by then: never published early
        unpublished_.sems[i]->retain();
        out->sems[out->count] = unpublished_.sems[i];
        out->values[out->count++] = unpublished_.values[i];
    }
}

// A GPU wait on another stream's point (an event): what that stream had signaled (or
// inherited) by then and is not yet published counts as passed before this stream's next
// batch, so that a release after the wait publishes it first.
void Stream::inheritUnpublished(Stream& other, uint64_t otherPoint) {
    EarlierSignals e;
    other.copyUnpublished(&e, otherPoint);
    const uint64_t next = submittedPoint.load(std::memory_order_relaxed) + 1;  // the batch being built
    for (uint32_t i = 0; i < e.count; ++i) noteUnpublished(e.sems[i], e.values[i], next);
    e.releaseAll();
}

// Drops what the shared pages show already (all: everything, the stream is going). The last
// references are dropped outside the lock (a semaphore's destructor joins its threads).
void Stream::pruneUnpublished(bool all) {
    if (unpublishedCount_.load(std::memory_order_acquire) == 0) return;
    EarlierSignals gone;
    {
        MutexLock lock(unpublishedMutex_);
        EarlierSignals& u = unpublished_;
        uint32_t kept = 0;
        for (uint32_t i = 0; i < u.count; ++i) {
            if (all || u.sems[i]->publishedAtLeast(u.values[i])) {
                gone.sems[gone.count++] = u.sems[i];
            } else {
                u.sems[kept] = u.sems[i];
                unpublishedPoint_[kept] = unpublishedPoint_[i];
                u.values[kept++] = u.values[i];
            }
        }
        u.count = kept;
        unpublishedCount_.store(kept, std::memory_order_release);
    }
    gone.releaseAll();
}

StreamTelemetry* Stream::telemetry() {
    StreamTelemetry* t = tel_.load(std::memory_order_relaxed);
    if (t || !activeTelemetry(ctx)) return t;
    t = StreamTelemetry::create(ctx, queue->family, queue->index, timeline);
    VkResult r = VK_SUCCESS;
    if (const char* call = t ? t->setupFailure(&r) : nullptr) setError(failVk(r, call));  // runs untimed
    tel_.store(t, std::memory_order_release);
    return t;
}

void Stream::resolveTelemetry() {
    if (StreamTelemetry* t = tel_.load(std::memory_order_acquire)) t->resolve();
}

// resolveStream is defined with the other handle resolvers in api/api_context.cpp.

}  // namespace baton
