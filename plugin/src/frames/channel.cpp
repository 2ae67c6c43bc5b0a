#include "frames/channel.h"

#include <exception>

#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

#include "exec/context.h"
#include "core/error.h"
#include "sync/semaphore.h"
#include "sync/shared_state.h"
#include "exec/stream.h"
#include "frames/memory.h"
#include "telemetry/telemetry.h"

namespace baton {
namespace {

uint32_t familyTimestampBits(Context* ctx, uint32_t family) {
    uint32_t n = 0;
    ctx->vki.vkGetPhysicalDeviceQueueFamilyProperties(ctx->physicalDevice, &n, nullptr);
    std::vector<VkQueueFamilyProperties> fams(n);
    ctx->vki.vkGetPhysicalDeviceQueueFamilyProperties(ctx->physicalDevice, &n, fams.data());
    return family < n ? fams[family].timestampValidBits : 0;
}

VkImageSubresourceRange colorRange() { return {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}; }


}  // namespace

batonError_t Channel::create(Context* ctx, const batonChannelCreateInfo& info, Channel** out) {
    auto* ch = new Channel(ctx);
    auto bail = [&](batonError_t e) {
        ch->release();
        return e;
    };
    // A std::bad_alloc below (caught by the entry point's guarded()) must not leak ch
    // (issue 10, defect 13).
    struct ReleaseOnThrow {
        Channel* c;
        ~ReleaseOnThrow() {
            if (std::uncaught_exceptions()) c->release();
        }
    } releaseOnThrow{ch};
    ch->depth_ = info.depth ? info.depth : 3;
    ch->format_ = info.format;
    ch->extent_ = info.extent;
    ch->usage_ = info.usage;
    ch->policy_ = info.policy;
    ch->consumerLayout_ = info.consumerLayout;
    if (ch->consumerLayout_ == VK_IMAGE_LAYOUT_UNDEFINED)
        ch->consumerLayout_ = (info.usage & VK_IMAGE_USAGE_SAMPLED_BIT)        ? VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL
                              : (info.usage & VK_IMAGE_USAGE_TRANSFER_SRC_BIT) ? VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL
                                                                               : VK_IMAGE_LAYOUT_GENERAL;
    ch->producerFamily_ = ctx->computeQueues.front()->family;
    ch->consumerFamily_ = (info.flags & batonChannelFlagConsumerQueueFamily) ? info.consumerQueueFamily
                          : ctx->graphicsQueue                              ? ctx->graphicsQueue->family
                                                                            : ch->producerFamily_;

    // The two timelines: baton semaphores, so both backends work and they can be shared.
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    // On a queue shared with the renderer, a native GPU wait for a "released" that the renderer
    // has not submitted yet would block the very queue that must run it: there the portable
    // backend, whose stream waits happen on the host, is the only safe choice.
    ch->keyed_ = info.flags & batonChannelFlagKeyedMutex;
    ch->shared_ = info.flags & batonChannelFlagShared;
    if (ch->shared_) ch->role_ = Role::Producer;  // its consumer is the process it is sent to
    // Keyed slots: portable timelines (the keyed mutex is portable anyway). Shared channels:
    // portable unless native is asked for (a receiver on any driver can take portable ones).
    // Native across processes is safe because neither end ever submits a GPU wait for a
    // value the other process has not reached yet (the host sees it first: slotFree,
    // completeFrames), so a peer that dies leaves no GPU wait behind that cannot complete.
    const bool portable = info.backend == batonSemaphoreBackendPortable || ctx->queueShared || ch->keyed_ ||
                          (ch->shared_ && info.backend != batonSemaphoreBackendNative);
    d.flags = portable ? batonExportFlagPortable : 0;
    batonError_t e = Semaphore::exportNew(ctx, d, &ch->readyFd_, &ch->ready);
    if (e != batonSuccess) return bail(e);
    e = Semaphore::exportNew(ctx, d, &ch->releasedFd_, &ch->released);
    if (e != batonSuccess) return bail(e);

    ch->exportable_ = (info.flags & batonChannelFlagExportable) || ch->shared_;
    if ((e = ch->shared_ ? ch->createSharedImages() : ch->createImages(ch->exportable_)) != batonSuccess) return bail(e);
    if (ch->keyed_ && (e = ch->createKeyedSlots()) != batonSuccess) return bail(e);
    if ((e = ch->createConsumerSide()) != batonSuccess) return bail(e);
    if (familyTimestampBits(ctx, ch->producerFamily_)) {
        VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, nullptr, 0, VK_QUERY_TYPE_TIMESTAMP,
                                 2 * kProducerQueries};
        VkResult r = ctx->vkd.vkCreateQueryPool(ctx->device, &qi, nullptr, &ch->producerQueries_);
        if (r != VK_SUCCESS) return bail(failVk(r, "vkCreateQueryPool (channel producer)"));
        ch->producerTimed_ = true;
    }
    *out = ch;
    return batonSuccess;
}

