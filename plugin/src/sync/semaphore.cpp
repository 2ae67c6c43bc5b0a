#include "sync/semaphore.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <sys/stat.h>
#include <unistd.h>

#include "core/assert.h"
#include "exec/context.h"
#include "exec/submit_batch.h"
#include "fd/fd_probe.h"
#include "core/error.h"
#include "telemetry/telemetry.h"

namespace baton {
namespace {

VkResult createTimeline(Context* ctx, uint64_t initial, VkSemaphore* out) {
    VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE,
                                   initial};
    VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
    return ctx->vkd.vkCreateSemaphore(ctx->device, &ci, nullptr, out);
}

VkResult createExportable(Context* ctx, SemKind kind, uint64_t initial, VkSemaphore* out) {
    VkExportSemaphoreCreateInfo exp{VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO, nullptr,
                                    VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, &exp,
                                   kind == SemKind::Timeline ? VK_SEMAPHORE_TYPE_TIMELINE : VK_SEMAPHORE_TYPE_BINARY,
                                   kind == SemKind::Timeline ? initial : 0};
    VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
    return ctx->vkd.vkCreateSemaphore(ctx->device, &ci, nullptr, out);
}

SharedKind sharedKind(SemKind k) {
    switch (k) {
        case SemKind::Binary: return SharedKind::Binary;
        case SemKind::Timeline: return SharedKind::Timeline;
        case SemKind::KeyedMutex: return SharedKind::KeyedMutex;
    }
    return SharedKind::Timeline;
}

constexpr uint64_t kPublisherSliceNs = 10'000'000;

}  // namespace

Semaphore::~Semaphore() {
    stopping_.store(true);
    if (publisher_.joinable()) {
        {
            MutexLock lock(publishMutex_);
        }
        publishCv_.notify_all();
        publisher_.join();  // at most one wait slice (kPublisherSliceNs) when a signal never comes
    }
    // After the publisher drained: releases whose work completed have been published.
    if (keyedMutex) keyedMutex->abandonIfHeld();
    // What never got published holds references still (dropped outside the lock: the last
    // one runs that semaphore's destructor).
    std::unique_ptr<EarlierSignals[]> earlier;
    uint64_t head = 0, tail = 0;
    {
        MutexLock lock(publishMutex_);
        earlier = std::move(earlier_);
        head = publishHead_;
        tail = publishTail_;
    }
    if (earlier)
        for (uint64_t t = head; t < tail; ++t) earlier[t % kPublishRing].releaseAll();
    if (mirror_.joinable()) {
        shared->wakeAll();
        mirror_.join();
    }
    for (VkSemaphore s : {vk, signalProxy, waitProxy})
        if (s) ctx->vkd.vkDestroySemaphore(ctx->device, s, nullptr);
}

batonError_t Semaphore::createProxies() {
    uint64_t initial = kind == SemKind::Timeline ? shared->s().value.load() : 0;
    VkResult r = createTimeline(ctx, initial, &signalProxy);
    if (r != VK_SUCCESS) return failVk(r, "vkCreateSemaphore (portable proxy)");
    if (kind != SemKind::Timeline) {
        MutexLock lock(publishMutex_);
        earlier_.reset(new (std::nothrow) EarlierSignals[kPublishRing]);
        if (!earlier_) return fail(batonErrorMemoryAllocation, "out of host memory (portable publisher)");
    }
    try {
        publisher_ = std::thread([this] { publisherLoop(); });
    } catch (const std::system_error& e) {
        return fail(batonErrorOperatingSystem, "cannot start the publisher thread: %s", e.what());
    }
    return batonSuccess;
}

