// Steady state of the frame channel: once warmed up, a frame costs baton no heap allocation,
// no Vulkan object creation (semaphores, pools, memory...) and no fd traffic.
//
// How it counts, without a Vulkan layer:
//  - Vulkan: the context is *attached* to a device this test creates, and the
//    vkGetInstanceProcAddr it lends baton hands out counting wrappers of the creation calls,
//    so every call baton makes through its dispatch tables is seen.
//  - Heap: malloc/calloc/realloc and operator new are interposed in this executable; a call
//    whose caller lies inside libbaton.so counts (the driver and the validation layer
//    allocate per submit by themselves; they are not baton's).
//  - fds: close/dup/dup2/dup3/memfd_create are interposed and counted process-wide, and
//    /proc/self/fd is counted before and after.
// Interposing malloc does not mix with AddressSanitizer: this suite is labelled no_sanitizer.
#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_telemetry.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <mutex>
#include <new>
#include <sys/mman.h>
#include <vector>

#include "baton_test.h"
#include "channel_harness.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
}

namespace {

std::atomic<uintptr_t> g_batonBegin{0}, g_batonEnd{0};
std::atomic<uint64_t> g_batonAllocs{0};
std::atomic<uint64_t> g_fdCalls{0};

inline void noteCaller(void* ret) {
    auto a = reinterpret_cast<uintptr_t>(ret);
    if (a >= g_batonBegin.load(std::memory_order_relaxed) && a < g_batonEnd.load(std::memory_order_relaxed))
        g_batonAllocs.fetch_add(1, std::memory_order_relaxed);
}

// Finds libbaton.so's executable segment.
void findBaton() {
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void*) -> int {
            if (!info->dlpi_name || !std::strstr(info->dlpi_name, "libbaton")) return 0;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const auto& ph = info->dlpi_phdr[i];
                if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
                    g_batonBegin = info->dlpi_addr + ph.p_vaddr;
                    g_batonEnd = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
                }
            }
            return 1;
        },
        nullptr);
}

}  // namespace

