// Entry points for contexts, and the default/current context (CUDA's primary context and
// current device, per thread). Every entry point runs through guarded() (core/entry.h).
#include <cstring>
#include <mutex>

#include "core/thread_safety.h"
#include "api/c_enum.h"
#include "core/entry.h"
#include "core/error.h"
#include "exec/context.h"
#include "exec/stream.h"

namespace baton {
namespace {

Mutex g_defaultMutex;
Context* g_default BATON_GUARDED_BY(g_defaultMutex) = nullptr;             // the lazily created default context (registered handle)
thread_local batonContext_t t_current = nullptr;  // a handle: stays refused once destroyed

batonError_t checkLost(Context* c, Context** out) {
    if (c->lost()) {
        batonError_t e = c->lostError();
        c->release();
        return e;
    }
    *out = c;
    return batonSuccess;
}

}  // namespace

batonError_t currentContextEvenIfLost(Context** out) {
    if (forkedFromBaton()) return forkedError("baton");
    if (t_current) {
        Object* o = nullptr;
        if (findHandle(t_current, ObjectType::Context, "context", &o) == batonSuccess) {
            *out = static_cast<Context*>(o);
            return batonSuccess;
        }
        t_current = nullptr;  // destroyed since it was made current: fall back to the default
    }
    MutexLock lock(g_defaultMutex);
    if (!g_default) {
        Context* c = nullptr;
        batonError_t e = Context::createStandalone(nullptr, &c);
        if (e != batonSuccess) return e;
        try {
            registerHandle(c);
        } catch (...) {
            c->shutdown();
            c->release();
            throw;
        }
        g_default = c;
    }
    g_default->retain();
    *out = g_default;
    return batonSuccess;
}

batonError_t currentContext(Context** out) {
    Context* c = nullptr;
    batonError_t e = currentContextEvenIfLost(&c);
    return e != batonSuccess ? e : checkLost(c, out);
}

batonError_t resolveContext(batonContext_t ctx, Context** out) {
    if (!ctx) return currentContext(out);
    Object* o = nullptr;
    batonError_t e = findHandle(ctx, ObjectType::Context, "context", &o);
    return e != batonSuccess ? e : checkLost(static_cast<Context*>(o), out);
}

batonError_t resolveStream(batonStream_t s, Stream** out) {
    if (s) return resolveObject(s, ObjectType::Stream, "stream", out);
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e != batonSuccess) return e;
    Stream* d = nullptr;
    e = ctx->defaultStream(&d);
    ctx->release();
    if (e != batonSuccess) return e;
    d->retain();
    *out = d;
    return batonSuccess;
}

}  // namespace baton

using namespace baton;

