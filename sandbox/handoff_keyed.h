// The handoff over baton's emulated keyed mutex (the D3D11 IDXGIKeyedMutex pattern), one
// mutex per slot, as tests/test_keyed_mutex.cpp uses it:
//   producer stream: acquire(slot, key 0) -> write the frame -> release(slot, key 1);
//   consumer: acquire(slot, key 1) on a stream of its own -> show it -> once the graphics
//   submit that last reads it completed, release(slot, key 0).
// A graphics queue cannot take a keyed mutex in its own vkQueueSubmit2, so the consumer's
// acquire is a zero-timeout try on its stream, polled with batonStreamQuery once a frame
// (nothing blocks; no GPU wait on the producer at all), and its release waits on the
// "released" timeline the renderer's submit signals. Order is FIFO only (a keyed mutex
// hands slots over in order; mailbox is treated as FIFO). Two timelines remain as counters
// for the panel and the producer's host throttle: "ready" (signaled after each release
// with key 1) and "released" (the renderer's submits).
#pragma once

#include <vector>

#include "gpu.h"
#include "handoff.h"
#include "handoff_ring.h"

namespace sandbox {

class KeyedRing final : public Handoff {
public:
    KeyedRing(Gpu& gpu, const HandoffConfig& config);
    // Waits for the consumer stream. The caller drained both sides first (releaseAll,
    // producer synchronize, renderer idle).
    ~KeyedRing() override;

    const HandoffConfig& config() const override { return config_; }
    VkImage image(uint32_t slot) const override { return images_[slot].image; }
    VkImageView view(uint32_t slot) const override { return images_[slot].view; }
    batonError_t produceBegin(batonStream_t stream, uint64_t sequence, uint32_t* slot) override;
    batonError_t produceEnd(batonStream_t stream, uint64_t sequence) override;
    bool waitReady(uint64_t sequence, uint64_t timeoutNs) override;
    bool acquire(PickMode mode, ConsumerFrame* out) override;
    uint64_t nextWanted() const override { return shown_ + 1; }
    // Releases what the consumer holds and takes and gives back every frame up to
    // lastEnqueued on the consumer stream, so that the producer stream drains. Returns false
    // (no graphics signal needed).
    bool releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) override;
    uint32_t semaphores(SemaphoreView* out, uint32_t max) const override;

private:
    // One mutex per slot, two handles of it (each is one party, as a D3D device's
    // IDXGIKeyedMutex): the producer's (exported) and the consumer's (imported again here).
    struct Slot {
        batonExternalSemaphore_t producerMutex = nullptr, consumerMutex = nullptr;
    };
    uint32_t slotOf(uint64_t sequence) const { return static_cast<uint32_t>((sequence - 1) % config_.depth); }
    void enqueueTry(uint64_t sequence);
    bool resolveTry(bool block);  // true once trying_'s result is known (tryResult_)
    void enqueueRelease(uint64_t sequence, uint64_t afterReleased);

    Gpu& gpu_;
    HandoffConfig config_;
    std::vector<RingImage> images_;
    std::vector<Slot> slots_;
    batonExternalSemaphore_t ready_ = nullptr, released_ = nullptr;
    batonStream_t consumer_ = nullptr;
    uint64_t shown_ = 0;        // the sequence shown (held by the consumer)
    uint64_t trying_ = 0;       // a zero-timeout acquire of this sequence is enqueued
    batonError_t tryResult_ = batonErrorNotReady;  // its result once the stream reported it
    uint64_t released_v_ = 0;   // last value the renderer was told to signal on released
};

}  // namespace sandbox