batonError_t Semaphore::exportNew(Context* ctx, const batonExternalSemaphoreExportDesc& desc, int* fdOut,
                                  Semaphore** out) {
    SemKind kind = desc.type == batonExternalSemaphoreHandleTypeTimelineSemaphoreFd ? SemKind::Timeline
                   : desc.type == batonExternalSemaphoreHandleTypeKeyedMutex       ? SemKind::KeyedMutex
                                                                                    : SemKind::Binary;
    if (kind == SemKind::KeyedMutex) {
        batonError_t e = KeyedMutex::checkProcess();
        if (e != batonSuccess) return e;
    }
    std::unique_ptr<Semaphore> s(new Semaphore(ctx, kind));
    const bool portable = kind == SemKind::KeyedMutex || !ctx->nativeSemaphoreFd || (desc.flags & batonExportFlagPortable);
    s->setBackend(portable);
    if (!portable) {
        VkResult r = createExportable(ctx, kind, desc.initialValue, &s->vk);
        if (r != VK_SUCCESS) return failVk(r, "vkCreateSemaphore (exportable)");
        VkSemaphoreGetFdInfoKHR gi{VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR, nullptr, s->vk,
                                   VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
        int fd = -1;
        r = ctx->vkd.vkGetSemaphoreFdKHR(ctx->device, &gi, &fd);
        if (r != VK_SUCCESS) return failVk(r, "vkGetSemaphoreFdKHR");
        s->localPending.store(desc.initialValue);
        s->exported = true;
        *fdOut = fd;
        *out = s.release();
        return batonSuccess;
    }
    s->shared = std::make_unique<SharedState>();
    batonError_t e = s->shared->create(sharedKind(kind), kind == SemKind::KeyedMutex ? desc.initialKey : desc.initialValue);
    if (e != batonSuccess) return e;
    if (kind == SemKind::KeyedMutex) s->keyedMutex = std::make_unique<KeyedMutex>(*s->shared);
    if ((e = s->createProxies()) != batonSuccess) return e;
    int fd = s->shared->exportFd();
    if (fd < 0) return fail(batonErrorOperatingSystem, "dup of the memfd failed: %s", strerror(errno));
    s->exported = true;
    *fdOut = fd;
    *out = s.release();
    return batonSuccess;
}

batonError_t Semaphore::importFd(Context* ctx, SemKind kind, int fd, bool portable, Semaphore** out) {
    if (kind == SemKind::KeyedMutex) {
        batonError_t e = KeyedMutex::checkProcess();
        if (e != batonSuccess) return e;
    }
    std::unique_ptr<Semaphore> s(new Semaphore(ctx, kind));
    s->setBackend(portable);
    if (portable) {
        s->shared = std::make_unique<SharedState>();
        batonError_t e = s->shared->open(fd, sharedKind(kind));
        if (e != batonSuccess) {
            s->shared.reset();
            return e;
        }
        if (kind == SemKind::KeyedMutex) s->keyedMutex = std::make_unique<KeyedMutex>(*s->shared);
        if ((e = s->createProxies()) != batonSuccess) {
            s->shared->releaseFd();  // failure: the fd goes back to the caller, open
            return e;
        }
        *out = s.release();
        return batonSuccess;
    }
    // Native: the caller (api) has already refused fds that are not the driver's.
    VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr,
                                   kind == SemKind::Timeline ? VK_SEMAPHORE_TYPE_TIMELINE : VK_SEMAPHORE_TYPE_BINARY, 0};
    VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
    VkResult r = ctx->vkd.vkCreateSemaphore(ctx->device, &ci, nullptr, &s->vk);
    if (r != VK_SUCCESS) return failVk(r, "vkCreateSemaphore (import target)");
    VkImportSemaphoreFdInfoKHR ii{VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR, nullptr, s->vk, 0,
                                  VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT, fd};
    r = ctx->vkd.vkImportSemaphoreFdKHR(ctx->device, &ii);
    if (r != VK_SUCCESS) return failVk(r, "vkImportSemaphoreFdKHR");  // fd still the caller's
    // Success: the driver owns fd now.
    s->foreign.store(true);
    if (kind == SemKind::Timeline) {
        uint64_t v = 0;
        ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, s->vk, &v);
        s->localPending.store(v);
    }
    *out = s.release();
    return batonSuccess;
}

batonError_t Semaphore::reserveSignal(uint64_t v, uint64_t knownCurrent, bool byRenderer, Reservation* r) {
    uint64_t prevPending = 0;
    batonError_t e = backend_->reserveValue(*this, v, knownCurrent, &prevPending);
    if (e != batonSuccess) return e;
    std::atomic<uint64_t>& mark = byRenderer ? rendererReserved : streamReserved;
    uint64_t cur = mark.load(std::memory_order_relaxed);
    const uint64_t prevMark = cur;
    while (cur < v && !mark.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
    }
    if (r) *r = {v, prevPending, prevMark < v ? prevMark : v, byRenderer, true};
    return batonSuccess;
}

