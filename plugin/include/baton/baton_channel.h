/*
 * baton frame channel: a ring of N images that a compute stream produces into and a
 * renderer's graphics queue consumes, handed over with two timeline semaphores and no host
 * round trip.
 *
 *   frame k (k = 1, 2, ...) lives in slot (k - 1) % depth.
 *   "ready"    reaches k once frame k is complete (the producer stream signals it).
 *   "released" reaches k once the consumer is done with frame k and every older frame.
 *
 * Producer (a baton stream): batonChannelProduceFrame enqueues, in stream order, a wait
 * until the slot's previous frame (k - depth) is released, the commands the user records into
 * the slot's image through a callback (wrapped by baton in the layout transitions to GENERAL
 * and then to the consumer's layout), and the signal of ready = k. Nothing blocks on the host.
 * Where the consumer's queue family differs from the producer's, the images are created
 * VK_SHARING_MODE_CONCURRENT for the two families: no ownership transfer is needed.
 *
 * Consumer (the renderer's own vkQueueSubmit2): batonChannelAcquireFrame returns the frame to
 * use (FIFO: the next one; mailbox: the newest complete one, older ones are dropped), the
 * VkSemaphoreSubmitInfo to wait on, and the barrier (or a baton-recorded command buffer) that
 * acquires the image; or, with batonChannelAcquireFrameWithFlags and
 * batonChannelAcquireInConsumerCommands, baton's acquire goes into the renderer's own command
 * buffer (batonChannelCmdAcquireFrame), so that telemetry's handoff latency ends at the
 * renderer's first command; batonChannelReleaseFrame returns the VkSemaphoreSubmitInfo to signal
 * once the consumer's reads are done. Both are cheap host calls: no allocation, no semaphore
 * creation, no fd traffic, no waiting.
 *
 * Thread safety: one producer thread and one consumer thread may use a channel at once
 * (each side is internally serialised, so several threads per side are safe too).
 */
#ifndef BATON_CHANNEL_H
#define BATON_CHANNEL_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct batonChannel_st* batonChannel_t; /**< A ring of frames between a stream and a renderer. */

/** Which frame the consumer gets. */
typedef enum batonChannelPolicy {
    batonChannelPolicyFifo = 0,   /**< Every frame, in order: never skips, never repeats. */
    batonChannelPolicyMailbox = 1 /**< The newest complete frame; older unconsumed ones are dropped (counted). */
} batonChannelPolicy;

/** Flags of batonChannelCreateInfo. */
typedef enum batonChannelFlags {
    batonChannelFlagExportable = 0x1,         /**< Image memory exportable as opaque fds (VK_KHR_external_memory_fd). */
    batonChannelFlagConsumerQueueFamily = 0x2, /**< consumerQueueFamily is set (else: the context's graphics family). */
    batonChannelFlagKeyedMutex = 0x4,          /**< One keyed mutex per slot instead of the two timelines' ordering (the
                                                    D3D11 pattern: the producer acquires key 0 and releases key 1, the
                                                    consumer the reverse). backend must be 0 or portable. */
    batonChannelFlagShared = 0x8               /**< The consumer is another process: send the channel with batonChannelSend
                                                    (implies Exportable; portable timelines unless backend is native, or keyed
                                                    mutexes). */
} batonChannelFlags;

/** Describes a channel. Zero-initialise, then set format, extent and usage. */
typedef struct batonChannelCreateInfo {
    unsigned int depth;             /**< Frames in the ring, 2..8 (0: 3). */
    VkFormat format;                /**< Image format. */
    VkExtent2D extent;              /**< Image size. */
    VkImageUsageFlags usage;        /**< Every use the producer and the consumer make of the images. */
    batonChannelPolicy policy;      /**< FIFO or mailbox. */
    batonSemaphoreBackend backend;  /**< 0: native where the driver exports semaphore fds and the renderer has a
                                         queue of its own, else portable. Native on a shared queue: NotSupported.
                                         Shared channels: 0 is portable (any receiver can take it); native (the
                                         driver's timeline fds, for a receiver on the same GPU) only on request. */
    VkImageLayout consumerLayout;   /**< Layout the consumer gets the image in (0: SHADER_READ_ONLY_OPTIMAL if
                                         sampled, else TRANSFER_SRC_OPTIMAL if a transfer source, else GENERAL). */
    uint32_t consumerQueueFamily;   /**< With batonChannelFlagConsumerQueueFamily: the consumer's queue family. */
    unsigned int flags;             /**< batonChannelFlags. */
    unsigned int reserved[8];       /**< Must be 0. */
} batonChannelCreateInfo;

