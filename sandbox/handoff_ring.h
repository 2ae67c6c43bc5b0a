// The handoff as a ring of images and two baton timelines:
//   ready    = n: the producer finished sequence n (signaled on the stream);
//   released = n: the consumer is done with every sequence <= n (signaled by the renderer's
//                 submit that reads the next one; skipped frames are released with it).
// Sequence n lives in slot (n - 1) % depth; the producer waits released >= n - depth first.
#pragma once

#include <vector>

#include "gpu.h"
#include "handoff.h"

namespace sandbox {

// The ring's images (RGBA8, storage + sampled, GENERAL for life) on the renderer's device;
// shared by the in-process handoffs.
struct RingImage {
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkImageView view = VK_NULL_HANDLE;
};
void createRingImages(Gpu& gpu, VkExtent2D extent, uint32_t count, std::vector<RingImage>* out);
void destroyRingImages(Gpu& gpu, std::vector<RingImage>* images);

class FrameRing final : public Handoff {
public:
    // Creates images and semaphores (setup time: exports cost hundreds of microseconds).
    FrameRing(Gpu& gpu, const HandoffConfig& config);
    ~FrameRing() override;

    const HandoffConfig& config() const override { return config_; }
    VkImage image(uint32_t slot) const override { return slots_[slot].image; }
    VkImageView view(uint32_t slot) const override { return slots_[slot].view; }
    batonError_t produceBegin(batonStream_t stream, uint64_t sequence, uint32_t* slot) override;
    batonError_t produceEnd(batonStream_t stream, uint64_t sequence) override;
    bool waitReady(uint64_t sequence, uint64_t timeoutNs) override;
    bool acquire(PickMode mode, ConsumerFrame* out) override;
    uint64_t nextWanted() const override { return shown_ + 1; }
    bool releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) override;
    uint32_t semaphores(SemaphoreView* out, uint32_t max) const override;

private:
    bool fill(uint64_t sequence, ConsumerFrame* out);

    Gpu& gpu_;
    HandoffConfig config_;
    std::vector<RingImage> slots_;
    batonExternalSemaphore_t ready_ = nullptr, released_ = nullptr;
    uint64_t shown_ = 0;     // consumer: the sequence it shows
    uint64_t released_v_ = 0; // consumer: the last value it had signaled on `released`
};

}  // namespace sandbox
