#include "exec/context.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <string>
#include <time.h>

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

// ---------------------------------------------------------------------------------------
// Standalone creation, in steps. Each step leaves what it made in the Context, whose
// destructor undoes it: a failing step (or a std::bad_alloc) just drops the Context.

// Which queues a standalone context takes: streams on a compute-only family where there is
// one, the host's graphics queue from a graphics family. lavapipe has one family with one
// queue: both share it.
struct QueuePlan {
    uint32_t computeFamily = 0;
    int graphicsFamily = -1;
    bool sameFamily = false;
    uint32_t available = 0;     // queues in the compute family
    uint32_t computeCount = 0;  // of those, the streams'
    uint32_t graphicsIndex = 0;
    uint32_t familyCount = 0;   // queues created in the compute family
};

namespace {

bool planQueues(const std::vector<VkQueueFamilyProperties>& fams, QueuePlan* plan) {
    int computeFamily = -1, graphicsFamily = -1;
    for (uint32_t i = 0; i < fams.size(); ++i) {
        bool gfx = fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT, comp = fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT;
        if (comp && !gfx && computeFamily < 0) computeFamily = static_cast<int>(i);
        if (gfx && graphicsFamily < 0) graphicsFamily = static_cast<int>(i);
    }
    if (computeFamily < 0) computeFamily = graphicsFamily;
    if (computeFamily < 0) return false;
    QueuePlan& p = *plan;
    p.computeFamily = static_cast<uint32_t>(computeFamily);
    p.graphicsFamily = graphicsFamily;
    p.sameFamily = graphicsFamily == computeFamily;
    p.available = fams[p.computeFamily].queueCount;
    // Streams get up to 8 queues (a stream with a queue of its own can wait on the GPU for a
    // signal not submitted yet: see Stream::processWait); in a shared family one more queue
    // stays the host's alone.
    p.computeCount = p.available < 8 ? p.available : 8;
    if (p.sameFamily && p.available > 1 && p.computeCount == p.available) p.computeCount = p.available - 1;
    p.graphicsIndex = p.sameFamily && p.available > 1 ? p.computeCount : 0;
    p.familyCount = p.sameFamily && p.available > 1 ? p.computeCount + 1 : p.computeCount;
    return true;
}

std::vector<VkQueueFamilyProperties> queueFamilies(const InstanceTable& vki, VkPhysicalDevice pd) {
    uint32_t nf = 0;
    vki.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    vki.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nf, fams.data());
    fams.resize(nf);
    return fams;
}

// Whether pd can run baton (Vulkan 1.3, timelines, synchronization2); its UUID in *uuid.
bool deviceUsable(const InstanceTable& vki, VkPhysicalDevice pd, VkPhysicalDeviceType* type, uint8_t* uuid) {
    VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &id};
    vki.vkGetPhysicalDeviceProperties2(pd, &p2);
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13};
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
    vki.vkGetPhysicalDeviceFeatures2(pd, &f2);
    *type = p2.properties.deviceType;
    std::memcpy(uuid, id.deviceUUID, VK_UUID_SIZE);
    return p2.properties.apiVersion >= VK_API_VERSION_1_3 && f12.timelineSemaphore && f13.synchronization2;
}

}  // namespace

