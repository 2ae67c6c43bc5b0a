// The consumer's side of a frame channel: which frame comes next (FIFO, mailbox, keyed
// slots, complete frames only from another process), the wait and barrier the renderer puts
// into its own submit, the release it signals, and what happens once the GPU is done with it
// (telemetry, keyed slots given back). See channel.h.
#include <cstring>

#include "core/error.h"
#include "exec/context.h"
#include "frames/channel.h"
#include "sync/semaphore.h"
#include "telemetry/telemetry.h"

namespace baton {
namespace {

VkImageSubresourceRange colorRange() { return {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}; }

// Consumer lanes are logical: baton does not know which queue of the family the renderer uses.
constexpr uint32_t kConsumerLaneIndex = 0x8000;

}  // namespace

// The producer's first and last timestamp of a frame, in ticks (false: not timed).
bool Channel::producerTicks(uint64_t frame, uint64_t ticks[2]) {
    ticks[0] = ticks[1] = 0;
    if (!producerTimed_ || producerStamped_[frame % kProducerQueries].load(std::memory_order_acquire) != frame)
        return false;  // produced while telemetry was off: no timestamps (or the pair is a later frame's)
    const uint32_t q = 2 * static_cast<uint32_t>(frame % kProducerQueries);
    return ctx->vkd.vkGetQueryPoolResults(ctx->device, producerQueries_, q, 2, 2 * sizeof ticks[0], ticks,
                                          sizeof ticks[0], VK_QUERY_RESULT_64_BIT) == VK_SUCCESS;
}

uint64_t Channel::producerEndNs(uint64_t frame) {
    uint64_t ticks[2];
    if (!producerTicks(frame, ticks)) return 0;
    return static_cast<uint64_t>(static_cast<double>(ticks[1]) * ctx->properties.limits.timestampPeriod);
}

void Channel::noteHandoff(uint64_t h) {
    ++handoffs_;
    handoffLast_ = h;
    handoffTotal_ += h;
    if (h > handoffMax_) handoffMax_ = h;
}

// A producer in another process: its frame's GPU work on the host clock (its signal zone).
const Channel::PeerReady* Channel::peerReady(uint64_t frame) const {
    const PeerReady& p = peerReady_[frame % kProducerQueries];
    return p.frame == frame ? &p : nullptr;
}

// A released frame's GPU times (ring entry i): the handoff latency, the consumer's stall and
// zones, the frame ring.
void Channel::resolveTimed(const Entry& e, uint32_t i, Telemetry* tel) {
    uint64_t ticks[2] = {};
    if (ctx->vkd.vkGetQueryPoolResults(ctx->device, consumerQueries_, 2 * i, 2, sizeof ticks, ticks, sizeof ticks[0],
                                       VK_QUERY_RESULT_64_BIT) != VK_SUCCESS)
        return;
    const double period = ctx->properties.limits.timestampPeriod;
    // In one process both ends are GPU timestamps of one device, no calibration needed.
    const uint64_t beginGpuNs = static_cast<uint64_t>(static_cast<double>(ticks[0]) * period);
    const uint64_t producerEnd = producerEndNs(e.frame);
    if (producerEnd && beginGpuNs >= producerEnd) noteHandoff(beginGpuNs - producerEnd);
    if (!tel) return;
    const uint64_t b = tel->gpuToHost(ticks[0]), en = tel->gpuToHost(ticks[1]);
    // From another process: the producer's end on the host clock (both sides calibrated).
    const PeerReady* peer = producerEnd ? nullptr : peerReady(e.frame);
    const uint64_t readyAt = producerEnd ? tel->gpuToHost(static_cast<uint64_t>(static_cast<double>(producerEnd) / period))
                                         : peer ? peer->endNs : 0;
    if (!producerEnd && readyAt && b >= readyAt) noteHandoff(b - readyAt);
    if (readyAt > e.acquireNs) {  // the consumer asked before the frame was done
        ++consumerStalls_;
        consumerStallNs_ += readyAt - e.acquireNs;
    }
    const uint64_t from = readyAt > e.acquireNs ? e.acquireNs : (readyAt ? readyAt : e.acquireNs);
    if (e.waitSeq) tel->resolveOne(e.waitSeq, from < b ? from : b, b);
    if (e.consumeSeq) tel->resolveOne(e.consumeSeq, b, en);
    if (e.signalSeq) tel->resolveOne(e.signalSeq, en, en);
    noteFrame(tel, e, ticks);
}

void Channel::resolveConsumer() {
    if (ringResolved_ == ringNext_) return;
    const uint64_t done = released->currentValue();
    Telemetry* tel = ctx->telemetry.load(std::memory_order_acquire);
    uint64_t freedUpTo = 0;
    while (ringResolved_ < ringNext_) {
        const uint32_t i = static_cast<uint32_t>(ringResolved_ % kConsumerRing);
        Entry& e = ring_[i];
        if (e.state != Entry::Released || done < e.frame) break;
        if (e.timed) resolveTimed(e, i, tel);
        if (keyed_) giveSlot(e.frame);  // the renderer's reads are done: key 0 back to the producer
        e.state = Entry::Free;
        freedUpTo = e.frame;
        ++ringResolved_;
    }
    if (freedUpTo) retireForValidation(*released, freedUpTo);
}

// The layer's view of the freed entries' command buffers before they are re-recorded
// (Context::settleForValidation; once on the H200 under load, VUID-vkBeginCommandBuffer-
// commandBuffer-00049), and of the channel's semaphores before they go (its drain: the H200
// reported VUID-vkDestroySemaphore-semaphore-01137 there).
void Channel::retireForValidation(const Semaphore& sem, uint64_t upTo) const {
    if (sem.has(kSemTimeline)) ctx->settleForValidation(sem.localSignalSemaphore(), upTo, true);
}

// The frame's journey, for telemetry's frame ring (the handoff latency per frame).
void Channel::noteFrame(Telemetry* tel, const Entry& e, const uint64_t consumerTicks[2]) {
    FrameTicks f{};
    uint64_t pt[2];
    producerTicks(e.frame, pt);
    f.channel = handleId();
    f.frame = e.frame;
    f.ready = ready->handleId();
    f.released = released->handleId();
    f.producerLane = (producerFamily_ << 16) | producerLane_;
    f.consumerLane = (consumerFamily_ << 16) | kConsumerLaneIndex;
    f.acquireCpuNs = e.acquireNs;
    f.produceStart = pt[0];
    f.produceEnd = pt[1];
    f.consumeStart = consumerTicks[0];
    f.consumeEnd = consumerTicks[1];
    f.inConsumerCommands = e.inConsumer;
    if (role_ == Role::Consumer) {  // the producer is another process: its zone, host clock
        if (const PeerReady* p = peerReady(e.frame)) {
            f.produceStartHostNs = p->beginNs;
            f.produceEndHostNs = p->endNs;
        }
        f.producerPid = page_.page().producerPid;  // a label (peer-written), as in the trace
    }
    tel->noteFrame(f);
}

// The frame the consumer gets next (FIFO: the next one; mailbox: the newest complete one), if
// it can be waited for on the consumer's queue now. Keyed: its slot's mutex is taken too.
// consumerMutex_ held.
batonError_t Channel::nextFrame(uint64_t* frame) {
    const uint64_t next = lastAcquired_ + 1;
    // In one process: what is enqueued (a GPU wait on it is fine). From another process: only
    // what is complete, so that the GPU never waits for a value only the peer could signal.
    uint64_t published = published_.load(std::memory_order_acquire);
    if (role_ == Role::Consumer)
        if (batonError_t e = completeFrames(&published); e != batonSuccess) return e;
    uint64_t k = next;
    if (policy_ == batonChannelPolicyMailbox) {
        uint64_t done = role_ == Role::Consumer ? published : ready->currentValue();
        if (done > published) done = published;
        // Never so far ahead that the producer could not make one newer frame: a consumer
        // that holds the frame it shows until the next one comes (and releases the older
        // ones with it) would otherwise wait for a frame that waits for its release.
        const uint64_t reachable = lastReleased_ + depth_ - 1;
        if (!keyed_ && done > reachable) done = reachable;
        if (done > k) k = done;  // the newest complete frame
    }
    if (k > published) {
        notReady_.fetch_add(1, std::memory_order_relaxed);
        if (shared_ && !page_.peerAlive()) return peerLost("producer");
        if (shared_ && page_.checkHeader() != batonSuccess) return batonErrorIllegalState;
        return fail(batonErrorNotReady, "no frame after %llu has been %s yet", static_cast<unsigned long long>(lastAcquired_),
                    role_ == Role::Consumer ? "completed" : "produced");
    }
    // In one process, only a frame whose signal is on a queue: on a shared queue the wait would
    // stall the queue that has to run it, and on another queue the consumer's barrier would be
    // submitted before the producer's layout transition (the validation layer tracks image
    // layouts in submission order: its InvalidImageLayout error, on the H200, for each slot).
    if (role_ == Role::Both && !ready->signalOnQueue(k)) {
        notReady_.fetch_add(1, std::memory_order_relaxed);
        return fail(batonErrorNotReady, "frame %llu is not submitted yet", static_cast<unsigned long long>(k));
    }
    if (keyed_) {
        // Take the slots in order, giving back those skipped over (nobody read them).
        uint64_t got = 0;
        for (uint64_t f = next; f <= k; ++f) {
            batonError_t e = takeSlot(f);
            if (e == batonErrorNotReady) break;
            if (e != batonSuccess) {
                if (got) giveSlot(got);
                return e;
            }
            if (got) giveSlot(got);
            got = f;
        }
        if (!got) {
            notReady_.fetch_add(1, std::memory_order_relaxed);
            if (shared_ && !page_.peerAlive()) return peerLost("producer");
            return fail(batonErrorNotReady, "the producer has not handed frame %llu's slot over yet",
                        static_cast<unsigned long long>(next));
        }
        k = got;
    }
    if (shared_) {  // what no honest producer writes: the slot names another frame
        const uint64_t named = page_.page().slots[(k - 1) % depth_].frame.load(std::memory_order_acquire);
        if (named != k) {
            if (keyed_) giveSlot(k);
            return fail(batonErrorIllegalState, "the channel's control page was corrupted by a peer: slot %u names frame "
                        "%llu where frame %llu is complete", static_cast<unsigned>((k - 1) % depth_),
                        static_cast<unsigned long long>(named), static_cast<unsigned long long>(k));
        }
    }
    *frame = k;
    return batonSuccess;
}

// The barrier that acquires frame k's image for the consumer (plain in one process, the
// ownership acquire matching the producer's release from another).
VkImageMemoryBarrier2 Channel::acquireBarrier(uint64_t k, VkPipelineStageFlags2 waitStage) const {
    VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
    b.srcStageMask = VK_PIPELINE_STAGE_2_NONE;
    b.dstStageMask = waitStage;
    b.dstAccessMask = VK_ACCESS_2_MEMORY_READ_BIT;
    b.oldLayout = b.newLayout = consumerLayout_;  // the producer did the transition
    b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    if (shared_) {  // the ownership acquire matching the producer's release (same layouts)
        b.oldLayout = VK_IMAGE_LAYOUT_GENERAL;
        b.srcQueueFamilyIndex = VK_QUEUE_FAMILY_EXTERNAL;
        b.dstQueueFamilyIndex = consumerFamily_;
    }
    b.image = images_[(k - 1) % depth_];
    b.subresourceRange = colorRange();
    return b;
}

// What the renderer gets with frame k: image, layout, the wait, the acquire barrier.
void Channel::fillFrame(uint64_t k, VkPipelineStageFlags2 waitStage, bool timed, VkSemaphore waitSem, uint64_t waitValue,
                        batonChannelFrame* out) const {
    std::memset(out, 0, sizeof *out);
    out->frame = k;
    out->slot = static_cast<uint32_t>((k - 1) % depth_);
    out->image = images_[out->slot];
    out->layout = consumerLayout_;
    // With timestamps the wait covers every stage, so that the first one is taken after it.
    out->wait = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, waitSem, waitValue,
                 timed ? VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT : waitStage, 0};
    out->acquireBarrier = acquireBarrier(k, waitStage);
}

