// The handoff as baton's frame channel (baton_channel.h), for every backend: native or
// portable "ready"/"released" timelines, or a keyed mutex per slot. The channel allocates
// the images (RGBA8, storage + sampled, written in GENERAL, handed to the renderer in
// SHADER_READ_ONLY_OPTIMAL) and does the
// ordering; this class adds what the renderer needs: image views, and the "show the last
// frame until a new one comes" pattern (the frame on screen is released in the submit that
// reads the next one, which also gives back every frame mailbox skipped).
//
// The channel's policy is fixed when it is made: the session rebuilds the handoff when the
// pick mode changes (mode() says which one this is).
#pragma once

#include <functional>
#include <vector>

#include <baton/baton_channel.h>

#include "gpu.h"
#include "handoff.h"

namespace sandbox {

class ChannelHandoff final : public Handoff {
public:
    // One teardown release for the renderer's queue: an optional wait (a frame taken only to
    // be given back), baton's command buffers (the acquire's, then the release's: telemetry
    // timestamps, queue-family ownership), the release's signal.
    struct ReleaseSubmit {
        const VkSemaphoreSubmitInfo* wait = nullptr;
        VkCommandBuffer commands[2] = {};
        uint32_t commandCount = 0;
        VkSemaphoreSubmitInfo signal{};
    };
    // submitRelease: submits one release on the renderer's queue and waits until it completed
    // (teardown only: the channel's last releases).
    using SubmitRelease = std::function<void(const ReleaseSubmit&)>;
    // In this process: producer and consumer both here.
    ChannelHandoff(Gpu& gpu, const HandoffConfig& config, PickMode mode, SubmitRelease submitRelease);
    // The producer's end of a channel for a consumer in another process: send() it there.
    struct SharedProducer {};
    ChannelHandoff(Gpu& gpu, const HandoffConfig& config, PickMode mode, SharedProducer);
    // The consumer's end of a channel received from the producer's process.
    ChannelHandoff(Gpu& gpu, batonChannel_t received, uint64_t animBase, SubmitRelease submitRelease);
    ~ChannelHandoff() override;
    // The shared producer's end: sends the channel over socket (batonChannelSend).
    batonError_t send(int socket, int timeoutMs) { return batonChannelSend(channel_, socket, timeoutMs); }
    bool waitSlot(uint64_t timeoutNs) override;
    // Whether the other process of a shared channel died (the frame shown stays shown).
    bool peerLost() const { return peerLost_; }

    const HandoffConfig& config() const override { return config_; }
    PickMode mode() const { return mode_; }
    VkImage image(uint32_t slot) const override { return info_.images[slot]; }
    VkImageView view(uint32_t slot) const override { return views_[slot]; }
    // The channel hands frames over in SHADER_READ_ONLY_OPTIMAL (its consumerLayout): a real
    // transition at the end of each frame, which a consumer in another process also sees in
    // the ownership acquire (the validation layer then tracks the imported image's layout).
    VkImageLayout sampledLayout() const override { return VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL; }
    batonError_t produceBegin(batonStream_t, uint64_t, uint32_t*) override { return batonErrorNotSupported; }
    batonError_t produceEnd(batonStream_t, uint64_t) override { return batonErrorNotSupported; }
    batonError_t produce(batonStream_t stream, uint64_t sequence, batonRecordFn record, void* user) override;
    bool waitReady(uint64_t sequence, uint64_t timeoutNs) override;
    bool acquire(PickMode mode, ConsumerFrame* out) override;
    uint64_t nextWanted() const override { return shown_ + 1; }
    // Takes and gives back every frame up to lastEnqueued (submitting the releases itself), so
    // that the producer's stream drains. Returns false: no signal left for the caller.
    bool releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) override;
    uint32_t semaphores(SemaphoreView* out, uint32_t max) const override;

private:
    void create(PickMode mode, unsigned flags);
    void makeViews();

    Gpu& gpu_;
    HandoffConfig config_;
    PickMode mode_;
    SubmitRelease submitRelease_;
    batonChannel_t channel_ = nullptr;
    batonChannelInfo info_{};
    std::vector<VkImageView> views_;
    batonChannelFrame held_{};  // the frame on screen (acquired, released with the next one)
    bool holding_ = false;
    uint64_t shown_ = 0;
    bool peerLost_ = false;
};

}  // namespace sandbox
