#include "cuda/device_list.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/object.h"

namespace baton {
namespace {

// The order Context::pickPhysicalDevice ranks devices in (exec/context.cpp): keep the two
// the same, or device 0 stops being the default context's device.
int deviceScore(VkPhysicalDeviceType t, bool preferSoftware) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 5;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 4;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 3;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return preferSoftware ? 10 : 2;
        default: return 1;
    }
}

bool preferSoftware() {
    const char* v = std::getenv("BATON_DEVICE");
    return v && std::strcmp(v, "cpu") == 0;
}

// The instance-level functions the enumeration needs, from the loader it opened.
struct Enumerator {
    void* loader = nullptr;
    VkInstance instance = VK_NULL_HANDLE;
    PFN_vkDestroyInstance destroyInstance = nullptr;
    PFN_vkEnumeratePhysicalDevices enumerate = nullptr;
    PFN_vkGetPhysicalDeviceProperties2 properties2 = nullptr;
    PFN_vkGetPhysicalDeviceFeatures2 features2 = nullptr;
    PFN_vkGetPhysicalDeviceMemoryProperties memoryProperties = nullptr;
    PFN_vkEnumerateDeviceExtensionProperties extensions = nullptr;

    ~Enumerator() {
        if (instance) destroyInstance(instance, nullptr);
        if (loader) dlclose(loader);
    }
    batonError_t open();
};

batonError_t Enumerator::open() {
    loader = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!loader) return fail(batonErrorInitializationError, "cannot load libvulkan.so.1: %s", dlerror());
    auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(loader, "vkGetInstanceProcAddr"));
    auto create = gipa ? reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance")) : nullptr;
    if (!create) return fail(batonErrorInitializationError, "libvulkan.so.1 has no vkCreateInstance");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "baton device list";
    app.apiVersion = VK_API_VERSION_1_3;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    VkResult r = create(&ici, nullptr, &instance);
    if (r != VK_SUCCESS) {
        instance = VK_NULL_HANDLE;
        return failVk(r, "vkCreateInstance (device list)");
    }
#define BATON_LOAD(member, name) member = reinterpret_cast<PFN_##name>(gipa(instance, #name));
    BATON_LOAD(destroyInstance, vkDestroyInstance)
    BATON_LOAD(enumerate, vkEnumeratePhysicalDevices)
    BATON_LOAD(properties2, vkGetPhysicalDeviceProperties2)
    BATON_LOAD(features2, vkGetPhysicalDeviceFeatures2)
    BATON_LOAD(memoryProperties, vkGetPhysicalDeviceMemoryProperties)
    BATON_LOAD(extensions, vkEnumerateDeviceExtensionProperties)
#undef BATON_LOAD
    if (!destroyInstance || !enumerate || !properties2 || !features2 || !memoryProperties || !extensions) {
        if (!destroyInstance) instance = VK_NULL_HANDLE;  // cannot be destroyed: leave it
        return fail(batonErrorInitializationError, "the Vulkan loader lacks a Vulkan 1.1 instance function");
    }
    return batonSuccess;
}

bool hasPciBusInfo(const Enumerator& en, VkPhysicalDevice pd) {
    uint32_t n = 0;
    if (en.extensions(pd, nullptr, &n, nullptr) != VK_SUCCESS) return false;
    std::vector<VkExtensionProperties> exts(n);
    if (en.extensions(pd, nullptr, &n, exts.data()) != VK_SUCCESS) return false;
    for (uint32_t i = 0; i < n; ++i)
        if (std::strcmp(exts[i].extensionName, VK_EXT_PCI_BUS_INFO_EXTENSION_NAME) == 0) return true;
    return false;
}

