#include "sync/semaphore.h"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <cstring>
#include <unistd.h>

#include "exec/context.h"
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
            std::lock_guard lock(publishMutex_);
        }
        publishCv_.notify_all();
        publisher_.join();  // at most one wait slice (kPublisherSliceNs) when a signal never comes
    }
    // After the publisher drained: releases whose work completed have been published.
    if (keyedMutex) keyedMutex->abandonIfHeld();
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
    if (kind == SemKind::Timeline) {
        uint64_t v = 0;
        ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, s->vk, &v);
        s->localPending.store(v);
    }
    *out = s.release();
    return batonSuccess;
}

batonError_t Semaphore::reserveSignal(uint64_t v, uint64_t knownCurrent, bool byRenderer) {
    batonError_t e = reserveValue(v, knownCurrent);
    if (e == batonSuccess) {
        std::atomic<uint64_t>& mark = byRenderer ? rendererReserved : streamReserved;
        uint64_t cur = mark.load(std::memory_order_relaxed);
        while (cur < v && !mark.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
        }
    }
    return e;
}

batonError_t Semaphore::reserveValue(uint64_t v, uint64_t knownCurrent) {
    if (shared) {
        uint64_t floor = 0;
        if (!shared->reserve(v, &floor))
            return fail(batonErrorInvalidValue,
                        "timeline signal value %llu is not above %llu, the highest value signaled or pending",
                        static_cast<unsigned long long>(v), static_cast<unsigned long long>(floor));
        return batonSuccess;
    }
    uint64_t current = knownCurrent;
    if (current == UINT64_MAX) ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, vk, &current);
    uint64_t p = localPending.load(std::memory_order_acquire);
    for (;;) {
        uint64_t floor = p > current ? p : current;
        if (v <= floor)
            return fail(batonErrorInvalidValue,
                        "timeline signal value %llu is not above %llu, the highest value signaled or pending",
                        static_cast<unsigned long long>(v), static_cast<unsigned long long>(floor));
        if (localPending.compare_exchange_weak(p, v, std::memory_order_acq_rel)) return batonSuccess;
    }
}

uint64_t Semaphore::queuePublish(uint64_t proxyValue, uint64_t value) {
    std::unique_lock lock(publishMutex_);
    // Bounded ring: if a thousand signals are in flight, wait for the GPU to retire some.
    publishCv_.wait(lock, [&] { return publishTail_ - publishHead_ < kPublishRing || stopping_.load(); });
    publishRing_[publishTail_ % kPublishRing] = {proxyValue, value, false};
    uint64_t ticket = publishTail_++;
    lock.unlock();
    publishCv_.notify_all();
    return ticket;
}

bool Semaphore::published(uint64_t ticket) {
    if (publishedCount_.load(std::memory_order_acquire) > ticket) return true;
    std::lock_guard lock(publishMutex_);
    return publishHead_ > ticket || (ticket < publishTail_ && publishRing_[ticket % kPublishRing].done);
}

void Semaphore::waitPublished(uint64_t ticket) {
    std::unique_lock lock(publishMutex_);
    publishCv_.wait(lock, [&] {
        return publishHead_ > ticket || (ticket < publishTail_ && publishRing_[ticket % kPublishRing].done) ||
               stopping_.load();
    });
}

