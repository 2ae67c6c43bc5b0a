#include "gpu.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace sandbox {

uint64_t nowNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

const char* vkResultName(VkResult r) {
    switch (r) {
#define CASE(x) case x: return #x;
        CASE(VK_SUCCESS) CASE(VK_NOT_READY) CASE(VK_TIMEOUT) CASE(VK_SUBOPTIMAL_KHR)
        CASE(VK_ERROR_OUT_OF_HOST_MEMORY) CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY) CASE(VK_ERROR_INITIALIZATION_FAILED)
        CASE(VK_ERROR_DEVICE_LOST) CASE(VK_ERROR_LAYER_NOT_PRESENT) CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
        CASE(VK_ERROR_FEATURE_NOT_PRESENT) CASE(VK_ERROR_INCOMPATIBLE_DRIVER) CASE(VK_ERROR_SURFACE_LOST_KHR)
        CASE(VK_ERROR_OUT_OF_DATE_KHR) CASE(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR)
#undef CASE
        default: return "VkResult(?)";
    }
}

void vkFatal(VkResult r, const char* expr, const char* file, int line) {
    std::fprintf(stderr, "baton-sandbox: %s failed: %s (%d) at %s:%d\n", expr, vkResultName(r), r, file, line);
    std::exit(2);
}

void batonFatal(batonError_t e, const char* expr, const char* file, int line) {
    std::fprintf(stderr, "baton-sandbox: %s failed: %s: %s at %s:%d\n", expr, batonGetErrorName(e),
                 batonGetLastErrorMessage(), file, line);
    std::exit(2);
}

namespace {

VkBool32 VKAPI_PTR onDebugMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                  const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    auto* gpu = static_cast<Gpu*>(user);
    const char* msg = data && data->pMessage ? data->pMessage : "(no message)";
    const char* id = data && data->pMessageIdName ? data->pMessageIdName : "";
    // Known false positive of the validation layer shipped in Debian 12 (1.3.239): it keeps
    // a host vkSignalSemaphore as a "pending signal operation" while a queue waits on that
    // semaphore, then flags the next host signal. The only semaphores host-signaled in this
    // process are baton's portable wait proxies, which no queue ever signals, so this VUID
    // cannot be a real error here. Counted and reported, not treated as an error.
    if (std::strcmp(id, "VUID-VkSemaphoreSignalInfo-value-03259") == 0) {
        gpu->validationSuppressed.fetch_add(1);
        return VK_FALSE;
    }
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        gpu->validationErrors.fetch_add(1);
        std::fprintf(stderr, "validation error: %s\n", msg);
    } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        gpu->validationWarnings.fetch_add(1);
        std::fprintf(stderr, "validation warning: %s\n", msg);
    }
    return VK_FALSE;
}

bool hasExtension(const std::vector<VkExtensionProperties>& exts, const char* name) {
    for (const auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

int deviceScore(VkPhysicalDeviceType t, bool preferCpu) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 5;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 4;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 3;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return preferCpu ? 10 : 2;
        default: return 1;
    }
}

}  // namespace

Gpu::~Gpu() {
    if (device) {
        vkDeviceWaitIdle(device);
        vkDestroyDevice(device, nullptr);
    }
    if (messenger) vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
    if (instance) vkDestroyInstance(instance, nullptr);
}

void Gpu::createInstance(const GpuOptions& options) {
    if (volkInitialize() != VK_SUCCESS) {
        std::fprintf(stderr, "baton-sandbox: no Vulkan loader (libvulkan.so.1); install libvulkan1\n");
        std::exit(2);
    }
    if (volkGetInstanceVersion() < VK_API_VERSION_1_3) {
        std::fprintf(stderr, "baton-sandbox: the Vulkan loader must support Vulkan 1.3\n");
        std::exit(2);
    }
    std::vector<const char*> exts = options.instanceExtensions;
    const char* layers[] = {"VK_LAYER_KHRONOS_validation"};
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
    dbg.pfnUserCallback = onDebugMessage;
    dbg.pUserData = this;
    if (options.validation) exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "baton-sandbox";
    app.pEngineName = "baton-sandbox";
    app.apiVersion = apiVersion;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    ici.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    ici.ppEnabledExtensionNames = exts.data();
    if (options.validation) {
        ici.pNext = &dbg;
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = layers;
    }
    VkResult r = vkCreateInstance(&ici, nullptr, &instance);
    if (r == VK_ERROR_LAYER_NOT_PRESENT) {
        std::fprintf(stderr, "baton-sandbox: BATON_VALIDATION=1 but VK_LAYER_KHRONOS_validation is missing "
                             "(Debian: vulkan-validationlayers)\n");
        std::exit(2);
    }
    VK_CHECK(r);
    volkLoadInstanceOnly(instance);
    if (options.validation) VK_CHECK(vkCreateDebugUtilsMessengerEXT(instance, &dbg, nullptr, &messenger));
}

