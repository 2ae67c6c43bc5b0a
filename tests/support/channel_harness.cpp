#include "channel_harness.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace batontest {

namespace {
PFN_vkCmdClearColorImage g_clear = nullptr;
}

void clearToFrameNumber(VkCommandBuffer cmd, VkImage image, unsigned long long frame, void*) {
    VkClearColorValue c{};
    c.uint32[0] = static_cast<uint32_t>(frame);
    VkImageSubresourceRange r{VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    g_clear(cmd, image, VK_IMAGE_LAYOUT_GENERAL, &c, 1, &r);
}

ChannelHarness::ChannelHarness(batonContext_t ctx, VkQueue queue, uint32_t family, uint32_t width, uint32_t height)
    : ctx_(ctx), queue_(queue), width_(width), height_(height) {
    batonContextInfo info{};
    if (batonContextGetInfo(ctx, &info) != batonSuccess) return;
    device = info.device;
    gdpa = info.getDeviceProcAddr;
    auto gipa = info.getInstanceProcAddr;
#define LOAD(name) auto name = reinterpret_cast<PFN_##name>(gdpa(device, #name))
    LOAD(vkCreateBuffer);
    LOAD(vkGetBufferMemoryRequirements);
    LOAD(vkAllocateMemory);
    LOAD(vkBindBufferMemory);
    LOAD(vkMapMemory);
    LOAD(vkCreateCommandPool);
    LOAD(vkAllocateCommandBuffers);
    LOAD(vkCreateSemaphore);
#undef LOAD
    auto getMemProps = reinterpret_cast<PFN_vkGetPhysicalDeviceMemoryProperties>(
        gipa(info.instance, "vkGetPhysicalDeviceMemoryProperties"));
    g_clear = reinterpret_cast<PFN_vkCmdClearColorImage>(gdpa(device, "vkCmdClearColorImage"));
    vkQueueSubmit2_ = reinterpret_cast<PFN_vkQueueSubmit2>(gdpa(device, "vkQueueSubmit2"));
    vkCmdCopyImageToBuffer_ = reinterpret_cast<PFN_vkCmdCopyImageToBuffer>(gdpa(device, "vkCmdCopyImageToBuffer"));
    vkCmdPipelineBarrier2_ = reinterpret_cast<PFN_vkCmdPipelineBarrier2>(gdpa(device, "vkCmdPipelineBarrier2"));
    vkBeginCommandBuffer_ = reinterpret_cast<PFN_vkBeginCommandBuffer>(gdpa(device, "vkBeginCommandBuffer"));
    vkEndCommandBuffer_ = reinterpret_cast<PFN_vkEndCommandBuffer>(gdpa(device, "vkEndCommandBuffer"));
    vkWaitSemaphores_ = reinterpret_cast<PFN_vkWaitSemaphores>(gdpa(device, "vkWaitSemaphores"));
    vkGetSemaphoreCounterValue_ = reinterpret_cast<PFN_vkGetSemaphoreCounterValue>(gdpa(device, "vkGetSemaphoreCounterValue"));

    const VkDeviceSize region = VkDeviceSize(width) * height * 4;
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = region * kRegions;
    bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    if (vkCreateBuffer(device, &bci, nullptr, &buffer_) != VK_SUCCESS) return;
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(device, buffer_, &req);
    VkPhysicalDeviceMemoryProperties mp{};
    getMemProps(info.physicalDevice, &mp);
    uint32_t type = UINT32_MAX;
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t t = 0; t < mp.memoryTypeCount && type == UINT32_MAX; ++t)
        if ((req.memoryTypeBits & (1u << t)) && (mp.memoryTypes[t].propertyFlags & want) == want) type = t;
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size, type};
    if (type == UINT32_MAX || vkAllocateMemory(device, &ai, nullptr, &memory_) != VK_SUCCESS) return;
    if (vkBindBufferMemory(device, buffer_, memory_, 0) != VK_SUCCESS) return;
    void* p = nullptr;
    if (vkMapMemory(device, memory_, 0, VK_WHOLE_SIZE, 0, &p) != VK_SUCCESS) return;
    mapped_ = static_cast<uint32_t*>(p);
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr,
                                VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, family};
    if (vkCreateCommandPool(device, &pci, nullptr, &pool_) != VK_SUCCESS) return;
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool_,
                                    VK_COMMAND_BUFFER_LEVEL_PRIMARY, kRegions};
    if (vkAllocateCommandBuffers(device, &cai, cmds_) != VK_SUCCESS) return;
    VkSemaphoreTypeCreateInfo type2{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type2};
    if (vkCreateSemaphore(device, &sci, nullptr, &done_) != VK_SUCCESS) return;
    ok_ = true;
}