// --- interposed allocation and fd functions ------------------------------------------------
extern "C" {
void* malloc(size_t n) {
    noteCaller(__builtin_return_address(0));
    return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
    noteCaller(__builtin_return_address(0));
    return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
    noteCaller(__builtin_return_address(0));
    return __libc_realloc(p, n);
}
void free(void* p) { __libc_free(p); }

#define BATON_FD_WRAPPER(ret, name, params, args)                                       \
    ret name params {                                                                    \
        static auto real = reinterpret_cast<ret(*) params>(dlsym(RTLD_NEXT, #name));    \
        g_fdCalls.fetch_add(1, std::memory_order_relaxed);                               \
        return real args;                                                                \
    }
BATON_FD_WRAPPER(int, close, (int fd), (fd))
BATON_FD_WRAPPER(int, dup, (int fd), (fd))
BATON_FD_WRAPPER(int, dup2, (int a, int b), (a, b))
BATON_FD_WRAPPER(int, dup3, (int a, int b, int f), (a, b, f))
BATON_FD_WRAPPER(int, memfd_create, (const char* n, unsigned f), (n, f))
#undef BATON_FD_WRAPPER
}

void* operator new(size_t n) {
    noteCaller(__builtin_return_address(0));
    if (void* p = __libc_malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t n) {
    noteCaller(__builtin_return_address(0));
    if (void* p = __libc_malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    noteCaller(__builtin_return_address(0));
    return __libc_malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }

// --- counting Vulkan dispatch --------------------------------------------------------------
namespace {

struct Real {
    PFN_vkGetInstanceProcAddr gipa;
    PFN_vkGetDeviceProcAddr gdpa;
    PFN_vkCreateSemaphore createSemaphore;
    PFN_vkCreateCommandPool createCommandPool;
    PFN_vkAllocateCommandBuffers allocateCommandBuffers;
    PFN_vkCreateQueryPool createQueryPool;
    PFN_vkAllocateMemory allocateMemory;
    PFN_vkCreateImage createImage;
    PFN_vkQueueSubmit2 queueSubmit2;
} g_real{};
std::atomic<uint64_t> g_vkCreations{0}, g_semaphoreCreations{0}, g_submits{0};

VKAPI_ATTR VkResult VKAPI_CALL countCreateSemaphore(VkDevice d, const VkSemaphoreCreateInfo* i,
                                                    const VkAllocationCallbacks* a, VkSemaphore* s) {
    g_semaphoreCreations.fetch_add(1);
    g_vkCreations.fetch_add(1);
    return g_real.createSemaphore(d, i, a, s);
}
VKAPI_ATTR VkResult VKAPI_CALL countCreateCommandPool(VkDevice d, const VkCommandPoolCreateInfo* i,
                                                      const VkAllocationCallbacks* a, VkCommandPool* p) {
    g_vkCreations.fetch_add(1);
    return g_real.createCommandPool(d, i, a, p);
}
VKAPI_ATTR VkResult VKAPI_CALL countAllocateCommandBuffers(VkDevice d, const VkCommandBufferAllocateInfo* i,
                                                           VkCommandBuffer* c) {
    g_vkCreations.fetch_add(1);
    return g_real.allocateCommandBuffers(d, i, c);
}
VKAPI_ATTR VkResult VKAPI_CALL countCreateQueryPool(VkDevice d, const VkQueryPoolCreateInfo* i,
                                                    const VkAllocationCallbacks* a, VkQueryPool* q) {
    g_vkCreations.fetch_add(1);
    return g_real.createQueryPool(d, i, a, q);
}
VKAPI_ATTR VkResult VKAPI_CALL countAllocateMemory(VkDevice d, const VkMemoryAllocateInfo* i,
                                                   const VkAllocationCallbacks* a, VkDeviceMemory* m) {
    g_vkCreations.fetch_add(1);
    return g_real.allocateMemory(d, i, a, m);
}
VKAPI_ATTR VkResult VKAPI_CALL countCreateImage(VkDevice d, const VkImageCreateInfo* i, const VkAllocationCallbacks* a,
                                                VkImage* img) {
    g_vkCreations.fetch_add(1);
    return g_real.createImage(d, i, a, img);
}
VKAPI_ATTR VkResult VKAPI_CALL countQueueSubmit2(VkQueue q, uint32_t n, const VkSubmitInfo2* s, VkFence f) {
    g_submits.fetch_add(1);
    return g_real.queueSubmit2(q, n, s, f);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL countingGdpa(VkDevice d, const char* name) {
#define WRAP(fn, wrapper) \
    if (std::strcmp(name, fn) == 0) return reinterpret_cast<PFN_vkVoidFunction>(wrapper);
    WRAP("vkCreateSemaphore", countCreateSemaphore)
    WRAP("vkCreateCommandPool", countCreateCommandPool)
    WRAP("vkAllocateCommandBuffers", countAllocateCommandBuffers)
    WRAP("vkCreateQueryPool", countCreateQueryPool)
    WRAP("vkAllocateMemory", countAllocateMemory)
    WRAP("vkCreateImage", countCreateImage)
    WRAP("vkQueueSubmit2", countQueueSubmit2)
#undef WRAP
    return g_real.gdpa(d, name);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL countingGipa(VkInstance i, const char* name) {
    if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) return reinterpret_cast<PFN_vkVoidFunction>(countingGdpa);
    return g_real.gipa(i, name);
}

std::mutex g_queueMutex;
void lockQueue(VkQueue, void*) { g_queueMutex.lock(); }
void unlockQueue(VkQueue, void*) { g_queueMutex.unlock(); }

// The host renderer: its own instance and device (lavapipe or a GPU), with what baton needs.
struct Host {
    void* loader = nullptr;
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    std::vector<const char*> exts;
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13};
    std::string error;

    bool make() {
        loader = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!loader) return fail("no libvulkan.so.1");
        g_real.gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(loader, "vkGetInstanceProcAddr"));
        auto createInstance = reinterpret_cast<PFN_vkCreateInstance>(g_real.gipa(nullptr, "vkCreateInstance"));
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.apiVersion = VK_API_VERSION_1_3;
        const char* layer = "VK_LAYER_KHRONOS_validation";
        VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        ici.pApplicationInfo = &app;
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = &layer;
        if (createInstance(&ici, nullptr, &instance) != VK_SUCCESS) return fail("vkCreateInstance");
        auto enumerate = reinterpret_cast<PFN_vkEnumeratePhysicalDevices>(g_real.gipa(instance, "vkEnumeratePhysicalDevices"));
        uint32_t n = 1;
        VkResult r = enumerate(instance, &n, &pd);
        if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || !n) return fail("no physical device");
        auto qfp = reinterpret_cast<PFN_vkGetPhysicalDeviceQueueFamilyProperties>(
            g_real.gipa(instance, "vkGetPhysicalDeviceQueueFamilyProperties"));
        uint32_t nf = 0;
        qfp(pd, &nf, nullptr);
        std::vector<VkQueueFamilyProperties> fams(nf);
        qfp(pd, &nf, fams.data());
        family = UINT32_MAX;
        for (uint32_t i = 0; i < nf && family == UINT32_MAX; ++i)
            if (fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) family = i;
        if (family == UINT32_MAX) return fail("no graphics queue family");
        auto enumExts = reinterpret_cast<PFN_vkEnumerateDeviceExtensionProperties>(
            g_real.gipa(instance, "vkEnumerateDeviceExtensionProperties"));
        uint32_t ne = 0;
        enumExts(pd, nullptr, &ne, nullptr);
        std::vector<VkExtensionProperties> avail(ne);
        enumExts(pd, nullptr, &ne, avail.data());
        for (const char* want : {VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME})
            for (const auto& e : avail)
                if (std::strcmp(e.extensionName, want) == 0) exts.push_back(want);
        f12.timelineSemaphore = VK_TRUE;
        f13.synchronization2 = VK_TRUE;
        float prio = 1.0f;
        VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, family, 1, &prio};
        VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f12};
        dci.queueCreateInfoCount = 1;
        dci.pQueueCreateInfos = &qci;
        dci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
        dci.ppEnabledExtensionNames = exts.data();
        auto createDevice = reinterpret_cast<PFN_vkCreateDevice>(g_real.gipa(instance, "vkCreateDevice"));
        if (createDevice(pd, &dci, nullptr, &device) != VK_SUCCESS) return fail("vkCreateDevice");
        g_real.gdpa = reinterpret_cast<PFN_vkGetDeviceProcAddr>(g_real.gipa(instance, "vkGetDeviceProcAddr"));
#define LOAD(field, name) g_real.field = reinterpret_cast<PFN_##name>(g_real.gdpa(device, #name))
        LOAD(createSemaphore, vkCreateSemaphore);
        LOAD(createCommandPool, vkCreateCommandPool);
        LOAD(allocateCommandBuffers, vkAllocateCommandBuffers);
        LOAD(createQueryPool, vkCreateQueryPool);
        LOAD(allocateMemory, vkAllocateMemory);
        LOAD(createImage, vkCreateImage);
        LOAD(queueSubmit2, vkQueueSubmit2);
#undef LOAD
        reinterpret_cast<PFN_vkGetDeviceQueue>(g_real.gdpa(device, "vkGetDeviceQueue"))(device, family, 0, &queue);
        return true;
    }
    bool fail(const char* what) {
        error = what;
        return false;
    }
    ~Host() {
        if (device) reinterpret_cast<PFN_vkDestroyDevice>(g_real.gdpa(device, "vkDestroyDevice"))(device, nullptr);
        if (instance) reinterpret_cast<PFN_vkDestroyInstance>(g_real.gipa(instance, "vkDestroyInstance"))(instance, nullptr);
        if (loader) dlclose(loader);
    }
};