batonError_t Channel::createImages(bool exportable) {
    VkPhysicalDeviceMemoryProperties mp{};
    ctx->vki.vkGetPhysicalDeviceMemoryProperties(ctx->physicalDevice, &mp);
    for (uint32_t i = 0; i < depth_; ++i) {
        VkExternalMemoryImageCreateInfo ext{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO, nullptr,
                                            VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT};
        VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, exportable ? &ext : nullptr};
        ici.imageType = VK_IMAGE_TYPE_2D;
        ici.format = format_;
        ici.extent = {extent_.width, extent_.height, 1};
        ici.mipLevels = 1;
        ici.arrayLayers = 1;
        ici.samples = VK_SAMPLE_COUNT_1_BIT;
        ici.tiling = VK_IMAGE_TILING_OPTIMAL;
        ici.usage = usage_;
        // Where the producer's and the consumer's families differ (NVIDIA: compute 2, graphics
        // 0), the images are shared concurrently rather than moved with ownership-transfer
        // barrier pairs: a pair would tie every release to its acquire (a mailbox consumer
        // skips frames, whose releases then dangle), cost the consumer a barrier per frame,
        // and Debian 12's validation layer (1.3.239) mis-tracks such pairs across queues.
        const uint32_t families[2] = {producerFamily_, consumerFamily_};
        const bool concurrent = producerFamily_ != consumerFamily_;
        ici.sharingMode = concurrent ? VK_SHARING_MODE_CONCURRENT : VK_SHARING_MODE_EXCLUSIVE;
        ici.queueFamilyIndexCount = concurrent ? 2 : 0;
        ici.pQueueFamilyIndices = concurrent ? families : nullptr;
        ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
        VkResult r = ctx->vkd.vkCreateImage(ctx->device, &ici, nullptr, &images_[i]);
        if (r != VK_SUCCESS) return failVk(r, "vkCreateImage (channel)");
        VkMemoryRequirements req{};
        ctx->vkd.vkGetImageMemoryRequirements(ctx->device, images_[i], &req);
        uint32_t type = UINT32_MAX;
        for (uint32_t pass = 0; pass < 2 && type == UINT32_MAX; ++pass)
            for (uint32_t t = 0; t < mp.memoryTypeCount && type == UINT32_MAX; ++t)
                if ((req.memoryTypeBits & (1u << t)) &&
                    (pass == 1 || (mp.memoryTypes[t].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)))
                    type = t;
        if (type == UINT32_MAX) return fail(batonErrorMemoryAllocation, "no memory type fits the channel's images");
        VkMemoryDedicatedAllocateInfo ded{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, nullptr, images_[i],
                                          VK_NULL_HANDLE};
        VkExportMemoryAllocateInfo exp{VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, &ded,
                                       VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT};
        VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, exportable ? static_cast<void*>(&exp) : &ded,
                                req.size, type};
        r = ctx->vkd.vkAllocateMemory(ctx->device, &ai, nullptr, &memory_[i]);
        if (r != VK_SUCCESS) return failVk(r, "vkAllocateMemory (channel)");
        r = ctx->vkd.vkBindImageMemory(ctx->device, images_[i], memory_[i], 0);
        if (r != VK_SUCCESS) return failVk(r, "vkBindImageMemory (channel)");
    }
    return batonSuccess;
}

batonError_t Channel::createConsumerSide() {
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr,
                                VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, consumerFamily_};
    VkResult r = ctx->vkd.vkCreateCommandPool(ctx->device, &pci, nullptr, &consumerPool_);
    if (r != VK_SUCCESS) return failVk(r, "vkCreateCommandPool (channel consumer)");
    VkCommandBuffer cmds[2 * kConsumerRing] = {};
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, consumerPool_,
                                   VK_COMMAND_BUFFER_LEVEL_PRIMARY, 2 * kConsumerRing};
    r = ctx->vkd.vkAllocateCommandBuffers(ctx->device, &ai, cmds);
    if (r != VK_SUCCESS) return failVk(r, "vkAllocateCommandBuffers (channel consumer)");
    for (uint32_t i = 0; i < kConsumerRing; ++i) {
        ring_[i].acquireCmd = cmds[2 * i];
        ring_[i].releaseCmd = cmds[2 * i + 1];
    }
    if (familyTimestampBits(ctx, consumerFamily_)) {
        VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, nullptr, 0, VK_QUERY_TYPE_TIMESTAMP,
                                 2 * kConsumerRing};
        r = ctx->vkd.vkCreateQueryPool(ctx->device, &qi, nullptr, &consumerQueries_);
        if (r != VK_SUCCESS) return failVk(r, "vkCreateQueryPool (channel consumer)");
        consumerTimed_ = true;
    }
    return batonSuccess;
}

