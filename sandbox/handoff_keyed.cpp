#include "handoff_keyed.h"

#include <chrono>
#include <thread>
#include <unistd.h>

namespace sandbox {
namespace {

constexpr unsigned kDrainTimeoutMs = 5000;  // teardown: a frame the producer enqueued must come by then

batonExternalSemaphore_t exportCounter() {
    batonExternalSemaphoreExportDesc desc{};
    desc.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    desc.flags = batonExportFlagPortable;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    BATON_CHECK(batonExportExternalSemaphore(&fd, &sem, &desc));
    close(fd);
    return sem;
}

void acquireKey(batonExternalSemaphore_t mutex, uint64_t key, unsigned timeoutMs, batonStream_t stream) {
    batonExternalSemaphoreWaitParams wp{};
    wp.params.keyedMutex.key = key;
    wp.params.keyedMutex.timeoutMs = timeoutMs;
    BATON_CHECK(batonWaitExternalSemaphoresAsync(&mutex, &wp, 1, stream));
}

void releaseKey(batonExternalSemaphore_t mutex, uint64_t key, batonStream_t stream) {
    batonExternalSemaphoreSignalParams sp{};
    sp.params.keyedMutex.key = key;
    BATON_CHECK(batonSignalExternalSemaphoresAsync(&mutex, &sp, 1, stream));
}

}  // namespace

KeyedRing::KeyedRing(Gpu& gpu, const HandoffConfig& config) : gpu_(gpu), config_(config) {
    if (config_.depth < 2) config_.depth = 2;
    createRingImages(gpu, config_.extent, config_.depth, &images_);
    slots_.resize(config_.depth);
    for (Slot& s : slots_) {
        batonExternalSemaphoreExportDesc desc{};
        desc.type = batonExternalSemaphoreHandleTypeKeyedMutex;
        desc.initialKey = 0;  // free for the producer
        int fd = -1;
        BATON_CHECK(batonExportExternalSemaphore(&fd, &s.producerMutex, &desc));
        batonExternalSemaphoreHandleDesc hd{};
        hd.type = batonExternalSemaphoreHandleTypeKeyedMutex;
        hd.handle.fd = fd;
        if (batonError_t e = batonImportExternalSemaphore(&s.consumerMutex, &hd)) {
            close(fd);
            BATON_CHECK(e);
        }
    }
    ready_ = exportCounter();
    released_ = exportCounter();
    BATON_CHECK(batonStreamCreate(&consumer_));
}

KeyedRing::~KeyedRing() {
    batonStreamSynchronize(consumer_);
    batonStreamDestroy(consumer_);
    for (Slot& s : slots_) {
        batonDestroyExternalSemaphore(s.consumerMutex);
        batonDestroyExternalSemaphore(s.producerMutex);
    }
    batonDestroyExternalSemaphore(ready_);
    batonDestroyExternalSemaphore(released_);
    destroyRingImages(gpu_, &images_);
}

batonError_t KeyedRing::produceBegin(batonStream_t stream, uint64_t sequence, uint32_t* slot) {
    *slot = slotOf(sequence);
    batonExternalSemaphoreWaitParams wp{};
    wp.params.keyedMutex.key = 0;  // the consumer gave it back
    wp.params.keyedMutex.timeoutMs = BATON_INFINITE;
    return batonWaitExternalSemaphoresAsync(&slots_[*slot].producerMutex, &wp, 1, stream);
}

batonError_t KeyedRing::produceEnd(batonStream_t stream, uint64_t sequence) {
    batonExternalSemaphoreSignalParams sp{};
    sp.params.keyedMutex.key = 1;  // for the consumer
    batonError_t e = batonSignalExternalSemaphoresAsync(&slots_[slotOf(sequence)].producerMutex, &sp, 1, stream);
    if (e != batonSuccess) return e;
    batonExternalSemaphoreSignalParams cp{};
    cp.params.fence.value = sequence;  // the counter: after the release
    return batonSignalExternalSemaphoresAsync(&ready_, &cp, 1, stream);
}

void KeyedRing::enqueueTry(uint64_t sequence) {
    acquireKey(slots_[slotOf(sequence)].consumerMutex, 1, 0, consumer_);
    trying_ = sequence;
    tryResult_ = batonErrorNotReady;
}

void KeyedRing::enqueueRelease(uint64_t sequence, uint64_t afterReleased) {
    if (afterReleased) {  // the graphics submits that read it are done
        batonExternalSemaphoreWaitParams wp{};
        wp.params.fence.value = afterReleased;
        BATON_CHECK(batonWaitExternalSemaphoresAsync(&released_, &wp, 1, consumer_));
    }
    releaseKey(slots_[slotOf(sequence)].consumerMutex, 0, consumer_);
}

bool KeyedRing::resolveTry(bool block) {
    if (!trying_) return false;
    if (tryResult_ != batonErrorNotReady) return true;
    batonError_t e = block ? batonStreamSynchronize(consumer_) : batonStreamQuery(consumer_);
    if (e == batonErrorNotReady) return false;
    tryResult_ = e;
    return true;
}

bool KeyedRing::waitReady(uint64_t sequence, uint64_t timeoutNs) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeoutNs);
    if (batonExternalSemaphoreHostWait(ready_, sequence, timeoutNs) != batonSuccess) return false;
    // The producer released it; give the consumer stream's try a moment to say so.
    while (trying_ == sequence && !resolveTry(false) && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    return true;
}

