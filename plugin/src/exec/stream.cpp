#include "exec/stream.h"

#include <cstdlib>
#include <cstring>
#include <iterator>

#include "core/assert.h"
#include "exec/context.h"
#include "core/error.h"
#include "exec/event.h"
#include "sync/semaphore.h"
#include "sync/shared_state.h"
#include "telemetry/telemetry.h"

namespace baton {

namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

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
    }
    *out = s;
    return batonSuccess;
}

Stream::~Stream() {
    close(false);
    if (queue) ctx->releaseStreamQueue(*queue);
    delete tel_.load();
    if (pool_) ctx->vkd.vkDestroyCommandPool(ctx->device, pool_, nullptr);  // frees the command buffers
    if (timeline) ctx->vkd.vkDestroySemaphore(ctx->device, timeline, nullptr);
}

void Stream::setError(batonError_t e) {
    int expected = batonSuccess;
    error_.compare_exchange_strong(expected, e);  // keep the first error until reported
}

static void releaseOpRefs(const Op& op) {
    if (op.sem) op.sem->release();
    if (op.event) op.event->release();
}

batonError_t Stream::enqueue(const Op* ops, uint32_t count, bool submitNow) {
    BATON_ASSERT(count <= kRing);
    int pending = error_.exchange(batonSuccess);
    std::unique_lock lock(mutex_);
    if (pending != batonSuccess || closing_ || ctx->lost()) {
        lock.unlock();
        for (uint32_t i = 0; i < count; ++i) releaseOpRefs(ops[i]);
        if (ctx->lost()) return ctx->lostError();
        if (pending != batonSuccess)
            return fail(static_cast<batonError_t>(pending), "an earlier operation on this stream failed: %s",
                        batonGetErrorString(static_cast<batonError_t>(pending)));
        return fail(batonErrorIllegalState, "the stream is being destroyed");
    }
    progressCv_.wait(lock, [&] { return tail_ - head_ + count <= kRing; });
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
    uint64_t i = head_;  // head_ only moves on the thread that runs the ring: this one, now
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
        std::lock_guard lock(mutex_);
        inline_ = false;
        wake = workerSleeping_ && (head_ != tail_ || closing_);
    }
    if (wake) workCv_.notify_one();
}

uint32_t Stream::acquireSlot() {
    uint32_t slot = nextSlot_++ % kSlots;
    uint64_t p = slotPoint_[slot].load(std::memory_order_acquire);
    if (p == kUnsubmitted) {
        std::unique_lock lock(mutex_);
        progressCv_.wait(lock, [&] { return slotPoint_[slot].load(std::memory_order_acquire) != kUnsubmitted; });
        p = slotPoint_[slot].load(std::memory_order_acquire);
    }
    if (p != 0) waitPoint(p);  // the GPU must be done with it before it is re-recorded
    return slot;
}

batonError_t Stream::prepareRecord(batonRecordFn fn, void* user, Op* op) {
    std::lock_guard rl(recordMutex_);
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
        std::lock_guard lock(mutex_);  // acquireSlot waits for the slot under it (defect 16)
        slotPoint_[op.slot].store(0, std::memory_order_release);
    }
    progressCv_.notify_all();
}

batonError_t Stream::record(batonRecordFn fn, void* user) {
    Op op{};
    batonError_t e = prepareRecord(fn, user, &op);
    if (e != batonSuccess) return e;
    e = enqueue(&op, 1);
    if (e != batonSuccess) abandonRecord(op);
    return e;
}

batonError_t Stream::recordEvent(Event* event) {
    std::lock_guard rl(recordMutex_);
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

void Stream::waitPoint(uint64_t point) {
    if (point == 0) return;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &timeline, &point};
    VkResult r = ctx->vkd.vkWaitSemaphores(ctx->device, &wi, UINT64_MAX);
    if (r == VK_ERROR_DEVICE_LOST) ctx->markLost("vkWaitSemaphores (stream)");
    if (r != VK_SUCCESS) setError(failVk(r, "vkWaitSemaphores (stream)"));
}

batonError_t Stream::synchronize() {
    uint64_t point;
    {
        std::unique_lock lock(mutex_);
        uint64_t target = tail_;
        progressCv_.wait(lock, [&] { return head_ >= target; });
        point = headPoint_;
    }
    waitPoint(point);
    if (ctx->lost()) return ctx->lostError();
    retireUpTo(point, true);  // portable signals published, released handles freed
    int e = error_.exchange(batonSuccess);
    if (e != batonSuccess)
        return fail(static_cast<batonError_t>(e), "an operation on this stream failed: %s",
                    batonGetErrorString(static_cast<batonError_t>(e)));
    return ok();
}

