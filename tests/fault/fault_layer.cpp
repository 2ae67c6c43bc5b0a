// VK_LAYER_BATON_fault: a real Vulkan layer that fails the Nth call of a chosen function with a
// chosen VkResult, counts every call it can fail, and makes an injected VK_ERROR_DEVICE_LOST
// sticky as a real lost device is. Everything it does not intercept goes straight to the next
// layer or the driver through the loader's chain (vkGet*ProcAddr). See README.md beside it.
//
// A failed call never reaches the layers below it or the driver: the object is not created,
// the work is not submitted, the fd is not touched. Enabled from the environment, the loader
// places it between the application and any layer the application enables itself (the
// validation layer), so validation sees exactly the calls that really happen.
#include "fault_layer.h"

#include <vulkan/vk_layer.h>
#include <vulkan/vulkan.h>

#include <atomic>
#include <dlfcn.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define FAULT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// ---- what the layer can fail -------------------------------------------------------------

// One counter per function the layer can fail (aliases such as the KHR names count as one).
#define FAULT_FUNCTIONS(X)                 \
    X(vkQueueSubmit2)                      \
    X(vkQueueSubmit)                       \
    X(vkAllocateMemory)                    \
    X(vkMapMemory)                         \
    X(vkBindBufferMemory)                  \
    X(vkBindImageMemory)                   \
    X(vkBindBufferMemory2)                 \
    X(vkBindImageMemory2)                  \
    X(vkCreateSemaphore)                   \
    X(vkGetSemaphoreFdKHR)                 \
    X(vkImportSemaphoreFdKHR)              \
    X(vkWaitSemaphores)                    \
    X(vkGetSemaphoreCounterValue)          \
    X(vkCreateCommandPool)                 \
    X(vkAllocateCommandBuffers)            \
    X(vkCreateImage)                       \
    X(vkCreateBuffer)                      \
    X(vkGetMemoryFdKHR)                    \
    X(vkCreateQueryPool)                   \
    X(vkQueueWaitIdle)                     \
    X(vkDeviceWaitIdle)                    \
    X(vkWaitForFences)                     \
    X(vkGetFenceStatus)                    \
    X(vkGetQueryPoolResults)               \
    X(vkSignalSemaphore)

enum Fn : int {
#define X(name) k_##name,
    FAULT_FUNCTIONS(X)
#undef X
    kFnCount
};

const char* const kFnNames[] = {
#define X(name) #name,
    FAULT_FUNCTIONS(X)
#undef X
};

int fnIndex(const char* name) {
    if (!name) return -1;
    std::string n(name);
    for (const char* suffix : {"KHR", "EXT"}) {  // vkQueueSubmit2KHR counts as vkQueueSubmit2
        if (n.size() > 3 && n.compare(n.size() - 3, 3, suffix) == 0 && n != "vkGetSemaphoreFdKHR" &&
            n != "vkImportSemaphoreFdKHR" && n != "vkGetMemoryFdKHR")
            n.resize(n.size() - 3);
    }
    for (int i = 0; i < kFnCount; ++i)
        if (n == kFnNames[i]) return i;
    return -1;
}

// batonFaultSubmitCounts' order (fault_layer.h).
enum Shape : int { kSubmitInfos, kWaitInfos, kSignalInfos, kCommandBuffers, kHostSignals, kShapeCount };

struct Rule {
    int fn;
    unsigned long long nth;  // 1-based, counted from the last configure
    VkResult result;
};

struct Config {
    std::mutex mutex;
    std::vector<Rule> rules;
    std::atomic<unsigned long long> calls[kFnCount]{};
    std::atomic<unsigned long long> injected{0};
    std::atomic<bool> verbose{false};
    // Count-only (never failed): the shape of the vkQueueSubmit2 calls counted above, and the
    // host signals (batonFaultSubmitCounts: what a benchmark compares per frame).
    std::atomic<unsigned long long> shape[kShapeCount]{};
};

Config& config() {
    static Config* c = new Config;  // never destroyed: calls may arrive from exit handlers
    return *c;
}

