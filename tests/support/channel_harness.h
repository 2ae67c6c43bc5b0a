// A frame-channel test harness: a producer thread that fills every pixel of each frame with
// its frame number (vkCmdClearColorImage, R32_UINT), and a consumer on the renderer's queue
// that copies each acquired frame into a host buffer and checks every pixel once the copy
// has completed (pipelined over a few buffer regions, so the check never stalls the GPU).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <baton/baton.h>
#include <baton/baton_channel.h>

namespace batontest {

struct HandoffResult {
    uint64_t consumed = 0;        // frames acquired
    uint64_t dropped = 0;         // sum of frame.dropped
    uint64_t badPixels = 0;       // pixels that did not carry their frame's number
    uint64_t badFrames = 0;       // frames with at least one bad pixel
    uint64_t orderErrors = 0;     // FIFO: skipped or repeated; mailbox: not strictly increasing
    uint64_t droppedMismatch = 0; // frame.dropped disagreeing with the numbers seen
    uint64_t lastFrame = 0;
    std::string firstError;
};

class ChannelHarness {
public:
    // queue: the renderer's queue (on lavapipe the context's only queue, locked through baton).
    ChannelHarness(batonContext_t ctx, VkQueue queue, uint32_t family, uint32_t width, uint32_t height);
    ~ChannelHarness();
    bool ok() const { return ok_; }

    // Produces `frames` frames on stream (a thread) while consuming them here.
    // first: the number of the first frame this run produces (runs can continue a channel).
    HandoffResult run(batonChannel_t channel, batonStream_t stream, uint64_t frames, bool fifo, uint64_t first = 1);
    // holdLast: as a renderer that keeps showing its last frame, each frame is released only
    // when the next one is acquired (in that submit), so the last one stays held on return.
    // Consumes up to `frames` frames of a channel whose producer is elsewhere (another
    // process), checking them as run() does, until `frames` frames or the last one (`last`,
    // 0: none) were seen (after seenBefore), an acquire fails (*endError: its result) or timeoutMs passes.
    HandoffResult consume(batonChannel_t channel, uint64_t frames, bool fifo, uint64_t last, unsigned timeoutMs,
                          batonError_t* endError, uint64_t seenBefore = 0, bool holdLast = false);
    // Copies image (in layout; a frame still held) once more and counts the pixels that are not
    // `value` (UINT64_MAX: the copy failed). For a frame that must stay usable after its producer died.
    uint64_t badPixelsOf(VkImage image, VkImageLayout layout, uint32_t value);
    // Waits until every consumer submission completed.
    void idle();

    PFN_vkGetDeviceProcAddr gdpa = nullptr;
    VkDevice device = VK_NULL_HANDLE;
    VkImage lastImage = VK_NULL_HANDLE;  // consume(): the last frame acquired
    VkImageLayout lastLayout = VK_IMAGE_LAYOUT_UNDEFINED;

private:
    void consumeOne(batonChannel_t ch, const batonChannelFrame& f, HandoffResult& res,
                    const batonChannelFrame* releaseInstead = nullptr, bool noRelease = false);
    batonChannelFrame held_{};
    bool holding_ = false;
    void checkCompleted(HandoffResult& res, bool all);

    static constexpr uint32_t kRegions = 8;
    batonContext_t ctx_;
    VkQueue queue_;
    uint32_t width_, height_;
    bool ok_ = false;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    uint32_t* mapped_ = nullptr;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmds_[kRegions] = {};
    VkSemaphore done_ = VK_NULL_HANDLE;  // consumer submissions completed
    uint64_t submitted_ = 0, checked_ = 0;
    uint64_t regionFrame_[kRegions] = {};

    PFN_vkQueueSubmit2 vkQueueSubmit2_ = nullptr;
    PFN_vkCmdCopyImageToBuffer vkCmdCopyImageToBuffer_ = nullptr;
    PFN_vkCmdPipelineBarrier2 vkCmdPipelineBarrier2_ = nullptr;
    PFN_vkBeginCommandBuffer vkBeginCommandBuffer_ = nullptr;
    PFN_vkEndCommandBuffer vkEndCommandBuffer_ = nullptr;
    PFN_vkWaitSemaphores vkWaitSemaphores_ = nullptr;
    PFN_vkGetSemaphoreCounterValue vkGetSemaphoreCounterValue_ = nullptr;
};

// The producer's record callback: clears the whole image to the frame number.
void clearToFrameNumber(VkCommandBuffer cmd, VkImage image, unsigned long long frame, void* harness);

}  // namespace batontest
