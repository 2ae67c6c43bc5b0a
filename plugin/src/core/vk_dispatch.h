// Per-instance and per-device Vulkan function tables. The plugin calls Vulkan only through
// these, loaded from the loader (standalone) or from the host's vkGetInstanceProcAddr
// (attached): no process-global function pointers, so several contexts, hosts and loaders
// can coexist in one process.
#pragma once

#include <vulkan/vulkan_core.h>

namespace baton {

#define BATON_INSTANCE_FUNCTIONS(X)                  \
    X(vkDestroyInstance)                             \
    X(vkEnumeratePhysicalDevices)                    \
    X(vkGetPhysicalDeviceProperties)                 \
    X(vkGetPhysicalDeviceProperties2)                \
    X(vkGetPhysicalDeviceFeatures2)                  \
    X(vkGetPhysicalDeviceQueueFamilyProperties)      \
    X(vkGetPhysicalDeviceMemoryProperties)           \
    X(vkEnumerateDeviceExtensionProperties)          \
    X(vkGetPhysicalDeviceExternalSemaphoreProperties) \
    X(vkGetPhysicalDeviceExternalBufferProperties)   \
    X(vkGetPhysicalDeviceImageFormatProperties2)     \
    X(vkCreateDevice)                                \
    X(vkGetDeviceProcAddr)

#define BATON_DEBUG_FUNCTIONS(X)          \
    X(vkCreateDebugUtilsMessengerEXT)     \
    X(vkDestroyDebugUtilsMessengerEXT)

#define BATON_DEVICE_FUNCTIONS(X)       \
    X(vkDestroyDevice)                  \
    X(vkGetDeviceQueue)                 \
    X(vkDeviceWaitIdle)                 \
    X(vkQueueSubmit2)                   \
    X(vkCreateSemaphore)                \
    X(vkDestroySemaphore)               \
    X(vkGetSemaphoreCounterValue)       \
    X(vkWaitSemaphores)                 \
    X(vkSignalSemaphore)                \
    X(vkCreateCommandPool)              \
    X(vkDestroyCommandPool)             \
    X(vkAllocateCommandBuffers)         \
    X(vkFreeCommandBuffers)             \
    X(vkBeginCommandBuffer)             \
    X(vkEndCommandBuffer)               \
    X(vkCreateQueryPool)                \
    X(vkDestroyQueryPool)               \
    X(vkGetQueryPoolResults)            \
    X(vkCmdResetQueryPool)              \
    X(vkCmdWriteTimestamp2)             \
    X(vkCmdPipelineBarrier2)            \
    X(vkCreateBuffer)                   \
    X(vkDestroyBuffer)                  \
    X(vkCreateImage)                    \
    X(vkDestroyImage)                   \
    X(vkGetImageMemoryRequirements)     \
    X(vkGetBufferMemoryRequirements2)   \
    X(vkGetImageMemoryRequirements2)    \
    X(vkAllocateMemory)                 \
    X(vkFreeMemory)                     \
    X(vkBindBufferMemory)               \
    X(vkBindImageMemory)                \
    X(vkMapMemory)                      \
    X(vkUnmapMemory)

// Optional: loaded when the device has them, nullptr otherwise (memory fds: exportable frame
// memory and channel images; calibrated timestamps: telemetry's GPU-to-host clock).
#define BATON_OPTIONAL_DEVICE_FUNCTIONS(X) \
    X(vkGetMemoryFdKHR)                    \
    X(vkGetCalibratedTimestampsEXT)

// Only present when the device enabled VK_KHR_external_semaphore_fd.
#define BATON_SEMAPHORE_FD_FUNCTIONS(X) \
    X(vkGetSemaphoreFdKHR)              \
    X(vkImportSemaphoreFdKHR)

// Optional: present when the device enabled VK_KHR_external_memory_fd (checked at use).

#define BATON_DECLARE_PFN(name) PFN_##name name = nullptr;

struct InstanceTable {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
    BATON_INSTANCE_FUNCTIONS(BATON_DECLARE_PFN)
    BATON_DEBUG_FUNCTIONS(BATON_DECLARE_PFN)

    // Loads every function; returns the name of the first core one missing, or nullptr.
    const char* load(PFN_vkGetInstanceProcAddr gipa, VkInstance instance);
};

struct DeviceTable {
    BATON_DEVICE_FUNCTIONS(BATON_DECLARE_PFN)
    BATON_SEMAPHORE_FD_FUNCTIONS(BATON_DECLARE_PFN)
    BATON_OPTIONAL_DEVICE_FUNCTIONS(BATON_DECLARE_PFN)

    // Loads every function; returns the name of the first core one missing, or nullptr.
    const char* load(PFN_vkGetDeviceProcAddr gdpa, VkDevice device, bool semaphoreFd);
};

#undef BATON_DECLARE_PFN

}  // namespace baton