struct NamedResult {
    const char* name;
    VkResult value;
};
const NamedResult kResults[] = {
    {"VK_ERROR_OUT_OF_HOST_MEMORY", VK_ERROR_OUT_OF_HOST_MEMORY},
    {"VK_ERROR_OUT_OF_DEVICE_MEMORY", VK_ERROR_OUT_OF_DEVICE_MEMORY},
    {"VK_ERROR_INITIALIZATION_FAILED", VK_ERROR_INITIALIZATION_FAILED},
    {"VK_ERROR_DEVICE_LOST", VK_ERROR_DEVICE_LOST},
    {"VK_ERROR_MEMORY_MAP_FAILED", VK_ERROR_MEMORY_MAP_FAILED},
    {"VK_ERROR_TOO_MANY_OBJECTS", VK_ERROR_TOO_MANY_OBJECTS},
    {"VK_ERROR_INVALID_EXTERNAL_HANDLE", VK_ERROR_INVALID_EXTERNAL_HANDLE},
    {"VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS", VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS},
    {"VK_ERROR_UNKNOWN", VK_ERROR_UNKNOWN},
    {"VK_TIMEOUT", VK_TIMEOUT},
    {"VK_NOT_READY", VK_NOT_READY},
};

bool parseResult(const std::string& s, VkResult* out) {
    for (const NamedResult& r : kResults)
        if (s == r.name) {
            *out = r.value;
            return true;
        }
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end) return false;
    *out = static_cast<VkResult>(v);
    return true;
}

// "fn:N:RESULT[,fn:N:RESULT...]"; RESULT may be left out (VK_ERROR_OUT_OF_HOST_MEMORY).
int parseSpec(const char* spec, std::vector<Rule>* rules) {
    std::string s(spec ? spec : "");
    size_t i = 0;
    while (i < s.size()) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        std::string item = s.substr(i, j - i);
        i = j + 1;
        if (item.empty()) continue;
        size_t a = item.find(':');
        if (a == std::string::npos) return -1;
        size_t b = item.find(':', a + 1);
        Rule r{fnIndex(item.substr(0, a).c_str()), 0, VK_ERROR_OUT_OF_HOST_MEMORY};
        if (r.fn < 0) return -1;
        std::string nth = item.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
        char* end = nullptr;
        r.nth = std::strtoull(nth.c_str(), &end, 10);
        if (nth.empty() || *end || r.nth == 0) return -1;
        if (b != std::string::npos && !parseResult(item.substr(b + 1), &r.result)) return -1;
        rules->push_back(r);
    }
    return static_cast<int>(rules->size());
}

// Calls from a thread in pass-through mode (the test's own Vulkan calls) are neither counted
// nor failed.
thread_local bool t_passThrough = false;
// The calls counted on this thread (batonFaultThreadCallCount), never reset.
thread_local unsigned long long t_calls[kFnCount] = {};

// Counts the call and says whether to fail it (and with what).
bool shouldFail(int fn, VkResult* result) {
    if (t_passThrough) return false;
    Config& c = config();
    const unsigned long long n = c.calls[fn].fetch_add(1) + 1;
    ++t_calls[fn];
    std::lock_guard<std::mutex> lock(c.mutex);
    for (const Rule& r : c.rules)
        if (r.fn == fn && r.nth == n) {
            *result = r.result;
            c.injected.fetch_add(1);
            if (c.verbose) std::fprintf(stderr, "[baton fault] %s call %llu -> %d\n", kFnNames[fn], n, r.result);
            return true;
        }
    return false;
}

// ---- dispatch ----------------------------------------------------------------------------

using Key = void*;
template <typename T>
Key keyOf(T handle) {
    return *reinterpret_cast<void**>(handle);  // the loader's dispatch table pointer
}

struct InstanceData {
    VkInstance instance;
    PFN_vkGetInstanceProcAddr next;
    PFN_vkDestroyInstance destroy;
    PFN_vkCreateDevice createDevice = nullptr;
};

struct DeviceData {
    VkDevice device;
    PFN_vkGetDeviceProcAddr next;
    std::atomic<bool> lost{false};
#define X(name) PFN_##name name = nullptr;
    FAULT_FUNCTIONS(X)
#undef X
    PFN_vkDestroyDevice vkDestroyDevice = nullptr;
    PFN_vkDestroySemaphore vkDestroySemaphore = nullptr;
    std::mutex timelinesMutex;
    std::unordered_set<uint64_t> timelines;  // the device's live timeline semaphores
};

std::mutex g_mapMutex;
std::unordered_map<Key, InstanceData*>& instances() {
    static auto* m = new std::unordered_map<Key, InstanceData*>;
    return *m;
}
std::unordered_map<Key, DeviceData*>& devices() {
    static auto* m = new std::unordered_map<Key, DeviceData*>;
    return *m;
}

template <typename T>
InstanceData* instanceOf(T h) {
    std::lock_guard<std::mutex> lock(g_mapMutex);
    auto it = instances().find(keyOf(h));
    return it == instances().end() ? nullptr : it->second;
}
template <typename T>
DeviceData* deviceOf(T h) {
    std::lock_guard<std::mutex> lock(g_mapMutex);
    auto it = devices().find(keyOf(h));
    return it == devices().end() ? nullptr : it->second;
}