void Semaphore::giveBack(Reservation& r) {
    if (!r.held) return;
    r.held = false;
    // Only if nothing claimed a higher value meanwhile (CAS from exactly r.value).
    std::atomic<uint64_t>& pending = backend_->pendingWord(*this);
    uint64_t expected = r.value;
    pending.compare_exchange_strong(expected, r.prevPending, std::memory_order_acq_rel);
    std::atomic<uint64_t>& mark = r.byRenderer ? rendererReserved : streamReserved;
    expected = r.value;
    mark.compare_exchange_strong(expected, r.prevMark, std::memory_order_acq_rel);
}

uint64_t Semaphore::queuePublish(uint64_t proxyValue, uint64_t value, EarlierSignals* earlier) {
    uint64_t ticket;
    {
        MutexLock lock(publishMutex_);
        // Bounded ring: if a thousand signals are in flight, wait for the GPU to retire some.
        while (publishTail_ - publishHead_ >= kPublishRing && !stopping_.load()) waitHeldOnce(publishCv_, publishMutex_);
        publishRing_[publishTail_ % kPublishRing] = {proxyValue, value, false};
        if (earlier_) {
            EarlierSignals& slot = earlier_[publishTail_ % kPublishRing];
            slot = earlier ? *earlier : EarlierSignals{};
            if (earlier) earlier->count = 0;  // the entry owns the references now
        }
        ticket = publishTail_++;
    }
    publishCv_.notify_all();
    return ticket;
}

bool Semaphore::published(uint64_t ticket) {
    if (publishedCount_.load(std::memory_order_acquire) > ticket) return true;
    MutexLock lock(publishMutex_);
    return publishedLocked(ticket);
}

void Semaphore::waitPublished(uint64_t ticket) {
    MutexLock lock(publishMutex_);
    while (!publishedLocked(ticket) && !stopping_.load() && !ctx->lost()) waitHeldOnce(publishCv_, publishMutex_);
}

bool Semaphore::publishedLocked(uint64_t ticket) {
    return publishHead_ > ticket || (ticket < publishTail_ && publishRing_[ticket % kPublishRing].done);
}

// Publishes whatever signalProxy has passed. Entries are queued in submission order, but a
// renderer may take a value's signal info (queued then) and submit it after a stream signals
// a lower one: so the thread waits for the lowest pending value, not for the oldest entry,
// and a signal the GPU has passed is never held up behind one nobody submitted yet.
void Semaphore::publisherLoop() {
    for (;;) {
        const uint64_t lowest = waitForLowestPending();
        if (lowest == 0) return;  // stopping with nothing left to publish
        // Wait for the GPU to reach the signal, in slices so that a destructor is not held up
        // by a signal that never comes. (Not VK_SEMAPHORE_WAIT_ANY_BIT with a host-signaled
        // wake-up semaphore: Mesa's drivers implement a wait for any of several semaphores as
        // a clock-polling loop, a core per waiting thread.) New entries queued meanwhile are
        // higher (values only grow), so `lowest` stays the one to wait for.
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &signalProxy, &lowest};
        VkResult r = ctx->vkd.vkWaitSemaphores(ctx->device, &wi, kPublisherSliceNs);
        uint64_t reached = 0;
        VkResult rc = ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, signalProxy, &reached);
        if (r == VK_ERROR_DEVICE_LOST || rc == VK_ERROR_DEVICE_LOST) ctx->markLost("the portable publisher");
        if (ctx->lost()) publishCv_.notify_all();  // waitPublished gives up on a lost device
        if (r != VK_SUCCESS || rc != VK_SUCCESS || reached < lowest) {
            if (stopping_.load()) return;  // destroyed with a signal that never reached the GPU
            if (r != VK_TIMEOUT) {
                // A wait that fails at once (device lost, out of memory) must not spin: sleep
                // one slice, or until destroy.
                MutexLock lock(publishMutex_);
                if (!stopping_.load()) waitHeldFor(publishCv_, publishMutex_, std::chrono::nanoseconds(kPublisherSliceNs));
            }
            continue;
        }
        publishReached(reached);
    }
}

