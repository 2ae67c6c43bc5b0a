#include "window.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "vk.h"
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_vulkan.h>

namespace sandbox {
namespace {

void onFramebufferSize(GLFWwindow* w, int, int) {
    // The swapchain follows at the next acquire (OUT_OF_DATE is not reported everywhere).
    auto* self = static_cast<bool*>(glfwGetWindowUserPointer(w));
    *self = true;
}

}  // namespace

Window::Window(Gpu& gpu, int width, int height, const char* title) : gpu_(gpu) {
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    window_ = glfwCreateWindow(width, height, title, nullptr, nullptr);
    if (!window_) {
        std::fprintf(stderr, "baton-sandbox: cannot create a window (run with --headless)\n");
        std::exit(2);
    }
    glfwSetWindowUserPointer(window_, &needRecreate_);
    glfwSetFramebufferSizeCallback(window_, onFramebufferSize);
    VK_CHECK(glfwCreateWindowSurface(gpu.instance, window_, nullptr, &surface_));
}

Window::~Window() {
    gpu_.lockGraphics();
    vkQueueWaitIdle(gpu_.graphicsQueue);
    gpu_.unlockGraphics();
    destroyViews();
    for (VkSemaphore s : acquired_)
        if (s) vkDestroySemaphore(gpu_.device, s, nullptr);
    if (swapchain_) vkDestroySwapchainKHR(gpu_.device, swapchain_, nullptr);
    if (surface_) vkDestroySurfaceKHR(gpu_.instance, surface_, nullptr);
    if (window_) glfwDestroyWindow(window_);
}

void Window::destroyViews() {
    for (VkImageView v : views_) vkDestroyImageView(gpu_.device, v, nullptr);
    for (VkSemaphore s : renderDone_) vkDestroySemaphore(gpu_.device, s, nullptr);
    views_.clear();
    renderDone_.clear();
}

void Window::createSwapchain() {
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(gpu_.physicalDevice, surface_, &n, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(n);
    vkGetPhysicalDeviceSurfaceFormatsKHR(gpu_.physicalDevice, surface_, &n, formats.data());
    format_ = formats.empty() ? VkSurfaceFormatKHR{VK_FORMAT_B8G8R8A8_UNORM, VK_COLOR_SPACE_SRGB_NONLINEAR_KHR} : formats[0];
    // UNORM like the headless target, so that both show the same bytes.
    for (const auto& f : formats)
        if ((f.format == VK_FORMAT_B8G8R8A8_UNORM || f.format == VK_FORMAT_R8G8B8A8_UNORM) &&
            f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR) {
            format_ = f;
            break;
        }
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    for (VkSemaphore& s : acquired_) VK_CHECK(vkCreateSemaphore(gpu_.device, &sci, nullptr, &s));
    recreate();
}

void Window::recreate() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (w == 0 || h == 0) return;  // minimised: try again when it comes back
    gpu_.lockGraphics();
    vkQueueWaitIdle(gpu_.graphicsQueue);  // only ours: baton's queue may hold waits on our future signals
    gpu_.unlockGraphics();
    VkSurfaceCapabilitiesKHR caps{};
    VK_CHECK(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(gpu_.physicalDevice, surface_, &caps));
    VkExtent2D e = caps.currentExtent;
    if (e.width == UINT32_MAX) {
        e.width = std::clamp(static_cast<uint32_t>(w), caps.minImageExtent.width, caps.maxImageExtent.width);
        e.height = std::clamp(static_cast<uint32_t>(h), caps.minImageExtent.height, caps.maxImageExtent.height);
    }
    if (e.width == 0 || e.height == 0) return;
    uint32_t nm = 0;
    vkGetPhysicalDeviceSurfacePresentModesKHR(gpu_.physicalDevice, surface_, &nm, nullptr);
    std::vector<VkPresentModeKHR> modes(nm);
    vkGetPhysicalDeviceSurfacePresentModesKHR(gpu_.physicalDevice, surface_, &nm, modes.data());
    VkPresentModeKHR mode = VK_PRESENT_MODE_FIFO_KHR;
    if (!vsync_) {
        if (std::find(modes.begin(), modes.end(), VK_PRESENT_MODE_MAILBOX_KHR) != modes.end())
            mode = VK_PRESENT_MODE_MAILBOX_KHR;
        else if (std::find(modes.begin(), modes.end(), VK_PRESENT_MODE_IMMEDIATE_KHR) != modes.end())
            mode = VK_PRESENT_MODE_IMMEDIATE_KHR;
    }
    uint32_t count = std::max(caps.minImageCount + 1, 3u);
    if (caps.maxImageCount) count = std::min(count, caps.maxImageCount);
    VkSwapchainCreateInfoKHR ci{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    ci.surface = surface_;
    ci.minImageCount = count;
    ci.imageFormat = format_.format;
    ci.imageColorSpace = format_.colorSpace;
    ci.imageExtent = e;
    ci.imageArrayLayers = 1;
    ci.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    ci.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ci.preTransform = caps.currentTransform;
    ci.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)
                            ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                            : static_cast<VkCompositeAlphaFlagBitsKHR>(caps.supportedCompositeAlpha & -caps.supportedCompositeAlpha);
    ci.presentMode = mode;
    ci.clipped = VK_TRUE;
    ci.oldSwapchain = swapchain_;
    VkSwapchainKHR fresh = VK_NULL_HANDLE;
    VK_CHECK(vkCreateSwapchainKHR(gpu_.device, &ci, nullptr, &fresh));
    destroyViews();
    if (swapchain_) vkDestroySwapchainKHR(gpu_.device, swapchain_, nullptr);
    swapchain_ = fresh;
    extent_ = e;
    uint32_t ni = 0;
    vkGetSwapchainImagesKHR(gpu_.device, swapchain_, &ni, nullptr);
    images_.resize(ni);
    vkGetSwapchainImagesKHR(gpu_.device, swapchain_, &ni, images_.data());
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    for (VkImage img : images_) {
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = img;
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = format_.format;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView v = VK_NULL_HANDLE;
        VK_CHECK(vkCreateImageView(gpu_.device, &vci, nullptr, &v));
        views_.push_back(v);
        VkSemaphore s = VK_NULL_HANDLE;
        VK_CHECK(vkCreateSemaphore(gpu_.device, &sci, nullptr, &s));
        renderDone_.push_back(s);
    }
    ++generation_;
    needRecreate_ = false;
    if (imguiInit_) ImGui_ImplVulkan_SetMinImageCount(count);
}

bool Window::pump() {
    if (minimized()) glfwWaitEventsTimeout(0.05);
    else glfwPollEvents();
    return !glfwWindowShouldClose(window_);
}

bool Window::minimized() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    return w == 0 || h == 0 || glfwGetWindowAttrib(window_, GLFW_ICONIFIED);
}