batonError_t Context::openLoader(PFN_vkGetInstanceProcAddr* gipaOut) {
    loader_ = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!loader_) return fail(batonErrorInitializationError, "cannot load libvulkan.so.1: %s", dlerror());
    auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(loader_, "vkGetInstanceProcAddr"));
    if (!gipa) return fail(batonErrorInitializationError, "libvulkan.so.1 has no vkGetInstanceProcAddr");
    auto enumerateVersion =
        reinterpret_cast<PFN_vkEnumerateInstanceVersion>(gipa(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
    uint32_t loaderVersion = VK_API_VERSION_1_0;
    if (enumerateVersion) enumerateVersion(&loaderVersion);
    if (!gipa(VK_NULL_HANDLE, "vkCreateInstance") || loaderVersion < VK_API_VERSION_1_3)
        return fail(batonErrorInitializationError, "the Vulkan loader must support Vulkan 1.3");
    *gipaOut = gipa;
    return batonSuccess;
}

batonError_t Context::createInstance(PFN_vkGetInstanceProcAddr gipa, bool validation) {
    auto vkCreateInstance = reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance"));
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
    dbg.pUserData = this;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    if (validation) {
        ici.pNext = &dbg;  // also catches messages from vkCreateInstance/vkDestroyInstance
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = layers;
        ici.enabledExtensionCount = 1;
        ici.ppEnabledExtensionNames = instanceExts;
    }
    VkResult r = vkCreateInstance(&ici, nullptr, &instance);
    if (r == VK_ERROR_LAYER_NOT_PRESENT)
        return fail(batonErrorInitializationError,
                    "validation was requested but VK_LAYER_KHRONOS_validation is not installed "
                    "(Debian: vulkan-validationlayers)");
    if (r != VK_SUCCESS) return failVk(r, "vkCreateInstance");
    if (const char* missing = vki.load(gipa, instance))
        return fail(batonErrorInitializationError, "instance function %s is missing", missing);
    apiVersion = VK_API_VERSION_1_3;
    if (validation && vki.vkCreateDebugUtilsMessengerEXT) {
        r = vki.vkCreateDebugUtilsMessengerEXT(instance, &dbg, nullptr, &messenger_);
        if (r != VK_SUCCESS) return failVk(r, "vkCreateDebugUtilsMessengerEXT");
    }
    return batonSuccess;
}

// A requested UUID, else the best GPU, else lavapipe.
batonError_t Context::pickPhysicalDevice(const uint8_t* wantedUUID, bool preferSoftware) {
    uint32_t n = 0;
    vki.vkEnumeratePhysicalDevices(instance, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vki.vkEnumeratePhysicalDevices(instance, &n, pds.data());
    pds.resize(n);
    int bestScore = -1;
    for (VkPhysicalDevice pd : pds) {
        VkPhysicalDeviceType type{};
        uint8_t uuid[VK_UUID_SIZE];
        if (!deviceUsable(vki, pd, &type, uuid)) continue;
        if (wantedUUID) {
            if (std::memcmp(wantedUUID, uuid, VK_UUID_SIZE) != 0) continue;
            physicalDevice = pd;
            break;
        }
        int score = deviceScore(type, preferSoftware);
        if (score > bestScore) {
            bestScore = score;
            physicalDevice = pd;
        }
    }
    if (!physicalDevice)
        return fail(batonErrorNoDevice, wantedUUID ? "no Vulkan 1.3 device has the requested UUID"
                                                   : "no Vulkan 1.3 device with timeline semaphores and "
                                                     "synchronization2 (install mesa-vulkan-drivers for lavapipe)");
    readIdentity(*this);
    return batonSuccess;
}

// The device extensions baton turns on where the driver has them (and notes which).
std::vector<const char*> Context::chooseDeviceExtensions(bool noNative) {
    auto exts = deviceExtensions(vki, physicalDevice);
    std::vector<const char*> enable;
    if (!noNative && hasExtension(exts, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME) &&
        semaphoreFdUsable(vki, physicalDevice)) {
        enable.push_back(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
        nativeSemaphoreFd = true;
    }
    if (hasExtension(exts, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME)) {
        enable.push_back(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
        externalMemoryFd = true;
    }
    if (hasExtension(exts, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME)) {
        enable.push_back(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
        calibratedTimestamps = true;
    }
    return enable;
}

batonError_t Context::createDevice(const QueuePlan& plan, bool noNative) {
    std::vector<float> priorities(plan.familyCount, 1.0f);
    VkDeviceQueueCreateInfo qcis[2]{};
    uint32_t qciCount = 0;
    qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, plan.computeFamily, plan.familyCount,
                        priorities.data()};
    if (plan.graphicsFamily >= 0 && !plan.sameFamily)
        qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0,
                            static_cast<uint32_t>(plan.graphicsFamily), 1, priorities.data()};
    const std::vector<const char*> enable = chooseDeviceExtensions(noNative);
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    f13.synchronization2 = VK_TRUE;
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13};
    f12.timelineSemaphore = VK_TRUE;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f12};
    dci.queueCreateInfoCount = qciCount;
    dci.pQueueCreateInfos = qcis;
    dci.enabledExtensionCount = static_cast<uint32_t>(enable.size());
    dci.ppEnabledExtensionNames = enable.data();
    VkResult r = vki.vkCreateDevice(physicalDevice, &dci, nullptr, &device);
    if (r != VK_SUCCESS) return failVk(r, "vkCreateDevice");
    if (const char* missing = vkd.load(vki.vkGetDeviceProcAddr, device, nativeSemaphoreFd))
        return fail(batonErrorInitializationError, "device function %s is missing", missing);
    return batonSuccess;
}

// A new Queue owned by this context (kept in ownedQueues_ before anything else can throw).
Queue* Context::ownQueue(uint32_t family, uint32_t index, VkQueue handle) {
    ownedQueues_.reserve(ownedQueues_.size() + 1);
    auto* q = new Queue;
    q->family = family;
    q->index = index;
    q->handle = handle;
    ownedQueues_.push_back(q);  // cannot throw: reserved
    return q;
}

void Context::takeQueues(const QueuePlan& plan) {
    const uint32_t cf = plan.computeFamily;
    for (uint32_t i = 0; i < plan.computeCount; ++i) {
        VkQueue h = VK_NULL_HANDLE;
        vkd.vkGetDeviceQueue(device, cf, i, &h);
        computeQueues.push_back(ownQueue(cf, i, h));
    }
    if (plan.graphicsFamily >= 0) {
        if (plan.sameFamily && plan.available == 1) {
            graphicsQueue = computeQueues[0];
            queueShared = true;
        } else {
            const auto family = static_cast<uint32_t>(plan.graphicsFamily);
            const uint32_t index = plan.sameFamily ? plan.graphicsIndex : 0;
            VkQueue h = VK_NULL_HANDLE;
            vkd.vkGetDeviceQueue(device, family, index, &h);
            graphicsQueue = ownQueue(family, index, h);
        }
    }
    timestampValidBits = familyTimestampBits(vki, physicalDevice, cf);
}

batonError_t Context::createStandalone(const batonContextCreateInfo* info, Context** out) {
    batonContextCreateInfo defaults{};
    if (!info) info = &defaults;
    for (unsigned r : info->reserved)
        if (r) return fail(batonErrorInvalidValue, "batonContextCreateInfo::reserved must be zero");
    unsigned flags = info->flags;
    if (envFlag("BATON_VALIDATION", "1")) flags |= batonContextFlagValidation;
    if (envFlag("BATON_DEVICE", "cpu")) flags |= batonContextFlagPreferSoftware;

    // Every failure (or throw) drops c, whose destructor undoes whatever was made.
    std::unique_ptr<Context> c(new Context);
    c->callback_ = info->messageCallback;
    c->callbackUser_ = info->messageUserData;
    c->validationLayer = (flags & batonContextFlagValidation) != 0;
    PFN_vkGetInstanceProcAddr gipa = nullptr;
    batonError_t e = c->openLoader(&gipa);
    if (e == batonSuccess) e = c->createInstance(gipa, flags & batonContextFlagValidation);
    if (e == batonSuccess) e = c->pickPhysicalDevice(info->deviceUUID, flags & batonContextFlagPreferSoftware);
    QueuePlan plan;
    if (e == batonSuccess && !planQueues(queueFamilies(c->vki, c->physicalDevice), &plan))
        e = fail(batonErrorNoDevice, "the device has no compute queue");
    if (e == batonSuccess) e = c->createDevice(plan, flags & batonContextFlagNoNative);
    if (e != batonSuccess) return e;
    c->takeQueues(plan);
    *out = c.release();
    return batonSuccess;
}

// ---------------------------------------------------------------------------------------
// Attaching to a host's device, in steps (the host's objects are never destroyed here).

namespace {

batonError_t checkAttachInfo(const batonContextAttachInfo* info) {
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
    return batonSuccess;
}

// The queue baton is lent must exist and accept the commands streams record (timestamps,
// the user's compute work).
batonError_t checkLentQueue(const std::vector<VkQueueFamilyProperties>& fams, const batonQueueInfo& cq) {
    if (cq.familyIndex >= fams.size() || cq.queueIndex >= fams[cq.familyIndex].queueCount)
        return fail(batonErrorInvalidValue,
                    "batonContextAttachInfo::computeQueue: family %u, index %u does not exist on this device",
                    cq.familyIndex, cq.queueIndex);
    if (!(fams[cq.familyIndex].queueFlags & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)))
        return fail(batonErrorInvalidValue,
                    "batonContextAttachInfo::computeQueue: family %u has neither compute nor graphics", cq.familyIndex);
    return batonSuccess;
}

bool extensionEnabled(const batonContextAttachInfo& info, const char* name) {
    for (uint32_t i = 0; i < info.enabledExtensionCount; ++i)
        if (info.enabledExtensions[i] && std::strcmp(info.enabledExtensions[i], name) == 0) return true;
    return false;
}

// Everything the host's device lacks, so that the host fixes it in one go ("" if nothing).
std::string missingForAttach(const batonContextAttachInfo& info, uint32_t driverVersion) {
    std::string missing;
    // The device's version is the lower of the instance's apiVersion and the driver's.
    const uint32_t version = info.apiVersion < driverVersion ? info.apiVersion : driverVersion;
    if (version < VK_API_VERSION_1_2) {
        char what[160];
        std::snprintf(what, sizeof what,
                      " Vulkan 1.2 (batonContextAttachInfo::apiVersion is %u.%u, 0 meaning 1.0; the driver has %u.%u);",
                      VK_API_VERSION_MAJOR(info.apiVersion), VK_API_VERSION_MINOR(info.apiVersion),
                      VK_API_VERSION_MAJOR(driverVersion), VK_API_VERSION_MINOR(driverVersion));
        missing += what;
    }
    EnabledFeatures f = scanFeatureChain(info.enabledFeatures);
    if (!f.timeline)
        missing += " the timelineSemaphore feature (VkPhysicalDeviceVulkan12Features or "
                   "VkPhysicalDeviceTimelineSemaphoreFeatures in enabledFeatures);";
    if (!f.sync2)
        missing += " the synchronization2 feature (VkPhysicalDeviceVulkan13Features or "
                   "VkPhysicalDeviceSynchronization2Features in enabledFeatures);";
    if (version < VK_API_VERSION_1_3 && !extensionEnabled(info, VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME))
        missing += " the " VK_KHR_SYNCHRONIZATION_2_EXTENSION_NAME " extension (needed below Vulkan 1.3);";
    if (!missing.empty()) missing.pop_back();  // the last ';'
    return missing;
}

// Drops an attached context that failed part-way: the host's device and instance stay.
struct AttachedDeleter {
    void operator()(Context* c) const {
        c->device = VK_NULL_HANDLE;
        c->instance = VK_NULL_HANDLE;
        delete c;
    }
};

}  // namespace

