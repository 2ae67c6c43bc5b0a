#include "exec/context.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>

#include "core/error.h"
#include "exec/stream.h"
#include "telemetry/telemetry.h"

namespace baton {

VkBool32 VKAPI_PTR debugCallback(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                 const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    auto* ctx = static_cast<Context*>(user);
    batonMessageSeverity s = batonMessageSeverityInfo;
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)
        s = batonMessageSeverityError;
    else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
        s = batonMessageSeverityWarning;
    const char* message = data && data->pMessage ? data->pMessage : "(no message)";
    // A message the layer itself calls "most likely a validation bug": Debian 12's layer
    // (1.3.239) loses track of timeline payloads when several queues signal and the host
    // waits (KhronosGroup/Vulkan-ValidationLayers#4968, #5928; fixed by #8519 in 2024). Seen
    // on NVIDIA with the channel's two queues, with every frame's content verified correct.
    // Reported as a warning, so that it is visible but does not count as an error.
    if (s == batonMessageSeverityError && data && data->pMessageIdName &&
        std::strcmp(data->pMessageIdName, "UNASSIGNED-VkSemaphore-state-timeout") == 0) {
        char note[1024];
        std::snprintf(note, sizeof note, "known validation-layer bug, not an error: %s", message);
        ctx->report(batonMessageSeverityWarning, note);
        return VK_FALSE;
    }
    ctx->report(s, message);
    return VK_FALSE;
}

void Context::report(batonMessageSeverity severity, const char* message) {
    messageCounts[severity].fetch_add(1, std::memory_order_relaxed);
    if (callback_)
        callback_(severity, message, callbackUser_);
    else if (severity >= batonMessageSeverityWarning)
        std::fprintf(stderr, "baton: %s: %s\n", severity == batonMessageSeverityError ? "error" : "warning", message);
}

namespace {

bool envFlag(const char* name, const char* value) {
    const char* v = std::getenv(name);
    return v && std::strcmp(v, value) == 0;
}

bool hasExtension(const std::vector<VkExtensionProperties>& exts, const char* name) {
    for (const auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

int deviceScore(VkPhysicalDeviceType t, bool preferSoftware) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 5;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 4;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 3;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return preferSoftware ? 10 : 2;
        default: return 1;
    }
}

// Finds the features the host enabled by walking its pNext chain.
struct EnabledFeatures {
    bool timeline = false;
    bool sync2 = false;
};
EnabledFeatures scanFeatureChain(const void* chain) {
    EnabledFeatures f;
    for (auto* s = static_cast<const VkBaseInStructure*>(chain); s; s = s->pNext) {
        switch (s->sType) {
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES:
                f.timeline |= reinterpret_cast<const VkPhysicalDeviceVulkan12Features*>(s)->timelineSemaphore;
                break;
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES:
                f.timeline |= reinterpret_cast<const VkPhysicalDeviceTimelineSemaphoreFeatures*>(s)->timelineSemaphore;
                break;
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES:
                f.sync2 |= reinterpret_cast<const VkPhysicalDeviceVulkan13Features*>(s)->synchronization2;
                break;
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SYNCHRONIZATION_2_FEATURES:
                f.sync2 |= reinterpret_cast<const VkPhysicalDeviceSynchronization2Features*>(s)->synchronization2;
                break;
            default:
                break;
        }
    }
    return f;
}

// Whether the driver can export and import opaque-fd semaphores of both types.
bool semaphoreFdUsable(const InstanceTable& vki, VkPhysicalDevice pd) {
    for (VkSemaphoreType type : {VK_SEMAPHORE_TYPE_BINARY, VK_SEMAPHORE_TYPE_TIMELINE}) {
        VkSemaphoreTypeCreateInfo typeInfo{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, type, 0};
        VkPhysicalDeviceExternalSemaphoreInfo in{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_SEMAPHORE_INFO, &typeInfo,
                                                 VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
        VkExternalSemaphoreProperties props{VK_STRUCTURE_TYPE_EXTERNAL_SEMAPHORE_PROPERTIES};
        vki.vkGetPhysicalDeviceExternalSemaphoreProperties(pd, &in, &props);
        const VkExternalSemaphoreFeatureFlags need =
            VK_EXTERNAL_SEMAPHORE_FEATURE_EXPORTABLE_BIT | VK_EXTERNAL_SEMAPHORE_FEATURE_IMPORTABLE_BIT;
        if ((props.externalSemaphoreFeatures & need) != need) return false;
    }
    return true;
}

std::vector<VkExtensionProperties> deviceExtensions(const InstanceTable& vki, VkPhysicalDevice pd) {
    uint32_t n = 0;
    vki.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vki.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
    exts.resize(n);
    return exts;
}

void readIdentity(Context& c) {
    VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &id};
    c.vki.vkGetPhysicalDeviceProperties2(c.physicalDevice, &p2);
    c.properties = p2.properties;
    std::memcpy(c.deviceUUID, id.deviceUUID, VK_UUID_SIZE);
    std::memcpy(c.driverUUID, id.driverUUID, VK_UUID_SIZE);
}

uint32_t familyTimestampBits(const InstanceTable& vki, VkPhysicalDevice pd, uint32_t family) {
    uint32_t n = 0;
    vki.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
    std::vector<VkQueueFamilyProperties> fams(n);
    vki.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fams.data());
    return family < n ? fams[family].timestampValidBits : 0;
}

}  // namespace