namespace {

// Registers a context made by createStandalone or attach and hands out its handle.
batonError_t adoptContext(batonError_t made, Context* const* c, batonContext_t* ctxOut) {
    if (made != batonSuccess) return made;
    try {
        registerHandle(*c);
    } catch (...) {
        (*c)->shutdown();
        (*c)->release();
        throw;
    }
    *ctxOut = (*c)->handle<batonContext_t>();
    return ok();
}

batonError_t lockOrUnlock(batonContext_t ctx, VkQueue queue, bool lock) {
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

void fillInfo(const Context& c, batonContextInfo* info) {
    std::memset(info, 0, sizeof *info);
    info->instance = c.instance;
    info->physicalDevice = c.physicalDevice;
    info->device = c.device;
    info->apiVersion = c.apiVersion;
    info->getInstanceProcAddr = c.vki.vkGetInstanceProcAddr;
    info->getDeviceProcAddr = c.vki.vkGetDeviceProcAddr;
    const Queue* cq = c.computeQueues.front();
    info->computeQueue = {cq->handle, cq->family, cq->index};
    if (c.graphicsQueue) info->graphicsQueue = {c.graphicsQueue->handle, c.graphicsQueue->family, c.graphicsQueue->index};
    info->queueShared = c.queueShared;
    info->nativeSemaphoreFd = c.nativeSemaphoreFd;
    info->externalMemoryFd = c.externalMemoryFd;
    std::memcpy(info->deviceUUID, c.deviceUUID, VK_UUID_SIZE);
    std::memcpy(info->driverUUID, c.driverUUID, VK_UUID_SIZE);
    std::memcpy(info->deviceName, c.properties.deviceName, sizeof info->deviceName);
    info->vendorID = c.properties.vendorID;
}

}  // namespace

extern "C" {

BATON_API batonError_t batonContextCreate(batonContext_t* ctxOut, const batonContextCreateInfo* info) {
    return guarded("batonContextCreate", [&] {
        if (!ctxOut) return fail(batonErrorInvalidValue, "batonContextCreate: ctxOut is NULL");
        if (forkedFromBaton()) return forkedError("batonContextCreate");
        Context* c = nullptr;
        return adoptContext(Context::createStandalone(info, &c), &c, ctxOut);
    });
}

BATON_API batonError_t batonContextAttach(batonContext_t* ctxOut, const batonContextAttachInfo* info) {
    return guarded("batonContextAttach", [&] {
        if (!ctxOut) return fail(batonErrorInvalidValue, "batonContextAttach: ctxOut is NULL");
        if (forkedFromBaton()) return forkedError("batonContextAttach");
        Context* c = nullptr;
        return adoptContext(Context::attach(info, &c), &c, ctxOut);
    });
}

// Works on a lost context too: teardown always completes.
BATON_API batonError_t batonContextDestroy(batonContext_t ctx) {
    return guarded("batonContextDestroy", [&] {
        if (!ctx) return ok();
        Object* o = nullptr;
        {
            MutexLock lock(g_defaultMutex);
            batonError_t e = takeHandle(ctx, ObjectType::Context, "context", &o);
            if (e != batonSuccess) return e;
            if (g_default == o) g_default = nullptr;
        }
        if (t_current == ctx) t_current = nullptr;
        auto* c = static_cast<Context*>(o);
        c->shutdown();
        c->release();
        return ok();
    });
}

BATON_API batonError_t batonCtxSetCurrent(batonContext_t ctx) {
    return guarded("batonCtxSetCurrent", [&] {
        if (forkedFromBaton()) return forkedError("batonCtxSetCurrent");
        Object* o = nullptr;
        if (ctx) {
            batonError_t e = findHandle(ctx, ObjectType::Context, "context", &o);
            if (e != batonSuccess) return e;
            o->release();
        }
        t_current = ctx;
        return ok();
    });
}

BATON_API batonError_t batonCtxGetCurrent(batonContext_t* ctx) {
    return guarded("batonCtxGetCurrent", [&] {
        if (!ctx) return fail(batonErrorInvalidValue, "batonCtxGetCurrent: ctx is NULL");
        Context* c = nullptr;
        batonError_t e = currentContextEvenIfLost(&c);
        if (e != batonSuccess) return e;
        *ctx = c->handle<batonContext_t>();
        c->release();
        return ok();
    });
}

BATON_API batonError_t batonContextGetInfo(batonContext_t ctx, batonContextInfo* info) {
    return guarded("batonContextGetInfo", [&] {
        if (!info) return fail(batonErrorInvalidValue, "batonContextGetInfo: info is NULL");
        Context* c = nullptr;
        batonError_t e = resolveContext(ctx, &c);
        if (e != batonSuccess) return e;
        fillInfo(*c, info);
        c->release();
        return ok();
    });
}

BATON_API batonError_t batonContextLockQueue(batonContext_t ctx, VkQueue queue) {
    return guarded("batonContextLockQueue", [&] { return lockOrUnlock(ctx, queue, true); });
}

BATON_API batonError_t batonContextUnlockQueue(batonContext_t ctx, VkQueue queue) {
    return guarded("batonContextUnlockQueue", [&] { return lockOrUnlock(ctx, queue, false); });
}

BATON_API batonError_t batonContextGetMessageCount(batonContext_t ctx, batonMessageSeverity severity,
                                                   unsigned long long* count) {
    return guarded("batonContextGetMessageCount", [&] {
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
    });
}

}  // extern "C"