ChannelHarness::~ChannelHarness() {
    if (!device) return;
    idle();
    auto destroySem = reinterpret_cast<PFN_vkDestroySemaphore>(gdpa(device, "vkDestroySemaphore"));
    auto destroyPool = reinterpret_cast<PFN_vkDestroyCommandPool>(gdpa(device, "vkDestroyCommandPool"));
    auto destroyBuffer = reinterpret_cast<PFN_vkDestroyBuffer>(gdpa(device, "vkDestroyBuffer"));
    auto freeMemory = reinterpret_cast<PFN_vkFreeMemory>(gdpa(device, "vkFreeMemory"));
    if (done_) destroySem(device, done_, nullptr);
    if (pool_) destroyPool(device, pool_, nullptr);
    if (buffer_) destroyBuffer(device, buffer_, nullptr);
    if (memory_) freeMemory(device, memory_, nullptr);
}

void ChannelHarness::idle() {
    if (!done_ || !submitted_) return;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &done_, &submitted_};
    vkWaitSemaphores_(device, &wi, UINT64_MAX);
}

void ChannelHarness::checkCompleted(HandoffResult& res, bool all) {
    if (checked_ == submitted_) return;
    uint64_t target = all || submitted_ - checked_ == kRegions ? submitted_ - (all ? 0 : kRegions - 1) : 0;
    if (target > checked_) {  // the oldest region is needed again (or the run ends): wait for it
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &done_, &target};
        vkWaitSemaphores_(device, &wi, UINT64_MAX);
    }
    uint64_t done = 0;
    vkGetSemaphoreCounterValue_(device, done_, &done);
    const size_t pixels = size_t(width_) * height_;
    for (; checked_ < done; ++checked_) {
        const uint32_t r = static_cast<uint32_t>(checked_ % kRegions);
        const uint32_t want = static_cast<uint32_t>(regionFrame_[r]);
        const uint32_t* px = mapped_ + pixels * r;
        uint64_t bad = 0;
        for (size_t i = 0; i < pixels; ++i) bad += px[i] != want;
        if (bad) {
            if (res.firstError.empty()) {
                char msg[160];
                std::snprintf(msg, sizeof msg, "frame %u: %llu of %zu pixels wrong (first pixel %u)", want,
                              static_cast<unsigned long long>(bad), pixels, px[0]);
                res.firstError = msg;
            }
            res.badPixels += bad;
            ++res.badFrames;
        }
    }
}