// Fills rec for pd; false when baton cannot open it (what deviceUsable in context.cpp says).
bool describe(const Enumerator& en, VkPhysicalDevice pd, DeviceRecord* rec, VkPhysicalDeviceType* type) {
    VkPhysicalDevicePCIBusInfoPropertiesEXT pci{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT};
    VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES, &sub};
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &id};
    const bool havePci = hasPciBusInfo(en, pd);
    if (havePci) sub.pNext = &pci;
    en.properties2(pd, &p2);
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13};
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
    en.features2(pd, &f2);
    const VkPhysicalDeviceProperties& p = p2.properties;
    if (p.apiVersion < VK_API_VERSION_1_3 || !f12.timelineSemaphore || !f13.synchronization2) return false;

    *type = p.deviceType;
    batonDeviceProp& d = rec->prop;
    std::memcpy(d.name, p.deviceName, std::min(sizeof d.name - 1, sizeof p.deviceName));
    std::memcpy(d.uuid.bytes, id.deviceUUID, VK_UUID_SIZE);
    std::memcpy(rec->uuid, id.deviceUUID, VK_UUID_SIZE);
    if (id.deviceLUIDValid) {
        std::memcpy(d.luid, id.deviceLUID, sizeof d.luid);
        d.luidDeviceNodeMask = id.deviceNodeMask;
    }
    VkPhysicalDeviceMemoryProperties mp{};
    en.memoryProperties(pd, &mp);
    for (uint32_t h = 0; h < mp.memoryHeapCount; ++h)
        if (mp.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            d.totalGlobalMem = std::max<size_t>(d.totalGlobalMem, mp.memoryHeaps[h].size);
    d.sharedMemPerBlock = p.limits.maxComputeSharedMemorySize;
    d.warpSize = static_cast<int>(sub.subgroupSize);
    d.maxThreadsPerBlock = static_cast<int>(p.limits.maxComputeWorkGroupInvocations);
    d.totalConstMem = p.limits.maxUniformBufferRange;
    d.major = static_cast<int>(VK_API_VERSION_MAJOR(p.apiVersion));
    d.minor = static_cast<int>(VK_API_VERSION_MINOR(p.apiVersion));
    d.multiProcessorCount = 1;
    d.integrated = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU || p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    if (havePci) {
        d.pciBusID = static_cast<int>(pci.pciBus);
        d.pciDeviceID = static_cast<int>(pci.pciDevice);
        d.pciDomainID = static_cast<int>(pci.pciDomain);
    }
    // Every device baton opens can share timelines: natively, or through the portable backend.
    rec->timelineInterop = true;
    return true;
}

batonError_t enumerate(std::vector<DeviceRecord>* out) {
    Enumerator en;
    batonError_t e = en.open();
    if (e != batonSuccess) return e;
    uint32_t n = 0;
    VkResult r = en.enumerate(en.instance, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    if (r == VK_SUCCESS || r == VK_INCOMPLETE) r = en.enumerate(en.instance, &n, pds.data());
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) return failVk(r, "vkEnumeratePhysicalDevices (device list)");
    pds.resize(n);
    struct Ranked {
        DeviceRecord rec;
        int score;
    };
    std::vector<Ranked> ranked;
    const bool software = preferSoftware();
    for (VkPhysicalDevice pd : pds) {
        Ranked x{};
        VkPhysicalDeviceType type{};
        if (!describe(en, pd, &x.rec, &type)) continue;
        x.score = deviceScore(type, software);
        ranked.push_back(x);
    }
    // Ties keep the driver's order, as pickPhysicalDevice keeps the first of the best.
    std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
    out->clear();
    for (const Ranked& x : ranked) out->push_back(x.rec);
    return batonSuccess;
}

std::mutex g_listMutex;
std::vector<DeviceRecord>* g_list = nullptr;  // filled once, then never changed (leaked on purpose)

}  // namespace

batonError_t deviceList(const std::vector<DeviceRecord>** out) {
    std::lock_guard lock(g_listMutex);
    if (!g_list) {
        // A child forked without exec must not open the driver (see core/object.h); a list
        // the parent made before the fork is plain data and stays readable.
        if (forkedFromBaton()) return forkedError("the device list");
        auto list = std::make_unique<std::vector<DeviceRecord>>();
        batonError_t e = enumerate(list.get());
        if (e != batonSuccess) return e;
        if (list->empty())
            return fail(batonErrorNoDevice, "no Vulkan 1.3 device with timeline semaphores and synchronization2 "
                                            "(install mesa-vulkan-drivers for lavapipe)");
        g_list = list.release();
    }
    *out = g_list;
    return batonSuccess;
}

batonError_t deviceRecord(int device, const DeviceRecord** out) {
    const std::vector<DeviceRecord>* list = nullptr;
    batonError_t e = deviceList(&list);
    if (e != batonSuccess) return e;
    if (device < 0 || static_cast<size_t>(device) >= list->size())
        return fail(batonErrorInvalidDevice, "device %d: there %s %zu device%s (0..%zu)", device,
                    list->size() == 1 ? "is" : "are", list->size(), list->size() == 1 ? "" : "s", list->size() - 1);
    *out = &(*list)[static_cast<size_t>(device)];
    return batonSuccess;
}

}  // namespace baton