void Gpu::createDevice(const GpuOptions& options, VkSurfaceKHR surface) {
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(instance, &n, pds.data());
    int best = -1;
    for (VkPhysicalDevice pd : pds) {
        VkPhysicalDeviceProperties p{};
        vkGetPhysicalDeviceProperties(pd, &p);
        if (p.apiVersion < VK_API_VERSION_1_3) continue;
        int score = deviceScore(p.deviceType, options.preferCpu);
        if (score > best) {
            best = score;
            physicalDevice = pd;
        }
    }
    if (!physicalDevice) {
        std::fprintf(stderr, "baton-sandbox: no Vulkan 1.3 device (install mesa-vulkan-drivers for lavapipe)\n");
        std::exit(2);
    }
    vkGetPhysicalDeviceProperties(physicalDevice, &properties);
    vkGetPhysicalDeviceMemoryProperties(physicalDevice, &memory);

    uint32_t nf = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &nf, fams.data());
    int gfx = -1, comp = -1;
    for (uint32_t i = 0; i < nf; ++i) {
        VkBool32 present = VK_TRUE;
        if (surface) vkGetPhysicalDeviceSurfaceSupportKHR(physicalDevice, i, surface, &present);
        if (gfx < 0 && (fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) && present) gfx = static_cast<int>(i);
        if (comp < 0 && (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            comp = static_cast<int>(i);
    }
    if (gfx < 0) {
        std::fprintf(stderr, "baton-sandbox: %s has no graphics queue%s\n", properties.deviceName,
                     surface ? " that can present to the window" : "");
        std::exit(2);
    }
    graphicsFamily = static_cast<uint32_t>(gfx);
    float priorities[2] = {1.0f, 1.0f};
    VkDeviceQueueCreateInfo qcis[2]{};
    uint32_t qciCount = 0;
    if (comp >= 0) {  // a compute-only family: baton's queue runs beside the graphics queue
        computeFamily = static_cast<uint32_t>(comp);
        computeIndex = 0;
        qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, graphicsFamily, 1, priorities};
        qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, computeFamily, 1, priorities};
    } else if (fams[graphicsFamily].queueCount > 1) {  // a second queue of the graphics family
        computeFamily = graphicsFamily;
        computeIndex = 1;
        qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, graphicsFamily, 2, priorities};
    } else {  // one queue for everything (lavapipe): shared under queueMutex
        computeFamily = graphicsFamily;
        computeIndex = 0;
        queueShared = true;
        qcis[qciCount++] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, graphicsFamily, 1, priorities};
    }
    graphicsTimestampBits = fams[graphicsFamily].timestampValidBits;
    computeTimestampBits = fams[computeFamily].timestampValidBits;

    uint32_t ne = 0;
    vkEnumerateDeviceExtensionProperties(physicalDevice, nullptr, &ne, nullptr);
    std::vector<VkExtensionProperties> exts(ne);
    vkEnumerateDeviceExtensionProperties(physicalDevice, nullptr, &ne, exts.data());
    if (surface) enabledExtensions.push_back(VK_KHR_SWAPCHAIN_EXTENSION_NAME);
    // What baton can use: native semaphore fds, memory fds, calibrated timestamps.
    for (const char* e : {VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
                          VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME})
        if (hasExtension(exts, e)) enabledExtensions.push_back(e);
    calibratedTimestamps = hasExtension(exts, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);

    features13.synchronization2 = VK_TRUE;
    features12.pNext = &features13;
    features12.timelineSemaphore = VK_TRUE;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features12};
    dci.queueCreateInfoCount = qciCount;
    dci.pQueueCreateInfos = qcis;
    dci.enabledExtensionCount = static_cast<uint32_t>(enabledExtensions.size());
    dci.ppEnabledExtensionNames = enabledExtensions.data();
    VK_CHECK(vkCreateDevice(physicalDevice, &dci, nullptr, &device));
    volkLoadDevice(device);
    vkGetDeviceQueue(device, graphicsFamily, 0, &graphicsQueue);
    vkGetDeviceQueue(device, computeFamily, computeIndex, &computeQueue);
}

uint32_t Gpu::memoryType(uint32_t typeBits, VkMemoryPropertyFlags want) const {
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
        if ((typeBits & (1u << i)) && (memory.memoryTypes[i].propertyFlags & want) == want) return i;
    std::fprintf(stderr, "baton-sandbox: no memory type with flags 0x%x\n", want);
    std::exit(2);
}

}  // namespace sandbox

namespace sandbox {

void Gpu::runOnce(const std::function<void(VkCommandBuffer)>& fn) {
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr, VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                graphicsFamily};
    VkCommandPool pool = VK_NULL_HANDLE;
    VK_CHECK(vkCreateCommandPool(device, &pci, nullptr, &pool));
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool,
                                   VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VK_CHECK(vkAllocateCommandBuffers(device, &ai, &cmd));
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VK_CHECK(vkBeginCommandBuffer(cmd, &bi));
    fn(cmd);
    VK_CHECK(vkEndCommandBuffer(cmd));
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence = VK_NULL_HANDLE;
    VK_CHECK(vkCreateFence(device, &fci, nullptr, &fence));
    VkCommandBufferSubmitInfo cbi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.commandBufferInfoCount = 1;
    si.pCommandBufferInfos = &cbi;
    lockGraphics();
    VkResult r = vkQueueSubmit2(graphicsQueue, 1, &si, fence);
    unlockGraphics();
    VK_CHECK(r);
    VK_CHECK(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX));
    vkDestroyFence(device, fence, nullptr);
    vkDestroyCommandPool(device, pool, nullptr);
}

}  // namespace sandbox
