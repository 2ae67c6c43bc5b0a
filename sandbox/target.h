// Where the renderer draws: a window's swapchain (window.h) or offscreen images
// (headless_target.h). Same render pass, same pipelines, same panel: the headless PNG is
// exactly what the window would show.
#pragma once

#include <cstdint>

#include "vk.h"

namespace sandbox {

class Target {
public:
    virtual ~Target() = default;
    virtual VkFormat format() const = 0;
    virtual VkExtent2D extent() const = 0;
    virtual uint32_t imageCount() const = 0;
    virtual VkImage image(uint32_t index) const = 0;
    virtual VkImageView view(uint32_t index) const = 0;
    // Layout the image must be left in after drawing (PRESENT_SRC_KHR for a swapchain).
    virtual VkImageLayout finalLayout() const = 0;
    // Bumped whenever the images change (swapchain recreated): framebuffers must follow.
    virtual uint64_t generation() const = 0;
    // Picks the image for this frame. *wait: a binary semaphore the submit must wait for
    // (or VK_NULL_HANDLE). Returns false when there is nothing to draw into this time
    // (minimised, swapchain out of date and being recreated).
    virtual bool acquire(uint32_t frameSlot, uint32_t* index, VkSemaphore* wait) = 0;
    // A binary semaphore the submit must signal for present (or VK_NULL_HANDLE).
    virtual VkSemaphore renderDone(uint32_t index) const = 0;
    virtual void present(uint32_t index) = 0;
};

}  // namespace sandbox