// For calls that a lost device answers with VK_ERROR_DEVICE_LOST.
VkResult injected(DeviceData* d, int fn, bool canBeLost, bool* fail) {
    VkResult r = VK_SUCCESS;
    *fail = false;
    if (shouldFail(fn, &r)) {
        *fail = true;
        if (r == VK_ERROR_DEVICE_LOST) d->lost = true;
        return r;
    }
    if (canBeLost && d->lost && !t_passThrough) {
        *fail = true;
        return VK_ERROR_DEVICE_LOST;
    }
    return VK_SUCCESS;
}

// ---- instance and device creation --------------------------------------------------------

VKAPI_ATTR VkResult VKAPI_CALL CreateInstance(const VkInstanceCreateInfo* ci, const VkAllocationCallbacks* alloc,
                                              VkInstance* out) {
    auto* link = static_cast<VkLayerInstanceCreateInfo*>(const_cast<void*>(ci->pNext));
    while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO && link->function == VK_LAYER_LINK_INFO))
        link = static_cast<VkLayerInstanceCreateInfo*>(const_cast<void*>(link->pNext));
    if (!link) return VK_ERROR_INITIALIZATION_FAILED;
    PFN_vkGetInstanceProcAddr next = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
    link->u.pLayerInfo = link->u.pLayerInfo->pNext;
    auto create = reinterpret_cast<PFN_vkCreateInstance>(next(VK_NULL_HANDLE, "vkCreateInstance"));
    VkResult r = create(ci, alloc, out);
    if (r != VK_SUCCESS) return r;
    auto* d = new InstanceData{*out, next,
                               reinterpret_cast<PFN_vkDestroyInstance>(next(*out, "vkDestroyInstance"))};
    d->createDevice = reinterpret_cast<PFN_vkCreateDevice>(next(*out, "vkCreateDevice"));
    std::lock_guard<std::mutex> lock(g_mapMutex);
    instances()[keyOf(*out)] = d;
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL DestroyInstance(VkInstance instance, const VkAllocationCallbacks* alloc) {
    InstanceData* d = nullptr;
    {
        std::lock_guard<std::mutex> lock(g_mapMutex);
        auto it = instances().find(keyOf(instance));
        if (it == instances().end()) return;
        d = it->second;
        instances().erase(it);
    }
    d->destroy(instance, alloc);
    delete d;
}

VKAPI_ATTR VkResult VKAPI_CALL CreateDevice(VkPhysicalDevice pd, const VkDeviceCreateInfo* ci,
                                            const VkAllocationCallbacks* alloc, VkDevice* out) {
    InstanceData* inst = instanceOf(pd);
    auto* link = static_cast<VkLayerDeviceCreateInfo*>(const_cast<void*>(ci->pNext));
    while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO && link->function == VK_LAYER_LINK_INFO))
        link = static_cast<VkLayerDeviceCreateInfo*>(const_cast<void*>(link->pNext));
    if (!inst || !link) return VK_ERROR_INITIALIZATION_FAILED;
    PFN_vkGetInstanceProcAddr nextGipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
    PFN_vkGetDeviceProcAddr nextGdpa = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
    link->u.pLayerInfo = link->u.pLayerInfo->pNext;
    auto create = reinterpret_cast<PFN_vkCreateDevice>(nextGipa(inst->instance, "vkCreateDevice"));
    VkResult r = create(pd, ci, alloc, out);
    if (r != VK_SUCCESS) return r;
    auto* d = new DeviceData;
    d->device = *out;
    d->next = nextGdpa;
    // Extension and 1.x functions: whichever name the device has (the KHR alias or the core one).
    auto load = [&](const char* name) {
        PFN_vkVoidFunction f = nextGdpa(*out, name);
        if (!f) f = nextGdpa(*out, (std::string(name) + "KHR").c_str());
        return f;
    };
#define X(name) d->name = reinterpret_cast<PFN_##name>(load(#name));
    FAULT_FUNCTIONS(X)
#undef X
    d->vkDestroyDevice = reinterpret_cast<PFN_vkDestroyDevice>(nextGdpa(*out, "vkDestroyDevice"));
    d->vkDestroySemaphore = reinterpret_cast<PFN_vkDestroySemaphore>(nextGdpa(*out, "vkDestroySemaphore"));
    if (config().verbose) {  // who is below: the validation layer, or the driver itself
        Dl_info info{};
        if (dladdr(reinterpret_cast<void*>(d->vkQueueSubmit2), &info) && info.dli_fname)
            std::fprintf(stderr, "[baton fault] device %p: next vkQueueSubmit2 is in %s\n", static_cast<void*>(*out),
                         info.dli_fname);
    }
    std::lock_guard<std::mutex> lock(g_mapMutex);
    devices()[keyOf(*out)] = d;
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL DestroyDevice(VkDevice device, const VkAllocationCallbacks* alloc) {
    DeviceData* d = nullptr;
    {
        std::lock_guard<std::mutex> lock(g_mapMutex);
        auto it = devices().find(keyOf(device));
        if (it == devices().end()) return;
        d = it->second;
        devices().erase(it);
    }
    d->vkDestroyDevice(device, alloc);
    delete d;
}

