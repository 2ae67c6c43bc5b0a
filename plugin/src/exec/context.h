// A context: one VkDevice that baton works on, either its own (standalone) or a host's
// (attached), with per-device dispatch tables, the queues its streams submit to and the
// locks that make sharing those queues with a renderer safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_set>
#include <vector>

#include <baton/baton.h>

#include "core/object.h"
#include "core/thread_safety.h"
#include "core/vk_dispatch.h"

namespace baton {

class Stream;
class Telemetry;
struct QueuePlan;

struct Queue {
    VkQueue handle = VK_NULL_HANDLE;
    uint32_t family = 0;
    uint32_t index = 0;
    std::mutex mutex;  // used when the host gave no lock callbacks
    int streams = 0;   // streams submitting here (Context::queuesMutex_)
};

class Context final : public Object {
public:
    Context() : Object(ObjectType::Context) {}
    ~Context() override;

    static batonError_t createStandalone(const batonContextCreateInfo* info, Context** out);
    static batonError_t attach(const batonContextAttachInfo* info, Context** out);

    // Tears down every child; called once by batonContextDestroy. Enqueued work finishes
    // first, within a bound (finishStreams; documented at batonContextDestroy in baton.h).
    void shutdown();

    // Submits under the queue's lock (the host's callbacks when attached).
    VkResult submit(Queue& q, const VkSubmitInfo2& info);
    void lockQueue(Queue& q);
    void unlockQueue(Queue& q);
    void drainQueue(Queue& q);  // waits (bounded) for what q was given so far (teardown only)
    Queue* findQueue(VkQueue q);
    Queue& queueForNewStream();
    void releaseStreamQueue(Queue& q);
    // Whether only one stream submits to q and the host does not: then a stream's GPU wait
    // can only ever hold up that stream itself.
    bool queueExclusive(const Queue& q);

    // The default stream (NULL stream), created on first use.
    batonError_t defaultStream(Stream** out);

    void addChild(Object* o);
    void removeChild(Object* o);
    void forEachStream(void (*fn)(Stream*, void*), void* user);

    void report(batonMessageSeverity severity, const char* message);

    // Device loss is sticky, as in Mesa's vk_queue_set_lost: the first VK_ERROR_DEVICE_LOST
    // that any call or thread sees marks the context, and from then on every call that
    // touches it returns lostError() instead of using the device. `where` is a string literal.
    void markLost(const char* where);
    bool lost() const { return lost_.load(std::memory_order_acquire); }
    // batonErrorLaunchFailure, with a message saying where the device was lost.
    batonError_t lostError() const;

    // Vulkan state; fixed after creation.
    InstanceTable vki;
    DeviceTable vkd;
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physicalDevice = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t apiVersion = 0;
    bool attached = false;
    bool nativeSemaphoreFd = false;
    bool externalMemoryFd = false;
    bool calibratedTimestamps = false;
    bool queueShared = false;  // baton's stream queue is also the host's graphics queue
    bool validationLayer = false;  // baton turned VK_LAYER_KHRONOS_validation on (for its workarounds)
    std::atomic<bool> foreignGpuWaits{false};  // a GPU wait on a Semaphore::foreign one was submitted
    VkPhysicalDeviceProperties properties{};
    uint8_t deviceUUID[VK_UUID_SIZE] = {};
    uint8_t driverUUID[VK_UUID_SIZE] = {};
    uint32_t timestampValidBits = 0;

    // With baton's validation layer on: a zero-timeout vkWaitSemaphores(sem >= value) on this
    // thread, before work the GPU finished is reused (a command buffer re-recorded or
    // resubmitted). The layer (1.3.239) retires a submission asynchronously after a
    // vkGetSemaphoreCounterValue that saw it complete, and only a wait returns after the
    // retirement: without this it reports the buffer still pending (VUID-vkBeginCommandBuffer-
    // commandBuffer-00049, VUID-vkQueueSubmit2-commandBuffer-03875; Vulkan-ValidationLayers
    // issues 1999 and 4308). Nothing without the layer.
    // Not once a stream GPU-waited on a native semaphore another process may signal
    // (unless evenWithForeignWaits: the channel's ring, which passed so across processes on
    // the H200): the layer never sees that signal, and its wait for the retirement then runs
    // into its own timeout (about 10 s a call: the H200's cross-process stress hung on it).
    // A lost device is marked: the wait may be the first call to see the loss, and the call
    // that made it would otherwise answer success (FaultSweep, vkWaitSemaphores call 15 ->
    // DEVICE_LOST during batonChannelAcquireFrame).
    // Returns false only when the layer is on and the settle was skipped (foreign waits): the
    // caller that needs the layer to see a wait then makes a real one.
    bool settleForValidation(VkSemaphore sem, uint64_t value, bool evenWithForeignWaits = false) {
        if (!validationLayer || value == 0) return true;
        if (!evenWithForeignWaits && foreignGpuWaits.load(std::memory_order_relaxed)) return false;
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &sem, &value};
        if (vkd.vkWaitSemaphores(device, &wi, 0) == VK_ERROR_DEVICE_LOST) markLost("vkWaitSemaphores (validation settle)");
        return true;
    }

