// A stand-in for a host renderer: its own VkInstance (validation layer on, errors counted
// into g_validationErrors) and VkDevice with one queue that it shares with baton through
// counted lock/unlock callbacks. Options create devices that lack what baton needs, for the
// attach-time refusals.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <baton/baton.h>

namespace batontest {

struct HostDeviceOptions {
    uint32_t apiVersion = VK_API_VERSION_1_3;  // the instance's VkApplicationInfo::apiVersion
    bool timelineSemaphore = true;             // enable the feature
    bool synchronization2 = true;              // enable the feature (and the extension below 1.3)
    bool externalSemaphoreFd = true;           // enable VK_KHR_external_semaphore_fd where the driver has it
    bool externalMemoryFd = true;              // enable VK_KHR_external_memory_fd where the driver has it
    bool validation = true;                    // VK_LAYER_KHRONOS_validation with a counting messenger
};

class HostDevice {
public:
    HostDevice() = default;
    ~HostDevice();
    HostDevice(const HostDevice&) = delete;
    HostDevice& operator=(const HostDevice&) = delete;

    // Creates the instance and device; on failure returns false and says why.
    bool create(const HostDeviceOptions& options, std::string* why);

    // Attach info lending `queue` with this host's lock callbacks (shareQueue) or without.
    batonContextAttachInfo attachInfo(bool shareQueue = true);

    // The host's own submissions take the same lock as baton's.
    void lock();
    void unlock();

    // Lock-callback bookkeeping: how often baton called them, and whether it ever unlocked
    // a queue it did not hold, or locked another queue than the one lent.
    uint64_t locks() const { return locks_.load(); }
    uint64_t unlocks() const { return unlocks_.load(); }
    bool misuse() const { return misuse_.load(); }

    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physicalDevice = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t queueFamily = 0;
    uint32_t apiVersion = 0;
    bool semaphoreFdEnabled = false;
    std::vector<const char*> extensions;  // what the device was created with
    const void* featureChain = nullptr;   // what the device was created with

private:
    static void lockCallback(VkQueue q, void* user);
    static void unlockCallback(VkQueue q, void* user);

    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    std::mutex queueMutex_;
    std::atomic<uint64_t> locks_{0}, unlocks_{0};
    std::atomic<int> held_{0};
    std::atomic<bool> misuse_{false};
    std::thread::id owner_;  // who holds queueMutex_ (written under it)
    // Feature structs kept alive for featureChain.
    VkPhysicalDeviceVulkan12Features f12_{};
    VkPhysicalDeviceVulkan13Features f13_{};
    VkPhysicalDeviceTimelineSemaphoreFeatures timelineF_{};
    VkPhysicalDeviceSynchronization2Features sync2F_{};
};

// The host of attach mode (BATON_TEST_ATTACH=1, see attach_mode.cpp), or nullptr.
HostDevice* attachModeHost();
// Attach mode's context (current on the main thread only: a test thread that relies on the
// current context calls batonCtxSetCurrent(attachModeContext()) first), or nullptr.
batonContext_t attachModeContext();
// The context a test fixture should create: in attach mode a new context attached to the
// attach-mode host (sharing its queue through the same lock callbacks), otherwise a
// standalone one with contextCreateInfo(flags). Suites that create their own contexts use
// this so that baton_add_suite(... ATTACHED ...) really runs them attached.
batonError_t createTestContext(batonContext_t* out, unsigned flags = 0);

}  // namespace batontest