// ---- the calls the layer fails -----------------------------------------------------------

// Calls that create or bind something: fail before the next layer sees them.
#define FAIL_OR_PASS(fnName, handle, canBeLost, ...)               \
    DeviceData* d = deviceOf(handle);                              \
    bool fail = false;                                             \
    VkResult r = injected(d, k_##fnName, canBeLost, &fail);        \
    if (fail) return r;                                            \
    return d->fnName(__VA_ARGS__);

// A lost device takes no new work from anyone: the test's own (pass-through) submissions
// are refused too, as a renderer's are on a really lost device. Otherwise a renderer submit
// made after the loss would wait on the driver below (which is not lost) for a signal that
// the lost context never sends, and still be pending when teardown frees what it uses.
//
// The submission that an injected VK_ERROR_DEVICE_LOST answers is passed down all the same: a
// device may report its loss on a submit it took. Its signals then come in the driver below,
// which is not lost: GPU waits submitted before for them (another stream's, an importer's)
// end, and the drain after a loss (vkDeviceWaitIdle) finishes, as it does on a really lost
// device. Without it, on the NVIDIA driver, where a GPU wait for a value that no submission
// signals yet is legal, that drain waited forever (sweep vkQueueSubmit2_DEVICE_LOST call 6).
void countShape(uint32_t n, const VkSubmitInfo2* s) {
    if (t_passThrough) return;
    unsigned long long w = 0, sg = 0, c = 0;
    for (uint32_t i = 0; i < n; ++i) {
        w += s[i].waitSemaphoreInfoCount;
        sg += s[i].signalSemaphoreInfoCount;
        c += s[i].commandBufferInfoCount;
    }
    std::atomic<unsigned long long>* shape = config().shape;
    shape[kSubmitInfos] += n;
    shape[kWaitInfos] += w;
    shape[kSignalInfos] += sg;
    shape[kCommandBuffers] += c;
}

bool isTimeline(DeviceData* d, VkSemaphore s) {
    std::lock_guard<std::mutex> lock(d->timelinesMutex);
    return d->timelines.count(reinterpret_cast<uint64_t>(s)) != 0;
}

// On a really lost device every wait ends in finite time (the spec's "Lost Device"). The
// driver below is not lost, so a GPU wait it took before the loss, for a timeline value whose
// signal is in a submission refused after it, would wait forever, and so would the drain
// after the loss (vkDeviceWaitIdle): on NVIDIA a wait may be submitted before its signal (a
// wait on an imported timeline, sweep vkQueueSubmit2_DEVICE_LOST call 5 on the H200). So the
// timeline signals of a refused submission still come, in a submission of those signals
// alone (no waits, no work), in the queue's order. That its work never ran stays unseen: the
// lost device answers every read of a value with VK_ERROR_DEVICE_LOST. Binary signals are
// left out (nothing waits for them on the GPU across a loss: baton's portable and keyed
// semaphores wait on the host).
void passDownTimelineSignals(DeviceData* d, VkQueue q, uint32_t n, const VkSubmitInfo2* s) {
    std::vector<VkSemaphoreSubmitInfo> signals;
    for (uint32_t i = 0; i < n; ++i)
        for (uint32_t j = 0; j < s[i].signalSemaphoreInfoCount; ++j)
            if (isTimeline(d, s[i].pSignalSemaphoreInfos[j].semaphore)) signals.push_back(s[i].pSignalSemaphoreInfos[j]);
    if (signals.empty()) return;
    const VkSubmitInfo2 one{VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 0, nullptr, 0, nullptr,
                            static_cast<uint32_t>(signals.size()), signals.data()};
    d->vkQueueSubmit2(q, 1, &one, VK_NULL_HANDLE);
}

VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit2(VkQueue q, uint32_t n, const VkSubmitInfo2* s, VkFence f) {
    DeviceData* d = deviceOf(q);
    if (d->lost && t_passThrough) {
        passDownTimelineSignals(d, q, n, s);
        return VK_ERROR_DEVICE_LOST;
    }
    countShape(n, s);
    bool fail = false;
    const bool wasLost = d->lost;
    VkResult r = injected(d, k_vkQueueSubmit2, true, &fail);
    if (!fail) return d->vkQueueSubmit2(q, n, s, f);
    if (r == VK_ERROR_DEVICE_LOST && !wasLost)
        d->vkQueueSubmit2(q, n, s, f);
    else if (d->lost)
        passDownTimelineSignals(d, q, n, s);
    return r;
}
VKAPI_ATTR VkResult VKAPI_CALL QueueSubmit(VkQueue q, uint32_t n, const VkSubmitInfo* s, VkFence f) {
    DeviceData* d = deviceOf(q);
    if (d->lost && t_passThrough) return VK_ERROR_DEVICE_LOST;
    bool fail = false;
    const bool wasLost = d->lost;
    VkResult r = injected(d, k_vkQueueSubmit, true, &fail);
    if (!fail) return d->vkQueueSubmit(q, n, s, f);
    if (r == VK_ERROR_DEVICE_LOST && !wasLost) d->vkQueueSubmit(q, n, s, f);
    return r;
}
VKAPI_ATTR VkResult VKAPI_CALL AllocateMemory(VkDevice dev, const VkMemoryAllocateInfo* ai,
                                              const VkAllocationCallbacks* a, VkDeviceMemory* m) {
    FAIL_OR_PASS(vkAllocateMemory, dev, false, dev, ai, a, m)
}
VKAPI_ATTR VkResult VKAPI_CALL MapMemory(VkDevice dev, VkDeviceMemory m, VkDeviceSize o, VkDeviceSize s,
                                         VkMemoryMapFlags fl, void** p) {
    FAIL_OR_PASS(vkMapMemory, dev, false, dev, m, o, s, fl, p)
}
VKAPI_ATTR VkResult VKAPI_CALL BindBufferMemory(VkDevice dev, VkBuffer b, VkDeviceMemory m, VkDeviceSize o) {
    FAIL_OR_PASS(vkBindBufferMemory, dev, false, dev, b, m, o)
}
VKAPI_ATTR VkResult VKAPI_CALL BindImageMemory(VkDevice dev, VkImage i, VkDeviceMemory m, VkDeviceSize o) {
    FAIL_OR_PASS(vkBindImageMemory, dev, false, dev, i, m, o)
}
VKAPI_ATTR VkResult VKAPI_CALL BindBufferMemory2(VkDevice dev, uint32_t n, const VkBindBufferMemoryInfo* b) {
    FAIL_OR_PASS(vkBindBufferMemory2, dev, false, dev, n, b)
}
VKAPI_ATTR VkResult VKAPI_CALL BindImageMemory2(VkDevice dev, uint32_t n, const VkBindImageMemoryInfo* b) {
    FAIL_OR_PASS(vkBindImageMemory2, dev, false, dev, n, b)
}
VKAPI_ATTR VkResult VKAPI_CALL CreateSemaphore(VkDevice dev, const VkSemaphoreCreateInfo* ci,
                                               const VkAllocationCallbacks* a, VkSemaphore* s) {
    DeviceData* d = deviceOf(dev);
    bool fail = false;
    VkResult r = injected(d, k_vkCreateSemaphore, false, &fail);
    if (fail) return r;
    r = d->vkCreateSemaphore(dev, ci, a, s);
    for (auto* p = static_cast<const VkBaseInStructure*>(ci->pNext); r == VK_SUCCESS && p; p = p->pNext)
        if (p->sType == VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO &&
            reinterpret_cast<const VkSemaphoreTypeCreateInfo*>(p)->semaphoreType == VK_SEMAPHORE_TYPE_TIMELINE) {
            std::lock_guard<std::mutex> lock(d->timelinesMutex);
            d->timelines.insert(reinterpret_cast<uint64_t>(*s));
        }
    return r;
}
VKAPI_ATTR void VKAPI_CALL DestroySemaphore(VkDevice dev, VkSemaphore s, const VkAllocationCallbacks* a) {
    DeviceData* d = deviceOf(dev);
    {
        std::lock_guard<std::mutex> lock(d->timelinesMutex);
        d->timelines.erase(reinterpret_cast<uint64_t>(s));
    }
    d->vkDestroySemaphore(dev, s, a);
}
VKAPI_ATTR VkResult VKAPI_CALL GetSemaphoreFdKHR(VkDevice dev, const VkSemaphoreGetFdInfoKHR* gi, int* fd) {
    FAIL_OR_PASS(vkGetSemaphoreFdKHR, dev, false, dev, gi, fd)
}
VKAPI_ATTR VkResult VKAPI_CALL ImportSemaphoreFdKHR(VkDevice dev, const VkImportSemaphoreFdInfoKHR* ii) {
    FAIL_OR_PASS(vkImportSemaphoreFdKHR, dev, false, dev, ii)
}
VKAPI_ATTR VkResult VKAPI_CALL CreateCommandPool(VkDevice dev, const VkCommandPoolCreateInfo* ci,
                                                 const VkAllocationCallbacks* a, VkCommandPool* p) {
    FAIL_OR_PASS(vkCreateCommandPool, dev, false, dev, ci, a, p)
}
VKAPI_ATTR VkResult VKAPI_CALL AllocateCommandBuffers(VkDevice dev, const VkCommandBufferAllocateInfo* ai,
                                                      VkCommandBuffer* cb) {
    FAIL_OR_PASS(vkAllocateCommandBuffers, dev, false, dev, ai, cb)
}
VKAPI_ATTR VkResult VKAPI_CALL CreateImage(VkDevice dev, const VkImageCreateInfo* ci, const VkAllocationCallbacks* a,
                                           VkImage* i) {
    FAIL_OR_PASS(vkCreateImage, dev, false, dev, ci, a, i)
}
VKAPI_ATTR VkResult VKAPI_CALL CreateBuffer(VkDevice dev, const VkBufferCreateInfo* ci, const VkAllocationCallbacks* a,
                                            VkBuffer* b) {
    FAIL_OR_PASS(vkCreateBuffer, dev, false, dev, ci, a, b)
}
VKAPI_ATTR VkResult VKAPI_CALL GetMemoryFdKHR(VkDevice dev, const VkMemoryGetFdInfoKHR* gi, int* fd) {
    FAIL_OR_PASS(vkGetMemoryFdKHR, dev, false, dev, gi, fd)
}
VKAPI_ATTR VkResult VKAPI_CALL CreateQueryPool(VkDevice dev, const VkQueryPoolCreateInfo* ci,
                                               const VkAllocationCallbacks* a, VkQueryPool* p) {
    FAIL_OR_PASS(vkCreateQueryPool, dev, false, dev, ci, a, p)
}
// On a lost device the value is still read from the driver (so that the validation layer
// sees the work that did finish), but the caller gets VK_ERROR_DEVICE_LOST.
VKAPI_ATTR VkResult VKAPI_CALL GetSemaphoreCounterValue(VkDevice dev, VkSemaphore s, uint64_t* v) {
    DeviceData* d = deviceOf(dev);
    VkResult r = VK_SUCCESS;
    if (shouldFail(k_vkGetSemaphoreCounterValue, &r)) {
        if (r == VK_ERROR_DEVICE_LOST) d->lost = true;
        return r;
    }
    r = d->vkGetSemaphoreCounterValue(dev, s, v);
    return d->lost && !t_passThrough ? VK_ERROR_DEVICE_LOST : r;
}
// Host signals: counted for batonFaultSubmitCounts too. The spec gives vkSignalSemaphore no
// VK_ERROR_DEVICE_LOST, so a lost device still takes them.
VKAPI_ATTR VkResult VKAPI_CALL SignalSemaphore(VkDevice dev, const VkSemaphoreSignalInfo* si) {
    DeviceData* d = deviceOf(dev);
    if (!t_passThrough) ++config().shape[kHostSignals];
    bool fail = false;
    VkResult r = injected(d, k_vkSignalSemaphore, false, &fail);
    if (fail) return r;
    return d->vkSignalSemaphore(dev, si);
}
VKAPI_ATTR VkResult VKAPI_CALL GetFenceStatus(VkDevice dev, VkFence f) {
    FAIL_OR_PASS(vkGetFenceStatus, dev, true, dev, f)
}
VKAPI_ATTR VkResult VKAPI_CALL GetQueryPoolResults(VkDevice dev, VkQueryPool p, uint32_t first, uint32_t count,
                                                   size_t size, void* data, VkDeviceSize stride,
                                                   VkQueryResultFlags fl) {
    FAIL_OR_PASS(vkGetQueryPoolResults, dev, true, dev, p, first, count, size, data, stride, fl)
}

// A lost device answers VK_ERROR_DEVICE_LOST without waiting for long. The driver below is
// not lost, though: the work it already has still runs (lavapipe runs it on its own thread),
// and freeing what it uses would be a real use-after-free. So a wait on a lost device is
// still passed down, bounded (kLostWaitNs), so that work that can finish has finished (and
// the validation layer has seen it finish) before the caller frees anything; work that waits
// for a signal that will never come (it was in a failed submission) is left waiting.
constexpr uint64_t kLostWaitNs = 100'000'000;

VKAPI_ATTR VkResult VKAPI_CALL WaitSemaphores(VkDevice dev, const VkSemaphoreWaitInfo* wi, uint64_t timeout) {
    DeviceData* d = deviceOf(dev);
    VkResult r = VK_SUCCESS;
    if (shouldFail(k_vkWaitSemaphores, &r)) {
        if (r == VK_ERROR_DEVICE_LOST) d->lost = true;
        return r;
    }
    if (d->lost && !t_passThrough) {
        d->vkWaitSemaphores(dev, wi, timeout < kLostWaitNs ? timeout : kLostWaitNs);
        return VK_ERROR_DEVICE_LOST;
    }
    return d->vkWaitSemaphores(dev, wi, timeout);
}
VKAPI_ATTR VkResult VKAPI_CALL WaitForFences(VkDevice dev, uint32_t n, const VkFence* f, VkBool32 all, uint64_t t) {
    FAIL_OR_PASS(vkWaitForFences, dev, true, dev, n, f, all, t)
}
// Idle waits on a lost device still wait for the driver (so that teardown frees nothing the
// driver's thread still uses), then report the loss.
VKAPI_ATTR VkResult VKAPI_CALL QueueWaitIdle(VkQueue q) {
    DeviceData* d = deviceOf(q);
    VkResult r = VK_SUCCESS;
    if (shouldFail(k_vkQueueWaitIdle, &r)) {
        if (r == VK_ERROR_DEVICE_LOST) d->lost = true;
        return r;
    }
    r = d->vkQueueWaitIdle(q);
    return d->lost && !t_passThrough ? VK_ERROR_DEVICE_LOST : r;
}
VKAPI_ATTR VkResult VKAPI_CALL DeviceWaitIdle(VkDevice dev) {
    DeviceData* d = deviceOf(dev);
    VkResult r = VK_SUCCESS;
    if (shouldFail(k_vkDeviceWaitIdle, &r)) {
        if (r == VK_ERROR_DEVICE_LOST) d->lost = true;
        return r;
    }
    r = d->vkDeviceWaitIdle(dev);
    return d->lost && !t_passThrough ? VK_ERROR_DEVICE_LOST : r;
}

extern "C" VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr_baton_fault(VkDevice, const char*);

// ---- proc addresses ----------------------------------------------------------------------

PFN_vkVoidFunction deviceHook(const char* name) {
    struct Hook {
        const char* name;
        PFN_vkVoidFunction fn;
    };
#define H(n, f) {n, reinterpret_cast<PFN_vkVoidFunction>(f)}
    static const Hook hooks[] = {
        H("vkGetDeviceProcAddr", vkGetDeviceProcAddr_baton_fault),
        H("vkDestroyDevice", DestroyDevice),
        H("vkQueueSubmit2", QueueSubmit2), H("vkQueueSubmit2KHR", QueueSubmit2),
        H("vkQueueSubmit", QueueSubmit),
        H("vkAllocateMemory", AllocateMemory), H("vkMapMemory", MapMemory),
        H("vkBindBufferMemory", BindBufferMemory), H("vkBindImageMemory", BindImageMemory),
        H("vkBindBufferMemory2", BindBufferMemory2), H("vkBindBufferMemory2KHR", BindBufferMemory2),
        H("vkBindImageMemory2", BindImageMemory2), H("vkBindImageMemory2KHR", BindImageMemory2),
        H("vkCreateSemaphore", CreateSemaphore), H("vkDestroySemaphore", DestroySemaphore),
        H("vkGetSemaphoreFdKHR", GetSemaphoreFdKHR), H("vkImportSemaphoreFdKHR", ImportSemaphoreFdKHR),
        H("vkWaitSemaphores", WaitSemaphores), H("vkWaitSemaphoresKHR", WaitSemaphores),
        H("vkGetSemaphoreCounterValue", GetSemaphoreCounterValue),
        H("vkGetSemaphoreCounterValueKHR", GetSemaphoreCounterValue),
        H("vkCreateCommandPool", CreateCommandPool), H("vkAllocateCommandBuffers", AllocateCommandBuffers),
        H("vkCreateImage", CreateImage), H("vkCreateBuffer", CreateBuffer),
        H("vkGetMemoryFdKHR", GetMemoryFdKHR), H("vkCreateQueryPool", CreateQueryPool),
        H("vkQueueWaitIdle", QueueWaitIdle), H("vkDeviceWaitIdle", DeviceWaitIdle),
        H("vkWaitForFences", WaitForFences), H("vkGetFenceStatus", GetFenceStatus),
        H("vkGetQueryPoolResults", GetQueryPoolResults),
        H("vkSignalSemaphore", SignalSemaphore), H("vkSignalSemaphoreKHR", SignalSemaphore),
    };
#undef H
    for (const Hook& h : hooks)
        if (std::strcmp(name, h.name) == 0) return h.fn;
    return nullptr;
}

// Reads BATON_FAULT and BATON_FAULT_VERBOSE once, when the loader first loads the layer.
struct EnvConfig {
    EnvConfig() {
        if (const char* v = std::getenv("BATON_FAULT_VERBOSE")) config().verbose = *v && *v != '0';
        if (const char* spec = std::getenv("BATON_FAULT"))
            if (batonFaultConfigure(spec) < 0) std::fprintf(stderr, "[baton fault] cannot parse BATON_FAULT=%s\n", spec);
    }
    ~EnvConfig() {
        // BATON_FAULT_COUNTS=path: the calls counted, one "function count" a line, at exit.
        const char* path = std::getenv("BATON_FAULT_COUNTS");
        if (!path) return;
        if (FILE* f = std::fopen(path, "w")) {
            for (int i = 0; i < kFnCount; ++i) std::fprintf(f, "%s %llu\n", kFnNames[i], config().calls[i].load());
            std::fclose(f);
        }
    }
};
EnvConfig g_env;

}  // namespace