// Baton's acquire, into cmd: the consumer's first GPU timestamp (telemetry; ring entry
// `entry`'s pair of queries is reset here, before the release writes the second) and, from
// another process, the ownership acquire.
void Channel::recordAcquireInto(VkCommandBuffer cmd, uint32_t entry, bool timed, const VkImageMemoryBarrier2& b) const {
    const DeviceTable& vk = ctx->vkd;
    if (timed) {
        vk.vkCmdResetQueryPool(cmd, consumerQueries_, 2 * entry, 2);
        vk.vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, consumerQueries_, 2 * entry);
    }
    if (shared_) {
        VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
        di.imageMemoryBarrierCount = 1;
        di.pImageMemoryBarriers = &b;
        vk.vkCmdPipelineBarrier2(cmd, &di);
    }
}

// The baton-recorded command buffer that goes first in the renderer's submit: a GPU
// timestamp (telemetry) and, from another process, the ownership acquire.
batonError_t Channel::recordAcquire(Entry& e, bool timed, batonChannelFrame* out) {
    if (!timed && !shared_) return batonSuccess;
    const DeviceTable& vk = ctx->vkd;
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = vk.vkBeginCommandBuffer(e.acquireCmd, &bi);
    if (r != VK_SUCCESS) return failVk(r, "vkBeginCommandBuffer (channel consumer)");
    recordAcquireInto(e.acquireCmd, static_cast<uint32_t>(ringNext_ % kConsumerRing), timed, out->acquireBarrier);
    r = vk.vkEndCommandBuffer(e.acquireCmd);
    if (r != VK_SUCCESS) return failVk(r, "vkEndCommandBuffer (channel consumer)");
    out->acquireCommands = e.acquireCmd;
    return batonSuccess;
}