void ChannelHarness::consumeOne(batonChannel_t ch, const batonChannelFrame& f, HandoffResult& res,
                                const batonChannelFrame* releaseInstead, bool noRelease) {
    checkCompleted(res, false);
    const uint32_t r = static_cast<uint32_t>(submitted_ % kRegions);
    const VkDeviceSize regionBytes = VkDeviceSize(width_) * height_ * 4;
    VkCommandBuffer cmd = cmds_[r];
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vkBeginCommandBuffer_(cmd, &bi);
    // The region was last written R submissions ago and read by the host since.
    VkBufferMemoryBarrier2 bb{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER_2};
    bb.srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT | VK_PIPELINE_STAGE_2_HOST_BIT;
    bb.srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT | VK_ACCESS_2_HOST_READ_BIT;
    bb.dstStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
    bb.dstAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT;
    bb.srcQueueFamilyIndex = bb.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    bb.buffer = buffer_;
    bb.offset = regionBytes * r;
    bb.size = regionBytes;
    VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    di.bufferMemoryBarrierCount = 1;
    di.pBufferMemoryBarriers = &bb;
    vkCmdPipelineBarrier2_(cmd, &di);
    if (!f.acquireCommands) {  // record baton's acquire barrier ourselves
        VkDependencyInfo ai{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
        ai.imageMemoryBarrierCount = 1;
        ai.pImageMemoryBarriers = &f.acquireBarrier;
        vkCmdPipelineBarrier2_(cmd, &ai);
    }
    VkBufferImageCopy copy{};
    copy.bufferOffset = regionBytes * r;
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {width_, height_, 1};
    vkCmdCopyImageToBuffer_(cmd, f.image, f.layout, buffer_, 1, &copy);
    bb.srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
    bb.srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT;
    bb.dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT;
    bb.dstAccessMask = VK_ACCESS_2_HOST_READ_BIT;
    vkCmdPipelineBarrier2_(cmd, &di);
    vkEndCommandBuffer_(cmd);

    batonChannelRelease rel{};
    const batonChannelFrame& toRelease = releaseInstead ? *releaseInstead : f;
    if (!noRelease && batonChannelReleaseFrame(ch, &toRelease, VK_PIPELINE_STAGE_2_COPY_BIT, &rel) != batonSuccess) {
        if (res.firstError.empty()) res.firstError = std::string("release failed: ") + batonGetLastErrorMessage();
        ++res.orderErrors;
        return;
    }
    VkCommandBufferSubmitInfo cmdInfos[3];
    uint32_t nc = 0;
    if (f.acquireCommands) cmdInfos[nc++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, f.acquireCommands, 0};
    cmdInfos[nc++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
    if (rel.releaseCommands) cmdInfos[nc++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, rel.releaseCommands, 0};
    regionFrame_[r] = f.frame;
    ++submitted_;
    VkSemaphoreSubmitInfo signals[2] = {
        {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, done_, submitted_, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0},
        rel.signal};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = 1;
    si.pWaitSemaphoreInfos = &f.wait;
    si.commandBufferInfoCount = nc;
    si.pCommandBufferInfos = cmdInfos;
    si.signalSemaphoreInfoCount = noRelease ? 1 : 2;
    si.pSignalSemaphoreInfos = signals;
    batonContextLockQueue(ctx_, queue_);
    VkResult vr = vkQueueSubmit2_(queue_, 1, &si, VK_NULL_HANDLE);
    batonContextUnlockQueue(ctx_, queue_);
    if (vr != VK_SUCCESS && res.firstError.empty()) res.firstError = "vkQueueSubmit2 failed";
}

HandoffResult ChannelHarness::run(batonChannel_t ch, batonStream_t stream, uint64_t frames, bool fifo, uint64_t first) {
    HandoffResult res;
    std::atomic<bool> producerFailed{false};
    std::string producerError;
    std::thread producer([&] {
        for (uint64_t i = 0; i < frames; ++i) {
            unsigned long long f = 0;
            if (batonChannelProduceFrame(ch, stream, clearToFrameNumber, this, &f) != batonSuccess || f != first + i) {
                producerError = batonGetLastErrorMessage();
                producerFailed = true;
                return;
            }
        }
    });
    uint64_t last = first - 1;
    const uint64_t end = first + frames - 1;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    while (last < end && !producerFailed && std::chrono::steady_clock::now() < deadline) {
        batonChannelFrame f{};
        batonError_t e = batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f);
        if (e == batonErrorNotReady) {
            std::this_thread::yield();
            continue;
        }
        if (e != batonSuccess) {
            res.firstError = std::string("acquire failed: ") + batonGetLastErrorMessage();
            break;
        }
        ++res.consumed;
        res.dropped += f.dropped;
        const bool inOrder = fifo ? f.frame == last + 1 : f.frame > last;
        if (!inOrder) {
            ++res.orderErrors;
            if (res.firstError.empty())
                res.firstError = "frame " + std::to_string(f.frame) + " after " + std::to_string(last);
        }
        if (f.frame > last && f.dropped != f.frame - last - 1) ++res.droppedMismatch;
        last = f.frame;
        consumeOne(ch, f, res);
    }
    producer.join();
    if (producerFailed && res.firstError.empty()) res.firstError = "produce failed: " + producerError;
    checkCompleted(res, true);
    res.lastFrame = last;
    return res;
}

HandoffResult ChannelHarness::consume(batonChannel_t ch, uint64_t frames, bool fifo, uint64_t lastWanted,
                                      unsigned timeoutMs, batonError_t* endError, uint64_t seenBefore,
                                      bool holdLast) {
    HandoffResult res;
    *endError = batonSuccess;
    uint64_t last = seenBefore;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (res.consumed < frames && (!lastWanted || last < lastWanted)) {
        if (std::chrono::steady_clock::now() >= deadline) {
            *endError = batonErrorTimeout;
            break;
        }
        batonChannelFrame f{};
        batonError_t e = batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f);
        if (e == batonErrorNotReady) {
            e = batonChannelWaitForFrame(ch, 2000000);
            if (e == batonErrorTimeout) continue;
        }
        if (e == batonErrorNotReady || (e == batonSuccess && !f.image)) continue;
        if (e != batonSuccess) {
            *endError = e;
            if (e != batonErrorPeerLost && res.firstError.empty())
                res.firstError = std::string("acquire failed: ") + batonGetLastErrorMessage();
            break;
        }
        ++res.consumed;
        res.dropped += f.dropped;
        const bool inOrder = fifo ? f.frame == last + 1 : f.frame > last;
        if (!inOrder) {
            ++res.orderErrors;
            if (res.firstError.empty())
                res.firstError = "frame " + std::to_string(f.frame) + " after " + std::to_string(last);
        }
        if (f.frame > last && f.dropped != f.frame - last - 1) ++res.droppedMismatch;
        last = f.frame;
        lastImage = f.image;
        lastLayout = f.layout;
        if (!holdLast) {
            consumeOne(ch, f, res);
            continue;
        }
        // This submit reads f and lets the previous one go (the first: nothing to let go).
        consumeOne(ch, f, res, holding_ ? &held_ : &f, !holding_);
        held_ = f;
        holding_ = true;
    }
    checkCompleted(res, true);
    res.lastFrame = last;
    return res;
}