// Publishes whatever signalProxy has passed. Entries are queued in submission order, but a
// renderer may take a value's signal info (queued then) and submit it after a stream signals
// a lower one: so the thread waits for the lowest pending value, not for the oldest entry,
// and a signal the GPU has passed is never held up behind one nobody submitted yet.
void Semaphore::publisherLoop() {
    for (;;) {
        uint64_t lowest = UINT64_MAX;
        {
            std::unique_lock lock(publishMutex_);
            publishCv_.wait(lock, [&] { return publishTail_ != publishHead_ || stopping_.load(); });
            if (publishTail_ == publishHead_) return;  // stopping with nothing left to publish
            for (uint64_t t = publishHead_; t < publishTail_; ++t) {
                const PublishEntry& e = publishRing_[t % kPublishRing];
                if (!e.done && e.proxyValue < lowest) lowest = e.proxyValue;
            }
        }
        // Wait for the GPU to reach the signal, in slices so that a destructor is not held up
        // by a signal that never comes. (Not VK_SEMAPHORE_WAIT_ANY_BIT with a host-signaled
        // wake-up semaphore: Mesa's drivers implement a wait for any of several semaphores as
        // a clock-polling loop, a core per waiting thread.) New entries queued meanwhile are
        // higher (values only grow), so `lowest` stays the one to wait for.
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &signalProxy, &lowest};
        VkResult r = ctx->vkd.vkWaitSemaphores(ctx->device, &wi, kPublisherSliceNs);
        uint64_t reached = 0;
        ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, signalProxy, &reached);
        if (r != VK_SUCCESS || reached < lowest) {
            if (stopping_.load()) return;  // destroyed with a signal that never reached the GPU
            continue;
        }
        // Publish every entry the GPU has passed (the shared state is outside our lock).
        uint64_t due[kPublishRing / 16];
        uint32_t n = 0;
        {
            std::lock_guard lock(publishMutex_);
            for (uint64_t t = publishHead_; t < publishTail_ && n < std::size(due); ++t) {
                const PublishEntry& e = publishRing_[t % kPublishRing];
                if (!e.done && e.proxyValue <= reached) due[n++] = t;
            }
        }
        uint64_t highest = 0;
        for (uint32_t i = 0; i < n; ++i) {
            const PublishEntry& e = publishRing_[due[i] % kPublishRing];  // not reused until done
            if (kind == SemKind::Timeline) {
                if (e.value > highest) highest = e.value;
            } else if (kind == SemKind::KeyedMutex) {
                keyedMutex->release(e.value);  // e.value: the key
            } else {
                shared->signalBinary();
            }
            notePublish(ctx, this, e.value);
        }
        if (kind == SemKind::Timeline && highest) shared->publish(highest);
        {
            std::lock_guard lock(publishMutex_);
            for (uint32_t i = 0; i < n; ++i) publishRing_[due[i] % kPublishRing].done = true;
            while (publishHead_ < publishTail_ && publishRing_[publishHead_ % kPublishRing].done) ++publishHead_;
            publishedCount_.store(publishHead_, std::memory_order_release);
        }
        publishCv_.notify_all();
    }
}

void Semaphore::noteSubmitted(uint64_t v) {
    uint64_t cur = streamSubmitted.load(std::memory_order_relaxed);
    while (cur < v && !streamSubmitted.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
    }
}

batonError_t Semaphore::startMirror() {
    std::call_once(mirrorOnce_, [this] {
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
            VkSemaphoreSignalInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, waitProxy, v};
            if (ctx->vkd.vkSignalSemaphore(ctx->device, &si) != VK_SUCCESS) return;
            mirrored = v;
            continue;
        }
        shared->waitChange(seen, 0);
    }
}

uint64_t Semaphore::currentValue() const {
    if (keyedMutex) return keyedMutex->lastKey();
    if (shared) {
        if (kind == SemKind::Binary) return shared->s().value.load() > shared->s().consumed.load() ? 1 : 0;
        uint64_t v = shared->s().value.load();
        // Waiters of this process may pass a value on the GPU (on signalProxy) before the
        // publisher thread has published it: what the proxy reached is reached, so publish it
        // now rather than let a reader see less than work that depended on it.
        uint64_t reached = 0;
        if (kind == SemKind::Timeline && signalProxy &&
            ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, signalProxy, &reached) == VK_SUCCESS && reached > v) {
            shared->publish(reached);
            v = reached;
        }
        return v;
    }
    uint64_t v = 0;
    if (kind == SemKind::Timeline) ctx->vkd.vkGetSemaphoreCounterValue(ctx->device, vk, &v);
    return v;
}

uint64_t Semaphore::pendingValue() const {
    if (keyedMutex) return keyedMutex->held() ? 1 : 0;
    if (shared) return kind == SemKind::Timeline ? shared->s().pending.load() : 0;
    uint64_t c = currentValue(), p = localPending.load();
    return p > c ? p : c;
}

batonError_t Semaphore::hostWait(uint64_t value, uint64_t timeoutNs) {
    if (!shared) {
        if (kind != SemKind::Timeline)
            return fail(batonErrorNotSupported, "Vulkan cannot wait for a native binary semaphore on the host");
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &vk, &value};
        VkResult r = ctx->vkd.vkWaitSemaphores(ctx->device, &wi, timeoutNs);
        if (r == VK_TIMEOUT) return fail(batonErrorTimeout, "timeline did not reach %llu in time",
                                         static_cast<unsigned long long>(value));
        return r == VK_SUCCESS ? batonSuccess : failVk(r, "vkWaitSemaphores");
    }
    uint64_t deadline = timeoutNs == UINT64_MAX ? 0 : monotonicNs() + timeoutNs;
    if (deadline == 0 && timeoutNs != UINT64_MAX) deadline = 1;
    for (;;) {
        uint32_t seen = shared->s().seq.load();
        // Checked (the page is untrusted): an impossible page is the peer's error (IllegalState).
        PageReading page;
        if (batonError_t e = shared->read(&page); e != batonSuccess) return e;
        bool reached = kind == SemKind::Timeline ? page.value >= value : page.value > page.consumed;
        if (reached) return batonSuccess;
        if (timeoutNs == 0 || !shared->waitChange(seen, deadline))
            return fail(batonErrorTimeout, "semaphore not reached within the timeout");
    }
}

}  // namespace baton