/**
 * Creates a channel in the current context: allocates depth images (GENERAL layout on the
 * producer side), one "ready" and one "released" timeline (baton external semaphores, so
 * both backends work and they can be shared with another process). Setup-time call.
 */
BATON_API batonError_t batonChannelCreate(batonChannel_t* channel, const batonChannelCreateInfo* info);

/**
 * Destroys a channel. Call it once the producer's stream has been synchronised and the
 * consumer's last submission that used the channel has completed; baton waits (up to two
 * seconds) for enqueued frames and released values before freeing the images. Accepts NULL.
 */
BATON_API batonError_t batonChannelDestroy(batonChannel_t channel);

/** Records the producer's commands for one frame into image (in GENERAL layout). */
typedef void (*batonChannelRecordFn)(VkCommandBuffer commandBuffer, VkImage image, unsigned long long frame,
                                     void* userData);

/**
 * Produces the next frame on stream (NULL: the default stream), all stream-ordered:
 * waits until the slot's previous frame is released, records through record (called on
 * this thread, before the call returns; the image's previous contents are undefined: produce
 * the whole frame), then signals ready = frame. *frameOut (may be NULL) gets the frame number.
 * Never blocks on the GPU.
 */
BATON_API batonError_t batonChannelProduceFrame(batonChannel_t channel, batonStream_t stream, batonChannelRecordFn record,
                                                void* userData, unsigned long long* frameOut);

/** What the consumer gets with a frame. */
typedef struct batonChannelFrame {
    unsigned long long frame;        /**< Frame number (1, 2, ...). */
    uint32_t slot;                   /**< Slot in the ring. */
    VkImage image;                   /**< The frame's image. */
    VkImageLayout layout;            /**< Its layout once acquired (consumerLayout). */
    VkSemaphoreSubmitInfo wait;      /**< Put into pWaitSemaphoreInfos of the submit that reads the frame. */
    VkImageMemoryBarrier2 acquireBarrier; /**< Record it first in that submit (a plain barrier, already in
                                               consumerLayout; optional, the semaphore wait orders the reads)... */
    VkCommandBuffer acquireCommands; /**< ...or put this baton-recorded command buffer first instead (a GPU
                                          timestamp for telemetry). VK_NULL_HANDLE when there is nothing to do. */
    unsigned long long dropped;      /**< Frames skipped just before this one (mailbox). */
} batonChannelFrame;

/**
 * Takes the next frame for the consumer: FIFO the next one, mailbox the newest complete one
 * (or, if none newer is complete, the next one that the producer has enqueued). Returns
 * batonErrorNotReady when there is no such frame yet (show the previous one, try again next
 * frame); on a queue shared with baton's streams (lavapipe) also until the frame's signal has
 * been submitted, since waiting for it earlier would stall the queue that must run it.
 * waitStage: the stages of the consumer's submit that wait for the frame.
 */
BATON_API batonError_t batonChannelAcquireFrame(batonChannel_t channel, VkPipelineStageFlags2 waitStage,
                                                batonChannelFrame* frame);

/** Flags of batonChannelAcquireFrameWithFlags. */
typedef enum batonChannelAcquireFlags {
    batonChannelAcquireInConsumerCommands = 0x1 /**< baton records no command buffer of its own: acquireCommands is
                                                     VK_NULL_HANDLE, and the caller records baton's acquire (the
                                                     telemetry timestamp, the ownership acquire across processes)
                                                     into its own command buffer with batonChannelCmdAcquireFrame. */
} batonChannelAcquireFlags;

/**
 * batonChannelAcquireFrame with flags (batonChannelAcquireFlags; 0: the same call). Unknown
 * flags: batonErrorInvalidValue.
 *
 * With batonChannelAcquireInConsumerCommands the frame's handoff latency in telemetry
 * (batonTelemetryFrame.handoffNs, the panel, the trace) ends at the first command of the
 * consumer's own command buffer, the one that starts the consumer's work: the figure a
 * renderer timing its own commands measures. Without it, it ends at the first command of
 * baton's acquireCommands, one command-buffer boundary earlier (about 5 us on an H200, tens of
 * us on lavapipe). frame->acquireBarrier is filled as usual, for information: it is what
 * batonChannelCmdAcquireFrame records; do not record it again.
 */
BATON_API batonError_t batonChannelAcquireFrameWithFlags(batonChannel_t channel, VkPipelineStageFlags2 waitStage,
                                                         unsigned int flags, batonChannelFrame* frame);