// batonChannelCmdAcquireFrame: baton's acquire of a frame taken with
// batonChannelAcquireInConsumerCommands, into the consumer's own command buffer.
batonError_t Channel::cmdAcquire(const batonChannelFrame& frame, VkCommandBuffer cmd) {
    std::lock_guard lock(consumerMutex_);
    for (uint64_t i = ringResolved_; i < ringNext_; ++i) {
        Entry& e = ring_[i % kConsumerRing];
        if (e.state != Entry::Acquired || e.frame != frame.frame) continue;
        if (!e.inConsumer)
            return fail(batonErrorInvalidValue, "frame %llu was not acquired with batonChannelAcquireInConsumerCommands: "
                        "submit its acquireCommands instead", static_cast<unsigned long long>(e.frame));
        if (e.recorded)
            return fail(batonErrorInvalidValue, "frame %llu's acquire is recorded already",
                        static_cast<unsigned long long>(e.frame));
        recordAcquireInto(cmd, static_cast<uint32_t>(i % kConsumerRing), e.timed, acquireBarrier(e.frame, e.waitStage));
        e.recorded = true;
        return batonSuccess;
    }
    return fail(batonErrorInvalidValue, "frame %llu is not acquired (or released already)",
                static_cast<unsigned long long>(frame.frame));
}