// ---- the side channel (fault_layer.h) ----------------------------------------------------

FAULT_EXPORT int batonFaultConfigure(const char* spec) {
    std::vector<Rule> rules;
    if (parseSpec(spec, &rules) < 0) return -1;
    Config& c = config();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.rules = std::move(rules);
    for (auto& n : c.calls) n = 0;
    for (auto& n : c.shape) n = 0;
    c.injected = 0;
    return static_cast<int>(c.rules.size());
}

FAULT_EXPORT unsigned long long batonFaultCallCount(const char* function) {
    int i = fnIndex(function);
    return i < 0 ? 0 : config().calls[i].load();
}

FAULT_EXPORT unsigned long long batonFaultThreadCallCount(const char* function) {
    int i = fnIndex(function);
    return i < 0 ? 0 : t_calls[i];
}

FAULT_EXPORT void batonFaultSubmitCounts(unsigned long long out[5]) {
    for (int i = 0; i < kShapeCount; ++i) out[i] = config().shape[i].load();
}

FAULT_EXPORT unsigned long long batonFaultInjectedCount(void) { return config().injected.load(); }

FAULT_EXPORT void batonFaultPassThrough(int on) { t_passThrough = on != 0; }

FAULT_EXPORT int batonFaultKnows(const char* function) { return fnIndex(function) >= 0; }