/**
 * Records baton's acquire of a frame taken with batonChannelAcquireInConsumerCommands into
 * commandBuffer, the consumer's own command buffer: call it first, right after
 * vkBeginCommandBuffer (outside a render pass), before the consumer's own commands. It records
 * what baton's acquireCommands would hold: with telemetry on, a query reset and a GPU
 * timestamp (the consumer's first command); across processes, the ownership acquire barrier.
 * Nothing when there is nothing to do. commandBuffer must be a primary command buffer of the
 * consumer's queue family, submitted in the submit that waits on frame->wait, at most once.
 * Once per frame, before batonChannelReleaseFrame of that frame: batonErrorInvalidValue if the
 * frame is not acquired (or already released), was not acquired with the flag, or was
 * recorded already (nothing recorded then). A frame released without it has no timestamps
 * (its handoff is not timed) and, across processes, the caller must have recorded
 * frame->acquireBarrier itself. Cheap host call: no allocation, no waiting.
 */
BATON_API batonError_t batonChannelCmdAcquireFrame(batonChannel_t channel, const batonChannelFrame* frame,
                                                   VkCommandBuffer commandBuffer);

/** What the consumer signals when it is done with a frame. */
typedef struct batonChannelRelease {
    VkSemaphoreSubmitInfo signal;    /**< Put into pSignalSemaphoreInfos of the submit that last reads the frame. */
    VkCommandBuffer releaseCommands; /**< Put last in that submit (a GPU timestamp for telemetry); may be NULL. */
} batonChannelRelease;

/**
 * Returns an acquired frame (frames are returned in the order they were acquired). The
 * caller must then submit release->signal, before it acquires another frame: baton counts on
 * it (on a queue shared with its streams, the producer's stream then waits for the release on
 * the GPU; a release submitted later would deadlock that queue). releaseStage: the stages
 * that read the frame.
 */
BATON_API batonError_t batonChannelReleaseFrame(batonChannel_t channel, const batonChannelFrame* frame,
                                                VkPipelineStageFlags2 releaseStage, batonChannelRelease* release);

/** Channel objects, for a renderer that wants them (e.g. to share them with another process). */
typedef struct batonChannelInfo {
    unsigned int depth;
    VkFormat format;
    VkExtent2D extent;
    batonChannelPolicy policy;
    batonSemaphoreBackend backend;
    VkImage images[8];
    VkDeviceMemory memory[8];
    batonExternalSemaphore_t ready;    /**< Owned by the channel: do not destroy. */
    batonExternalSemaphore_t released; /**< Owned by the channel: do not destroy. */
    uint32_t producerQueueFamily;
    uint32_t consumerQueueFamily;
} batonChannelInfo;

BATON_API batonError_t batonChannelGetInfo(batonChannel_t channel, batonChannelInfo* info);

/**
 * Exportable channels: new fds (owned by the caller) for the memory of slot `slot` and for the
 * ready and released semaphores (import those with batonImportExternalSemaphore elsewhere).
 * Setup-time call. Any fd pointer may be NULL.
 */
BATON_API batonError_t batonChannelExportFds(batonChannel_t channel, uint32_t slot, int* memoryFd, int* readyFd,
                                             int* releasedFd);