void Window::initImGui() {
    ImGui_ImplGlfw_InitForVulkan(window_, true);
    imguiInit_ = true;
}

void Window::shutdownImGui() {
    if (imguiInit_) ImGui_ImplGlfw_Shutdown();
    imguiInit_ = false;
}

void Window::newImGuiFrame(double) { ImGui_ImplGlfw_NewFrame(); }

void Window::setVsync(bool vsync) {
    if (vsync == vsync_) return;
    vsync_ = vsync;
    needRecreate_ = true;
}

void Window::resize(int width, int height) { glfwSetWindowSize(window_, width, height); }

bool Window::acquire(uint32_t frameSlot, uint32_t* index, VkSemaphore* wait) {
    if (needRecreate_ || !swapchain_) {
        recreate();
        if (needRecreate_ || !swapchain_) return false;
    }
    VkSemaphore sem = acquired_[frameSlot % 4];
    VkResult r = vkAcquireNextImageKHR(gpu_.device, swapchain_, UINT64_MAX, sem, VK_NULL_HANDLE, index);
    if (r == VK_ERROR_OUT_OF_DATE_KHR) {
        needRecreate_ = true;
        return false;
    }
    if (r != VK_SUBOPTIMAL_KHR) VK_CHECK(r);
    *wait = sem;
    return true;
}

void Window::present(uint32_t index) {
    VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    pi.waitSemaphoreCount = 1;
    pi.pWaitSemaphores = &renderDone_[index];
    pi.swapchainCount = 1;
    pi.pSwapchains = &swapchain_;
    pi.pImageIndices = &index;
    gpu_.lockGraphics();
    VkResult r = vkQueuePresentKHR(gpu_.graphicsQueue, &pi);
    gpu_.unlockGraphics();
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) needRecreate_ = true;
    else VK_CHECK(r);
}

}  // namespace sandbox
