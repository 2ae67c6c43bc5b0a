#include "handoff_ring.h"

#include <cstdio>
#include <unistd.h>

namespace sandbox {
namespace {

batonExternalSemaphore_t exportTimeline(SemBackend backend) {
    batonExternalSemaphoreExportDesc desc{};
    desc.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    desc.initialValue = 0;
    desc.flags = backend == SemBackend::Portable ? batonExportFlagPortable : 0;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    BATON_CHECK(batonExportExternalSemaphore(&fd, &sem, &desc));
    // The fd is what a producer in another process would import (see handoff.h). In this
    // process the handle is enough.
    close(fd);
    return sem;
}

}  // namespace

void createRingImages(Gpu& gpu, VkExtent2D extent, uint32_t count, std::vector<RingImage>* out) {
    out->resize(count);
    const uint32_t families[2] = {gpu.graphicsFamily, gpu.computeFamily};
    for (RingImage& s : *out) {
        VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
        ici.imageType = VK_IMAGE_TYPE_2D;
        ici.format = VK_FORMAT_R8G8B8A8_UNORM;
        ici.extent = {extent.width, extent.height, 1};
        ici.mipLevels = 1;
        ici.arrayLayers = 1;
        ici.samples = VK_SAMPLE_COUNT_1_BIT;
        ici.tiling = VK_IMAGE_TILING_OPTIMAL;
        ici.usage = VK_IMAGE_USAGE_STORAGE_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
        // Written on baton's compute queue, read on the graphics queue: no ownership transfers.
        ici.sharingMode = gpu.splitFamilies() ? VK_SHARING_MODE_CONCURRENT : VK_SHARING_MODE_EXCLUSIVE;
        ici.queueFamilyIndexCount = gpu.splitFamilies() ? 2 : 0;
        ici.pQueueFamilyIndices = families;
        VK_CHECK(vkCreateImage(gpu.device, &ici, nullptr, &s.image));
        VkMemoryRequirements req{};
        vkGetImageMemoryRequirements(gpu.device, s.image, &req);
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                                 gpu.memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)};
        VK_CHECK(vkAllocateMemory(gpu.device, &mai, nullptr, &s.memory));
        VK_CHECK(vkBindImageMemory(gpu.device, s.image, s.memory, 0));
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = s.image;
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = VK_FORMAT_R8G8B8A8_UNORM;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VK_CHECK(vkCreateImageView(gpu.device, &vci, nullptr, &s.view));
    }
    // The images stay in GENERAL for their whole life: storage writes and sampled reads.
    gpu.runOnce([&](VkCommandBuffer cmd) {
        std::vector<VkImageMemoryBarrier2> barriers;
        for (const RingImage& s : *out) {
            VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
            b.srcStageMask = VK_PIPELINE_STAGE_2_NONE;
            b.dstStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
            b.dstAccessMask = VK_ACCESS_2_MEMORY_READ_BIT | VK_ACCESS_2_MEMORY_WRITE_BIT;
            b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
            b.newLayout = VK_IMAGE_LAYOUT_GENERAL;
            b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
            b.image = s.image;
            b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
            barriers.push_back(b);
        }
        VkDependencyInfo dep{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
        dep.imageMemoryBarrierCount = static_cast<uint32_t>(barriers.size());
        dep.pImageMemoryBarriers = barriers.data();
        vkCmdPipelineBarrier2(cmd, &dep);
    });
}

void destroyRingImages(Gpu& gpu, std::vector<RingImage>* images) {
    for (RingImage& s : *images) {
        vkDestroyImageView(gpu.device, s.view, nullptr);
        vkDestroyImage(gpu.device, s.image, nullptr);
        vkFreeMemory(gpu.device, s.memory, nullptr);
    }
    images->clear();
}