batonError_t Channel::acquire(VkPipelineStageFlags2 waitStage, bool inConsumerCommands, batonChannelFrame* out) {
    if (role_ == Role::Producer)
        return fail(batonErrorInvalidValue, "this is the producer's end of a shared channel: its consumer is the other "
                    "process");
    std::lock_guard lock(consumerMutex_);
    if (lost_.load()) return peerLost("producer");
    if (shared_) page_.page().consumerBeatNs.store(monotonicNs(), std::memory_order_relaxed);
    // The contract: a frame's release is submitted before the next acquire. So every release
    // handed out so far is on a queue now, and a stream may wait for it on the GPU even on a
    // queue it shares with the renderer (no host round trip on single-queue devices).
    if (lastReleased_) released->noteSubmitted(lastReleased_);
    if (role_ == Role::Consumer) readPeerZones();  // first: the frames resolved next need their zones
    resolveConsumer();
    Entry& e = ring_[ringNext_ % kConsumerRing];
    if (e.state != Entry::Free) {
        notReady_.fetch_add(1, std::memory_order_relaxed);
        return fail(batonErrorNotReady, "%u frames are still in flight on the consumer's queue", kConsumerRing);
    }
    uint64_t k = 0;
    batonError_t err = nextFrame(&k);
    if (err != batonSuccess) return err;
    // In one process the producer is a stream of this process, whose GPU signal lands on the
    // local signal proxy (proxy value == value for timelines): GPU to GPU, no host hop.
    // From another process the frame is complete already (nextFrame saw it on the page), so
    // there is nothing left to wait for: the wait is on this process's own last release
    // (signaled by a submit it made before), which completes whatever the peer does, and
    // needs no host-signaled proxy (no mirror thread). Native timelines are the peer's own
    // semaphore: the wait is on "ready" = k itself, reached already (harmless if the peer
    // dies), which also carries the producer's writes to this queue.
    VkSemaphore waitSem = ready->localSignalSemaphore();
    uint64_t waitValue = k;
    if (role_ == Role::Consumer && !ready->has(kSemNative)) {
        waitSem = released->localSignalSemaphore();
        waitValue = lastReleased_;
    }
    Telemetry* tel = activeTelemetry(ctx);
    const bool timed = tel && consumerTimed_;
    fillFrame(k, waitStage, timed, waitSem, waitValue, out);
    if (!inConsumerCommands && (err = recordAcquire(e, timed, out)) != batonSuccess) {
        if (keyed_) giveSlot(k);
        return err;
    }

    const uint64_t now = monotonicNs();
    const uint64_t next = lastAcquired_ + 1;
    out->dropped = k - next;
    if (out->dropped) dropped_.fetch_add(out->dropped, std::memory_order_relaxed);
    e = {Entry::Acquired, timed, k, now, 0, 0, 0, e.acquireCmd, e.releaseCmd, inConsumerCommands, false, waitStage};
    if (tel) {
        batonTelemetryRecord recs[kMaxDepth + 1] = {};
        uint32_t n = 0;
        const uint32_t lane = (consumerFamily_ << 16) | kConsumerLaneIndex;
        for (uint64_t f = next; f < k && n < kMaxDepth; ++f, ++n)
            recs[n] = {0, batonTelemetryDrop, lane, handleId(), f, now, now, now, 0, 1};
        recs[n++] = {0, batonTelemetryWait, lane, ready->handleId(), k, now, 0, 0, 0, 0};
        e.waitSeq = tel->append(recs, n) + n - 1;
    }
    lastAcquired_ = k;
    ++ringNext_;
    consumed_.fetch_add(1, std::memory_order_relaxed);
    return batonSuccess;
}

