// An offscreen target: one image per frame in flight, in the swapchain's usual format, so
// that a headless run draws exactly what the window shows.
#pragma once

#include "gpu.h"
#include "target.h"

namespace sandbox {

class HeadlessTarget final : public Target {
public:
    static constexpr VkFormat kFormat = VK_FORMAT_B8G8R8A8_UNORM;
    HeadlessTarget(Gpu& gpu, VkExtent2D extent, uint32_t count);
    ~HeadlessTarget() override;

    VkFormat format() const override { return kFormat; }
    VkExtent2D extent() const override { return extent_; }
    uint32_t imageCount() const override { return count_; }
    VkImage image(uint32_t i) const override { return images_[i]; }
    VkImageView view(uint32_t i) const override { return views_[i]; }
    VkImageLayout finalLayout() const override { return VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL; }
    uint64_t generation() const override { return 1; }
    bool acquire(uint32_t frameSlot, uint32_t* index, VkSemaphore* wait) override;
    VkSemaphore renderDone(uint32_t) const override { return VK_NULL_HANDLE; }
    void present(uint32_t) override {}

private:
    Gpu& gpu_;
    VkExtent2D extent_;
    uint32_t count_;
    VkImage images_[4] = {};
    VkImageView views_[4] = {};
    VkDeviceMemory memory_[4] = {};
};

}  // namespace sandbox