Channel::~Channel() {
    const DeviceTable& vk = ctx->vkd;
    for (uint32_t i = 0; i < kMaxDepth; ++i) {
        if (mems_[i]) {
            mems_[i]->release();  // the Memory owns image and memory
        } else {
            if (images_[i]) vk.vkDestroyImage(ctx->device, images_[i], nullptr);
            if (memory_[i]) vk.vkFreeMemory(ctx->device, memory_[i], nullptr);
        }
        if (producerKm_[i]) producerKm_[i]->release();
        if (consumerKm_[i]) consumerKm_[i]->release();
    }
    if (consumerPool_) vk.vkDestroyCommandPool(ctx->device, consumerPool_, nullptr);
    if (consumerQueries_) vk.vkDestroyQueryPool(ctx->device, consumerQueries_, nullptr);
    if (producerQueries_) vk.vkDestroyQueryPool(ctx->device, producerQueries_, nullptr);
    if (readyFd_ >= 0) close(readyFd_);
    if (releasedFd_ >= 0) close(releasedFd_);
    if (ready) ready->release();
    if (released) released->release();
}

void Channel::drain() {
    const uint64_t twoSeconds = 2000000000ull;
    uint64_t p = published_.load();
    if (p) ready->hostWait(p, twoSeconds);
    uint64_t r = 0;
    {
        std::lock_guard lock(consumerMutex_);
        r = lastReleased_;
    }
    if (r) released->hostWait(r, twoSeconds);
    if (ctx->validationLayer) {  // the layer's view, before the semaphores go (retireForValidation)
        if (p) retireForValidation(*ready, p);
        if (r) retireForValidation(*released, r);
    }
    // Keyed: give back the slots whose reads completed, so that no mutex is left held; and
    // the last frames' telemetry (and their trace flows) before the channel goes.
    std::lock_guard lock(consumerMutex_);
    resolveConsumer();
}

// ---------------------------------------------------------------------------------------
// Producer

void Channel::recordProducer(VkCommandBuffer cmd, uint32_t slot, uint64_t frame, bool timed, batonChannelRecordFn fn,
                             void* user) {
    const DeviceTable& vk = ctx->vkd;
    const uint32_t q = 2 * static_cast<uint32_t>(frame % kProducerQueries);
    if (timed) {
        vk.vkCmdResetQueryPool(cmd, producerQueries_, q, 2);
        vk.vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, producerQueries_, q);
    }
    // The previous contents are discarded (UNDEFINED): every frame is produced whole, so the
    // consumer never has to hand ownership back; the stream's wait on "released" orders the
    // consumer's reads before these writes.
    VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
    b.srcStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    b.srcAccessMask = 0;
    b.dstStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    b.dstAccessMask = VK_ACCESS_2_MEMORY_READ_BIT | VK_ACCESS_2_MEMORY_WRITE_BIT;
    b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    b.newLayout = VK_IMAGE_LAYOUT_GENERAL;
    b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    if (shared_) {  // another process read it last: acquire it from VK_QUEUE_FAMILY_EXTERNAL
        b.srcQueueFamilyIndex = VK_QUEUE_FAMILY_EXTERNAL;
        b.dstQueueFamilyIndex = producerFamily_;
    }
    b.image = images_[slot];
    b.subresourceRange = colorRange();
    VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    di.imageMemoryBarrierCount = 1;
    di.pImageMemoryBarriers = &b;
    vk.vkCmdPipelineBarrier2(cmd, &di);

    fn(cmd, images_[slot], frame, user);
    // The producer's last command, for the handoff latency: right after the user's work, so
    // that the handover below counts as handoff (as a renderer timing its own commands sees it).
    if (timed) vk.vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, producerQueries_, q + 1);

    // Hand the image over in the consumer's layout (the images are concurrent across the two
    // families: no ownership transfer; the consumer's semaphore wait makes the writes visible).
    b.srcStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    b.srcAccessMask = VK_ACCESS_2_MEMORY_WRITE_BIT;
    b.dstStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    b.dstAccessMask = 0;
    b.oldLayout = VK_IMAGE_LAYOUT_GENERAL;
    b.newLayout = consumerLayout_;
    if (shared_) {  // the consumer is another process: release it to VK_QUEUE_FAMILY_EXTERNAL
        b.srcQueueFamilyIndex = producerFamily_;
        b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_EXTERNAL;
    }
    vk.vkCmdPipelineBarrier2(cmd, &di);
}