batonError_t Stream::query() {
    if (ctx->lost()) return ctx->lostError();
    uint64_t point;
    {
        std::lock_guard lock(mutex_);
        if (head_ < tail_) return batonErrorNotReady;
        point = headPoint_;
    }
    uint64_t done = 0;
    VkResult r = ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, timeline, &done);
    if (r == VK_ERROR_DEVICE_LOST) ctx->markLost("vkGetSemaphoreCounterValue (stream query)");
    if (r != VK_SUCCESS) return failVk(r, "vkGetSemaphoreCounterValue (stream query)");
    if (done < point || !retireUpTo(point, false)) return batonErrorNotReady;
    int e = error_.exchange(batonSuccess);
    if (e != batonSuccess)
        return fail(static_cast<batonError_t>(e), "an operation on this stream failed: %s",
                    batonGetErrorString(static_cast<batonError_t>(e)));
    return ok();
}

void Stream::close(bool cancel) {
    std::lock_guard cl(closeMutex_);
    if (closed_) return;
    closed_ = true;
    if (cancel) {
        cancel_.store(true);
        // Under waitMutex_: the stream thread clears waitingOn_ under it before it lets go of
        // its reference, so the semaphore is alive while we wake it (defect 10).
        std::lock_guard wl(waitMutex_);
        if (waitingOn_ && waitingOn_->shared) waitingOn_->shared->wakeAll();
    }
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
    }
    workCv_.notify_all();
    if (worker_.joinable()) worker_.join();
}

void Stream::markProcessed(uint64_t upTo) {
    {
        std::lock_guard lock(mutex_);
        if (upTo > head_) head_ = upTo;
        headPoint_ = submittedPoint.load(std::memory_order_relaxed);
    }
    progressCv_.notify_all();
}