// The lowest proxy value not yet published; 0 when stopping with nothing left.
uint64_t Semaphore::waitForLowestPending() {
    MutexLock lock(publishMutex_);
    while (publishTail_ == publishHead_ && !stopping_.load()) waitHeldOnce(publishCv_, publishMutex_);
    if (publishTail_ == publishHead_) return 0;
    uint64_t lowest = UINT64_MAX;
    for (uint64_t t = publishHead_; t < publishTail_; ++t) {
        const PublishEntry& e = publishRing_[t % kPublishRing];
        if (!e.done && e.proxyValue < lowest) lowest = e.proxyValue;
    }
    return lowest;
}

// Publishes every entry the GPU has passed (the shared state is written outside our lock).
void Semaphore::publishReached(uint64_t reached) {
    uint64_t due[kPublishRing / 16];
    uint64_t values[kPublishRing / 16];  // copied under the lock (an entry is not reused until done)
    EarlierSignals before[kPublishRing / 16];  // moved out under the lock
    uint32_t n = 0;
    {
        MutexLock lock(publishMutex_);
        for (uint64_t t = publishHead_; t < publishTail_ && n < std::size(due); ++t) {
            const PublishEntry& e = publishRing_[t % kPublishRing];
            if (!e.done && e.proxyValue <= reached) {
                values[n] = e.value;
                if (earlier_) {
                    before[n] = earlier_[t % kPublishRing];
                    earlier_[t % kPublishRing].count = 0;
                }
                due[n++] = t;
            }
        }
    }
    uint64_t highest = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t value = values[i];
        before[i].publishAndRelease();  // the stream's earlier timeline signals first
        if (kind == SemKind::Timeline) {
            if (value > highest) highest = value;
        } else if (kind == SemKind::KeyedMutex) {
            keyedMutex->release(value);  // the key
        } else {
            shared->signalBinary();
        }
        notePublish(ctx, this, value);
    }
    if (kind == SemKind::Timeline && highest) shared->publish(highest);
    {
        MutexLock lock(publishMutex_);
        for (uint32_t i = 0; i < n; ++i) publishRing_[due[i] % kPublishRing].done = true;
        while (publishHead_ < publishTail_ && publishRing_[publishHead_ % kPublishRing].done) ++publishHead_;
        publishedCount_.store(publishHead_, std::memory_order_release);
    }
    publishCv_.notify_all();
}

void Semaphore::noteSubmitted(uint64_t v) {
    uint64_t cur = streamSubmitted.load(std::memory_order_relaxed);
    while (cur < v && !streamSubmitted.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
    }
    // Wakes waitSubmitted; it checks streamSubmitted after counting itself, under the mutex.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (submitWaiters_.load() == 0) return;
    { std::lock_guard lock(submitMutex_); }
    submitCv_.notify_all();
}

batonError_t Semaphore::startMirror() {
    std::call_once(mirrorOnce_, [this] {
        VkPhysicalDeviceTimelineSemaphoreProperties tp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_PROPERTIES};
        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &tp};
        ctx->vki.vkGetPhysicalDeviceProperties2(ctx->physicalDevice, &p2);
        if (tp.maxTimelineSemaphoreValueDifference) maxValueDifference_ = tp.maxTimelineSemaphoreValueDifference;
        uint64_t initial = 0;
        if ((mirrorError_ = shared->readValue(&initial)) != batonSuccess) return;  // checked: the page is untrusted
        VkResult r = createTimeline(ctx, initial, &waitProxy);
        if (r != VK_SUCCESS) {
            mirrorError_ = failVk(r, "vkCreateSemaphore (wait proxy)");
            return;
        }
        try {
            mirror_ = std::thread([this] { mirrorLoop(); });
        } catch (const std::system_error& e) {
            mirrorError_ = fail(batonErrorOperatingSystem, "cannot start the mirror thread: %s", e.what());
        }
    });
    return mirrorError_;
}