namespace {
struct ProduceCall {
    Channel* channel;
    uint32_t slot;
    uint64_t frame;
    bool timed;
    batonChannelRecordFn fn;
    void* user;
    void (Channel::*record)(VkCommandBuffer, uint32_t, uint64_t, bool, batonChannelRecordFn, void*);
};
}  // namespace

batonError_t Channel::produce(Stream* stream, batonChannelRecordFn record, void* user, uint64_t* frameOut) {
    if (role_ == Role::Consumer)
        return fail(batonErrorInvalidValue, "this is the consumer's end of a shared channel: its producer is the other "
                    "process");
    if (shared_ && !sent_) return fail(batonErrorIllegalState, "a shared channel is sent (batonChannelSend) before it produces");
    if (stream->queue->family != producerFamily_)
        return fail(batonErrorInvalidValue, "the stream's queue family %u is not the channel's producer family %u",
                    stream->queue->family, producerFamily_);
    const uint64_t callNs = monotonicNs();
    std::lock_guard lock(producerMutex_);
    const uint64_t k = produced_ + 1;
    const uint32_t slot = static_cast<uint32_t>((k - 1) % depth_);
    batonError_t e = shared_ ? slotFree(k) : batonSuccess;
    if (e == batonErrorNotReady && !stallSinceNs_) stallSinceNs_ = callNs;  // the producer waits for a slot
    if (e != batonSuccess) return e;
    // The frame's ops go in as one unit: [wait until the slot's previous frame is released],
    // the recorded commands, signal ready = k [, the slot's mutex released to the consumer].
    // With the stream idle they are one vkQueueSubmit2 made right here, as a renderer would
    // make it by hand.
    Op ops[5]{};
    KeyedTurn turn;
    uint32_t n = producerWaitOps(stream, k, slot, ops, &turn);
    if (n == UINT32_MAX) return batonErrorIllegalState;  // the turn was refused (message set)
    const uint32_t recordAt = n;
    // The producer's timestamps only feed telemetry (the handoff latency, the frame ring, a
    // shared producer's zones): none while it is off (issue 13: two GPU timestamps and a query
    // reset per frame for nobody).
    const bool timed = producerTimed_ && activeTelemetry(ctx) != nullptr;
    ProduceCall call{this, slot, k, timed, record, user, &Channel::recordProducer};
    auto undoWaits = [&] {
        for (uint32_t i = 0; i < recordAt; ++i) ops[i].sem->release();
        if (turn.taken) producerKm_[slot]->undoTurn(turn.saved);
    };
    e = stream->prepareRecord(
        [](VkCommandBuffer cmd, void* u) {
            auto* c = static_cast<ProduceCall*>(u);
            (c->channel->*(c->record))(cmd, c->slot, c->frame, c->timed, c->fn, c->user);
        },
        &call, &ops[recordAt]);
    if (e != batonSuccess) {
        undoWaits();
        return e;
    }
    const Op recordOp = ops[recordAt];
    // Before the frame can complete: a consumer that sees it done reads its pair only if so.
    producerStamped_[k % kProducerQueries].store(timed ? k : 0, std::memory_order_release);
    Semaphore::Reservation reservation;
    if ((e = ready->reserveSignal(k, UINT64_MAX, false, &reservation)) != batonSuccess) {
        stream->abandonRecord(recordOp);
        undoWaits();
        return e;
    }
    produced_ = k;  // k is claimed on "ready" now, whatever happens next
    n = recordAt + 1;
    n += producerSignalOps(k, slot, ops + n, turn);
    if (shared_) {  // metadata for the consumer, written before anything can make frame k complete
        const uint64_t now = monotonicNs();
        ChannelPageLayout& pg = page_.page();
        pg.slots[slot].frame.store(k, std::memory_order_release);
        pg.slots[slot].produceNs.store(now, std::memory_order_release);
        pg.produced.store(k, std::memory_order_release);
        pg.producerBeatNs.store(now, std::memory_order_relaxed);
    }
    if ((e = stream->enqueue(ops, n, true)) != batonSuccess) {
        stream->abandonRecord(recordOp);
        ready->giveBack(reservation);  // defect 6: the value can be signaled again
        if (turn.taken) producerKm_[slot]->undoTurn(turn.saved);
        produced_ = k - 1;
        return e;
    }
    published_.store(k, std::memory_order_release);
    producerLane_ = stream->queue->index;
    if (shared_) writeProducerZones(*stream, k, callNs);
    if (Telemetry* t = activeTelemetry(ctx)) {
        batonTelemetryRecord r{};
        r.kind = batonTelemetryProduce;
        r.lane = (stream->queue->family << 16) | stream->queue->index;
        r.object = handleId();
        r.value = k;
        r.cpuNs = monotonicNs();
        t->append(&r, 1);
    }
    if (frameOut) *frameOut = k;
    return batonSuccess;
}

