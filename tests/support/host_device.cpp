#include "host_device.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "baton_test.h"

namespace batontest {
namespace {

VkBool32 VKAPI_PTR hostMessenger(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                 const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
    const char* msg = data && data->pMessage ? data->pMessage : "(no message)";
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        g_validationErrors.fetch_add(1);
        std::fprintf(stderr, "[host validation error] %s\n", msg);
    } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        std::fprintf(stderr, "[host validation warning] %s\n", msg);
    }
    return VK_FALSE;
}

int deviceRank(VkPhysicalDeviceType t, bool preferCpu) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 5;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 4;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 3;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return preferCpu ? 10 : 2;
        default: return 1;
    }
}

bool deviceHas(VkPhysicalDevice pd, const char* name) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
    for (const auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

}  // namespace

bool HostDevice::create(const HostDeviceOptions& o, std::string* why) {
    apiVersion = o.apiVersion;
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "baton test host";
    app.apiVersion = o.apiVersion;
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
    dbg.pfnUserCallback = hostMessenger;
    const char* layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char* instanceExts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    if (o.validation) {
        ici.pNext = &dbg;
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = layers;
        ici.enabledExtensionCount = 1;
        ici.ppEnabledExtensionNames = instanceExts;
    }
    VkResult r = vkCreateInstance(&ici, nullptr, &instance);
    if (r != VK_SUCCESS) {
        *why = "vkCreateInstance failed (" + std::to_string(r) + ")";
        return false;
    }
    if (o.validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
        if (!create || create(instance, &dbg, nullptr, &messenger_) != VK_SUCCESS) {
            *why = "cannot create the debug messenger";
            return false;
        }
    }

    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(instance, &n, pds.data());
    const char* env = std::getenv("BATON_DEVICE");
    const bool preferCpu = env && std::strcmp(env, "cpu") == 0;
    int best = -1;
    for (VkPhysicalDevice pd : pds) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pd, &p);
        if (p.apiVersion < VK_API_VERSION_1_3) continue;  // the options below assume a 1.3 driver
        int rank = deviceRank(p.deviceType, preferCpu);
        if (rank > best) {
            best = rank;
            physicalDevice = pd;
        }
    }
    if (!physicalDevice) {
        *why = "no Vulkan 1.3 device";
        return false;
    }

    uint32_t nf = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &nf, fams.data());
    bool found = false;
    for (uint32_t i = 0; i < nf && !found; ++i)
        if ((fams[i].queueFlags & (VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT)) ==
            (VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT)) {
            queueFamily = i;
            found = true;
        }
    if (!found) {
        *why = "no graphics+compute queue family";
        return false;
    }

    // Features the way a renderer of that Vulkan version would enable them.
    const void* chain = nullptr;
    if (o.apiVersion >= VK_API_VERSION_1_3) {
        f13_ = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
        f13_.synchronization2 = o.synchronization2;
        f12_ = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13_};
        f12_.timelineSemaphore = o.timelineSemaphore;
        chain = &f12_;
    } else {
        if (o.synchronization2) {
            sync2F_ = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SYNCHRONIZATION_2_FEATURES, const_cast<void*>(chain), VK_TRUE};
            chain = &sync2F_;
            extensions.push_back(VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME);
        }
        if (o.apiVersion >= VK_API_VERSION_1_2) {
            f12_ = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, const_cast<void*>(chain)};
            f12_.timelineSemaphore = o.timelineSemaphore;
            chain = &f12_;
        } else if (o.timelineSemaphore) {
            timelineF_ = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES, const_cast<void*>(chain), VK_TRUE};
            chain = &timelineF_;
            extensions.push_back(VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME);
        }
    }
    featureChain = chain;
    if (o.externalSemaphoreFd && deviceHas(physicalDevice, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME)) {
        extensions.push_back(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
        semaphoreFdEnabled = true;
    }
    if (o.externalMemoryFd && deviceHas(physicalDevice, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME))
        extensions.push_back(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);

    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, queueFamily, 1, &priority};
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, chain};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    dci.ppEnabledExtensionNames = extensions.data();
    r = vkCreateDevice(physicalDevice, &dci, nullptr, &device);
    if (r != VK_SUCCESS) {
        *why = "vkCreateDevice failed (" + std::to_string(r) + ")";
        return false;
    }
    vkGetDeviceQueue(device, queueFamily, 0, &queue);
    return true;
}

HostDevice::~HostDevice() {
    if (device) {
        vkDeviceWaitIdle(device);
        vkDestroyDevice(device, nullptr);
    }
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
        if (destroy) destroy(instance, messenger_, nullptr);
    }
    if (instance) vkDestroyInstance(instance, nullptr);
}

batonContextAttachInfo HostDevice::attachInfo(bool shareQueue) {
    batonContextAttachInfo ai{};
    ai.getInstanceProcAddr = vkGetInstanceProcAddr;
    ai.instance = instance;
    ai.physicalDevice = physicalDevice;
    ai.device = device;
    ai.apiVersion = apiVersion;
    ai.computeQueue = {queue, queueFamily, 0};
    ai.enabledExtensions = extensions.data();
    ai.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    ai.enabledFeatures = featureChain;
    if (shareQueue) {
        ai.lockQueue = lockCallback;
        ai.unlockQueue = unlockCallback;
        ai.queueLockUserData = this;
    }
    ai.messageCallback = messageCallback;
    return ai;
}

void HostDevice::lock() {
    queueMutex_.lock();
    owner_ = std::this_thread::get_id();
}

void HostDevice::unlock() {
    owner_ = std::thread::id();
    queueMutex_.unlock();
}

void HostDevice::lockCallback(VkQueue q, void* user) {
    auto* h = static_cast<HostDevice*>(user);
    if (q != h->queue) h->misuse_.store(true);
    h->lock();
    h->held_.fetch_add(1);
    h->locks_.fetch_add(1);
}

void HostDevice::unlockCallback(VkQueue q, void* user) {
    auto* h = static_cast<HostDevice*>(user);
    // Unlocking a queue baton does not hold, or from another thread than the one that locked
    // it, would be a bug in baton: record it instead of corrupting the mutex.
    if (q != h->queue || h->held_.load() <= 0 || h->owner_ != std::this_thread::get_id()) {
        h->misuse_.store(true);
        return;
    }
    h->held_.fetch_sub(1);
    h->unlocks_.fetch_add(1);
    h->unlock();
}

}  // namespace batontest
