#include "stream.h"

#include <cstring>

#include "context.h"
#include "error.h"
#include "event.h"
#include "semaphore.h"

namespace baton {

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

batonError_t Stream::enqueue(const Op* ops, uint32_t count) {
    int pending = error_.exchange(batonSuccess);
    std::unique_lock lock(mutex_);
    if (pending != batonSuccess || closing_) {
        lock.unlock();
        for (uint32_t i = 0; i < count; ++i) releaseOpRefs(ops[i]);
        if (pending != batonSuccess)
            return fail(static_cast<batonError_t>(pending), "an earlier operation on this stream failed: %s",
                        batonGetErrorString(static_cast<batonError_t>(pending)));
        return fail(batonErrorIllegalState, "the stream is being destroyed");
    }
    progressCv_.wait(lock, [&] { return tail_ - head_ + count <= kRing; });
    for (uint32_t i = 0; i < count; ++i) ring_[(tail_ + i) % kRing] = ops[i];
    tail_ += count;
    bool wake = workerSleeping_;
    lock.unlock();
    if (wake) workCv_.notify_one();
    return batonSuccess;
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

batonError_t Stream::record(batonRecordFn fn, void* user) {
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
    Op op{};
    op.kind = OpKind::Record;
    op.slot = slot;
    batonError_t e = enqueue(&op, 1);
    if (e != batonSuccess) slotPoint_[slot].store(0, std::memory_order_release);
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
    ops[n].event = event;
    ops[n++].value = event->beginRecord();
    batonError_t e = enqueue(ops, n);
    if (e != batonSuccess) {
        if (event->queries) slotPoint_[slot].store(0, std::memory_order_release);
        // The generation was taken: resolve it at the last point so that waiters never hang.
        event->resolve(ops[n - 1].value, this, submittedPoint.load());
    }
    return e;
}

void Stream::waitPoint(uint64_t point) {
    if (point == 0) return;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &timeline, &point};
    VkResult r = ctx->vkd.vkWaitSemaphores(ctx->device, &wi, UINT64_MAX);
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
    int e = error_.exchange(batonSuccess);
    if (e != batonSuccess)
        return fail(static_cast<batonError_t>(e), "an operation on this stream failed: %s",
                    batonGetErrorString(static_cast<batonError_t>(e)));
    return ok();
}

batonError_t Stream::query() {
    uint64_t point;
    {
        std::lock_guard lock(mutex_);
        if (head_ < tail_) return batonErrorNotReady;
        point = headPoint_;
    }
    uint64_t done = 0;
    ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, timeline, &done);
    if (done < point) return batonErrorNotReady;
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
        if (Semaphore* s = waitingOn_.load()) s->shared->wakeAll();
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
            lock.lock();
            if (head_ == tail_ && !closing_) {
                workerSleeping_ = true;
                workCv_.wait(lock, [&] { return head_ != tail_ || closing_; });
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
            process(op, i);
        }
        flush();
        markProcessed(end);
        lock.lock();
    }
    lock.unlock();
    flush();
    retireCompleted(true);
}

void Stream::process(const Op& op, uint64_t index) {
    switch (op.kind) {
        case OpKind::Record:
            if (signalCount_) flush();  // work after a signal must not delay it
            cmdInfos_[cmdCount_] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmds_[op.slot], 0};
            slotsInBatch_[cmdCount_++] = op.slot;
            if (cmdCount_ == kBatch) flush();
            break;
        case OpKind::Wait: {
            Semaphore* s = op.sem;
            if (s->native()) {
                // A wait gates everything in its submission: keep earlier work out of it.
                if (cmdCount_ || signalCount_ || waitCount_ == kBatch) flush();
                waits_[waitCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s->vk,
                                        s->kind == SemKind::Timeline ? op.value : 0,
                                        VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
                batchRefs_[batchRefCount_++] = s;
            } else {
                // Portable: wait on the host, then submit what follows. Earlier work goes first.
                flush();
                markProcessed(index);
                hostWaitPortable(s, op.value);
                s->release();
            }
            break;
        }
        case OpKind::Signal: {
            Semaphore* s = op.sem;
            if (signalCount_ == kBatch || batchRefCount_ + 1 >= 2 * kBatch) flush();
            if (s->native()) {
                signals_[signalCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s->vk,
                                            s->kind == SemKind::Timeline ? op.value : 0,
                                            VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
            } else {
                signals_[signalCount_++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s->signalProxy,
                                            op.proxyValue, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
                publishes_[publishCount_++] = {s, op.proxyValue, op.value};
            }
            batchRefs_[batchRefCount_++] = s;
            break;
        }
        case OpKind::HostFn:
            flush();
            markProcessed(index);
            waitPoint(submittedPoint.load());
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
            if (op.event->resolved(op.value, &other, &point, true)) {
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

bool Stream::hostWaitPortable(Semaphore* s, uint64_t value) {
    SharedState& st = *s->shared;
    waitingOn_.store(s);
    bool done = false;
    for (;;) {
        // seq first, then the cancel flag: a close() that bumps seq after this read wakes us.
        uint32_t seen = st.s().seq.load();
        if (cancel_.load()) break;
        if (s->kind == SemKind::Timeline ? st.s().value.load() >= value : st.tryConsumeBinary()) {
            done = true;
            break;
        }
        st.waitChange(seen, 0);
    }
    waitingOn_.store(nullptr);
    return done;
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
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = waitCount_;
    si.pWaitSemaphoreInfos = waits_;
    si.commandBufferInfoCount = cmdCount_;
    si.pCommandBufferInfos = cmdInfos_;
    si.signalSemaphoreInfoCount = signalCount_;
    si.pSignalSemaphoreInfos = signals_;
    VkResult r = ctx->submit(*queue, si);
    if (r != VK_SUCCESS) {
        setError(failVk(r, "vkQueueSubmit2"));
        // Keep the stream's own timeline consistent so that nothing waits forever on it.
        VkSemaphoreSignalInfo sig{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, timeline, point};
        ctx->vkd.vkSignalSemaphore(ctx->device, &sig);
    }
    submittedPoint.store(point, std::memory_order_release);
    for (uint32_t i = 0; i < cmdCount_; ++i) slotPoint_[slotsInBatch_[i]].store(point, std::memory_order_release);
    if (r == VK_SUCCESS) {
        for (uint32_t i = 0; i < publishCount_; ++i) {
            const PendingPublish& p = publishes_[i];
            if (p.sem->kind == SemKind::Timeline) p.sem->shared->markSubmitted(p.value);
            p.sem->queuePublish(p.proxyValue, p.value);
        }
    }
    for (uint32_t i = 0; i < batchRefCount_; ++i) {
        if (retireTail_ - retireHead_ == kRetire) {
            waitPoint(retire_[retireHead_ % kRetire].point);
            retireCompleted(false);
        }
        retire_[retireTail_++ % kRetire] = {point, batchRefs_[i]};
    }
    waitCount_ = cmdCount_ = signalCount_ = publishCount_ = batchRefCount_ = 0;
}

void Stream::retireCompleted(bool all) {
    // On close, wait for every submission even when no reference is pending: the command
    // buffers of plain records are freed with the pool right after.
    if (all) waitPoint(submittedPoint.load());
    if (retireHead_ == retireTail_) return;
    uint64_t done = 0;
    if (all) {
        done = UINT64_MAX;
    } else {
        ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, timeline, &done);
    }
    while (retireHead_ != retireTail_ && retire_[retireHead_ % kRetire].point <= done)
        retire_[retireHead_++ % kRetire].obj->release();
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
