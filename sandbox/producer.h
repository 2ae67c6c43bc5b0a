// The compute producer: a thread that enqueues, per frame, on its own baton stream:
//   [host function: injected delay + jitter] -> wait for a free slot (handoff) ->
//   [record: timestamps, the cost dispatch, the Julia dispatch] -> signal ready (handoff).
// It throttles itself on the host to at most two frames ahead of the GPU so that the
// stream's own wait on "released" is where it stalls when the consumer is slow.
//
// Seam for the separate-producer-process mode: this class is what moves into the child
// process; the parent would keep a Handoff whose produce* side is remote.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include <baton/baton.h>

#include "gpu.h"
#include "gpu_clock.h"
#include "handoff.h"
#include "telemetry.h"

namespace sandbox {

struct ProducerControls {
    std::atomic<float> costMs{0.0f};    // GPU milliseconds of extra work per frame
    std::atomic<float> delayMs{0.0f};   // injected host delay before each frame, on the stream
    std::atomic<float> jitterMs{0.0f};  // +- uniform jitter on the delay
    std::atomic<bool> paused{false};
};

class Producer {
public:
    Producer(Gpu& gpu, batonContext_t ctx, GpuClock& clock, Telemetry& telemetry, ProducerControls& controls);
    ~Producer();

    // Binds to a handoff (descriptor sets for its images) and starts the thread.
    void start(Handoff& handoff);
    // Stops enqueuing and joins the thread. Returns the last sequence enqueued.
    uint64_t stop();
    // Waits until everything enqueued has run (after the consumer released everything).
    void synchronize();

    uint64_t burnLoops() const { return burnLoops_.load(); }

private:
    struct Pending {  // per frame in flight, for timestamps and stall accounting
        uint64_t sequence = 0, animFrame = 0, enqueueNs = 0;
        std::atomic<uint64_t> delayStart{0}, delayEnd{0};
        float delayMs = 0;
        bool burned = false;  // the cost dispatch ran (its timestamps steer the knob)
        Producer* self = nullptr;
    };
    static constexpr uint32_t kInFlight = 64;  // query/pending ring
    static constexpr uint32_t kAhead = 2;      // frames enqueued beyond the GPU's progress

    void loop();
    bool enqueueFrame(uint64_t sequence);
    void collect(uint64_t sequence);  // timestamps of a completed frame -> telemetry
    static void recordFrame(VkCommandBuffer cmd, void* user);
    static void injectDelay(void* user);

    Gpu& gpu_;
    batonContext_t ctx_;
    GpuClock& clock_;
    Telemetry& telemetry_;
    ProducerControls& controls_;
    Handoff* handoff_ = nullptr;

    batonStream_t stream_ = nullptr;
    VkDescriptorSetLayout setLayout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline julia_ = VK_NULL_HANDLE, burn_ = VK_NULL_HANDLE;
    VkDescriptorPool pool_ = VK_NULL_HANDLE;
    VkDescriptorSet sets_[8] = {};
    VkBuffer sink_ = VK_NULL_HANDLE;
    VkDeviceMemory sinkMemory_ = VK_NULL_HANDLE;
    VkQueryPool queries_ = VK_NULL_HANDLE;

    Pending pending_[kInFlight];
    std::atomic<uint64_t> burnLoops_{0};
    uint64_t lastEnqueued_ = 0, lastCollected_ = 0;
    uint64_t prevGpuEnd_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace sandbox