void Semaphore::mirrorLoop() {
    VkPhysicalDeviceTimelineSemaphoreProperties tp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_PROPERTIES};
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &tp};
    ctx->vki.vkGetPhysicalDeviceProperties2(ctx->physicalDevice, &p2);
    const uint64_t maxDifference = std::max(tp.maxTimelineSemaphoreValueDifference, kMinTimelineValueDifference);
    uint64_t mirrored = 0;
    ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, waitProxy, &mirrored);
    for (;;) {
        // seq first, then the stop flag: the destructor sets the flag, then bumps seq, so a
        // stop that lands after this read still ends the wait below (no lost wake-up).
        uint32_t seen = shared->s().seq.load();
        if (stopping_.load()) return;
        // Checked before it reaches the driver (defect 8): a value a peer made up (backwards,
        // above pending, beyond maxTimelineSemaphoreValueDifference) is never signaled; the
        // page stays faulted and waits on it fail with the peer's error.
        uint64_t v = 0;
        if (shared->readValueForSignal(mirrored, maxDifference, &v) != batonSuccess) v = 0;
        if (v > mirrored) {
            // The page is the peers' to write: never a jump the driver forbids (a value more
            // than maxTimelineSemaphoreValueDifference away); the rest follows in steps.
            if (v - mirrored > maxValueDifference_) v = mirrored + maxValueDifference_;
            VkSemaphoreSignalInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, waitProxy, v};
            VkResult r = ctx->vkd.vkSignalSemaphore(ctx->device, &si);
            if (r == VK_SUCCESS) {
                mirrored = v;
                continue;
            }
            if (r == VK_ERROR_DEVICE_LOST) {
                ctx->markLost("the portable mirror");
                return;  // nothing waits on a lost device's proxy any more
            }
            // Out of memory or the like: retry after a slice rather than leave waits stuck.
        }
        shared->waitChange(seen, monotonicNs() + kSharedWaitSliceNs);
    }
}

void Semaphore::rendererSignalPortable(uint64_t v) {
    {
        // The renderer submits v to the proxy next: a stream's lower value submitted after it
        // would move the proxy backwards, so streams now treat v as already signaled.
        MutexLock lock(ctx->proxySignalMutex);
        if (v > streamSignalMax) streamSignalMax = v;
    }
    shared->markSubmitted(v);
    queuePublish(v, v);
}

void Semaphore::describe(batonExternalSemaphoreInfo* info) const {
    info->type = backend_->handleType;
    info->backend = backend_->publicBackend;
    info->currentValue = currentValue();
    info->pendingValue = pendingValue();
    if (shared) std::memcpy(info->id, shared->s().id, sizeof info->id);
}

bool Semaphore::signalOnQueue(uint64_t v) const {
    if (streamSubmitted.load(std::memory_order_acquire) >= v) return true;
    if (!shared) return currentValue() >= v;  // a renderer's own signal: only once it ran
    const SharedLayout& st = shared->s();
    return st.value.load() >= v || st.submitted.load() >= v;
}

batonError_t Semaphore::beginTurn(const void* st, bool acquire, uint32_t* ticket, KeyedMutex::EnqueueState* saved) {
    if (!keyedMutex) return batonSuccess;
    return acquire ? keyedMutex->beginAcquire(st, ticket, saved) : keyedMutex->beginRelease(st, ticket, saved);
}

void Semaphore::undoTurn(const KeyedMutex::EnqueueState& saved) {
    if (keyedMutex) keyedMutex->undo(saved);
}

