// The graphics side: one render pass that draws the produced frame full-target and the
// ImGui panel over it, submitted with vkQueueSubmit2 carrying baton's wait ("ready") and
// signal ("released") infos next to the renderer's own semaphores. Two frames in flight,
// tracked with the renderer's own timeline semaphore.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu.h"
#include "gpu_clock.h"
#include "handoff.h"
#include "target.h"
#include "telemetry.h"
#include "view_transform.h"

struct ImDrawData;

namespace sandbox {

class Renderer {
public:
    static constexpr uint32_t kFramesInFlight = 2;

    Renderer(Gpu& gpu, GpuClock& clock, Telemetry& telemetry, VkFormat format);
    ~Renderer();

    // Descriptor sets for the handoff's images. The renderer must be idle (waitIdle).
    void bindHandoff(Handoff& handoff);
    // Waits for a frame slot, acquires the target image. False: skip this frame.
    bool begin(Target& target);
    // Records and submits the frame begun with begin(). capture: copy the result to the host.
    // hostStallMs: how long the caller blocked on the host for this frame to be ready (it
    // is added to the GPU-side wait to make the frame's consumer stall).
    void submit(Target& target, const ConsumerFrame& frame, ImDrawData* draw, bool capture, double hostStallMs);
    // After a capturing submit: waits for it and returns the image as tightly packed RGBA8.
    void readCapture(std::vector<uint8_t>& rgba, uint32_t* width, uint32_t* height);
    // One submit with no work: signal only (the handoff's final release).
    void submitSignal(const VkSemaphoreSubmitInfo& signal) { submitRelease(nullptr, nullptr, 0, signal); }
    // One submit of a handoff's release at teardown: wait (may be null), baton's command
    // buffers, signal.
    void submitRelease(const VkSemaphoreSubmitInfo* wait, const VkCommandBuffer* commands, uint32_t commandCount,
                       const VkSemaphoreSubmitInfo& signal);
    // Waits for everything this renderer submitted.
    void waitIdle();
    // The part of the frame shown (view_transform.h), from the next submit on.
    void setView(const PresentPush& view) { view_ = view; }

private:
    struct Frame {
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        uint64_t value = 0;       // gfxTimeline value its submit signals
        uint64_t submitNs = 0;
        uint64_t animFrame = 0;
        bool fresh = false;
        bool stallCandidate = false;  // a fresh frame whose ready signal had not completed
        double hostStallMs = 0;
        bool pendingCollect = false;  // submitted, its timestamps not read yet
    };
    void createPipeline();
    void syncFramebuffers(Target& target);
    void collect(Frame& f);

    Gpu& gpu_;
    GpuClock& clock_;
    Telemetry& telemetry_;
    VkFormat format_;
    VkRenderPass renderPass_ = VK_NULL_HANDLE;
    VkSampler sampler_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout setLayout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
    VkDescriptorPool pool_ = VK_NULL_HANDLE;       // the frame images' sets
    VkDescriptorPool imguiPool_ = VK_NULL_HANDLE;  // ImGui's font set
    VkDescriptorSet sets_[8] = {};
    VkCommandPool commandPool_ = VK_NULL_HANDLE;
    VkSemaphore timeline_ = VK_NULL_HANDLE;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    Frame frames_[kFramesInFlight];
    uint64_t submitted_ = 0;  // last gfxTimeline value submitted
    uint64_t prevGpuEnd_ = 0;

    std::vector<VkFramebuffer> framebuffers_;
    uint64_t framebufferGeneration_ = 0;
    Target* framebufferTarget_ = nullptr;

    uint32_t current_ = 0;  // target image index of the frame begun
    VkSemaphore acquireWait_ = VK_NULL_HANDLE;

    VkBuffer captureBuffer_ = VK_NULL_HANDLE;
    VkDeviceMemory captureMemory_ = VK_NULL_HANDLE;
    VkDeviceSize captureSize_ = 0;
    VkExtent2D captureExtent_{};
    uint64_t captureValue_ = 0;
    PresentPush view_{};
};

}  // namespace sandbox
