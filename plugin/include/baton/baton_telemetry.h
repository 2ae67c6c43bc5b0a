/*
 * baton telemetry and trace export: where every microsecond of a handoff went.
 *
 * When enabled on a context, baton writes GPU timestamps around every stream submission
 * (pre-recorded command buffers, no recording per frame) and around the consumer side of
 * channels, converts them to the host's CLOCK_MONOTONIC (VK_EXT_calibrated_timestamps where
 * the driver has it, else the tightest bound seen: host time at completion), and keeps
 * records of every signal, wait, submission and channel frame in a fixed-size ring (no
 * allocation per frame; the oldest records are overwritten). Disabled, it costs one relaxed
 * load per call.
 *
 * Times are nanoseconds of CLOCK_MONOTONIC; 0 means unknown (not resolved yet, the queue
 * family has no timestamps, or the stream could not make its timestamp objects: below).
 *
 * A stream makes its timestamp objects (a command pool, a query pool, command buffers) the
 * first time it runs work with telemetry on. If the driver refuses one of them, that is not
 * swallowed: the stream reports it like any failed operation of its own, from its next call
 * or batonStreamSynchronize, with the error of the failed Vulkan call and a message that
 * names it ("vkCreateQueryPool (telemetry) failed: VK_ERROR_OUT_OF_HOST_MEMORY (-1)").
 * Nothing of the stream's work is lost and nothing leaks: the stream goes on, and keeps
 * recording, without GPU times (its records' GPU times stay 0) for the rest of its life; a
 * stream created later tries again. The error is reported once.
 */
#ifndef BATON_TELEMETRY_H
#define BATON_TELEMETRY_H

#include <baton/baton.h>
#include <baton/baton_channel.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a record describes. */
typedef enum batonTelemetryKind {
    batonTelemetrySubmit = 1,   /**< GPU work of one stream submission: gpuStart..gpuEnd. */
    batonTelemetrySignal = 2,   /**< A GPU signal of object to value: gpuEnd is when the GPU reached it. */
    batonTelemetryWait = 3,     /**< A GPU wait for object >= value: gpuStart..gpuEnd is the time it held work back
                                     (from when the queue could have run it to when it ran). */
    batonTelemetryHostWait = 4, /**< A stream thread waited on the host (portable backend): gpuStart..gpuEnd host times. */
    batonTelemetryPublish = 5,  /**< Portable backend: the host published value (gpuEnd = host time). */
    batonTelemetryProduce = 6,  /**< Channel: frame `value` enqueued by the producer (cpuNs). */
    batonTelemetryConsume = 7,  /**< Channel: the consumer's use of frame `value` on its queue (gpuStart..gpuEnd). */
    batonTelemetryDrop = 8      /**< Channel (mailbox): frame `value` was never consumed. */
} batonTelemetryKind;

/** Lane of a record that happened on the host rather than on a queue. */
#define BATON_TELEMETRY_LANE_HOST 0xFFFFFFFFu

/** One event. */
typedef struct batonTelemetryRecord {
    unsigned long long seq;      /**< Increasing number (gaps: overwritten records). */
    batonTelemetryKind kind;
    uint32_t lane;               /**< Queue: (family << 16) | index; BATON_TELEMETRY_LANE_HOST for host events. */
    uint64_t object;             /**< The semaphore, channel or stream handle it concerns. */
    unsigned long long value;    /**< Semaphore value, or frame number. */
    uint64_t cpuNs;              /**< When the API call enqueued it (host). */
    uint64_t gpuStartNs;         /**< See batonTelemetryKind. */
    uint64_t gpuEndNs;
    uint32_t pid;                /**< Process that recorded it. */
    uint32_t flags;              /**< Internal; 0x1 = GPU times resolved. */
} batonTelemetryRecord;

/** Turns telemetry on or off for ctx (NULL: the current context). Off by default. */
BATON_API batonError_t batonTelemetryEnable(batonContext_t ctx, int enable);

