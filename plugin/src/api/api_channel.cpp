// Frame channel entry points: validate every argument, then dispatch to the Channel. Every
// entry point runs through guarded() (core/entry.h).
#include "frames/channel.h"
#include "exec/context.h"
#include "api/c_enum.h"
#include "core/entry.h"
#include "core/error.h"
#include "sync/semaphore.h"
#include "exec/stream.h"
#include "telemetry/telemetry.h"

using namespace baton;

namespace {

batonError_t resolveChannel(batonChannel_t c, Channel** out) {
    return resolveObject(c, ObjectType::Channel, "channel", out);
}

uint32_t familyCount(Context* ctx) {
    uint32_t n = 0;
    ctx->vki.vkGetPhysicalDeviceQueueFamilyProperties(ctx->physicalDevice, &n, nullptr);
    return n;
}

batonError_t checkCreateInfo(Context* ctx, const batonChannelCreateInfo& ci) {
    for (unsigned r : ci.reserved)
        if (r) return fail(batonErrorInvalidValue, "batonChannelCreateInfo::reserved must be zero");
    if (ci.depth != 0 && (ci.depth < 2 || ci.depth > 8))
        return fail(batonErrorInvalidValue, "channel depth %u is not in 2..8", ci.depth);
    if (ci.format == VK_FORMAT_UNDEFINED) return fail(batonErrorInvalidValue, "channel format is VK_FORMAT_UNDEFINED");
    if (!ci.extent.width || !ci.extent.height)
        return fail(batonErrorInvalidValue, "channel extent %ux%u is empty", ci.extent.width, ci.extent.height);
    if (!ci.usage) return fail(batonErrorInvalidValue, "channel usage is 0");
    // Enums a C caller filled in are read as ints (c_enum.h): an out-of-range value is theirs.
    const int policy = rawEnum(ci.policy), backend = rawEnum(ci.backend);
    if (policy != batonChannelPolicyFifo && policy != batonChannelPolicyMailbox)
        return fail(batonErrorInvalidValue, "channel policy %d is neither FIFO nor mailbox", policy);
    if (backend != 0 && backend != batonSemaphoreBackendNative && backend != batonSemaphoreBackendPortable)
        return fail(batonErrorInvalidValue, "channel backend %d is unknown", backend);
    const unsigned known = batonChannelFlagExportable | batonChannelFlagConsumerQueueFamily |
                           batonChannelFlagKeyedMutex | batonChannelFlagShared;
    if (ci.flags & ~known) return fail(batonErrorInvalidValue, "channel flags have unknown bits 0x%x", ci.flags & ~known);
    if ((ci.flags & batonChannelFlagConsumerQueueFamily) && ci.consumerQueueFamily >= familyCount(ctx))
        return fail(batonErrorInvalidValue, "consumerQueueFamily %u does not exist", ci.consumerQueueFamily);
    if (ci.backend == batonSemaphoreBackendNative && !ctx->nativeSemaphoreFd)
        return fail(batonErrorNotSupported, "the native backend was asked for, but the device has no semaphore fds");
    if (ci.backend == batonSemaphoreBackendNative && ctx->queueShared)
        return fail(batonErrorNotSupported, "the native backend cannot be used on a queue shared with the renderer: "
                    "a GPU wait for a frame's release would block the queue that has to run it");
    if ((ci.flags & batonChannelFlagKeyedMutex) && ci.backend == batonSemaphoreBackendNative)
        return fail(batonErrorNotSupported, "keyed-mutex channels use portable timelines (backend 0 or portable)");
    if ((ci.flags & (batonChannelFlagExportable | batonChannelFlagShared)) &&
        (!ctx->externalMemoryFd || !ctx->vkd.vkGetMemoryFdKHR))
        return fail(batonErrorNotSupported, "exportable images need VK_KHR_external_memory_fd");
    return batonSuccess;
}

// The channel's semaphores are handles too (GetInfo, telemetry, export): the registry holds
// one reference, the channel another.
void adoptSemaphore(Context* ctx, Semaphore* s) {
    s->retain();
    publishHandle<batonExternalSemaphore_t>(ctx, s);
}

void dropSemaphoreHandle(Context* ctx, Semaphore* s) {
    if (!unregisterObject(s)) return;  // the user destroyed it already
    ctx->removeChild(s);
    s->release();
}

// Registers a new channel and its two semaphores; a throw undoes what was registered and
// releases the channel.
batonChannel_t adoptChannel(Context* ctx, Channel* ch) {
    Semaphore* const ready = ch->ready;  // still valid after a failed publishHandle released ch
    Semaphore* const released = ch->released;
    try {
        adoptSemaphore(ctx, ready);
        try {
            adoptSemaphore(ctx, released);
        } catch (...) {
            dropSemaphoreHandle(ctx, ready);
            throw;
        }
    } catch (...) {
        ch->release();
        throw;
    }
    try {
        return publishHandle<batonChannel_t>(ctx, ch);
    } catch (...) {
        // publishHandle released the channel; the handles still hold a reference each.
        dropSemaphoreHandle(ctx, ready);
        dropSemaphoreHandle(ctx, released);
        throw;
    }
}

batonError_t produce(batonChannel_t channel, batonStream_t stream, batonChannelRecordFn record, void* userData,
                     unsigned long long* frameOut) {
    const uint64_t t0 = apiClockStart();
    if (!record) return fail(batonErrorInvalidValue, "batonChannelProduceFrame: record is NULL");
    Channel* ch = nullptr;
    batonError_t e = resolveChannel(channel, &ch);
    if (e != batonSuccess) return e;
    ScopedRef<Channel> hold(ch);
    Stream* s = nullptr;
    if ((e = resolveStream(stream, &s)) != batonSuccess) return e;
    ScopedRef<Stream> holdStream(s);
    uint64_t frame = 0;
    e = s->ctx != ch->ctx ? fail(batonErrorInvalidResourceHandle, "the stream and the channel belong to different contexts")
                          : ch->produce(s, record, userData, &frame);
    if (e == batonSuccess && frameOut) *frameOut = frame;
    noteApiCost(ch->ctx, batonTelemetryApiChannelProduce, t0);
    return e == batonSuccess ? ok() : e;
}

}  // namespace