batonError_t Context::createStandalone(const batonContextCreateInfo* info, Context** out) {
    batonContextCreateInfo defaults{};
    if (!info) info = &defaults;
    for (unsigned r : info->reserved)
        if (r) return fail(batonErrorInvalidValue, "batonContextCreateInfo::reserved must be zero");
    unsigned flags = info->flags;
    if (envFlag("BATON_VALIDATION", "1")) flags |= batonContextFlagValidation;
    if (envFlag("BATON_DEVICE", "cpu")) flags |= batonContextFlagPreferSoftware;

    auto* c = new Context;
    c->callback_ = info->messageCallback;
    c->callbackUser_ = info->messageUserData;
    // From here on every failure deletes c, whose destructor undoes whatever was made.
    auto bail = [&](batonError_t e) {
        delete c;
        return e;
    };

    c->loader_ = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!c->loader_) return bail(fail(batonErrorInitializationError, "cannot load libvulkan.so.1: %s", dlerror()));
    auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(c->loader_, "vkGetInstanceProcAddr"));
    if (!gipa) return bail(fail(batonErrorInitializationError, "libvulkan.so.1 has no vkGetInstanceProcAddr"));
    auto createInstance = reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance"));
    auto enumerateVersion =
        reinterpret_cast<PFN_vkEnumerateInstanceVersion>(gipa(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
    uint32_t loaderVersion = VK_API_VERSION_1_0;
    if (enumerateVersion) enumerateVersion(&loaderVersion);
    if (!createInstance || loaderVersion < VK_API_VERSION_1_3)
        return bail(fail(batonErrorInitializationError, "the Vulkan loader must support Vulkan 1.3"));

    const bool validation = flags & batonContextFlagValidation;
    const char* layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char* instanceExts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "baton";
    app.pEngineName = "baton";
    app.apiVersion = VK_API_VERSION_1_3;
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dbg.pfnUserCallback = debugCallback;
    dbg.pUserData = c;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    if (validation) {
        ici.pNext = &dbg;  // also catches messages from vkCreateInstance/vkDestroyInstance
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = layers;
        ici.enabledExtensionCount = 1;
        ici.ppEnabledExtensionNames = instanceExts;
    }
    VkResult r = createInstance(&ici, nullptr, &c->instance);
    if (r == VK_ERROR_LAYER_NOT_PRESENT)
        return bail(fail(batonErrorInitializationError,
                         "validation was requested but VK_LAYER_KHRONOS_validation is not installed "
                         "(Debian: vulkan-validationlayers)"));
    if (r != VK_SUCCESS) return bail(failVk(r, "vkCreateInstance"));
    if (const char* missing = c->vki.load(gipa, c->instance))
        return bail(fail(batonErrorInitializationError, "instance function %s is missing", missing));
    c->apiVersion = VK_API_VERSION_1_3;
    if (validation && c->vki.vkCreateDebugUtilsMessengerEXT) {
        r = c->vki.vkCreateDebugUtilsMessengerEXT(c->instance, &dbg, nullptr, &c->messenger_);
        if (r != VK_SUCCESS) return bail(failVk(r, "vkCreateDebugUtilsMessengerEXT"));
    }

    // Pick the device: a requested UUID, else the best GPU, else lavapipe.
    uint32_t n = 0;
    c->vki.vkEnumeratePhysicalDevices(c->instance, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    c->vki.vkEnumeratePhysicalDevices(c->instance, &n, pds.data());
    int bestScore = -1;
    for (VkPhysicalDevice pd : pds) {
        VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &id};
        c->vki.vkGetPhysicalDeviceProperties2(pd, &p2);
        VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
        VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13};
        VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
        c->vki.vkGetPhysicalDeviceFeatures2(pd, &f2);
        if (p2.properties.apiVersion < VK_API_VERSION_1_3 || !f12.timelineSemaphore || !f13.synchronization2) continue;
        if (info->deviceUUID) {
            if (std::memcmp(info->deviceUUID, id.deviceUUID, VK_UUID_SIZE) == 0) {
                c->physicalDevice = pd;
                break;
            }
            continue;
        }
        int score = deviceScore(p2.properties.deviceType, flags & batonContextFlagPreferSoftware);
        if (score > bestScore) {
            bestScore = score;
            c->physicalDevice = pd;
        }
    }
    if (!c->physicalDevice)
        return bail(fail(batonErrorNoDevice, info->deviceUUID ? "no Vulkan 1.3 device has the requested UUID"
                                                              : "no Vulkan 1.3 device with timeline semaphores and "
                                                                "synchronization2 (install mesa-vulkan-drivers for lavapipe)"));
    readIdentity(*c);

    // Queues: streams on a compute-only family where there is one, the host's graphics queue
    // from a graphics family. lavapipe has one family with one queue: both share it.
    uint32_t nf = 0;
    c->vki.vkGetPhysicalDeviceQueueFamilyProperties(c->physicalDevice, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    c->vki.vkGetPhysicalDeviceQueueFamilyProperties(c->physicalDevice, &nf, fams.data());
    int computeFamily = -1, graphicsFamily = -1;
    for (uint32_t i = 0; i < nf; ++i) {
        bool gfx = fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT, comp = fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT;
        if (comp && !gfx && computeFamily < 0) computeFamily = static_cast<int>(i);
        if (gfx && graphicsFamily < 0) graphicsFamily = static_cast<int>(i);
    }
    if (computeFamily < 0) computeFamily = graphicsFamily;
    if (computeFamily < 0) return bail(fail(batonErrorNoDevice, "the device has no compute queue"));
    const uint32_t cf = static_cast<uint32_t>(computeFamily);
    const bool sameFamily = graphicsFamily == computeFamily;
    const uint32_t available = fams[cf].queueCount;
    // Streams get up to 8 queues (a stream with a queue of its own can wait on the GPU for a
    // signal not submitted yet: see Stream::processWait); in a shared family one more queue
    // stays the host's alone.
    uint32_t computeCount = available < 8 ? available : 8;
    if (sameFamily && available > 1 && computeCount == available) computeCount = available - 1;
    const uint32_t graphicsIndex = sameFamily && available > 1 ? computeCount : 0;
    const uint32_t familyCount = sameFamily && available > 1 ? computeCount + 1 : computeCount;
    std::vector<float> priorities(familyCount, 1.0f);
    VkDeviceQueueCreateInfo qcis[2]{};
    uint32_t qciCount = 0;
    qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, cf, familyCount, priorities.data()};
    if (graphicsFamily >= 0 && !sameFamily)
        qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, static_cast<uint32_t>(graphicsFamily),
                            1, priorities.data()};

    auto exts = deviceExtensions(c->vki, c->physicalDevice);
    std::vector<const char*> enable;
    if (!(flags & batonContextFlagNoNative) && hasExtension(exts, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME) &&
        semaphoreFdUsable(c->vki, c->physicalDevice)) {
        enable.push_back(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
        c->nativeSemaphoreFd = true;
    }
    if (hasExtension(exts, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME)) {
        enable.push_back(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
        c->externalMemoryFd = true;
    }
    if (hasExtension(exts, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME)) {
        enable.push_back(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
        c->calibratedTimestamps = true;
    }
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    f13.synchronization2 = VK_TRUE;
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13};
    f12.timelineSemaphore = VK_TRUE;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f12};
    dci.queueCreateInfoCount = qciCount;
    dci.pQueueCreateInfos = qcis;
    dci.enabledExtensionCount = static_cast<uint32_t>(enable.size());
    dci.ppEnabledExtensionNames = enable.data();
    r = c->vki.vkCreateDevice(c->physicalDevice, &dci, nullptr, &c->device);
    if (r != VK_SUCCESS) return bail(failVk(r, "vkCreateDevice"));
    if (const char* missing = c->vkd.load(c->vki.vkGetDeviceProcAddr, c->device, c->nativeSemaphoreFd))
        return bail(fail(batonErrorInitializationError, "device function %s is missing", missing));

    for (uint32_t i = 0; i < computeCount; ++i) {
        auto* q = new Queue;
        q->family = cf;
        q->index = i;
        c->vkd.vkGetDeviceQueue(c->device, cf, i, &q->handle);
        c->ownedQueues_.push_back(q);
        c->computeQueues.push_back(q);
    }
    if (graphicsFamily >= 0) {
        if (sameFamily && available == 1) {
            c->graphicsQueue = c->computeQueues[0];
            c->queueShared = true;
        } else {
            auto* q = new Queue;
            q->family = static_cast<uint32_t>(graphicsFamily);
            q->index = sameFamily ? graphicsIndex : 0;
            c->vkd.vkGetDeviceQueue(c->device, q->family, q->index, &q->handle);
            c->ownedQueues_.push_back(q);
            c->graphicsQueue = q;
        }
    }
    c->timestampValidBits = familyTimestampBits(c->vki, c->physicalDevice, cf);
    *out = c;
    return batonSuccess;
}