/**
 * Copies up to capacity records with seq > afterSeq, oldest first, into records; *count gets
 * how many. Pass the last seq you saw to read incrementally (a HUD each frame). Resolves the
 * GPU times of completed submissions first. Never blocks on the GPU.
 */
BATON_API batonError_t batonTelemetryRead(batonContext_t ctx, unsigned long long afterSeq,
                                          batonTelemetryRecord* records, unsigned int capacity, unsigned int* count);

/** Per-semaphore figures. */
typedef struct batonTelemetrySemaphoreStats {
    unsigned long long currentValue;  /**< As batonExternalSemaphoreGetInfo. */
    unsigned long long pendingValue;
    unsigned long long signals;       /**< Signals recorded (streams and channels). */
    unsigned long long waits;         /**< Waits recorded (GPU and host). */
    unsigned long long waitNsTotal;   /**< Time those waits held work back. */
    unsigned long long waitNsMax;
    uint64_t lastSignalNs;            /**< When the GPU reached the last signal. */
} batonTelemetrySemaphoreStats;

BATON_API batonError_t batonTelemetryGetSemaphoreStats(batonExternalSemaphore_t sem, batonTelemetrySemaphoreStats* stats);

/** Per-channel figures. Counted whether or not telemetry is on, except the GPU-timed ones. */
typedef struct batonChannelStats {
    unsigned long long produced;           /**< Frames enqueued by the producer. */
    unsigned long long consumed;           /**< Frames acquired by the consumer. */
    unsigned long long dropped;            /**< Mailbox: frames skipped. */
    unsigned long long readyValue;         /**< Current values of the two timelines. */
    unsigned long long releasedValue;
    unsigned long long consumerNotReady;   /**< Acquire calls that found no frame (the consumer had nothing new). */
    unsigned long long producerStalls;     /**< Frames whose slot was not free yet when the GPU got to them. */
    unsigned long long producerStallNs;    /**< Time the producer's stream waited for free slots. */
    unsigned long long consumerStalls;     /**< Frames the consumer's queue had to wait for. */
    unsigned long long consumerStallNs;    /**< Time the consumer's queue waited for ready frames. */
    unsigned long long handoffs;           /**< Frames with a measured handoff latency. */
    unsigned long long handoffNsLast;      /**< Producer's GPU end of frame -> consumer's GPU start on it. */
    unsigned long long handoffNsTotal;
    unsigned long long handoffNsMax;
} batonChannelStats;

BATON_API batonError_t batonChannelGetStats(batonChannel_t channel, batonChannelStats* stats);

/** API calls whose CPU cost is measured (while telemetry is on). */
typedef enum batonTelemetryApi {
    batonTelemetryApiSignal = 0,         /**< batonSignalExternalSemaphoresAsync */
    batonTelemetryApiWait = 1,           /**< batonWaitExternalSemaphoresAsync */
    batonTelemetryApiChannelProduce = 2, /**< batonChannelProduceFrame */
    batonTelemetryApiChannelAcquire = 3, /**< batonChannelAcquireFrame */
    batonTelemetryApiChannelRelease = 4, /**< batonChannelReleaseFrame */
    batonTelemetryApiCount = 5
} batonTelemetryApi;

typedef struct batonTelemetryApiStats {
    unsigned long long calls;
    unsigned long long totalNs;
    unsigned long long maxNs;
} batonTelemetryApiStats;

BATON_API batonError_t batonTelemetryGetApiStats(batonContext_t ctx, batonTelemetryApi api, batonTelemetryApiStats* stats);

/**
 * One frame's journey through a channel, from the producer's first command to the
 * consumer's last, as baton measured it once the consumer's queue has passed it. The GPU
 * times are the channel's own timestamps (the producer's first and last command around the
 * recorded work, the consumer's first command after its wait and its last before the
 * release signal), converted to the host's CLOCK_MONOTONIC like every other record; 0 means
 * unknown (a queue family without timestamps, or telemetry was off when the frame was
 * acquired). Kept in a ring of its own (4096 frames per context, no allocation per frame).
 */