// The native backend is optional: without it every semaphore is portable. Says why.
batonError_t Context::loadAttachedDevice(const batonContextAttachInfo& info) {
    const bool fdExtension = extensionEnabled(info, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
    const bool fdDriver = semaphoreFdUsable(vki, physicalDevice);
    nativeSemaphoreFd = !(info.flags & batonContextFlagNoNative) && fdExtension && fdDriver;
    externalMemoryFd = extensionEnabled(info, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
    calibratedTimestamps = extensionEnabled(info, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
    if (const char* m = vkd.load(vki.vkGetDeviceProcAddr, device, nativeSemaphoreFd))
        return fail(batonErrorMissingCapability, "the host's device does not provide %s", m);
    if (!nativeSemaphoreFd && !(info.flags & batonContextFlagNoNative)) {
        report(batonMessageSeverityInfo,
               !fdDriver ? "attached: the driver cannot export and import opaque semaphore fds; every semaphore "
                           "uses the portable backend"
                         : "attached: the host's device was created without " VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME
                           "; every semaphore uses the portable backend (enable it for the native backend)");
    }
    if (!externalMemoryFd)
        report(batonMessageSeverityInfo, "attached: the host's device was created without "
                                         VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME "; memory cannot be shared by fd");
    return batonSuccess;
}

void Context::takeLentQueue(const batonContextAttachInfo& info, uint32_t familyTimestampValidBits) {
    const batonQueueInfo& cq = info.computeQueue;
    Queue* q = ownQueue(cq.familyIndex, cq.queueIndex, cq.queue);
    computeQueues.push_back(q);
    hostLock_ = info.lockQueue;
    hostUnlock_ = info.unlockQueue;
    hostLockUser_ = info.queueLockUserData;
    // With lock callbacks the host submits to this queue too: it is also the graphics queue
    // (lavapipe has only one), and renderer waits obey the shared-queue rule.
    queueShared = info.lockQueue != nullptr;
    if (queueShared) graphicsQueue = q;
    timestampValidBits = familyTimestampValidBits;
}

batonError_t Context::attach(const batonContextAttachInfo* info, Context** out) {
    batonError_t e = checkAttachInfo(info);
    if (e != batonSuccess) return e;
    std::unique_ptr<Context, AttachedDeleter> c(new Context);
    c->attached = true;
    c->callback_ = info->messageCallback;
    c->callbackUser_ = info->messageUserData;
    c->instance = info->instance;
    c->physicalDevice = info->physicalDevice;
    c->device = info->device;
    c->apiVersion = info->apiVersion;
    if (const char* missing = c->vki.load(info->getInstanceProcAddr, info->instance))
        return fail(batonErrorMissingCapability,
                    "the host's instance does not provide %s (baton needs a Vulkan 1.2 instance)", missing);
    readIdentity(*c);
    const std::vector<VkQueueFamilyProperties> fams = queueFamilies(c->vki, c->physicalDevice);
    if ((e = checkLentQueue(fams, info->computeQueue)) != batonSuccess) return e;
    const std::string missing = missingForAttach(*info, c->properties.apiVersion);
    if (!missing.empty())
        return fail(batonErrorMissingCapability, "the host's device lacks what baton needs:%s", missing.c_str());
    if ((e = c->loadAttachedDevice(*info)) != batonSuccess) return e;
    c->takeLentQueue(*info, fams[info->computeQueue.familyIndex].timestampValidBits);
    *out = c.release();
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
    if (lost()) return;
    MutexLock lock(lostMutex_);
    if (lost()) return;
    lostWhere_.store(where, std::memory_order_release);
    // Work the driver already took may still be running (a loss reported by a layer, or a
    // device that is only partly gone): wait for it, every queue held so that nothing is
    // submitted meanwhile, before lost() lets teardown free what it uses. Submissions on a
    // lost device never run, so once drained it stays drained.
    std::vector<Queue*> queues = computeQueues;
    if (graphicsQueue && std::find(queues.begin(), queues.end(), graphicsQueue) == queues.end())
        queues.push_back(graphicsQueue);
    for (Queue* q : queues) lockQueue(*q);
    vkd.vkDeviceWaitIdle(device);
    // Set while every queue is held: submit() checks it under the queue's lock, so nothing
    // reaches the driver after this drain (a submission waiting for a queue lock here would
    // otherwise slip in between the drain and the flag, and teardown would free its objects).
    lost_.store(true, std::memory_order_release);
    for (auto it = queues.rbegin(); it != queues.rend(); ++it) unlockQueue(**it);
    // A warning: every call returns lostError() (the error itself); error-severity messages
    // are the ones that mean misuse or a validation failure.
    report(batonMessageSeverityWarning, "baton: the Vulkan device was lost; this context only reports it from now on");
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
    // A lost device takes no more work (markLost drained it under these locks).
    VkResult r = lost() ? VK_ERROR_DEVICE_LOST : vkd.vkQueueSubmit2(q.handle, 1, &info, VK_NULL_HANDLE);
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
    MutexLock lock(queuesMutex_);
    Queue* best = computeQueues.front();
    for (Queue* q : computeQueues)
        if (q->streams < best->streams) best = q;
    ++best->streams;
    return *best;
}

void Context::releaseStreamQueue(Queue& q) {
    MutexLock lock(queuesMutex_);
    --q.streams;
}

bool Context::queueExclusive(const Queue& q) {
    // Shared with the host (lavapipe's single queue, or lent with lock callbacks), or with
    // another stream: a submission that waits there can hold up someone else's signal.
    if (queueShared && (attached || (graphicsQueue && graphicsQueue->handle == q.handle))) return false;
    MutexLock lock(queuesMutex_);
    return q.streams == 1;
}

batonError_t Context::defaultStream(Stream** out) {
    MutexLock lock(childrenMutex_);
    if (!defaultStream_) {
        batonError_t e = Stream::create(this, &defaultStream_);
        if (e != batonSuccess) return e;
    }
    *out = defaultStream_;
    return batonSuccess;
}

void Context::addChild(Object* o) {
    MutexLock lock(childrenMutex_);
    children_.insert(o);
}

void Context::removeChild(Object* o) {
    MutexLock lock(childrenMutex_);
    children_.erase(o);
}

void Context::forEachStream(void (*fn)(Stream*, void*), void* user) {
    MutexLock lock(childrenMutex_);
    if (defaultStream_) fn(defaultStream_, user);
    for (Object* o : children_)
        if (o->type() == ObjectType::Stream) fn(static_cast<Stream*>(o), user);
}

namespace {

// How long batonContextDestroy lets enqueued work finish (baton.h documents it).
uint64_t destroyBoundNs() {
    static const uint64_t ns = [] {
        if (const char* v = std::getenv("BATON_DESTROY_TIMEOUT_MS")) return std::strtoull(v, nullptr, 10) * 1000000ull;
        return 2000ull * 1000000ull;
    }();
    return ns;
}

uint64_t nowNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

// Lets a stream finish its enqueued work (host steps, submissions, portable publishes)
// until `deadline` (one for all streams: destroy is bounded as a whole); then closes it,
// abandoning what still waits on the host (a portable wait, a keyed-mutex acquire nobody
// satisfies). A stream whose GPU work has not completed by then (a GPU wait on a native
// semaphore whose signaller died) cannot be torn down safely: it is left as it is, and the
// caller keeps the context and its device (a bounded leak instead of a hang or a
// use-after-free). Returns false for such a stream. Allocates nothing (destroy cannot fail
// half-way).
bool Context::finishStream(Stream* s, uint64_t deadline) {
    bool done = false;
    for (;;) {
        done = lost() || s->query() != batonErrorNotReady;  // an error counts as finished
        if (done || nowNs() >= deadline) break;
        struct timespec nap{0, 1000000};  // 1 ms: teardown, not a hot path
        nanosleep(&nap, nullptr);
    }
    uint64_t reached = 0;
    const uint64_t point = s->submittedPoint.load();
    if (!done && !lost() && point &&
        (vkd.vkGetSemaphoreCounterValue(device, s->timeline, &reached) != VK_SUCCESS || reached < point))
        return false;  // its submissions may never complete: keep everything they use
    s->close(!done || lost());  // done: nothing is left; else abandon the host waits
    s->release();
    return true;
}

// Waits, at most a second, until what was submitted to q so far has completed, with a
// signal-only submission after it (its signal follows all earlier work on the queue, and the
// driver's handling of that work). Bounded, unlike vkQueueWaitIdle: the host's own work on
// its queue may wait for a dead peer. A semaphore still pending at the bound is left alive.
// Teardown only (Stream::close on an attached context: see there).
void Context::drainQueue(Queue& q) {
    VkSemaphoreTypeCreateInfo tci{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &tci, 0};
    VkSemaphore sem = VK_NULL_HANDLE;
    if (vkd.vkCreateSemaphore(device, &sci, nullptr, &sem) != VK_SUCCESS) return;
    VkSemaphoreSubmitInfo sig{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, sem, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 0, nullptr, 0, nullptr, 1, &sig};
    const VkResult r = submit(q, si);  // under the queue's lock, refused on a lost device
    const uint64_t one = 1;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &sem, &one};
    if (r != VK_SUCCESS || vkd.vkWaitSemaphores(device, &wi, 1'000'000'000ull) == VK_SUCCESS)
        vkd.vkDestroySemaphore(device, sem, nullptr);
}

// Takes one child of the wanted kind (streams, or the rest) out of the context, or nullptr.
Object* Context::takeChild(bool stream) {
    MutexLock lock(childrenMutex_);
    if (stream && defaultStream_) {
        Object* d = defaultStream_;
        defaultStream_ = nullptr;
        return d;
    }
    for (auto it = children_.begin(); it != children_.end(); ++it) {
        if ((*it)->type() == ObjectType::Stream) {
            if (!stream) continue;
        } else if (stream) {
            continue;
        }
        Object* o = *it;
        children_.erase(it);
        return o;
    }
    return nullptr;
}

void Context::shutdown() {
    // Streams first (they finish their work and drop references to semaphores and events),
    // then the rest. Each child's handle ends first, so that stale handles are refused.
    const uint64_t deadline = nowNs() + destroyBoundNs();
    bool stuck = false;
    while (Object* o = takeChild(true)) {
        unregisterObject(o);
        stuck |= !finishStream(static_cast<Stream*>(o), deadline);
    }
    while (Object* o = takeChild(false)) {
        unregisterObject(o);
        o->release();
    }
    if (stuck) {
        retain();  // never deleted: the device and the streams' pools stay for the GPU
        stuckOnDestroy_ = true;
        report(batonMessageSeverityError,
               "baton: batonContextDestroy gave up on GPU work that waits on a semaphore nobody signals (a dead peer?); "
               "its stream, the context and its device are left allocated");
    }
    // Standalone: the device and its queues are baton's (the host may only use graphicsQueue,
    // which it must not do while destroying the context).
    if (device && !attached && !stuckOnDestroy_ && !lost()) vkd.vkDeviceWaitIdle(device);
}

}  // namespace baton