bool KeyedRing::acquire(PickMode, ConsumerFrame* out) {
    const uint64_t want = shown_ + 1;
    if (!trying_) {
        // Try only once the host saw the producer release it with key 1 ("ready" follows the
        // release): then the zero-timeout acquire succeeds unless something is wrong.
        batonExternalSemaphoreInfo info{};
        BATON_CHECK(batonExternalSemaphoreGetInfo(ready_, &info));
        if (info.currentValue >= want) enqueueTry(want);
    }
    if (trying_ && resolveTry(false)) {
        const batonError_t e = tryResult_;
        trying_ = 0;
        tryResult_ = batonErrorNotReady;
        if (e == batonSuccess || e == batonErrorKeyedMutexAbandoned) {
            *out = ConsumerFrame{};
            out->sequence = want;
            out->animFrame = config_.animBase + want;
            out->slot = slotOf(want);
            out->fresh = true;
            out->readyDone = true;  // held on the host side already: no GPU wait at all
            // This submit reads `want`; once it completes, the slot shown so far is free.
            BATON_CHECK(batonGetSignalSubmitInfo(released_, want, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &out->signals[0]));
            out->signalCount = 1;
            released_v_ = want;
            if (shown_) enqueueRelease(shown_, want);
            shown_ = want;
            return true;
        }
        if (e != batonErrorTimeout) BATON_CHECK(e);
        // Timed out (it should not, see above): try again next frame.
    }
    if (shown_ == 0) return false;
    *out = ConsumerFrame{};
    out->sequence = shown_;
    out->animFrame = config_.animBase + shown_;
    out->slot = slotOf(shown_);
    return true;
}

bool KeyedRing::releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) {
    // A try still in flight: if it got the mutex, give that slot back at once (never shown).
    uint64_t next = shown_ + 1;
    if (trying_) {
        resolveTry(true);
        if (tryResult_ == batonSuccess || tryResult_ == batonErrorKeyedMutexAbandoned) {
            releaseKey(slots_[slotOf(trying_)].consumerMutex, 0, consumer_);
            next = trying_ + 1;
        }
        trying_ = 0;
        tryResult_ = batonErrorNotReady;
    }
    // The slot on screen: after the renderer's last submit (the signal returned here).
    const uint64_t last = released_v_ + 1;
    BATON_CHECK(batonGetSignalSubmitInfo(released_, last, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, signal));
    released_v_ = last;
    if (shown_) enqueueRelease(shown_, last);
    // Everything else the producer enqueued: take it and give it back, in order, so that
    // its stream (waiting for key 0 on those slots) drains.
    for (uint64_t s = next; s <= lastEnqueued; ++s) {
        acquireKey(slots_[slotOf(s)].consumerMutex, 1, kDrainTimeoutMs, consumer_);
        releaseKey(slots_[slotOf(s)].consumerMutex, 0, consumer_);
    }
    return true;
}

uint32_t KeyedRing::semaphores(SemaphoreView* out, uint32_t max) const {
    static const char* names[8] = {"slot 0 mutex", "slot 1 mutex", "slot 2 mutex", "slot 3 mutex",
                                   "slot 4 mutex", "slot 5 mutex", "slot 6 mutex", "slot 7 mutex"};
    uint32_t n = 0;
    if (n < max) out[n++] = {"ready", ready_};
    if (n < max) out[n++] = {"released", released_};
    for (uint32_t i = 0; i < slots_.size() && i < 8 && n < max; ++i) out[n++] = {names[i], slots_[i].producerMutex};
    return n;
}

}  // namespace sandbox
