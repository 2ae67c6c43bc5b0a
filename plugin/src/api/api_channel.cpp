// Frame channel entry points: validate every argument, then dispatch to the Channel.
#include "frames/channel.h"
#include "exec/context.h"
#include "api/c_enum.h"
#include "core/error.h"
#include "sync/semaphore.h"
#include "exec/stream.h"
#include "telemetry/telemetry.h"

using namespace baton;

namespace {

Channel* lookupChannel(batonChannel_t c) { return static_cast<Channel*>(lookupHandle(c, ObjectType::Channel)); }

batonError_t badChannel(batonChannel_t c) {
    return fail(batonErrorInvalidResourceHandle, "%p is not a live baton channel", static_cast<void*>(c));
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
    const unsigned known = batonChannelFlagExportable | batonChannelFlagConsumerQueueFamily;
    if (ci.flags & ~known) return fail(batonErrorInvalidValue, "channel flags have unknown bits 0x%x", ci.flags & ~known);
    if ((ci.flags & batonChannelFlagConsumerQueueFamily) && ci.consumerQueueFamily >= familyCount(ctx))
        return fail(batonErrorInvalidValue, "consumerQueueFamily %u does not exist", ci.consumerQueueFamily);
    if (ci.backend == batonSemaphoreBackendNative && !ctx->nativeSemaphoreFd)
        return fail(batonErrorNotSupported, "the native backend was asked for, but the device has no semaphore fds");
    if (ci.backend == batonSemaphoreBackendNative && ctx->queueShared)
        return fail(batonErrorNotSupported, "the native backend cannot be used on a queue shared with the renderer: "
                    "a GPU wait for a frame's release would block the queue that has to run it");
    if ((ci.flags & batonChannelFlagExportable) && (!ctx->externalMemoryFd || !ctx->vkd.vkGetMemoryFdKHR))
        return fail(batonErrorNotSupported, "exportable images need VK_KHR_external_memory_fd");
    return batonSuccess;
}

// The channel's semaphores are handles too (GetInfo, telemetry, export): the registry holds
// one reference, the channel another.
void adoptSemaphore(Context* ctx, Semaphore* s) {
    s->retain();
    registerHandle(s);
    ctx->addChild(s);
}

void dropSemaphoreHandle(Context* ctx, Semaphore* s) {
    if (!unregisterHandle(s, ObjectType::Semaphore)) return;  // the user destroyed it already
    ctx->removeChild(s);
    s->release();
}

}  // namespace

extern "C" {

BATON_API batonError_t batonChannelCreate(batonChannel_t* channel, const batonChannelCreateInfo* info) {
    if (!channel || !info) return fail(batonErrorInvalidValue, "batonChannelCreate: channel and info must be non-NULL");
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e != batonSuccess) return e;
    Channel* ch = nullptr;
    if ((e = checkCreateInfo(ctx, *info)) == batonSuccess) e = Channel::create(ctx, *info, &ch);
    if (e == batonSuccess) {
        adoptSemaphore(ctx, ch->ready);
        adoptSemaphore(ctx, ch->released);
        registerHandle(ch);
        ctx->addChild(ch);
        *channel = reinterpret_cast<batonChannel_t>(ch);
    }
    ctx->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonChannelDestroy(batonChannel_t channel) {
    if (!channel) return ok();
    auto* ch = reinterpret_cast<Channel*>(channel);
    if (!unregisterHandle(ch, ObjectType::Channel)) return badChannel(channel);
    ch->ctx->removeChild(ch);
    ch->drain();
    dropSemaphoreHandle(ch->ctx, ch->ready);
    dropSemaphoreHandle(ch->ctx, ch->released);
    ch->release();
    return ok();
}

BATON_API batonError_t batonChannelProduceFrame(batonChannel_t channel, batonStream_t stream, batonChannelRecordFn record,
                                                void* userData, unsigned long long* frameOut) {
    const uint64_t t0 = apiClockStart();
    if (!record) return fail(batonErrorInvalidValue, "batonChannelProduceFrame: record is NULL");
    Channel* ch = lookupChannel(channel);
    if (!ch) return badChannel(channel);
    Stream* s = nullptr;
    batonError_t e = resolveStream(stream, &s);
    if (e == batonSuccess) {
        uint64_t frame = 0;
        e = s->ctx != ch->ctx ? fail(batonErrorInvalidResourceHandle, "the stream and the channel belong to different contexts")
                              : ch->produce(s, record, userData, &frame);
        if (e == batonSuccess && frameOut) *frameOut = frame;
        s->release();
    }
    noteApiCost(ch->ctx, batonTelemetryApiChannelProduce, t0);
    ch->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonChannelAcquireFrame(batonChannel_t channel, VkPipelineStageFlags2 waitStage,
                                                batonChannelFrame* frame) {
    const uint64_t t0 = apiClockStart();
    if (!frame) return fail(batonErrorInvalidValue, "batonChannelAcquireFrame: frame is NULL");
    if (!waitStage) return fail(batonErrorInvalidValue, "batonChannelAcquireFrame: waitStage is 0");
    Channel* ch = lookupChannel(channel);
    if (!ch) return badChannel(channel);
    batonError_t e = ch->acquire(waitStage, frame);
    noteApiCost(ch->ctx, batonTelemetryApiChannelAcquire, t0);
    ch->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonChannelReleaseFrame(batonChannel_t channel, const batonChannelFrame* frame,
                                                VkPipelineStageFlags2 releaseStage, batonChannelRelease* release) {
    const uint64_t t0 = apiClockStart();
    if (!frame || !release) return fail(batonErrorInvalidValue, "batonChannelReleaseFrame: frame and release must be non-NULL");
    if (!releaseStage) return fail(batonErrorInvalidValue, "batonChannelReleaseFrame: releaseStage is 0");
    Channel* ch = lookupChannel(channel);
    if (!ch) return badChannel(channel);
    batonError_t e = ch->releaseFrame(*frame, releaseStage, release);
    noteApiCost(ch->ctx, batonTelemetryApiChannelRelease, t0);
    ch->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonChannelGetInfo(batonChannel_t channel, batonChannelInfo* info) {
    if (!info) return fail(batonErrorInvalidValue, "batonChannelGetInfo: info is NULL");
    Channel* ch = lookupChannel(channel);
    if (!ch) return badChannel(channel);
    ch->getInfo(info);
    ch->release();
    return ok();
}

BATON_API batonError_t batonChannelGetStats(batonChannel_t channel, batonChannelStats* stats) {
    if (!stats) return fail(batonErrorInvalidValue, "batonChannelGetStats: stats is NULL");
    Channel* ch = lookupChannel(channel);
    if (!ch) return badChannel(channel);
    ch->getStats(stats);
    ch->release();
    return ok();
}

BATON_API batonError_t batonChannelExportFds(batonChannel_t channel, uint32_t slot, int* memoryFd, int* readyFd,
                                             int* releasedFd) {
    if (!memoryFd && !readyFd && !releasedFd)
        return fail(batonErrorInvalidValue, "batonChannelExportFds: no fd asked for");
    Channel* ch = lookupChannel(channel);
    if (!ch) return badChannel(channel);
    batonChannelInfo info;
    ch->getInfo(&info);
    batonError_t e = slot >= info.depth ? fail(batonErrorInvalidValue, "slot %u is not below the depth %u", slot, info.depth)
                                        : ch->exportFds(slot, memoryFd, readyFd, releasedFd);
    ch->release();
    return e == batonSuccess ? ok() : e;
}

}  // extern "C"