// Under ctx->proxySignalMutex, in submission order: whether the batch's signal of v goes to
// the GPU timeline (localSignalSemaphore), which must never go backwards (defect 9).
// A value above every one submitted there goes on; but if another stream's lower signal is
// still ahead of the GPU, the batch waits on the GPU for it first: on queues of their own (the
// H200) the higher one could otherwise run first and the lower one move the timeline back.
// The lower one cannot be waiting for this batch: its waits are on signals submitted before
// it (no submission waits ahead of a signal this process has still to submit:
// WaitPlan::AfterSubmit). A stream's own earlier signal is ordered by its chain.
// A value at or below one submitted there is not submitted, and is dropped only where that
// loses nothing (it used to be dropped once a higher one was merely submitted: waits for it
// hung, and its stream completed with the timeline short of it):
//  - the GPU timeline has passed v already;
//  - else a stream's higher signal is on a queue: the batch waits on the GPU for that one, so
//    that nothing sees this stream done before the timeline is at v;
//  - else a renderer's higher signal was handed out (rendererSignalPortable): it may be on a
//    queue already, unordered with this one. The stream publishes v itself once its batch
//    completes (afterSubmit: superseded), and v does not count as on the proxy.
bool Semaphore::claimSignal(SubmitBatch& b, uint64_t v) {
    const VkSemaphore gpu = localSignalSemaphore();
    const auto reached = [&](uint64_t value) {
        uint64_t now = 0;
        return ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, gpu, &now) == VK_SUCCESS && now >= value;
    };
    if (v > streamSignalMax) {
        if (streamClaimMax && streamClaimBy != &b && !reached(streamClaimMax)) b.addWait(gpu, streamClaimMax);
        streamSignalMax = streamClaimMax = v;
        streamClaimBy = &b;
        return true;
    }
    if (!reached(v) && streamClaimMax >= v) b.addWait(gpu, streamClaimMax);
    return false;
}

void Semaphore::claimProxySignals(Context* ctx, SubmitBatch& b) {
    bool dropped[SubmitBatch::kMax + 1] = {};
    for (uint32_t i = 0; i < b.publishCount; ++i) {
        SubmitBatch::Publish& p = b.publishes[i];
        if (p.sem->kind == SemKind::Timeline) continue;  // below, with the native timelines
        // Binary and keyed mutex: the next proxy value, in submission order (defect 2).
        p.proxyValue = p.sem->nextBinaryProxyValue();
        b.signals[p.signalIndex].value = p.proxyValue;
    }
    for (uint32_t i = 0; i < b.timelineSignalCount; ++i) {
        SubmitBatch::SemValue& t = b.timelineSignals[i];
        BATON_ASSERT(t.sem->ctx == ctx);  // a stream signals its own context's semaphores
        t.sem->ctx->proxySignalMutex.assertHeld();  // the same mutex, reached through the semaphore
        // One timeline signaled twice in one submission (back to back on a stream): the signal
        // operations of a batch are unordered, so the lower one could land last. Only the
        // highest goes; the others complete with it.
        bool covered = false;
        for (uint32_t j = 0; j < b.timelineSignalCount && !covered; ++j)
            covered = b.timelineSignals[j].sem == t.sem && b.timelineSignals[j].value > t.value;
        if (!covered && t.sem->claimSignal(b, t.value)) continue;
        t.dropped = true;  // not on the GPU timeline: no GPU wait is planned on it (noteSubmitted)
        const VkSemaphore gpu = t.sem->localSignalSemaphore();
        for (uint32_t j = 0; j < b.signalCount; ++j)
            if (b.signals[j].semaphore == gpu && b.signals[j].value == t.value) dropped[j] = true;
        for (uint32_t j = 0; j < b.publishCount; ++j)
            if (b.publishes[j].sem == t.sem && b.publishes[j].value == t.value) b.publishes[j].superseded = true;
    }
    uint32_t kept = 0;
    for (uint32_t j = 0; j < b.signalCount; ++j)
        if (!dropped[j]) b.signals[kept++] = b.signals[j];
    b.signalCount = kept;
}

void Semaphore::unclaimFailed(Context* ctx, SubmitBatch& b) {
    for (uint32_t i = 0; i < b.timelineSignalCount; ++i) {
        const SubmitBatch::SemValue& t = b.timelineSignals[i];
        BATON_ASSERT(t.sem->ctx == ctx);
        t.sem->ctx->proxySignalMutex.assertHeld();
        // Never a GPU wait for it (claimSignal): it will not come from this submission.
        if (!t.dropped && t.sem->streamClaimMax == t.value) t.sem->streamClaimMax = 0;
    }
}

