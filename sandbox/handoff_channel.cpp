#include "handoff_channel.h"

#include <chrono>

#include <baton/baton_telemetry.h>

namespace sandbox {
namespace {

struct RecordCall {
    batonRecordFn record;
    void* user;
};

// The channel hands the image to the callback; the producer's record already knows its slot.
void recordThrough(VkCommandBuffer cmd, VkImage, unsigned long long, void* user) {
    const auto* c = static_cast<const RecordCall*>(user);
    c->record(cmd, c->user);
}

constexpr auto kDrainTimeout = std::chrono::seconds(5);  // teardown: an enqueued frame comes by then

}  // namespace

ChannelHandoff::ChannelHandoff(Gpu& gpu, const HandoffConfig& config, PickMode mode, SubmitRelease submitRelease)
    : gpu_(gpu), config_(config), mode_(mode), submitRelease_(std::move(submitRelease)) {
    create(mode, 0);
}

ChannelHandoff::ChannelHandoff(Gpu& gpu, const HandoffConfig& config, PickMode mode, SharedProducer)
    : gpu_(gpu), config_(config), mode_(mode) {
    // Native timelines cross processes as the driver's semaphore fds: only where this device
    // has them (elsewhere the portable ones, as in one process).
    batonContextInfo ctxInfo{};
    if (config_.backend == SemBackend::Native &&
        (batonContextGetInfo(nullptr, &ctxInfo) != batonSuccess || !ctxInfo.nativeSemaphoreFd))
        config_.backend = SemBackend::Portable;
    create(mode, batonChannelFlagShared);
}

ChannelHandoff::ChannelHandoff(Gpu& gpu, batonChannel_t received, uint64_t animBase, SubmitRelease submitRelease)
    : gpu_(gpu), submitRelease_(std::move(submitRelease)), channel_(received) {
    BATON_CHECK(batonChannelGetInfo(channel_, &info_));
    config_.depth = info_.depth;
    config_.extent = info_.extent;
    config_.animBase = animBase;
    mode_ = info_.policy == batonChannelPolicyFifo ? PickMode::Fifo : PickMode::Mailbox;
    config_.backend = info_.ready && info_.backend == batonSemaphoreBackendNative ? SemBackend::Native : SemBackend::Portable;
    makeViews();
}

void ChannelHandoff::create(PickMode mode, unsigned flags) {
    if (config_.depth < 2) config_.depth = 2;
    batonChannelCreateInfo ci{};
    ci.depth = config_.depth;
    ci.format = VK_FORMAT_R8G8B8A8_UNORM;
    ci.extent = config_.extent;
    ci.usage = VK_IMAGE_USAGE_STORAGE_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
    ci.policy = mode == PickMode::Fifo ? batonChannelPolicyFifo : batonChannelPolicyMailbox;
    ci.consumerLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;  // what the renderer samples (sampledLayout)
    // The renderer's queue family: baton's consumer command buffers (the timestamps, with
    // telemetry on) are made for it. Attached with only a compute queue lent, baton would
    // otherwise take the compute family (VUID-vkQueueSubmit2-commandBuffer-03878 on the H200).
    ci.flags = flags | batonChannelFlagConsumerQueueFamily;
    ci.consumerQueueFamily = gpu_.graphicsFamily;
    switch (config_.backend) {
        case SemBackend::Native: ci.backend = batonSemaphoreBackendNative; break;
        case SemBackend::Portable: ci.backend = batonSemaphoreBackendPortable; break;
        case SemBackend::Keyed: ci.flags |= batonChannelFlagKeyedMutex; break;
    }
    BATON_CHECK(batonChannelCreate(&channel_, &ci));
    BATON_CHECK(batonChannelGetInfo(channel_, &info_));
    makeViews();
}

void ChannelHandoff::makeViews() {
    views_.resize(config_.depth);
    for (uint32_t i = 0; i < config_.depth; ++i) {
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = info_.images[i];
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = VK_FORMAT_R8G8B8A8_UNORM;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VK_CHECK(vkCreateImageView(gpu_.device, &vci, nullptr, &views_[i]));
    }
}

bool ChannelHandoff::waitSlot(uint64_t timeoutNs) {
    if (peerLost_) return false;
    const batonError_t e = batonChannelWaitForSlot(channel_, timeoutNs);
    if (e == batonErrorPeerLost) peerLost_ = true;
    return e == batonSuccess;
}

ChannelHandoff::~ChannelHandoff() {
    // The caller drained both sides first (releaseAll, producer synchronize, renderer idle).
    for (VkImageView v : views_) vkDestroyImageView(gpu_.device, v, nullptr);
    batonChannelDestroy(channel_);
}

batonError_t ChannelHandoff::produce(batonStream_t stream, uint64_t sequence, batonRecordFn record, void* user) {
    RecordCall call{record, user};
    unsigned long long frame = 0;
    batonError_t e = batonChannelProduceFrame(channel_, stream, recordThrough, &call, &frame);
    if (e == batonSuccess && frame != sequence) return batonErrorIllegalState;  // the two counts must agree
    return e;
}

bool ChannelHandoff::waitReady(uint64_t sequence, uint64_t timeoutNs) {
    return batonExternalSemaphoreHostWait(info_.ready, sequence, timeoutNs) == batonSuccess;
}

bool ChannelHandoff::acquire(PickMode, ConsumerFrame* out) {
    batonChannelFrame f{};
    // The fragment shader samples the image: that is where the graphics queue waits. baton's
    // acquire goes into the renderer's command buffer (ConsumerFrame::acquireChannel).
    const batonError_t e = batonChannelAcquireFrameWithFlags(channel_, VK_PIPELINE_STAGE_2_FRAGMENT_SHADER_BIT,
                                                             batonChannelAcquireInConsumerCommands, &f);
    if (e == batonSuccess) {
        *out = ConsumerFrame{};
        out->sequence = f.frame;
        out->animFrame = config_.animBase + f.frame;
        out->slot = f.slot;
        out->fresh = true;
        out->dropped = f.dropped;
        batonExternalSemaphoreInfo ready{};
        batonExternalSemaphoreGetInfo(info_.ready, &ready);
        out->readyDone = ready.currentValue >= f.frame;
        out->waits[0] = f.wait;
        out->waitCount = 1;
        out->acquireChannel = channel_;
        out->acquired = f;
        if (holding_) {  // the frame shown so far is done with once this submit completes
            batonChannelRelease rel{};
            BATON_CHECK(batonChannelReleaseFrame(channel_, &held_, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &rel));
            out->signals[0] = rel.signal;
            out->signalCount = 1;
            out->last = rel.releaseCommands;
        }
        held_ = f;
        holding_ = true;
        shown_ = f.frame;
        return true;
    }
    if (e == batonErrorPeerLost) peerLost_ = true;  // the producer process died: keep showing the last frame
    else if (e != batonErrorNotReady) BATON_CHECK(e);
    if (shown_ == 0) return false;
    *out = ConsumerFrame{};  // repeat: no waits, no signals
    out->sequence = shown_;
    out->animFrame = config_.animBase + shown_;
    out->slot = held_.slot;
    return true;
}

bool ChannelHandoff::releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo*) {
    // Give back the frame shown last, then take every frame still coming and give it back at
    // once: the producer's stream waits for those slots (a keyed slot comes back only once its
    // release completed, so each release is submitted and waited for before the next frame is
    // taken). Each release goes with baton's release commands (the end timestamp that
    // resolves its telemetry, the ownership release of a shared channel), and a frame taken
    // here with its wait and acquire commands: the H200's trace lacked the last release's
    // signal, whose timestamp was never written (SandboxTrace.EveryHandoffHasItsFlow).
    const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    if (holding_) {
        batonChannelRelease rel{};
        BATON_CHECK(batonChannelReleaseFrame(channel_, &held_, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &rel));
        ReleaseSubmit r;
        r.commands[r.commandCount++] = rel.releaseCommands;
        r.signal = rel.signal;
        submitRelease_(r);
        holding_ = false;
    }
    while (shown_ < lastEnqueued && std::chrono::steady_clock::now() < deadline) {
        batonChannelFrame f{};
        const batonError_t e = batonChannelAcquireFrame(channel_, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &f);
        if (e == batonErrorNotReady) {
            batonChannelWaitForFrame(channel_, 10'000'000ull);
            continue;
        }
        if (e == batonErrorPeerLost) {  // nothing more will come (and nobody waits for these slots)
            peerLost_ = true;
            break;
        }
        BATON_CHECK(e);
        batonChannelRelease rel{};
        BATON_CHECK(batonChannelReleaseFrame(channel_, &f, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &rel));
        ReleaseSubmit r;
        r.wait = &f.wait;
        r.commands[r.commandCount++] = f.acquireCommands;
        r.commands[r.commandCount++] = rel.releaseCommands;
        r.signal = rel.signal;
        submitRelease_(r);
        shown_ = f.frame;
    }
    batonChannelStats stats{};
    batonChannelGetStats(channel_, &stats);  // gives the completed keyed slots back
    return false;
}

uint32_t ChannelHandoff::semaphores(SemaphoreView* out, uint32_t max) const {
    uint32_t n = 0;
    if (n < max) out[n++] = {"ready", info_.ready};
    if (n < max) out[n++] = {"released", info_.released};
    return n;
}

}  // namespace sandbox