void Stream::workerLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (head_ == tail_) {
            if (closing_) break;
            lock.unlock();
            retireCompleted(false);  // idle: drop references the GPU no longer needs
            // Spin briefly before sleeping: calls often come in bursts (wait, record, signal),
            // and a caller that finds this thread awake pays no wake-up syscall.
            const uint64_t seen = head_;  // head_ only moves on this thread
            if (const uint64_t spin = spinNs()) {
                const uint64_t until = monotonicNs() + spin;
                while (published_.load(std::memory_order_acquire) == seen && monotonicNs() < until) cpuRelax();
            }
            resolveTelemetry();
            lock.lock();
            if (head_ == tail_ && !closing_) {
                workerSleeping_ = true;
                workCv_.wait(lock, [&] { return !inline_ && (head_ != tail_ || closing_); });
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
            if (signalCount_) flush();  // work after a signal must not delay it
            cmdInfos_[cmdCount_] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmds_[op.slot], 0};
            slotsInBatch_[cmdCount_++] = op.slot;
            if (cmdCount_ == kBatch) flush();
            break;
        case OpKind::Wait:
            processWait(op, index, plan);
            break;
        case OpKind::Signal: {
            Semaphore* s = op.sem;
            if (s->keyedMutex && !s->keyedMutex->holds(op.slot)) {
                s->release();  // its acquire failed (already reported): nothing to release
                break;
            }
            if (signalCount_ == kBatch || batchRefCount_ + 1 >= 2 * kBatch) flush();
            if (s->kind == SemKind::Timeline) submittedSignals_[submittedSignalCount_++] = {s, op.value};
            if (s->native()) {
                signals_[signalCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s->vk,
                                            s->kind == SemKind::Timeline ? op.value : 0,
                                            VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
                batchRefs_[batchRefCount_++] = s;
            } else {
                signals_[signalCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s->signalProxy,
                                            op.proxyValue, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
                // The batch holds the op's reference now. A binary's proxy value is given at
                // submission (claimProxyValues), in the order the proxy sees them (defect 2).
                publishes_[publishCount_++] = {s, op.proxyValue, op.value, signalCount_ - 1, false};
            }
            break;
        }
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
        case OpKind::WaitEvent: {
            Stream* other = nullptr;
            uint64_t point = 0;
            if (waitEventResolved(op, index, &other, &point)) {
                if (other != this && point != 0) {
                    if (cmdCount_ || signalCount_ || waitCount_ == kBatch) flush();
                    waits_[waitCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, other->timeline, point,
                                            VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
                    batchRefs_[batchRefCount_++] = other;  // keeps its timeline alive until we pass
                } else {
                    other->release();
                }
            }
            op.event->release();
            break;
        }
    }
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
    std::lock_guard lock(waitMutex_);
    waitingOn_ = s;
}

void Stream::addGpuWait(VkSemaphore sem, uint64_t value, Object* ref) {
    // A wait gates everything in its submission: keep earlier work out of it.
    if (cmdCount_ || signalCount_ || waitCount_ == kBatch || batchRefCount_ + 1 >= 2 * kBatch) flush();
    waits_[waitCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, sem, value,
                            VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    auto* s = ref->type() == ObjectType::Semaphore ? static_cast<Semaphore*>(ref) : nullptr;
    if (s && s->shared && sem == s->signalProxy) {
        // Waited on the local proxy: once this submission completes, the value is reached,
        // so the stream publishes it itself (synchronize must not return before it shows).
        waitedPortable_[waitedPortableCount_++] = {s, value};
        return;
    }
    batchRefs_[batchRefCount_++] = ref;  // the batch owns the op's reference now
}

// Chooses how a wait is carried out. A GPU wait (a real semaphore wait: no host round trip,
// and a memory dependency) is used whenever the signal that satisfies it cannot be stuck
// behind it on a queue: it is already on a queue, or it will be submitted to a queue that is
// not one baton's streams share with the waiter, or it has already taken effect. Otherwise
// the stream thread waits on the host first and submits what follows afterwards. (A signal
// merely enqueued on some stream proves nothing: it may be ordered after this very wait,
// e.g. wait(1) then signal(2).)
Stream::WaitPlan Stream::planWait(const Op& op) const {
    const Semaphore* s = op.sem;
    const uint64_t v = op.value;
    if (s->keyedMutex) return WaitPlan::Host;
    if (s->kind != SemKind::Timeline)
        return s->native() ? WaitPlan::Gpu : WaitPlan::Host;  // Vulkan's rule: a binary signal is submitted first
    if (v <= s->streamSubmitted.load() || (!ctx->queueShared && v <= s->rendererReserved.load())) return WaitPlan::Gpu;
    // A native semaphore on a queue this stream has to itself: whoever signals it (another
    // stream, the renderer, another process, CUDA), the wait can only hold up this stream,
    // which is what stream order asks for. Recomputed per wait: streams come and go.
    if (s->native() && ctx->queueExclusive(*queue)) return WaitPlan::Gpu;
    // Already reached: nothing to wait for. A native wait stays on the GPU (it cannot block
    // and keeps the memory dependency); a portable value was published only after its GPU
    // signal completed, and what follows is submitted after this host observation.
    if (s->native()) {
        uint64_t now = 0;
        if (ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, s->vk, &now) == VK_SUCCESS && now >= v) return WaitPlan::Gpu;
    } else if (s->shared->s().value.load() >= v) {
        return WaitPlan::Skip;
    }
    // Not yet on any queue we know of: a stream's signal still to be submitted (possibly to
    // this stream's own queue), a renderer's on the queue we share, or another process's or
    // API's. A GPU wait now could block a queue that has to run the signal.
    return WaitPlan::Host;
}

// Whether process(op) never blocks the calling thread on the host (submitInline's test).
bool Stream::runsWithoutHostWait(const Op& op, WaitPlan* plan) const {
    switch (op.kind) {
        case OpKind::Record:
            return true;
        case OpKind::Signal:
            return !op.sem->keyedMutex;
        case OpKind::Wait:
            return (*plan = planWait(op)) != WaitPlan::Host;
        default:
            return false;
    }
}

void Stream::processWait(const Op& op, uint64_t index, WaitPlan plan) {
    Semaphore* s = op.sem;
    const uint64_t v = op.value;
    switch (plan) {
        case WaitPlan::Gpu:
            addGpuWait(s->native() ? s->vk : s->signalProxy, s->kind == SemKind::Timeline ? v : 0, s);
            return;
        case WaitPlan::Skip:
            s->release();
            return;
        case WaitPlan::Host:
            break;
    }
    flush();
    markProcessed(index);
    if (s->keyedMutex)
        acquireKeyedMutex(op);
    else if (s->native())
        hostWaitNative(s, v);
    else
        hostWaitPortable(s, v);  // a binary one consumes the signal
    s->release();
}

void Stream::hostWaitNative(Semaphore* s, uint64_t value) {
    setWaitingOn(s);
    // Bounded slices so that a context going away can cancel the wait.
    while (!cancel_.load()) {
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s->vk, &value};
        VkResult r = ctx->vkd.vkWaitSemaphores(ctx->device, &wi, 100000000ull);
        if (r == VK_SUCCESS) break;
        if (r != VK_TIMEOUT) {
            if (r == VK_ERROR_DEVICE_LOST) ctx->markLost("vkWaitSemaphores (stream wait)");
            setError(failVk(r, "vkWaitSemaphores (stream wait)"));
            break;
        }
    }
    setWaitingOn(nullptr);
}

bool Stream::hostWaitPortable(Semaphore* s, uint64_t value) {
    SharedState& st = *s->shared;
    setWaitingOn(s);
    StreamTelemetry* tel = telemetry();
    const uint64_t t0 = tel ? monotonicNs() : 0;
    bool done = false;
    for (;;) {
        // seq first, then the cancel flag: a close() that bumps seq after this read wakes us.
        uint32_t seen = st.s().seq.load();
        if (cancel_.load()) break;
        if (s->kind == SemKind::Timeline ? st.s().value.load() >= value : st.tryConsumeBinary()) {
            done = true;
            break;
        }
        st.waitChange(seen, monotonicNs() + kSharedWaitSliceNs);  // slices: see kSharedWaitSliceNs
    }
    setWaitingOn(nullptr);
    if (tel) tel->hostWait(s, value, t0, monotonicNs());
    return done;
}

// Keyed mutex: acquire on this thread (futex sleep, see keyed_mutex.h); what follows is
// submitted once it is held. Timeout and abandoned become the stream's error, reported once.
void Stream::acquireKeyedMutex(const Op& op) {
    setWaitingOn(op.sem);  // lets close(cancel) wake the wait
    batonError_t e = op.sem->keyedMutex->acquire(op.value, static_cast<uint32_t>(op.proxyValue), op.slot, cancel_);
    setWaitingOn(nullptr);
    if (e != batonSuccess && !cancel_.load()) setError(e);
}

void Stream::flush() {
    if (!waitCount_ && !cmdCount_ && !signalCount_) return;
    const uint64_t prev = submittedPoint.load(std::memory_order_relaxed);
    const uint64_t point = prev + 1;
    // Chain to the previous submission: queues do not order completion by themselves.
    waits_[waitCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline, prev,
                            VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    signals_[signalCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline, point,
                                VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    StreamTelemetry* tel = telemetry();
    uint32_t cmdInfoCount = cmdCount_;
    VkCommandBufferSubmitInfo first{}, last{};
    if (tel && tel->bracket(&first, &last)) {  // GPU timestamps around the submission's work
        std::memmove(cmdInfos_ + 1, cmdInfos_, cmdCount_ * sizeof cmdInfos_[0]);
        cmdInfos_[0] = first;
        cmdInfos_[cmdCount_ + 1] = last;
        cmdInfoCount = cmdCount_ + 2;
    }
    std::unique_lock<std::mutex> proxyLock;
    if (publishCount_ || submittedSignalCount_) proxyLock = claimProxyValues();
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = waitCount_;
    si.pWaitSemaphoreInfos = waits_;
    si.commandBufferInfoCount = cmdInfoCount;
    si.pCommandBufferInfos = cmdInfos_;
    si.signalSemaphoreInfoCount = signalCount_;
    si.pSignalSemaphoreInfos = signals_;
    VkResult r = ctx->submit(*queue, si);
    if (proxyLock.owns_lock()) proxyLock.unlock();
    if (r != VK_SUCCESS) submitFailed(r, point);
    submittedPoint.store(point, std::memory_order_release);
    if (tel) tel->submitted(point, r == VK_SUCCESS);
    for (uint32_t i = 0; i < cmdCount_; ++i) slotPoint_[slotsInBatch_[i]].store(point, std::memory_order_release);
    // The batch still holds references to these semaphores (batchRefs_/publishes_).
    if (r == VK_SUCCESS)
        for (uint32_t i = 0; i < submittedSignalCount_; ++i)
            submittedSignals_[i].sem->noteSubmitted(submittedSignals_[i].value);
    submittedSignalCount_ = 0;
    retireBatch(point, r == VK_SUCCESS);
    waitCount_ = cmdCount_ = signalCount_ = publishCount_ = batchRefCount_ = 0;
}

// Under ctx->proxySignalMutex (returned locked), in the order submissions reach the queues:
// several streams (and renderers) signal one local proxy timeline per portable semaphore, and
// a lower value reaching it after a higher one would move it backwards (invalid in Vulkan).
// Binary signals take the next proxy value now. A timeline signal that a stream's or a
// renderer's higher one already passed is dropped from the submission: for a timeline (waits
// are >=) it changes nothing, and the stream publishes its value itself once its work is done
// (retireBatch). Native timelines likewise, for the streams of this process.
std::unique_lock<std::mutex> Stream::claimProxyValues() {
    std::unique_lock<std::mutex> lock(ctx->proxySignalMutex);
    for (uint32_t i = 0; i < publishCount_; ++i) {
        PendingPublish& p = publishes_[i];
        if (p.sem->kind == SemKind::Timeline) continue;
        p.proxyValue = p.sem->nextBinaryProxyValue();
        signals_[p.signalIndex].value = p.proxyValue;
    }
    bool dropped[kBatch + 1] = {};
    for (uint32_t i = 0; i < publishCount_; ++i) {
        PendingPublish& p = publishes_[i];
        if (p.sem->kind != SemKind::Timeline) continue;
        if (p.proxyValue > p.sem->streamSignalMax) {
            p.sem->streamSignalMax = p.proxyValue;
            continue;
        }
        p.superseded = true;
        dropped[p.signalIndex] = true;
    }
    for (uint32_t i = 0; i < submittedSignalCount_; ++i) {
        const SubmittedSignal& n = submittedSignals_[i];
        if (!n.sem->native()) continue;
        if (n.value > n.sem->streamSignalMax) {
            n.sem->streamSignalMax = n.value;
            continue;
        }
        for (uint32_t j = 0; j < signalCount_; ++j)
            if (signals_[j].semaphore == n.sem->vk && signals_[j].value == n.value) dropped[j] = true;
    }
    uint32_t kept = 0;
    for (uint32_t j = 0; j < signalCount_; ++j)
        if (!dropped[j]) signals_[kept++] = signals_[j];
    signalCount_ = kept;
    return lock;
}

// A submission that failed never runs. What it would have signaled on the stream's timeline
// must still come, or everything after it waits forever; but only after the GPU has passed
// every earlier submission (the host signaling `point` at once would mark still-pending work
// done and let the GPU's later signals move the timeline backwards: defect 11).
void Stream::submitFailed(VkResult r, uint64_t point) {
    if (r == VK_ERROR_DEVICE_LOST) ctx->markLost("vkQueueSubmit2");
    setError(failVk(r, "vkQueueSubmit2"));
    if (ctx->lost()) return;  // waits on the timeline fail with VK_ERROR_DEVICE_LOST from now on
    waitPoint(point - 1);
    if (ctx->lost()) return;
    VkSemaphoreSignalInfo sig{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, timeline, point};
    ctx->vkd.vkSignalSemaphore(ctx->device, &sig);
}

// Hands the batch's references to the retire queue, with what each must publish once the GPU
// passed `point`.
void Stream::retireBatch(uint64_t point, bool submitted) {
    for (uint32_t i = 0; i < publishCount_; ++i) {
        const PendingPublish& p = publishes_[i];
        if (!submitted) {
            retireLater(point, p.sem, nullptr, 0, 0);  // never reaches the GPU: nothing to publish
        } else if (p.superseded) {
            // Not on the proxy (a higher value passed it there): the stream publishes it.
            p.sem->shared->markSubmitted(p.value);
            retireLater(point, p.sem, p.sem, 0, p.value);
        } else {
            if (p.sem->kind == SemKind::Timeline) p.sem->shared->markSubmitted(p.value);
            retireLater(point, p.sem, p.sem, p.sem->queuePublish(p.proxyValue, p.value), p.value);
        }
    }
    for (uint32_t i = 0; i < waitedPortableCount_; ++i) {
        const SubmittedSignal& w = waitedPortable_[i];
        retireLater(point, w.sem, submitted ? w.sem : nullptr, 0, w.value);
    }
    waitedPortableCount_ = 0;
    for (uint32_t i = 0; i < batchRefCount_; ++i) retireLater(point, batchRefs_[i], nullptr, 0, 0);
}

// Appends to the retire ring. When it is full, waits for the GPU to pass its oldest entry's
// point before retiring that: nothing is published or released before the GPU got there
// (defect 1).
void Stream::retireLater(uint64_t point, Object* obj, Semaphore* publishOf, uint64_t ticket, uint64_t value) {
    for (;;) {
        uint64_t oldest = 0;
        {
            std::lock_guard lock(retireMutex_);
            if (retireTail_ - retireHead_ < kRetire) {
                retire_[retireTail_++ % kRetire] = {point, obj, publishOf, ticket, value};
                return;
            }
            oldest = retire_[retireHead_ % kRetire].point;
        }
        waitPoint(oldest);
        if (ctx->lost()) {
            retireUpTo(oldest, false);  // the GPU will not get there: release, publish nothing
            continue;
        }
        retireUpTo(oldest, true);
    }
}

void Stream::retireCompleted(bool all) {
    // On close, wait for every submission even when no reference is pending: the command
    // buffers of plain records are freed with the pool right after.
    if (all) waitPoint(submittedPoint.load());
    {
        std::lock_guard lock(retireMutex_);
        if (retireHead_ == retireTail_) return;
    }
    if (all) {
        // The stream is closing (the GPU is done: waited above); its semaphores publish on
        // their own (or on destruction).
        Object* drop[64];
        for (;;) {
            uint32_t n = 0;
            {
                std::lock_guard lock(retireMutex_);
                while (retireHead_ != retireTail_ && n < std::size(drop)) drop[n++] = retire_[retireHead_++ % kRetire].obj;
            }
            if (n == 0) return;
            for (uint32_t i = 0; i < n; ++i) drop[i]->release();  // outside the lock
        }
    }
    uint64_t done = 0;
    ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, timeline, &done);
    retireUpTo(done, false);
}

// Releases the references of submissions up to point (which the GPU has passed), in order,
// making sure their portable signals have taken effect. A timeline value is published right
// here (publishing is idempotent: the publisher's later publish of it changes nothing), so
// this never waits behind the publisher's queue, where a renderer's reserved but not yet
// submitted signal may sit. A binary signal is not idempotent: it is left to the publisher,
// which with block this waits for; without, it stops there and returns false.
bool Stream::retireUpTo(uint64_t point, bool block) {
    // The last references are dropped outside the lock: a semaphore's destructor joins its
    // threads, and nothing of that belongs under retireMutex_.
    Object* drop[64];
    for (;;) {
        uint32_t n = 0;
        bool done = true, more = false;
        {
            std::lock_guard lock(retireMutex_);
            while (retireHead_ != retireTail_ && retire_[retireHead_ % kRetire].point <= point) {
                if (n == std::size(drop)) {
                    more = true;
                    break;
                }
                const Retire& r = retire_[retireHead_ % kRetire];
                if (r.publishOf && r.publishOf->kind == SemKind::Timeline) {
                    if (!ctx->lost()) r.publishOf->shared->publish(r.value);
                } else if (r.publishOf && !r.publishOf->published(r.ticket) && !ctx->lost()) {
                    if (!block) {
                        done = false;
                        break;
                    }
                    r.publishOf->waitPublished(r.ticket);
                }
                ++retireHead_;
                drop[n++] = r.obj;
            }
        }
        for (uint32_t i = 0; i < n; ++i) drop[i]->release();
        if (!more) return done;
    }
}

StreamTelemetry* Stream::telemetry() {
    StreamTelemetry* t = tel_.load(std::memory_order_relaxed);
    if (t || !activeTelemetry(ctx)) return t;
    t = StreamTelemetry::create(ctx, queue->family, queue->index, timeline);
    tel_.store(t, std::memory_order_release);
    return t;
}

void Stream::resolveTelemetry() {
    if (StreamTelemetry* t = tel_.load(std::memory_order_acquire)) t->resolve();
}

batonError_t resolveStream(batonStream_t s, Stream** out) {
    if (!s) {
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        Stream* d = nullptr;
        e = ctx->defaultStream(&d);
        ctx->release();
        if (e != batonSuccess) return e;
        d->retain();
        *out = d;
        return batonSuccess;
    }
    Object* o = lookupHandle(s, ObjectType::Stream);
    if (!o) return fail(batonErrorInvalidResourceHandle, "stream %p is not a live baton stream", static_cast<void*>(s));
    *out = static_cast<Stream*>(o);
    return batonSuccess;
}

}  // namespace baton