bool Semaphore::waitSubmitted(uint64_t v, const std::atomic<bool>& cancel) {
    submitWaiters_.fetch_add(1);
    std::unique_lock lock(submitMutex_);
    bool ok = true;
    for (;;) {
        // Submitted, or no longer reserved here (given back: whoever signals it is not us).
        if (streamSubmitted.load() >= v || v > streamReserved.load()) break;
        if (cancel.load() || ctx->lost()) {
            ok = false;
            break;
        }
        // Reached (another process, the host): also an end. In slices: no wake-up for that.
        uint64_t reached = 0;
        if (ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, localSignalSemaphore(), &reached) == VK_SUCCESS &&
            reached >= v)
            break;
        submitCv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    lock.unlock();
    submitWaiters_.fetch_sub(1);
    return ok;
}

namespace {

// Failed portable signals in this process, by page (device, inode of the memfd): the lowest
// failed value. Rare (a failed submit), so one mutex; `g_anyFailedSignal` keeps waits from
// taking it while there is none.
struct FailedSignals {
    std::mutex mutex;
    std::map<std::pair<dev_t, ino_t>, uint64_t> lowest;
};
FailedSignals& failedSignals() {
    static FailedSignals* f = new FailedSignals;  // never destroyed: used from threads at exit
    return *f;
}
std::atomic<uint64_t> g_anyFailedSignal{0};

bool pageId(const SharedState& st, std::pair<dev_t, ino_t>* id) {
    struct stat sb {};
    if (fstat(st.fd(), &sb) != 0) return false;
    *id = {sb.st_dev, sb.st_ino};
    return true;
}

}  // namespace

void Semaphore::noteSignalFailed(uint64_t value) {
    std::pair<dev_t, ino_t> id;
    if (!pageId(*shared, &id)) return;
    FailedSignals& f = failedSignals();
    std::lock_guard lock(f.mutex);
    auto [it, added] = f.lowest.emplace(id, value);
    if (!added && value < it->second) it->second = value;
    g_anyFailedSignal.store(f.lowest.size());
}

void Semaphore::noteSignalSubmitted(uint64_t value) {
    if (g_anyFailedSignal.load() == 0) return;
    std::pair<dev_t, ino_t> id;
    if (!pageId(*shared, &id)) return;
    FailedSignals& f = failedSignals();
    std::lock_guard lock(f.mutex);
    auto it = f.lowest.find(id);
    if (it != f.lowest.end() && value >= it->second) f.lowest.erase(it);
    g_anyFailedSignal.store(f.lowest.size());
}

bool Semaphore::signalFailedFor(uint64_t value) const {
    if (g_anyFailedSignal.load() == 0 || !shared) return false;
    std::pair<dev_t, ino_t> id;
    if (!pageId(*shared, &id)) return false;
    FailedSignals& f = failedSignals();
    std::lock_guard lock(f.mutex);
    auto it = f.lowest.find(id);
    return it != f.lowest.end() && value >= it->second;
}

Semaphore::RetireNote Semaphore::afterSubmit(uint64_t proxyValue, uint64_t value, bool superseded, bool submitted,
                                             EarlierSignals* earlier) {
    if (!submitted || superseded || kind == SemKind::Timeline) {
        if (earlier) earlier->releaseAll();  // only a binary/keyed publish carries them
        earlier = nullptr;
    }
    if (!submitted) {  // never reaches the GPU: nothing to publish; waiters on it must end
        if (kind != SemKind::KeyedMutex && shared) {
            noteSignalFailed(kind == SemKind::Timeline ? value : 1);
            shared->wakeAll();
        }
        return {nullptr, 0, 0};
    }
    if (kind == SemKind::Timeline) shared->markSubmitted(value);
    if (kind != SemKind::KeyedMutex && shared) noteSignalSubmitted(kind == SemKind::Timeline ? value : 1);
    // Superseded: not on the proxy (a higher value passed it there); the stream publishes it.
    if (superseded) return {this, 0, value};
    return {this, queuePublish(proxyValue, value, earlier), value};
}

void EarlierSignals::publishAndRelease() {
    for (uint32_t i = 0; i < count; ++i) sems[i]->shared->publish(values[i]);
    releaseAll();
}

void EarlierSignals::releaseAll() {
    for (uint32_t i = 0; i < count; ++i) sems[i]->release();
    count = 0;
}