typedef struct batonTelemetryFrame {
    unsigned long long seq;          /**< Increasing number (gaps: overwritten frames). */
    uint64_t channel;                /**< The channel (same value as records' object). */
    unsigned long long frame;        /**< Frame number (the value of its "ready" and "released" signals). */
    uint64_t ready;                  /**< The "ready" semaphore the consumer waited on (records' object). */
    uint64_t released;               /**< The "released" semaphore the consumer signaled. */
    uint32_t producerLane;           /**< Queue lanes as in batonTelemetryRecord. */
    uint32_t consumerLane;
    uint32_t producerPid;            /**< Process that produced it. */
    uint32_t consumerPid;            /**< Process that consumed it (this one). */
    uint64_t produceCpuNs;           /**< The producer's batonChannelProduceFrame (host; 0: another process). */
    uint64_t acquireCpuNs;           /**< The consumer's batonChannelAcquireFrame (host). */
    uint64_t produceStartNs;         /**< GPU: the producer's first command of the frame. */
    uint64_t readyNs;                /**< GPU: the producer's last command (the ready signal follows it). */
    uint64_t consumeStartNs;         /**< GPU: the consumer's first command after its wait (baton's acquire
                                          timestamp: see BATON_TELEMETRY_FRAME_IN_CONSUMER_COMMANDS). */
    uint64_t consumeEndNs;           /**< GPU: the consumer's last command before its release (present follows). */
    unsigned long long handoffNs;    /**< readyNs -> consumeStartNs, from the two GPU timestamps
                                          (one device clock: no calibration error). The handoff latency. */
    unsigned long long frameNs;      /**< produceStartNs -> consumeEndNs: produce start to present. */
    unsigned long long stallNs;      /**< How long the consumer's queue waited for the frame to be ready
                                          (acquire before ready; 0 when it was ready first). */
    uint32_t flags;                  /**< BATON_TELEMETRY_FRAME_* */
    uint32_t reserved[7];
} batonTelemetryFrame;

/** batonTelemetryFrame.flags: handoffNs and frameNs are measured (both sides timed). */
#define BATON_TELEMETRY_FRAME_TIMED 0x1u
/** batonTelemetryFrame.flags: consumeStartNs is the first command of the consumer's own command
 *  buffer (batonChannelCmdAcquireFrame); without it, of baton's acquireCommands, which the
 *  consumer's submit runs one command-buffer boundary before its own. */
#define BATON_TELEMETRY_FRAME_IN_CONSUMER_COMMANDS 0x2u

/**
 * Copies up to capacity frames with seq > afterSeq, oldest first; *count gets how many.
 * Resolves the channels' completed frames first. Never blocks on the GPU, allocates nothing:
 * a HUD can call it every frame with its last seq.
 */
BATON_API batonError_t batonTelemetryReadFrames(batonContext_t ctx, unsigned long long afterSeq,
                                                batonTelemetryFrame* frames, unsigned int capacity, unsigned int* count);

/**
 * Starts a capture on ctx (NULL: current): turns telemetry on and remembers where the
 * records begin. batonTraceStop writes every record since then (up to the ring's size) to
 * path as Chrome trace-event JSON that Perfetto and chrome://tracing open: one lane per queue
 * and per process, zones for GPU work and waits, flow arrows from each signal to the waits it
 * released, counter tracks for semaphore values.
 */
BATON_API batonError_t batonTraceStart(batonContext_t ctx, const char* path);
/** Stops the capture and writes the file (allocates; not a per-frame call). */
BATON_API batonError_t batonTraceStop(batonContext_t ctx);

/**
 * Writes what the telemetry ring holds now (the last 65536 records and 4096 frames, or
 * fewer) to path, in the same format as batonTraceStop, without starting or ending a
 * capture: a "save the last seconds" button. Telemetry must have been on (else
 * batonErrorIllegalState). Allocates; not a per-frame call.
 */
BATON_API batonError_t batonTraceWrite(batonContext_t ctx, const char* path);

#ifdef __cplusplus
}
#endif

#endif /* BATON_TELEMETRY_H */
