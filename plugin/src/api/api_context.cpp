// Entry points for contexts, and the default/current context (CUDA's primary context and
// current device, per thread).
#include <cstring>
#include <mutex>

#include "api/c_enum.h"
#include "exec/context.h"
#include "core/error.h"
#include "exec/stream.h"

namespace baton {
namespace {

std::mutex g_defaultMutex;
Context* g_default = nullptr;  // the lazily created default context (registered handle)
thread_local Context* t_current = nullptr;

}  // namespace

batonError_t currentContext(Context** out) {
    if (t_current) {
        if (Object* o = lookupHandle(t_current, ObjectType::Context)) {
            *out = static_cast<Context*>(o);
            return batonSuccess;
        }
        t_current = nullptr;  // destroyed since it was made current: fall back to the default
    }
    std::lock_guard lock(g_defaultMutex);
    if (!g_default) {
        Context* c = nullptr;
        batonError_t e = Context::createStandalone(nullptr, &c);
        if (e != batonSuccess) return e;
        registerHandle(c);
        g_default = c;
    }
    g_default->retain();
    *out = g_default;
    return batonSuccess;
}

batonError_t resolveContext(batonContext_t ctx, Context** out) {
    if (!ctx) return currentContext(out);
    Object* o = lookupHandle(ctx, ObjectType::Context);
    if (!o) return fail(batonErrorInvalidResourceHandle, "context %p is not a live baton context", static_cast<void*>(ctx));
    *out = static_cast<Context*>(o);
    return batonSuccess;
}

}  // namespace baton

using namespace baton;

extern "C" {

BATON_API batonError_t batonContextCreate(batonContext_t* ctxOut, const batonContextCreateInfo* info) {
    if (!ctxOut) return fail(batonErrorInvalidValue, "batonContextCreate: ctxOut is NULL");
    Context* c = nullptr;
    batonError_t e = Context::createStandalone(info, &c);
    if (e != batonSuccess) return e;
    registerHandle(c);
    *ctxOut = reinterpret_cast<batonContext_t>(c);
    return ok();
}

BATON_API batonError_t batonContextAttach(batonContext_t* ctxOut, const batonContextAttachInfo* info) {
    if (!ctxOut) return fail(batonErrorInvalidValue, "batonContextAttach: ctxOut is NULL");
    Context* c = nullptr;
    batonError_t e = Context::attach(info, &c);
    if (e != batonSuccess) return e;
    registerHandle(c);
    *ctxOut = reinterpret_cast<batonContext_t>(c);
    return ok();
}

BATON_API batonError_t batonContextDestroy(batonContext_t ctx) {
    if (!ctx) return ok();
    auto* c = reinterpret_cast<Context*>(ctx);
    {
        std::lock_guard lock(g_defaultMutex);
        if (!unregisterHandle(c, ObjectType::Context))
            return fail(batonErrorInvalidResourceHandle, "context %p is not a live baton context", static_cast<void*>(ctx));
        if (g_default == c) g_default = nullptr;
    }
    if (t_current == c) t_current = nullptr;
    c->shutdown();
    c->release();
    return ok();
}

BATON_API batonError_t batonCtxSetCurrent(batonContext_t ctx) {
    if (ctx && !isLiveHandle(ctx, ObjectType::Context))
        return fail(batonErrorInvalidResourceHandle, "context %p is not a live baton context", static_cast<void*>(ctx));
    t_current = reinterpret_cast<Context*>(ctx);
    return ok();
}

BATON_API batonError_t batonCtxGetCurrent(batonContext_t* ctx) {
    if (!ctx) return fail(batonErrorInvalidValue, "batonCtxGetCurrent: ctx is NULL");
    Context* c = nullptr;
    batonError_t e = currentContext(&c);
    if (e != batonSuccess) return e;
    c->release();
    *ctx = reinterpret_cast<batonContext_t>(c);
    return ok();
}

BATON_API batonError_t batonContextGetInfo(batonContext_t ctx, batonContextInfo* info) {
    if (!info) return fail(batonErrorInvalidValue, "batonContextGetInfo: info is NULL");
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    std::memset(info, 0, sizeof *info);
    info->instance = c->instance;
    info->physicalDevice = c->physicalDevice;
    info->device = c->device;
    info->apiVersion = c->apiVersion;
    info->getInstanceProcAddr = c->vki.vkGetInstanceProcAddr;
    info->getDeviceProcAddr = c->vki.vkGetDeviceProcAddr;
    Queue* cq = c->computeQueues.front();
    info->computeQueue = {cq->handle, cq->family, cq->index};
    if (c->graphicsQueue) info->graphicsQueue = {c->graphicsQueue->handle, c->graphicsQueue->family, c->graphicsQueue->index};
    info->queueShared = c->queueShared;
    info->nativeSemaphoreFd = c->nativeSemaphoreFd;
    info->externalMemoryFd = c->externalMemoryFd;
    std::memcpy(info->deviceUUID, c->deviceUUID, VK_UUID_SIZE);
    std::memcpy(info->driverUUID, c->driverUUID, VK_UUID_SIZE);
    std::memcpy(info->deviceName, c->properties.deviceName, sizeof info->deviceName);
    info->vendorID = c->properties.vendorID;
    c->release();
    return ok();
}

static batonError_t lockOrUnlock(batonContext_t ctx, VkQueue queue, bool lock) {
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    Queue* q = c->findQueue(queue);
    if (!q) {
        c->release();
        return fail(batonErrorInvalidValue, "queue %p is not one of the context's queues", static_cast<void*>(queue));
    }
    if (lock)
        c->lockQueue(*q);
    else
        c->unlockQueue(*q);
    c->release();
    return ok();
}

BATON_API batonError_t batonContextLockQueue(batonContext_t ctx, VkQueue queue) { return lockOrUnlock(ctx, queue, true); }
BATON_API batonError_t batonContextUnlockQueue(batonContext_t ctx, VkQueue queue) {
    return lockOrUnlock(ctx, queue, false);
}

BATON_API batonError_t batonContextGetMessageCount(batonContext_t ctx, batonMessageSeverity severity,
                                                   unsigned long long* count) {
    const int sev = rawEnum(severity);
    if (!count || sev < batonMessageSeverityInfo || sev > batonMessageSeverityError)
        return fail(batonErrorInvalidValue, "batonContextGetMessageCount: bad severity (%d) or NULL count", sev);
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    unsigned long long n = 0;
    for (int s = sev; s <= batonMessageSeverityError; ++s) n += c->messageCounts[s].load();
    *count = n;
    c->release();
    return ok();
}

}  // extern "C"
