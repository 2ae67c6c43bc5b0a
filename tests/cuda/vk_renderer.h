// The Vulkan renderer of the CUDA-interop program: its own instance and device (validation
// layer on when asked, errors counted), a buffer in exportable memory and two exportable
// timeline semaphores that it hands to the interop side, and a per-frame read of that buffer
// in its own vkQueueSubmit2 (wait "cudaDone" >= n, copy into a host-visible buffer, signal
// "vkDone" = n) whose data it checks.
//
// Two ways to make what it shares:
// - Native (a GPU with VK_KHR_external_semaphore_fd, the H200): the renderer's own
//   vkAllocateMemory with VkExportMemoryAllocateInfo (memory type: the first DEVICE_LOCAL one,
//   as cuda-samples' findMemoryType does) and exportable timelines, vkGetSemaphoreFdKHR.
// - Baton (lavapipe, which exports no semaphore fds): a baton context attached to the
//   renderer's device (sharing its one queue through lock callbacks) exports the memory
//   (batonExportMemory) and portable timelines; the renderer's submit takes their
//   VkSemaphoreSubmitInfos from batonGetWait/SignalSubmitInfo.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include <baton/baton.h>
#include <baton/baton_memory.h>

#include "interop_handles.h"

struct RendererOptions {
    bool validation = true;
    bool native = false;           // else Baton (see above)
    size_t bufferBytes = 64 * 1024;
};

class VkRenderer {
public:
    VkRenderer() = default;
    ~VkRenderer();
    VkRenderer(const VkRenderer&) = delete;
    VkRenderer& operator=(const VkRenderer&) = delete;

    bool create(const RendererOptions& options, std::string* why);
    // New fds of the memory and both timelines (the caller owns them) and the device UUID.
    bool exportHandles(InteropHandles* h, std::string* why);
    // Reads frame n in the renderer's own submission and checks every word against
    // framePattern(n). False with why on a wrong word or a failed call.
    bool readFrame(unsigned long long n, std::string* why);

    uint64_t validationErrors() const { return errors_; }
    const char* deviceName() const { return name_; }

private:
    static VkBool32 VKAPI_PTR onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                        const VkDebugUtilsMessengerCallbackDataEXT* data, void* user);
    static void lockQueue(VkQueue, void* user) { static_cast<VkRenderer*>(user)->queueMutex_.lock(); }
    static void unlockQueue(VkQueue, void* user) { static_cast<VkRenderer*>(user)->queueMutex_.unlock(); }
    bool createDevice(std::string* why);
    bool createShared(std::string* why);
    bool createReadback(std::string* why);
    bool submitInfos(unsigned long long n, VkSemaphoreSubmitInfo* wait, VkSemaphoreSubmitInfo* signal, std::string* why);
    void recordRead(VkCommandBuffer cb);

    RendererOptions opt_;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t family_ = 0;
    uint8_t uuid_[VK_UUID_SIZE] = {};
    char name_[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE] = {};
    std::mutex queueMutex_;
    uint64_t errors_ = 0;

    // The shared buffer and semaphores: native objects, or baton's.
    VkBuffer shared_ = VK_NULL_HANDLE;
    VkDeviceMemory sharedMemory_ = VK_NULL_HANDLE;
    VkDeviceSize sharedSize_ = 0;
    VkSemaphore cudaDone_ = VK_NULL_HANDLE, vkDone_ = VK_NULL_HANDLE;
    batonContext_t baton_ = nullptr;
    batonMemory_t batonMemory_ = nullptr;
    batonExternalSemaphore_t batonCudaDone_ = nullptr, batonVkDone_ = nullptr;
    int memoryFd_ = -1, cudaDoneFd_ = -1, vkDoneFd_ = -1;  // baton's exports until handed over

    VkBuffer readback_ = VK_NULL_HANDLE;
    VkDeviceMemory readbackMemory_ = VK_NULL_HANDLE;
    const uint32_t* readbackWords_ = nullptr;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
};
