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
#include "core/vk_dispatch.h"

namespace baton {

class Stream;
class Telemetry;

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

    // Tears down every child and waits for the device; called once by batonContextDestroy.
    void shutdown();

    // Submits under the queue's lock (the host's callbacks when attached).
    VkResult submit(Queue& q, const VkSubmitInfo2& info);
    void lockQueue(Queue& q);
    void unlockQueue(Queue& q);
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
    VkPhysicalDeviceProperties properties{};
    uint8_t deviceUUID[VK_UUID_SIZE] = {};
    uint8_t driverUUID[VK_UUID_SIZE] = {};
    uint32_t timestampValidBits = 0;

    std::vector<Queue*> computeQueues;  // streams are spread over these
    std::mutex proxySignalMutex;        // orders streams' signals of portable proxies (stream.cpp flush)
    Queue* graphicsQueue = nullptr;     // standalone only: a queue for the host

private:
    void* loader_ = nullptr;  // dlopen handle of libvulkan (standalone)
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    batonMessageCallback callback_ = nullptr;
    void* callbackUser_ = nullptr;
    batonQueueLockFn hostLock_ = nullptr;
    batonQueueLockFn hostUnlock_ = nullptr;
    void* hostLockUser_ = nullptr;
    std::vector<Queue*> ownedQueues_;
    std::mutex queuesMutex_;  // Queue::streams

    std::mutex childrenMutex_;
    std::unordered_set<Object*> children_;
    Stream* defaultStream_ = nullptr;

public:
    std::atomic<uint64_t> messageCounts[4] = {};  // by batonMessageSeverity
    std::atomic<Telemetry*> telemetry{nullptr};   // created when first enabled (telemetry.h)

private:
    std::atomic<bool> lost_{false};
    std::atomic<const char*> lostWhere_{nullptr};  // the call that first saw the loss

public:

    friend VkBool32 VKAPI_PTR debugCallback(VkDebugUtilsMessageSeverityFlagBitsEXT, VkDebugUtilsMessageTypeFlagsEXT,
                                            const VkDebugUtilsMessengerCallbackDataEXT*, void*);
};

// The calling thread's current context, creating the default one on first use.
batonError_t currentContext(Context** out);
// Resolves a user's context argument: NULL means current.
batonError_t resolveContext(batonContext_t ctx, Context** out);

}  // namespace baton