FrameRing::FrameRing(Gpu& gpu, const HandoffConfig& config) : gpu_(gpu), config_(config) {
    if (config_.depth < 2) config_.depth = 2;  // with one image the producer waits for a release that needs its next frame
    createRingImages(gpu, config_.extent, config_.depth, &slots_);
    ready_ = exportTimeline(config_.backend);
    released_ = exportTimeline(config_.backend);
}

FrameRing::~FrameRing() {
    // The caller drained both sides (releaseAll + stream synchronize + queue idle) first.
    batonDestroyExternalSemaphore(ready_);
    batonDestroyExternalSemaphore(released_);
    destroyRingImages(gpu_, &slots_);
}

batonError_t FrameRing::produceBegin(batonStream_t stream, uint64_t sequence, uint32_t* slot) {
    *slot = static_cast<uint32_t>((sequence - 1) % config_.depth);
    if (sequence <= config_.depth) return batonSuccess;  // first use of the slot
    batonExternalSemaphoreWaitParams wp{};
    wp.params.fence.value = sequence - config_.depth;
    return batonWaitExternalSemaphoresAsync(&released_, &wp, 1, stream);
}

batonError_t FrameRing::produceEnd(batonStream_t stream, uint64_t sequence) {
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = sequence;
    return batonSignalExternalSemaphoresAsync(&ready_, &sp, 1, stream);
}

bool FrameRing::waitReady(uint64_t sequence, uint64_t timeoutNs) {
    return batonExternalSemaphoreHostWait(ready_, sequence, timeoutNs) == batonSuccess;
}

bool FrameRing::fill(uint64_t sequence, ConsumerFrame* out) {
    VkSemaphoreSubmitInfo wait{};
    // The fragment shader samples the image: that is where the graphics queue waits.
    batonError_t e = batonGetWaitSubmitInfo(ready_, sequence, VK_PIPELINE_STAGE_2_FRAGMENT_SHADER_BIT, &wait);
    if (e == batonErrorNotReady) return false;  // shared queue, signal not submitted yet: try next frame
    BATON_CHECK(e);
    *out = ConsumerFrame{};
    out->sequence = sequence;
    out->animFrame = config_.animBase + sequence;
    out->slot = static_cast<uint32_t>((sequence - 1) % config_.depth);
    out->fresh = true;
    out->dropped = sequence - shown_ - 1;
    out->waits[0] = wait;
    out->waitCount = 1;
    // Everything before `sequence` is done with once this submit completes (queue order).
    if (sequence - 1 > released_v_) {
        BATON_CHECK(batonGetSignalSubmitInfo(released_, sequence - 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT,
                                             &out->signals[0]));
        out->signalCount = 1;
        released_v_ = sequence - 1;
    }
    shown_ = sequence;
    return true;
}

bool FrameRing::acquire(PickMode mode, ConsumerFrame* out) {
    batonExternalSemaphoreInfo info{};
    BATON_CHECK(batonExternalSemaphoreGetInfo(ready_, &info));
    if (mode == PickMode::Fifo) {
        if (info.pendingValue > shown_ && fill(shown_ + 1, out)) {
            out->readyDone = info.currentValue >= out->sequence;
            return true;
        }
    } else if (info.currentValue > shown_ && fill(info.currentValue, out)) {
        out->readyDone = true;
        return true;
    }
    if (shown_ == 0) return false;
    *out = ConsumerFrame{};  // repeat: no waits, no signals
    out->sequence = shown_;
    out->animFrame = config_.animBase + shown_;
    out->slot = static_cast<uint32_t>((shown_ - 1) % config_.depth);
    return true;
}

bool FrameRing::releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) {
    if (lastEnqueued <= released_v_) return false;
    BATON_CHECK(batonGetSignalSubmitInfo(released_, lastEnqueued, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, signal));
    released_v_ = lastEnqueued;
    return true;
}

uint32_t FrameRing::semaphores(SemaphoreView* out, uint32_t max) const {
    uint32_t n = 0;
    if (n < max) out[n++] = {"ready", ready_};
    if (n < max) out[n++] = {"released", released_};
    return n;
}

}  // namespace sandbox
