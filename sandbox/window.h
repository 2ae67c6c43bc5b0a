// The window: GLFW + a Vulkan swapchain (resize, minimise, vsync on/off), and the
// platform hooks of the run loop. Only in baton-sandbox, never in the headless binary.
#pragma once

#include <vector>

#include "gpu.h"
#include "platform.h"

struct GLFWwindow;

namespace sandbox {

class Window final : public Platform, public Target {
public:
    // Creates the GLFW window (GLFW must be initialised) and the surface for gpu's instance.
    Window(Gpu& gpu, int width, int height, const char* title);
    ~Window() override;
    // After gpu.createDevice: the swapchain.
    void createSwapchain();
    VkSurfaceKHR surface() const { return surface_; }
    GLFWwindow* handle() const { return window_; }

    // Platform
    const char* name() const override { return "window"; }
    Target& target() override { return *this; }
    bool pump() override;
    bool minimized() override;
    void initImGui() override;
    void shutdownImGui() override;
    void newImGuiFrame(double dt) override;
    void setVsync(bool vsync) override;
    bool hasVsync() const override { return true; }
    void resize(int width, int height) override;

    // Target
    VkFormat format() const override { return format_.format; }
    VkExtent2D extent() const override { return extent_; }
    uint32_t imageCount() const override { return static_cast<uint32_t>(images_.size()); }
    VkImage image(uint32_t i) const override { return images_[i]; }
    VkImageView view(uint32_t i) const override { return views_[i]; }
    VkImageLayout finalLayout() const override { return VK_IMAGE_LAYOUT_PRESENT_SRC_KHR; }
    uint64_t generation() const override { return generation_; }
    bool acquire(uint32_t frameSlot, uint32_t* index, VkSemaphore* wait) override;
    VkSemaphore renderDone(uint32_t index) const override { return renderDone_[index]; }
    void present(uint32_t index) override;

private:
    void recreate();
    void destroyViews();

    Gpu& gpu_;
    GLFWwindow* window_ = nullptr;
    VkSurfaceKHR surface_ = VK_NULL_HANDLE;
    VkSwapchainKHR swapchain_ = VK_NULL_HANDLE;
    VkSurfaceFormatKHR format_{};
    VkExtent2D extent_{};
    bool vsync_ = true;
    bool needRecreate_ = false;
    bool imguiInit_ = false;
    uint64_t generation_ = 0;
    std::vector<VkImage> images_;
    std::vector<VkImageView> views_;
    std::vector<VkSemaphore> renderDone_;  // per image: signaled by the submit, waited by present
    VkSemaphore acquired_[4] = {};         // per frame in flight: signaled by acquire
};

}  // namespace sandbox