bool Semaphore::publishRetired(uint64_t value, uint64_t ticket, bool block) {
    if (kind == SemKind::Timeline) {
        // Idempotent: the publisher's later publish of it changes nothing. Published here so
        // that this never waits behind the publisher's queue, where a renderer's reserved but
        // not yet submitted signal may sit.
        shared->publish(value);
        return true;
    }
    if (published(ticket)) return true;
    if (!block) return false;
    waitPublished(ticket);
    return true;
}

bool Semaphore::waitShared(uint64_t value, uint64_t deadlineNs, bool consume, const std::atomic<bool>* cancel) {
    SharedState& st = *shared;
    for (;;) {
        // seq first, then the cancel flag: a close() that bumps seq after this read wakes us.
        uint32_t seen = st.s().seq.load();
        if (cancel && cancel->load()) return false;
        // Checked reads (the page is untrusted, defect 8): an impossible page ends the wait;
        // the caller turns faulted() into the peer's error.
        PageReading page;
        if (st.read(&page) != batonSuccess) return false;
        if (kind == SemKind::Timeline ? page.value >= value
                                      : consume ? st.tryConsumeBinary() : page.value > page.consumed)
            return true;
        if (st.faulted()) return false;
        // A lost device or a failed signal of this value: nothing here will ever publish it.
        if (ctx->lost() || signalFailedFor(kind == SemKind::Timeline ? value : 1)) return false;
        const uint64_t now = monotonicNs();
        if (now >= deadlineNs) return false;
        // Poll the page first (spin_wait.h): a change that comes soon costs neither side a futex call.
        if (hostSpin.spin([&] { return st.s().seq.load() != seen || (cancel && cancel->load()); })) continue;
        // In slices: the waker may skip the wake-up (see kSharedWaitSliceNs).
        st.waitChange(seen, deadlineNs - now > kSharedWaitSliceNs ? now + kSharedWaitSliceNs : deadlineNs);
    }
}

bool semKindOfHandleType(int t, SemKind* kind) {
    switch (t) {
        case batonExternalSemaphoreHandleTypeOpaqueFd: *kind = SemKind::Binary; return true;
        case batonExternalSemaphoreHandleTypeTimelineSemaphoreFd: *kind = SemKind::Timeline; return true;
        case batonExternalSemaphoreHandleTypeKeyedMutex: *kind = SemKind::KeyedMutex; return true;
        default: return false;
    }
}

batonError_t Semaphore::checkExportDesc(SemKind kind, const batonExternalSemaphoreExportDesc& desc) {
    if (kind != SemKind::Timeline && desc.initialValue)
        return fail(batonErrorInvalidValue, "only a timeline has an initial value (got %llu); a keyed mutex takes "
                    "initialKey", desc.initialValue);
    if (kind != SemKind::KeyedMutex && desc.initialKey)
        return fail(batonErrorInvalidValue, "only a keyed mutex has an initial key (got %llu)", desc.initialKey);
    return batonSuccess;
}

batonError_t Semaphore::importClassified(Context* ctx, SemKind kind, int fd, FdClass cls, Semaphore** out) {
    if (cls == FdClass::BatonMemfd) return importFd(ctx, kind, fd, true, out);
    if (kind == SemKind::KeyedMutex)
        return fail(batonErrorInvalidResourceHandle, "fd %d is %s, not a baton keyed mutex", fd, fdClassName(cls));
    if (!ctx->nativeSemaphoreFd)
        return fail(batonErrorInvalidResourceHandle, "fd %d is %s; this device has no semaphore fds, so only baton's "
                    "portable semaphores can be imported", fd, fdClassName(cls));
    batonError_t e = checkNativeSemaphoreFd(fd, ctx->properties.vendorID);
    if (e == batonSuccess && cls == FdClass::NvidiaControl)
        e = probeSemaphoreFd(fd, kind == SemKind::Timeline, ctx->deviceUUID);
    // Only now, with the fd known to be one the driver accepts, does the driver see it.
    return e == batonSuccess ? importFd(ctx, kind, fd, false, out) : e;
}

}  // namespace baton