struct Counters {
    uint64_t allocs, vk, sems, fdCalls, submits;
    int fds;
    size_t heapInUse;
    static Counters now() {
        return {g_batonAllocs.load(), g_vkCreations.load(), g_semaphoreCreations.load(), g_fdCalls.load(),
                g_submits.load(),    batontest::openFdCount(), mallinfo2().uordblks};
    }
};

class ChannelSteady : public ::testing::TestWithParam<bool> {};

}  // namespace

TEST_P(ChannelSteady, NoAllocationObjectCreationOrFdTrafficPerFrame) {
    const bool telemetry = GetParam();
    findBaton();
    ASSERT_NE(g_batonBegin.load(), 0u) << "libbaton.so not found among the loaded objects";
    Host host;
    ASSERT_TRUE(host.make()) << host.error;
    batonContextAttachInfo ai{};
    ai.getInstanceProcAddr = countingGipa;
    ai.instance = host.instance;
    ai.physicalDevice = host.pd;
    ai.device = host.device;
    ai.apiVersion = VK_API_VERSION_1_3;
    ai.computeQueue = {host.queue, host.family, 0};
    ai.enabledExtensions = host.exts.data();
    ai.enabledExtensionCount = static_cast<uint32_t>(host.exts.size());
    ai.enabledFeatures = &host.f12;
    ai.lockQueue = lockQueue;  // the renderer (the harness) submits to the same queue
    ai.unlockQueue = unlockQueue;
    ai.messageCallback = batontest::messageCallback;
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonContextAttach(&ctx, &ai));
    batonCtxSetCurrent(ctx);
    if (telemetry) BATON_ASSERT_OK(batonTelemetryEnable(ctx, 1));
    {
        batontest::ChannelHarness h(ctx, host.queue, host.family, 8, 8);
        ASSERT_TRUE(h.ok());
        batonChannelCreateInfo ci{};
        ci.depth = 3;
        ci.format = VK_FORMAT_R32_UINT;
        ci.extent = {8, 8};
        ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
        batonChannel_t ch = nullptr;
        BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
        batonStream_t s = nullptr;
        BATON_ASSERT_OK(batonStreamCreate(&s));

        batontest::HandoffResult warm = h.run(ch, s, 300, true);  // threads started, rings touched
        ASSERT_EQ(warm.firstError, "");
        BATON_ASSERT_OK(batonStreamSynchronize(s));
        h.idle();
        const Counters before = Counters::now();
        const uint64_t frames = 3000;
        batontest::HandoffResult r = h.run(ch, s, frames, true, 301);
        BATON_ASSERT_OK(batonStreamSynchronize(s));
        h.idle();
        const Counters after = Counters::now();
        EXPECT_EQ(r.firstError, "");
        EXPECT_EQ(r.consumed, frames);
        EXPECT_EQ(r.badPixels, 0u);
        EXPECT_GE(after.submits - before.submits, frames) << "the counting dispatch did not see baton's submits";
        EXPECT_EQ(after.allocs - before.allocs, 0u) << "heap allocations made by libbaton over " << frames << " frames";
        EXPECT_EQ(after.sems - before.sems, 0u) << "semaphores created";
        EXPECT_EQ(after.vk - before.vk, 0u) << "Vulkan objects created";
        EXPECT_EQ(after.fdCalls - before.fdCalls, 0u) << "close/dup/memfd_create calls";
        EXPECT_EQ(after.fds, before.fds) << "open fds";
        std::printf("[ figures  ] %llu frames: %llu submits, baton allocations %llu, heap in use %+lld bytes "
                    "(driver and validation layer included)\n",
                    static_cast<unsigned long long>(frames),
                    static_cast<unsigned long long>(after.submits - before.submits),
                    static_cast<unsigned long long>(after.allocs - before.allocs),
                    static_cast<long long>(after.heapInUse) - static_cast<long long>(before.heapInUse));
        batonStreamDestroy(s);
        BATON_ASSERT_OK(batonChannelDestroy(ch));
        // The counters do see baton: creating a stream makes a semaphore and allocates.
        const Counters c0 = Counters::now();
        BATON_ASSERT_OK(batonStreamCreate(&s));
        batonStreamDestroy(s);
        const Counters c1 = Counters::now();
        EXPECT_GT(c1.sems, c0.sems);
        EXPECT_GT(c1.allocs, c0.allocs);
    }
    batonCtxSetCurrent(nullptr);
    BATON_ASSERT_OK(batonContextDestroy(ctx));
}

INSTANTIATE_TEST_SUITE_P(Telemetry, ChannelSteady, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "On" : "Off"; });