extern "C" {

BATON_API batonError_t batonChannelCreate(batonChannel_t* channel, const batonChannelCreateInfo* info) {
    return guarded("batonChannelCreate", [&] {
        if (!channel || !info) return fail(batonErrorInvalidValue, "batonChannelCreate: channel and info must be non-NULL");
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        Channel* ch = nullptr;
        if ((e = checkCreateInfo(ctx, *info)) != batonSuccess) return e;
        if ((e = Channel::create(ctx, *info, &ch)) != batonSuccess) return e;
        *channel = adoptChannel(ctx, ch);
        return ok();
    });
}

BATON_API batonError_t batonChannelDestroy(batonChannel_t channel) {
    return guarded("batonChannelDestroy", [&] {
        if (!channel) return ok();
        Object* o = nullptr;
        batonError_t e = takeHandle(channel, ObjectType::Channel, "channel", &o);
        if (e != batonSuccess) return e;
        auto* ch = static_cast<Channel*>(o);
        ch->ctx->removeChild(ch);
        ch->drain();
        dropSemaphoreHandle(ch->ctx, ch->ready);
        dropSemaphoreHandle(ch->ctx, ch->released);
        ch->release();
        return ok();
    });
}

BATON_API batonError_t batonChannelProduceFrame(batonChannel_t channel, batonStream_t stream, batonChannelRecordFn record,
                                                void* userData, unsigned long long* frameOut) {
    return guarded("batonChannelProduceFrame", [&] { return produce(channel, stream, record, userData, frameOut); });
}

namespace {

batonError_t acquireFrame(const char* name, batonChannel_t channel, VkPipelineStageFlags2 waitStage, unsigned flags,
                          batonChannelFrame* frame) {
    const uint64_t t0 = apiClockStart();
    if (!frame) return fail(batonErrorInvalidValue, "%s: frame is NULL", name);
    if (!waitStage) return fail(batonErrorInvalidValue, "%s: waitStage is 0", name);
    if (flags & ~static_cast<unsigned>(batonChannelAcquireInConsumerCommands))
        return fail(batonErrorInvalidValue, "%s: unknown flags 0x%x", name, flags);
    Channel* ch = nullptr;
    batonError_t e = resolveChannel(channel, &ch);
    if (e != batonSuccess) return e;
    ScopedRef<Channel> hold(ch);
    e = ch->acquire(waitStage, (flags & batonChannelAcquireInConsumerCommands) != 0, frame);
    noteApiCost(ch->ctx, batonTelemetryApiChannelAcquire, t0);
    return e == batonSuccess ? ok() : e;
}

}  // namespace

BATON_API batonError_t batonChannelAcquireFrame(batonChannel_t channel, VkPipelineStageFlags2 waitStage,
                                                batonChannelFrame* frame) {
    return guarded("batonChannelAcquireFrame",
                   [&] { return acquireFrame("batonChannelAcquireFrame", channel, waitStage, 0, frame); });
}

BATON_API batonError_t batonChannelAcquireFrameWithFlags(batonChannel_t channel, VkPipelineStageFlags2 waitStage,
                                                         unsigned int flags, batonChannelFrame* frame) {
    return guarded("batonChannelAcquireFrameWithFlags", [&] {
        return acquireFrame("batonChannelAcquireFrameWithFlags", channel, waitStage, flags, frame);
    });
}

BATON_API batonError_t batonChannelCmdAcquireFrame(batonChannel_t channel, const batonChannelFrame* frame,
                                                   VkCommandBuffer commandBuffer) {
    return guarded("batonChannelCmdAcquireFrame", [&] {
        if (!frame || !commandBuffer)
            return fail(batonErrorInvalidValue, "batonChannelCmdAcquireFrame: frame and commandBuffer must be non-NULL");
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        e = ch->cmdAcquire(*frame, commandBuffer);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonChannelReleaseFrame(batonChannel_t channel, const batonChannelFrame* frame,
                                                VkPipelineStageFlags2 releaseStage, batonChannelRelease* release) {
    return guarded("batonChannelReleaseFrame", [&] {
        const uint64_t t0 = apiClockStart();
        if (!frame || !release)
            return fail(batonErrorInvalidValue, "batonChannelReleaseFrame: frame and release must be non-NULL");
        if (!releaseStage) return fail(batonErrorInvalidValue, "batonChannelReleaseFrame: releaseStage is 0");
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        e = ch->releaseFrame(*frame, releaseStage, release);
        // Lost meanwhile (another thread saw it): the release the host would submit cannot run.
        if (e == batonSuccess && ch->ctx->lost()) e = ch->ctx->lostError();
        noteApiCost(ch->ctx, batonTelemetryApiChannelRelease, t0);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonChannelGetInfo(batonChannel_t channel, batonChannelInfo* info) {
    return guarded("batonChannelGetInfo", [&] {
        if (!info) return fail(batonErrorInvalidValue, "batonChannelGetInfo: info is NULL");
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        ch->getInfo(info);
        return ok();
    });
}

BATON_API batonError_t batonChannelGetStats(batonChannel_t channel, batonChannelStats* stats) {
    return guarded("batonChannelGetStats", [&] {
        if (!stats) return fail(batonErrorInvalidValue, "batonChannelGetStats: stats is NULL");
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        ch->getStats(stats);
        return ok();
    });
}

BATON_API batonError_t batonChannelExportFds(batonChannel_t channel, uint32_t slot, int* memoryFd, int* readyFd,
                                             int* releasedFd) {
    return guarded("batonChannelExportFds", [&] {
        if (!memoryFd && !readyFd && !releasedFd)
            return fail(batonErrorInvalidValue, "batonChannelExportFds: no fd asked for");
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        batonChannelInfo info;
        ch->getInfo(&info);
        e = slot >= info.depth ? fail(batonErrorInvalidValue, "slot %u is not below the depth %u", slot, info.depth)
                               : ch->exportFds(slot, memoryFd, readyFd, releasedFd);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonChannelSend(batonChannel_t channel, int socket, int timeoutMs) {
    return guarded("batonChannelSend", [&] {
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        e = ch->send(socket, timeoutMs);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonChannelReceive(batonChannel_t* channel, int socket, int timeoutMs,
                                           const batonChannelCreateInfo* expected) {
    return guarded("batonChannelReceive", [&] {
        if (!channel) return fail(batonErrorInvalidValue, "batonChannelReceive: channel is NULL");
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        if (expected && (expected->flags & batonChannelFlagConsumerQueueFamily) &&
            expected->consumerQueueFamily >= familyCount(ctx))
            return fail(batonErrorInvalidValue, "consumerQueueFamily %u does not exist", expected->consumerQueueFamily);
        if (!ctx->externalMemoryFd)
            return fail(batonErrorNotSupported, "receiving a channel needs VK_KHR_external_memory_fd");
        Channel* ch = nullptr;
        if ((e = Channel::receive(ctx, socket, timeoutMs, expected, &ch)) != batonSuccess) return e;
        *channel = adoptChannel(ctx, ch);
        return ok();
    });
}

BATON_API batonError_t batonChannelWaitForFrame(batonChannel_t channel, uint64_t timeoutNs) {
    return guarded("batonChannelWaitForFrame", [&] {
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        e = ch->waitForFrame(timeoutNs);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonChannelWaitForSlot(batonChannel_t channel, uint64_t timeoutNs) {
    return guarded("batonChannelWaitForSlot", [&] {
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        e = ch->waitForSlot(timeoutNs);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonChannelGetPeerInfo(batonChannel_t channel, batonChannelPeerInfo* info) {
    return guarded("batonChannelGetPeerInfo", [&] {
        if (!info) return fail(batonErrorInvalidValue, "batonChannelGetPeerInfo: info is NULL");
        Channel* ch = nullptr;
        batonError_t e = resolveChannel(channel, &ch);
        if (e != batonSuccess) return e;
        ScopedRef<Channel> hold(ch);
        ch->getPeerInfo(info);
        return ok();
    });
}

}  // extern "C"