/* ------------------------------------------------------------------------------------ */
/* Across processes                                                                     */
/* ------------------------------------------------------------------------------------ */
/*
 * A channel created with batonChannelFlagShared is sent to the consumer's process with one
 * call and received there with one call; the consumer then uses batonChannelAcquireFrame /
 * batonChannelReleaseFrame as in one process, and the producer batonChannelProduceFrame.
 * What travels (one message, SCM_RIGHTS): the images' memory (opaque fds), the "ready" and
 * "released" timelines (portable memfds, or the driver's opaque fds with backend native:
 * the message says which), the slots' keyed mutexes (batonChannelFlagKeyedMutex),
 * and a control page (a sealed memfd) with each slot's frame number and produce time and
 * both processes' liveness. Everything received is checked before use: the message's kind,
 * the device and driver UUIDs (batonErrorForeignDevice), the fds' kinds, the page's size and
 * seals, the format, extent and usage against `expected` and this device (NotSupported);
 * every read of the page afterwards is checked too (batonErrorIllegalState on garbage).
 *
 * Ownership across processes: images move between the producer's queue family and
 * VK_QUEUE_FAMILY_EXTERNAL. The consumer MUST put frame->acquireCommands first in the submit
 * that reads the frame (or record frame->acquireBarrier, the ownership acquire) and
 * release->releaseCommands last in the submit that signals release->signal (the ownership
 * release back to VK_QUEUE_FAMILY_EXTERNAL).
 *
 * Across processes nothing waits for the other process without a bound:
 * - The consumer gets a frame only once it is complete (the host saw its ready value), so
 *   its GPU never waits for a value that only the producer could still signal. (With native
 *   timelines this is what keeps a dead peer harmless: a GPU wait on a native value whose
 *   signaler died would never complete, and would hang queue and context teardown.)
 * - batonChannelProduceFrame returns batonErrorNotReady (nothing enqueued) when the slot of
 *   the next frame is still the consumer's, so the producer's stream never waits for the
 *   consumer either. batonChannelWaitForSlot / batonChannelWaitForFrame wait on the host.
 *
 * Peer death: each process holds a lock on the control page for its life, which the kernel
 * drops when the process exits however it dies (SIGKILL included). Once the peer is gone:
 * - the consumer's batonChannelAcquireFrame returns the frames that were complete and then
 *   batonErrorPeerLost (sticky); the check is made whenever no new frame is there, so the
 *   bound is the consumer's own acquire period (plus the kernel's process teardown). A
 *   producer killed while holding a slot's keyed mutex leaves it abandoned: the consumer
 *   reports batonErrorPeerLost and never shows that slot's unfinished frame. The last frame
 *   acquired stays valid (the memory is this process's too) until the channel is destroyed.
 * - the producer's next batonChannelProduceFrame returns batonErrorPeerLost (it checks on
 *   every call; nothing is enqueued), its stream has no wait left that cannot complete.
 * Takeover: a dead peer's channel stays dead. The survivor destroys it; a restarted producer
 * creates a new channel and sends it; a restarted consumer receives a new one (the producer
 * creates and sends a new channel when it sees batonErrorPeerLost).
 */

/**
 * Sends a channel created with batonChannelFlagShared over a connected Unix socket, and
 * waits (up to timeoutMs, -1: forever) until the receiving process has checked it and says it
 * took it (or why not: its batonChannelReceive error is returned here). Setup-time call,
 * once per channel, before the first batonChannelProduceFrame. The socket stays the caller's.
 */
BATON_API batonError_t batonChannelSend(batonChannel_t channel, int socket, int timeoutMs);

/**
 * Receives a channel sent by batonChannelSend into the current context; *channel is its
 * consumer's end. expected (may be NULL) says what this consumer can use: every non-zero
 * field of format, extent, usage, depth must match (else batonErrorNotSupported, message
 * naming the field); its batonChannelFlagConsumerQueueFamily / consumerQueueFamily choose
 * the queue family of this process's consumer (default: the context's graphics family).
 * Returns batonErrorTimeout, batonErrorWrongKind (not a channel message),
 * batonErrorForeignDevice (another GPU or driver), batonErrorInvalidResourceHandle (fds that
 * are not what the message says, a control page that is not baton's, truncated or unsealed),
 * batonErrorNotSupported (also: native timelines on a device without semaphore fds),
 * batonErrorPeerLost (the producer died before it was taken), or
 * batonErrorOperatingSystem. Every fd received is closed on failure; nothing leaks.
 */
BATON_API batonError_t batonChannelReceive(batonChannel_t* channel, int socket, int timeoutMs,
                                           const batonChannelCreateInfo* expected);

/**
 * Host waits, bounded by timeoutNs, that also watch the peer process:
 * ForFrame (consumer): until a frame after the last acquired one is complete.
 * ForSlot (producer): until the next batonChannelProduceFrame will not return NotReady.
 * Return batonSuccess, batonErrorTimeout or batonErrorPeerLost.
 */
BATON_API batonError_t batonChannelWaitForFrame(batonChannel_t channel, uint64_t timeoutNs);
BATON_API batonError_t batonChannelWaitForSlot(batonChannel_t channel, uint64_t timeoutNs);

/** What a shared channel knows about the other process. */
typedef struct batonChannelPeerInfo {
    VkBool32 shared;                     /**< The channel has a consumer or producer in another process. */
    VkBool32 peerAlive;                  /**< The other process holds its lock on the control page. */
    unsigned long long peerHeartbeatNs;  /**< The peer's last call (CLOCK_MONOTONIC), as it wrote it (untrusted). */
    unsigned long long producedHint;     /**< Frames the producer says it enqueued (untrusted). */
} batonChannelPeerInfo;

BATON_API batonError_t batonChannelGetPeerInfo(batonChannel_t channel, batonChannelPeerInfo* info);

#ifdef __cplusplus
}
#endif

#endif /* BATON_CHANNEL_H */