// ---------------------------------------------------------------------------------------
// Queries

void Channel::getInfo(batonChannelInfo* out) const {
    std::memset(out, 0, sizeof *out);
    out->depth = depth_;
    out->format = format_;
    out->extent = extent_;
    out->policy = policy_;
    out->backend = ready->publicBackend();
    for (uint32_t i = 0; i < depth_; ++i) {
        out->images[i] = images_[i];
        out->memory[i] = memory_[i];
    }
    out->ready = ready->handle<batonExternalSemaphore_t>();
    out->released = released->handle<batonExternalSemaphore_t>();
    out->producerQueueFamily = producerFamily_;
    out->consumerQueueFamily = consumerFamily_;
}

void Channel::getStats(batonChannelStats* out) {
    std::memset(out, 0, sizeof *out);
    {
        std::lock_guard lock(producerMutex_);
        out->produced = produced_;
    }
    std::lock_guard lock(consumerMutex_);
    resolveConsumer();
    out->consumed = consumed_.load();
    out->dropped = dropped_.load();
    out->consumerNotReady = notReady_.load();
    out->readyValue = ready->currentValue();
    out->releasedValue = released->currentValue();
    out->consumerStalls = consumerStalls_;
    out->consumerStallNs = consumerStallNs_;
    out->handoffs = handoffs_;
    out->handoffNsLast = handoffLast_;
    out->handoffNsTotal = handoffTotal_;
    out->handoffNsMax = handoffMax_;
    // The producer's stalls are its stream's waits on "released" (GPU waits or, portable,
    // host waits in the stream thread), as telemetry measured them.
    if (Telemetry* t = ctx->telemetry.load(std::memory_order_acquire)) {
        batonTelemetrySemaphoreStats s{};
        t->semaphoreStats(released->handleId(), &s);
        out->producerStalls = s.waits;
        out->producerStallNs = s.waitNsTotal;
    }
}

batonError_t Channel::exportFds(uint32_t slot, int* memoryFd, int* readyFd, int* releasedFd) const {
    int fds[3] = {-1, -1, -1};
    auto undo = [&] {
        for (int fd : fds)
            if (fd >= 0) close(fd);
    };
    if (memoryFd) {
        if (!exportable_)
            return fail(batonErrorInvalidValue, "the channel was not created with batonChannelFlagExportable");
        if (!ctx->vkd.vkGetMemoryFdKHR || !ctx->externalMemoryFd)
            return fail(batonErrorNotSupported, "the device cannot export memory fds (VK_KHR_external_memory_fd)");
        VkMemoryGetFdInfoKHR gi{VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, nullptr, memory_[slot],
                                VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT};
        VkResult r = ctx->vkd.vkGetMemoryFdKHR(ctx->device, &gi, &fds[0]);
        if (r != VK_SUCCESS) return failVk(r, "vkGetMemoryFdKHR");
    }
    if (readyFd && (fds[1] = fcntl(readyFd_, F_DUPFD_CLOEXEC, 0)) < 0) {
        undo();
        return fail(batonErrorOperatingSystem, "dup of the ready semaphore's fd failed");
    }
    if (releasedFd && (fds[2] = fcntl(releasedFd_, F_DUPFD_CLOEXEC, 0)) < 0) {
        undo();
        return fail(batonErrorOperatingSystem, "dup of the released semaphore's fd failed");
    }
    if (memoryFd) *memoryFd = fds[0];
    if (readyFd) *readyFd = fds[1];
    if (releasedFd) *releasedFd = fds[2];
    return batonSuccess;
}

}  // namespace baton