batonError_t Context::attach(const batonContextAttachInfo* info, Context** out) {
    if (!info) return fail(batonErrorInvalidValue, "batonContextAttach: info is NULL");
    for (unsigned r : info->reserved)
        if (r) return fail(batonErrorInvalidValue, "batonContextAttachInfo::reserved must be zero");
    if (!info->getInstanceProcAddr || !info->instance || !info->physicalDevice || !info->device ||
        !info->computeQueue.queue)
        return fail(batonErrorInvalidValue,
                    "batonContextAttachInfo needs getInstanceProcAddr, instance, physicalDevice, device and computeQueue");
    if ((info->lockQueue == nullptr) != (info->unlockQueue == nullptr))
        return fail(batonErrorInvalidValue, "batonContextAttachInfo: give both lockQueue and unlockQueue, or neither");
    if (info->enabledExtensionCount && !info->enabledExtensions)
        return fail(batonErrorInvalidValue, "batonContextAttachInfo: enabledExtensions is NULL");
    const unsigned knownFlags = batonContextFlagValidation | batonContextFlagPreferSoftware | batonContextFlagNoNative;
    if (info->flags & ~knownFlags)
        return fail(batonErrorInvalidValue, "batonContextAttachInfo::flags has unknown bits 0x%x", info->flags & ~knownFlags);

    auto* c = new Context;
    auto bail = [&](batonError_t e) {
        c->device = VK_NULL_HANDLE;  // the host's: never destroyed here
        c->instance = VK_NULL_HANDLE;
        delete c;
        return e;
    };
    c->attached = true;
    c->callback_ = info->messageCallback;
    c->callbackUser_ = info->messageUserData;
    c->instance = info->instance;
    c->physicalDevice = info->physicalDevice;
    c->device = info->device;
    c->apiVersion = info->apiVersion;
    if (const char* missing = c->vki.load(info->getInstanceProcAddr, info->instance))
        return bail(fail(batonErrorMissingCapability,
                         "the host's instance does not provide %s (baton needs a Vulkan 1.2 instance)", missing));
    readIdentity(*c);

    // The queue baton is lent must exist and accept the commands streams record
    // (timestamps, the user's compute work).
    uint32_t nf = 0;
    c->vki.vkGetPhysicalDeviceQueueFamilyProperties(c->physicalDevice, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    c->vki.vkGetPhysicalDeviceQueueFamilyProperties(c->physicalDevice, &nf, fams.data());
    const batonQueueInfo& cq = info->computeQueue;
    if (cq.familyIndex >= nf || cq.queueIndex >= fams[cq.familyIndex].queueCount)
        return bail(fail(batonErrorInvalidValue,
                         "batonContextAttachInfo::computeQueue: family %u, index %u does not exist on this device",
                         cq.familyIndex, cq.queueIndex));
    if (!(fams[cq.familyIndex].queueFlags & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)))
        return bail(fail(batonErrorInvalidValue,
                         "batonContextAttachInfo::computeQueue: family %u has neither compute nor graphics",
                         cq.familyIndex));

    // Collect everything that is missing, so that the host fixes it in one go.
    std::string missing;
    auto enabled = [&](const char* name) {
        for (uint32_t i = 0; i < info->enabledExtensionCount; ++i)
            if (info->enabledExtensions[i] && std::strcmp(info->enabledExtensions[i], name) == 0) return true;
        return false;
    };
    // The device's version is the lower of the instance's apiVersion and the driver's.
    const uint32_t driverVersion = c->properties.apiVersion;
    const uint32_t version = info->apiVersion < driverVersion ? info->apiVersion : driverVersion;
    if (version < VK_API_VERSION_1_2) {
        char what[160];
        std::snprintf(what, sizeof what,
                      " Vulkan 1.2 (batonContextAttachInfo::apiVersion is %u.%u, 0 meaning 1.0; the driver has %u.%u);",
                      VK_API_VERSION_MAJOR(info->apiVersion), VK_API_VERSION_MINOR(info->apiVersion),
                      VK_API_VERSION_MAJOR(driverVersion), VK_API_VERSION_MINOR(driverVersion));
        missing += what;
    }
    EnabledFeatures f = scanFeatureChain(info->enabledFeatures);
    if (!f.timeline)
        missing += " the timelineSemaphore feature (VkPhysicalDeviceVulkan12Features or "
                   "VkPhysicalDeviceTimelineSemaphoreFeatures in enabledFeatures);";
    if (!f.sync2)
        missing += " the synchronization2 feature (VkPhysicalDeviceVulkan13Features or "
                   "VkPhysicalDeviceSynchronization2Features in enabledFeatures);";
    if (version < VK_API_VERSION_1_3 && !enabled(VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME))
        missing += " the " VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME " extension (needed below Vulkan 1.3);";
    if (!missing.empty()) {
        missing.pop_back();  // the last ';'
        return bail(fail(batonErrorMissingCapability, "the host's device lacks what baton needs:%s", missing.c_str()));
    }

    // The native backend is optional: without it every semaphore is portable. Say why.
    const bool fdExtension = enabled(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
    const bool fdDriver = semaphoreFdUsable(c->vki, c->physicalDevice);
    c->nativeSemaphoreFd = !(info->flags & batonContextFlagNoNative) && fdExtension && fdDriver;
    c->externalMemoryFd = enabled(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
    c->calibratedTimestamps = enabled(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
    if (const char* m = c->vkd.load(c->vki.vkGetDeviceProcAddr, c->device, c->nativeSemaphoreFd))
        return bail(fail(batonErrorMissingCapability, "the host's device does not provide %s", m));
    if (!c->nativeSemaphoreFd && !(info->flags & batonContextFlagNoNative)) {
        c->report(batonMessageSeverityInfo,
                  !fdDriver ? "attached: the driver cannot export and import opaque semaphore fds; every semaphore "
                              "uses the portable backend"
                            : "attached: the host's device was created without " VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME
                              "; every semaphore uses the portable backend (enable it for the native backend)");
    }
    if (!c->externalMemoryFd)
        c->report(batonMessageSeverityInfo, "attached: the host's device was created without "
                                            VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME "; memory cannot be shared by fd");

    auto* q = new Queue;
    q->handle = cq.queue;
    q->family = cq.familyIndex;
    q->index = cq.queueIndex;
    c->ownedQueues_.push_back(q);
    c->computeQueues.push_back(q);
    c->hostLock_ = info->lockQueue;
    c->hostUnlock_ = info->unlockQueue;
    c->hostLockUser_ = info->queueLockUserData;
    // With lock callbacks the host submits to this queue too: it is also the graphics queue
    // (lavapipe has only one), and renderer waits obey the shared-queue rule.
    c->queueShared = info->lockQueue != nullptr;
    if (c->queueShared) c->graphicsQueue = q;
    c->timestampValidBits = fams[q->family].timestampValidBits;
    *out = c;
    return batonSuccess;
}

Context::~Context() {
    delete telemetry.load();
    if (device && !attached) {
        vkd.vkDeviceWaitIdle(device);
        vkd.vkDestroyDevice(device, nullptr);
    }
    for (Queue* q : ownedQueues_) delete q;
    if (messenger_) vki.vkDestroyDebugUtilsMessengerEXT(instance, messenger_, nullptr);
    if (instance && !attached) vki.vkDestroyInstance(instance, nullptr);
    if (loader_) dlclose(loader_);
}

void Context::markLost(const char* where) {
    const char* none = nullptr;
    lostWhere_.compare_exchange_strong(none, where, std::memory_order_acq_rel);
    if (!lost_.exchange(true, std::memory_order_acq_rel))
        report(batonMessageSeverityError, "baton: the Vulkan device was lost; this context only reports it from now on");
}

batonError_t Context::lostError() const {
    const char* where = lostWhere_.load(std::memory_order_acquire);
    return fail(batonErrorLaunchFailure, "the device of this context was lost (first seen by %s): destroy the context",
                where ? where : "a Vulkan call");
}

void Context::lockQueue(Queue& q) {
    if (hostLock_)
        hostLock_(q.handle, hostLockUser_);
    else
        q.mutex.lock();
}

void Context::unlockQueue(Queue& q) {
    if (hostUnlock_)
        hostUnlock_(q.handle, hostLockUser_);
    else
        q.mutex.unlock();
}

VkResult Context::submit(Queue& q, const VkSubmitInfo2& info) {
    lockQueue(q);
    VkResult r = vkd.vkQueueSubmit2(q.handle, 1, &info, VK_NULL_HANDLE);
    unlockQueue(q);
    return r;
}

Queue* Context::findQueue(VkQueue handle) {
    for (Queue* q : ownedQueues_)
        if (q->handle == handle) return q;
    return nullptr;
}

Queue& Context::queueForNewStream() {
    // The least used queue: streams keep a queue to themselves while there are enough.
    std::lock_guard lock(queuesMutex_);
    Queue* best = computeQueues.front();
    for (Queue* q : computeQueues)
        if (q->streams < best->streams) best = q;
    ++best->streams;
    return *best;
}

void Context::releaseStreamQueue(Queue& q) {
    std::lock_guard lock(queuesMutex_);
    --q.streams;
}

bool Context::queueExclusive(const Queue& q) {
    // Shared with the host (lavapipe's single queue, or lent with lock callbacks), or with
    // another stream: a submission that waits there can hold up someone else's signal.
    if (queueShared && (attached || (graphicsQueue && graphicsQueue->handle == q.handle))) return false;
    std::lock_guard lock(queuesMutex_);
    return q.streams == 1;
}

batonError_t Context::defaultStream(Stream** out) {
    std::lock_guard lock(childrenMutex_);
    if (!defaultStream_) {
        batonError_t e = Stream::create(this, &defaultStream_);
        if (e != batonSuccess) return e;
    }
    *out = defaultStream_;
    return batonSuccess;
}

void Context::addChild(Object* o) {
    std::lock_guard lock(childrenMutex_);
    children_.insert(o);
}

void Context::removeChild(Object* o) {
    std::lock_guard lock(childrenMutex_);
    children_.erase(o);
}

void Context::forEachStream(void (*fn)(Stream*, void*), void* user) {
    std::lock_guard lock(childrenMutex_);
    if (defaultStream_) fn(defaultStream_, user);
    for (Object* o : children_)
        if (o->type() == ObjectType::Stream) fn(static_cast<Stream*>(o), user);
}

void Context::shutdown() {
    // Streams first (they drain their work and drop references to semaphores and events),
    // then the rest. Each child is unregistered so that stale handles are refused.
    std::vector<Object*> streams, others;
    {
        std::lock_guard lock(childrenMutex_);
        for (Object* o : children_) (o->type() == ObjectType::Stream ? streams : others).push_back(o);
        children_.clear();
        if (defaultStream_) streams.push_back(defaultStream_);
        defaultStream_ = nullptr;
    }
    for (Object* o : streams) {
        unregisterHandle(o, o->type());
        auto* s = static_cast<Stream*>(o);
        s->close(true);  // the context goes away: abandon host waits
        // Whatever the stream submitted must be done before its command pool and timeline go.
        // (vkDeviceWaitIdle cannot do this for an attached context: it would need the host's
        // lock on every queue of the host's device.)
        uint64_t point = s->submittedPoint.load();
        if (point) {
            VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s->timeline, &point};
            vkd.vkWaitSemaphores(device, &wi, UINT64_MAX);
        }
        o->release();
    }
    for (Object* o : others) {
        unregisterHandle(o, o->type());
        o->release();
    }
    // Standalone: the device and its queues are baton's (the host may only use graphicsQueue,
    // which it must not do while destroying the context).
    if (device && !attached) vkd.vkDeviceWaitIdle(device);
}

}  // namespace baton
