// The renderer's own Vulkan instance and device, as an engine would create them. baton
// attaches to this device later (attach.h); it never owns it.
//
// Queues: the graphics queue comes from the first graphics family (that can present, when
// there is a surface). baton gets a compute queue of its own: from a compute-only family
// where the GPU has one (NVIDIA: family 2), else a second queue of the graphics family,
// else (lavapipe: one family, one queue) the graphics queue itself, shared under
// `queueMutex`, which the renderer takes for its submits/presents and baton through the
// lock callbacks.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "vk.h"

namespace sandbox {

struct GpuOptions {
    bool validation = false;                   // VK_LAYER_KHRONOS_validation + count its errors
    bool preferCpu = false;                    // pick lavapipe even where a GPU exists
    std::vector<const char*> instanceExtensions;  // e.g. what GLFW needs for a surface
};

struct Gpu {
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VkPhysicalDevice physicalDevice = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t apiVersion = VK_API_VERSION_1_3;
    VkPhysicalDeviceProperties properties{};
    VkPhysicalDeviceMemoryProperties memory{};

    uint32_t graphicsFamily = 0;
    VkQueue graphicsQueue = VK_NULL_HANDLE;
    uint32_t computeFamily = 0, computeIndex = 0;  // the queue lent to baton
    VkQueue computeQueue = VK_NULL_HANDLE;
    bool queueShared = false;  // computeQueue == graphicsQueue
    std::mutex queueMutex;     // guards the graphics queue when shared

    bool calibratedTimestamps = false;
    uint32_t graphicsTimestampBits = 0, computeTimestampBits = 0;

    // What the device was created with; baton's attach checks them.
    std::vector<const char*> enabledExtensions;
    VkPhysicalDeviceVulkan13Features features13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features features12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};

    std::atomic<unsigned> validationErrors{0};
    std::atomic<unsigned> validationWarnings{0};
    std::atomic<unsigned> validationSuppressed{0};  // known layer false positives (gpu.cpp)

    Gpu() = default;
    Gpu(const Gpu&) = delete;
    Gpu& operator=(const Gpu&) = delete;
    ~Gpu();

    // Step 1: instance (+ debug messenger). Aborts with a readable message on failure.
    void createInstance(const GpuOptions& options);
    // Step 2: pick the device and create it with its queues. surface may be null (headless).
    void createDevice(const GpuOptions& options, VkSurfaceKHR surface);

    uint32_t memoryType(uint32_t typeBits, VkMemoryPropertyFlags want) const;
    // Whether the queue family set {graphics, compute} needs CONCURRENT sharing.
    bool splitFamilies() const { return graphicsFamily != computeFamily; }

    // Records with fn into a one-time command buffer, submits it to the graphics queue and
    // waits (setup-time work: layout transitions, font upload).
    void runOnce(const std::function<void(VkCommandBuffer)>& fn);

    // Lock around the renderer's own vkQueueSubmit2 / vkQueuePresentKHR when shared.
    void lockGraphics() { if (queueShared) queueMutex.lock(); }
    void unlockGraphics() { if (queueShared) queueMutex.unlock(); }
};

// Host time in nanoseconds (CLOCK_MONOTONIC), the clock every sandbox timestamp uses.
uint64_t nowNs();

}  // namespace sandbox
