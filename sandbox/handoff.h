// The seam between the producer (a baton stream) and the consumer (the renderer's graphics
// queue). In this process ChannelHandoff (handoff_channel.h) implements it with baton's frame
// channel, for every backend, whether the producer is a thread here or another process
// (producer_remote.h: RemoteProducer runs the child and consumes the channel it sends).
#pragma once

#include <cstdint>

#include <baton/baton.h>
#include <baton/baton_channel.h>

#include "vk.h"

namespace sandbox {

enum class PickMode : uint8_t { Fifo, Mailbox };           // next frame in order, or the newest
// baton backend of the handoff: native or portable timelines, or a keyed mutex per slot.
enum class SemBackend : uint8_t { Native, Portable, Keyed };

struct HandoffConfig {
    uint32_t depth = 3;             // images in the ring (>= 2)
    VkExtent2D extent{1280, 720};   // size of each image
    SemBackend backend = SemBackend::Portable;
    uint64_t animBase = 0;          // animation frame of sequence number 0 (continuity across rebuilds)
};

// What the renderer shows this frame, with the semaphore infos for its vkQueueSubmit2.
struct ConsumerFrame {
    uint64_t sequence = 0;  // handoff sequence number (1, 2, ...); 0 = nothing produced yet
    uint64_t animFrame = 0; // animation frame it holds (what the compute shader was given)
    uint32_t slot = 0;
    bool fresh = false;     // a new frame (else a repeat of the previous one: no waits, no signals)
    bool readyDone = false; // its ready signal had already completed when picked (no GPU wait)
    uint64_t dropped = 0;   // frames skipped over to get here (mailbox)
    uint32_t waitCount = 0, signalCount = 0;
    VkSemaphoreSubmitInfo waits[1]{};
    VkSemaphoreSubmitInfo signals[1]{};
    VkCommandBuffer first = VK_NULL_HANDLE;  // put before the renderer's commands (a channel's acquire), or null
    // A channel frame acquired into the renderer's own commands: the renderer records its
    // acquire first in its command buffer (batonChannelCmdAcquireFrame), so that the handoff
    // latency ends at the renderer's first command. Null: nothing to record.
    batonChannel_t acquireChannel = nullptr;
    batonChannelFrame acquired{};
    VkCommandBuffer last = VK_NULL_HANDLE;   // put after them (a channel's release), or null
};

struct SemaphoreView {
    const char* name;
    batonExternalSemaphore_t sem;
};

class Handoff {
public:
    virtual ~Handoff() = default;
    virtual const HandoffConfig& config() const = 0;
    virtual VkImage image(uint32_t slot) const = 0;
    virtual VkImageView view(uint32_t slot) const = 0;
    // The layout the renderer samples the images in.
    virtual VkImageLayout sampledLayout() const { return VK_IMAGE_LAYOUT_GENERAL; }

    // Producer side, enqueued on the producer's stream in stream order.
    // Waits (on the stream) until the slot of `sequence` is free; returns the slot.
    virtual batonError_t produceBegin(batonStream_t stream, uint64_t sequence, uint32_t* slot) = 0;
    // Marks `sequence` ready once the stream's prior work completes.
    virtual batonError_t produceEnd(batonStream_t stream, uint64_t sequence) = 0;
    // The whole frame: [wait for its slot] -> record (into slot (sequence - 1) % depth) ->
    // [mark it ready]. The channel does it in one call; the rings by the two halves above.
    virtual batonError_t produce(batonStream_t stream, uint64_t sequence, batonRecordFn record, void* user) {
        uint32_t slot = 0;
        batonError_t e = produceBegin(stream, sequence, &slot);
        if (e == batonSuccess) e = batonStreamRecord(stream, record, user);
        if (e == batonSuccess) e = produceEnd(stream, sequence);
        return e;
    }
    // Host wait until `sequence` is ready (the producer's throttle, a FIFO consumer's block).
    virtual bool waitReady(uint64_t sequence, uint64_t timeoutNs) = 0;
    // Producer: host wait (bounded) until the next produce can be enqueued. Only a channel
    // shared with another process says no (its slot is still the consumer's, or the consumer died).
    virtual bool waitSlot(uint64_t /*timeoutNs*/) { return true; }

    // Consumer side: picks what to show. Returns false when nothing was ever produced.
    // A fresh frame's infos must go into the caller's next vkQueueSubmit2.
    virtual bool acquire(PickMode mode, ConsumerFrame* out) = 0;
    // The sequence a FIFO consumer wants next (for its host wait and warnings).
    virtual uint64_t nextWanted() const = 0;
    // Teardown, after the producer stopped enqueuing: a signal info that releases every slot,
    // for one last graphics submit (so that no stream waits forever). False: nothing to release.
    virtual bool releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) = 0;

    virtual uint32_t semaphores(SemaphoreView* out, uint32_t max) const = 0;
};

}  // namespace sandbox