uint64_t ChannelHarness::badPixelsOf(VkImage image, VkImageLayout layout, uint32_t value) {
    idle();
    checked_ = submitted_;
    VkCommandBuffer cmd = cmds_[0];
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if (vkBeginCommandBuffer_(cmd, &bi) != VK_SUCCESS) return UINT64_MAX;
    // A frame still held (acquired, not released): ours, in its layout.
    VkImageMemoryBarrier2 ib{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
    ib.srcStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    ib.dstStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
    ib.dstAccessMask = VK_ACCESS_2_TRANSFER_READ_BIT;
    ib.oldLayout = ib.newLayout = layout;
    ib.srcQueueFamilyIndex = ib.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    ib.image = image;
    ib.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkDependencyInfo ia{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    ia.imageMemoryBarrierCount = 1;
    ia.pImageMemoryBarriers = &ib;
    vkCmdPipelineBarrier2_(cmd, &ia);
    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {width_, height_, 1};
    vkCmdCopyImageToBuffer_(cmd, image, layout, buffer_, 1, &copy);
    VkBufferMemoryBarrier2 bb{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER_2};
    bb.srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
    bb.srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT;
    bb.dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT;
    bb.dstAccessMask = VK_ACCESS_2_HOST_READ_BIT;
    bb.srcQueueFamilyIndex = bb.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    bb.buffer = buffer_;
    bb.size = VK_WHOLE_SIZE;
    VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    di.bufferMemoryBarrierCount = 1;
    di.pBufferMemoryBarriers = &bb;
    vkCmdPipelineBarrier2_(cmd, &di);
    if (vkEndCommandBuffer_(cmd) != VK_SUCCESS) return UINT64_MAX;
    VkCommandBufferSubmitInfo ci{VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
    ++submitted_;
    VkSemaphoreSubmitInfo sig{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, done_, submitted_,
                              VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.commandBufferInfoCount = 1;
    si.pCommandBufferInfos = &ci;
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &sig;
    batonContextLockQueue(ctx_, queue_);
    VkResult vr = vkQueueSubmit2_(queue_, 1, &si, VK_NULL_HANDLE);
    batonContextUnlockQueue(ctx_, queue_);
    if (vr != VK_SUCCESS) return UINT64_MAX;
    idle();
    checked_ = submitted_;
    uint64_t bad = 0;
    for (size_t i = 0; i < size_t(width_) * height_; ++i) bad += mapped_[i] != value;
    return bad;
}

}  // namespace batontest