batonError_t Channel::releaseFrame(const batonChannelFrame& frame, VkPipelineStageFlags2 stage, batonChannelRelease* out) {
    if (role_ == Role::Producer)
        return fail(batonErrorInvalidValue, "this is the producer's end of a shared channel: its consumer is the other "
                    "process");
    std::lock_guard lock(consumerMutex_);
    Entry* e = nullptr;
    uint64_t at = 0;
    for (uint64_t i = ringResolved_; i < ringNext_; ++i) {
        Entry& c = ring_[i % kConsumerRing];
        if (c.state != Entry::Acquired) continue;
        if (c.frame != frame.frame)
            return fail(batonErrorInvalidValue, "frames must be released in the order they were acquired: %llu first",
                        static_cast<unsigned long long>(c.frame));
        e = &c;
        at = i;
        break;
    }
    if (!e)
        return fail(batonErrorInvalidValue, "frame %llu is not acquired", static_cast<unsigned long long>(frame.frame));
    // "released" = v gives back every frame up to v. A consumer that keeps its newest frame
    // while it lets the previous one go (a renderer repeating what it shows) holds frames
    // j < k; the frames mailbox skipped between them were never read: releasing j gives
    // back everything below k, or the producer would wait for slots nobody holds.
    uint64_t k = frame.frame;
    if (at + 1 < ringNext_) k = ring_[(at + 1) % kConsumerRing].frame - 1;
    VkSemaphore sem = VK_NULL_HANDLE;
    batonError_t err = released->rendererSignal(k, &sem);  // the renderer submits it next
    if (err != batonSuccess) return err;
    std::memset(out, 0, sizeof *out);
    out->signal = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, sem, k, stage, 0};
    const uint32_t ei = static_cast<uint32_t>(e - ring_);
    // Acquired into the consumer's commands but never recorded there: its queries were not
    // reset, so neither is written nor read (the frame is not timed).
    if (e->inConsumer && !e->recorded) e->timed = false;
    if (e->timed || shared_) {
        const DeviceTable& vk = ctx->vkd;
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                    VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        if (vk.vkBeginCommandBuffer(e->releaseCmd, &bi) == VK_SUCCESS) {
            if (shared_) recordOwnership(e->releaseCmd, static_cast<uint32_t>((e->frame - 1) % depth_), false, stage);
            if (e->timed)
                vk.vkCmdWriteTimestamp2(e->releaseCmd, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, consumerQueries_, 2 * ei + 1);
            if (vk.vkEndCommandBuffer(e->releaseCmd) == VK_SUCCESS) out->releaseCommands = e->releaseCmd;
        }
        if (!out->releaseCommands) {
            e->timed = false;  // no end timestamp: do not read the pair
            if (shared_) return fail(batonErrorUnknown, "recording the channel's ownership release failed");
        }
    }
    if (Telemetry* tel = activeTelemetry(ctx)) {
        const uint32_t lane = (consumerFamily_ << 16) | kConsumerLaneIndex;
        const uint64_t now = monotonicNs();
        batonTelemetryRecord recs[2] = {
            {0, batonTelemetryConsume, lane, handleId(), frame.frame, now, 0, 0, 0, 0},
            {0, batonTelemetrySignal, lane, released->handleId(), k, now, 0, 0, 0, 0}};
        uint64_t first = tel->append(recs, 2);
        e->consumeSeq = first;
        e->signalSeq = first + 1;
    }
    e->state = Entry::Released;
    lastReleased_ = k;
    return batonSuccess;
}

}  // namespace baton