    std::vector<Queue*> computeQueues;  // streams are spread over these
    Mutex proxySignalMutex;             // orders streams' timeline signals (stream.cpp flush; Semaphore::claimSignal)
    Queue* graphicsQueue = nullptr;     // standalone only: a queue for the host

private:
    // Steps of createStandalone and attach (context.cpp); each leaves what it made for the
    // destructor to undo.
    batonError_t openLoader(PFN_vkGetInstanceProcAddr* gipa);
    batonError_t createInstance(PFN_vkGetInstanceProcAddr gipa, bool validation);
    batonError_t pickPhysicalDevice(const uint8_t* wantedUUID, bool preferSoftware);
    std::vector<const char*> chooseDeviceExtensions(bool noNative);
    batonError_t createDevice(const QueuePlan& plan, bool noNative);
    Queue* ownQueue(uint32_t family, uint32_t index, VkQueue handle);
    void takeQueues(const QueuePlan& plan);
    batonError_t loadAttachedDevice(const batonContextAttachInfo& info);
    void takeLentQueue(const batonContextAttachInfo& info, uint32_t familyTimestampValidBits);
    // Steps of shutdown.
    Object* takeChild(bool stream);
    bool finishStream(Stream* s, uint64_t deadline);

    void* loader_ = nullptr;  // dlopen handle of libvulkan (standalone)
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    batonMessageCallback callback_ = nullptr;
    void* callbackUser_ = nullptr;
    batonQueueLockFn hostLock_ = nullptr;
    batonQueueLockFn hostUnlock_ = nullptr;
    void* hostLockUser_ = nullptr;
    std::vector<Queue*> ownedQueues_;
    Mutex queuesMutex_;  // Queue::streams (a member of another object: not annotated)

    Mutex childrenMutex_;
    std::unordered_set<Object*> children_ BATON_GUARDED_BY(childrenMutex_);
    Stream* defaultStream_ BATON_GUARDED_BY(childrenMutex_) = nullptr;

public:
    std::atomic<uint64_t> messageCounts[4] = {};  // by batonMessageSeverity
    std::atomic<Telemetry*> telemetry{nullptr};   // created when first enabled (telemetry.h)

private:
    std::atomic<bool> lost_{false};
    Mutex lostMutex_;  // markLost: one drain, the others wait for it (guards no field: lost_ is atomic)
    bool stuckOnDestroy_ = false;  // shutdown left GPU work that may never complete
    std::atomic<const char*> lostWhere_{nullptr};  // the call that first saw the loss

public:

    friend VkBool32 VKAPI_PTR debugCallback(VkDebugUtilsMessageSeverityFlagBitsEXT, VkDebugUtilsMessageTypeFlagsEXT,
                                            const VkDebugUtilsMessengerCallbackDataEXT*, void*);
};

// How the api layer resolves what a call touches (retained on success; the caller releases):
// refused are handles that are not live (batonErrorInvalidResourceHandle), anything in a
// child forked without exec (batonErrorInitializationError, core/object.h) and objects of a
// context whose device was lost (its lostError()).
//
// The calling thread's current context, creating the default one on first use.
batonError_t currentContext(Context** out);
// Same, also when its device was lost (for batonCtxGetCurrent: the caller can destroy it).
batonError_t currentContextEvenIfLost(Context** out);
// Resolves a user's context argument: NULL means current.
batonError_t resolveContext(batonContext_t ctx, Context** out);
// Makes a new object's handle live and a child of ctx, and returns the handle. The caller's
// reference becomes the handle's. If that throws (std::bad_alloc), the object is released
// and nothing of it stays registered; the exception goes on to guarded().
template <class Handle>
Handle publishHandle(Context* ctx, Object* o) {
    try {
        registerHandle(o);
        try {
            ctx->addChild(o);
        } catch (...) {
            unregisterObject(o);
            throw;
        }
    } catch (...) {
        o->release();
        throw;
    }
    return o->handle<Handle>();
}

// Resolves a handle of an object that belongs to a context (T::ctx): stream, event,
// semaphore, channel, memory. `noun` names it in messages ("stream").
template <class T>
batonError_t resolveObject(const void* h, ObjectType type, const char* noun, T** out) {
    Object* o = nullptr;
    batonError_t e = findHandle(h, type, noun, &o);
    if (e != batonSuccess) return e;
    auto* obj = static_cast<T*>(o);
    if (obj->ctx->lost()) {
        e = obj->ctx->lostError();
        obj->release();
        return e;
    }
    *out = obj;
    return batonSuccess;
}

}  // namespace baton