FAULT_EXPORT int batonFaultAnyDeviceLost(void) {
    std::lock_guard<std::mutex> lock(g_mapMutex);
    for (auto& [key, d] : devices())
        if (d->lost) return 1;
    return 0;
}

// ---- the loader's entry points -----------------------------------------------------------

FAULT_EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr_baton_fault(VkDevice device,
                                                                                     const char* name) {
    if (PFN_vkVoidFunction hook = deviceHook(name)) return hook;
    DeviceData* d = deviceOf(device);
    return d ? d->next(device, name) : nullptr;
}

FAULT_EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr_baton_fault(VkInstance instance,
                                                                                       const char* name) {
    if (std::strcmp(name, "vkGetInstanceProcAddr") == 0)
        return reinterpret_cast<PFN_vkVoidFunction>(vkGetInstanceProcAddr_baton_fault);
    if (std::strcmp(name, "vkCreateInstance") == 0) return reinterpret_cast<PFN_vkVoidFunction>(CreateInstance);
    if (std::strcmp(name, "vkDestroyInstance") == 0) return reinterpret_cast<PFN_vkVoidFunction>(DestroyInstance);
    if (std::strcmp(name, "vkCreateDevice") == 0) return reinterpret_cast<PFN_vkVoidFunction>(CreateDevice);
    if (PFN_vkVoidFunction hook = deviceHook(name)) return hook;
    if (!instance) return nullptr;
    InstanceData* d = instanceOf(instance);
    return d ? d->next(instance, name) : nullptr;
}

FAULT_EXPORT VKAPI_ATTR VkResult VKAPI_CALL vkNegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface* v) {
    if (!v || v->sType != LAYER_NEGOTIATE_INTERFACE_STRUCT) return VK_ERROR_INITIALIZATION_FAILED;
    if (v->loaderLayerInterfaceVersion > 2) v->loaderLayerInterfaceVersion = 2;
    v->pfnGetInstanceProcAddr = vkGetInstanceProcAddr_baton_fault;
    v->pfnGetDeviceProcAddr = vkGetDeviceProcAddr_baton_fault;
    v->pfnGetPhysicalDeviceProcAddr = nullptr;
    return VK_SUCCESS;
}
