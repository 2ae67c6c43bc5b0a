// Telemetry: a per-context ring of records (signals, waits, submissions, channel frames) with
// GPU times converted to the host clock, per-semaphore and per-API-call figures. Everything
// is sized when telemetry is first enabled: recording a frame allocates nothing.
//
// The stream side (StreamTelemetry) brackets each stream submission with two pre-recorded
// command buffers that write GPU timestamps, and resolves them once the stream's timeline
// passes the submission. It only touches the stream through the few hooks in stream.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include <baton/baton_telemetry.h>

namespace baton {

class Context;
class Semaphore;
struct Op;

// Number of contexts with telemetry on, process-wide: lets API entry points skip reading the
// clock with one relaxed load when nobody records.
extern std::atomic<int> g_telemetryContexts;
// Host clock (CLOCK_MONOTONIC ns) if any context records telemetry, else 0.
uint64_t apiClockStart();
// Accounts an API call's CPU time to ctx (no-op unless t0 != 0 and ctx records).
void noteApiCost(Context* ctx, batonTelemetryApi api, uint64_t t0);
// Portable publisher: the host published value of sem.
void notePublish(Context* ctx, const Semaphore* sem, uint64_t value);

// What a channel knows of one frame once the consumer's queue passed it: raw GPU ticks of
// one device (0: not timed), the host time of the consumer's acquire. A remote producer's
// ticks (same device, another process) come the same way with its pid.
struct FrameTicks {
    uint64_t channel, frame, ready, released;
    uint32_t producerLane, consumerLane, producerPid;  // producerPid 0: this process
    uint64_t acquireCpuNs;
    uint64_t produceStart, produceEnd;  // producer's first and last command
    uint64_t consumeStart, consumeEnd;  // consumer's first command after its wait, last before release
    bool inConsumerCommands;            // consumeStart is in the consumer's own command buffer
    // A producer in another process: its first and last command on the host clock (its
    // calibration), instead of produceStart/End (0: not known).
    uint64_t produceStartHostNs, produceEndHostNs;
};

class Telemetry {
public:
    explicit Telemetry(Context* c);
    ~Telemetry();

    bool on() const { return enabled_.load(std::memory_order_relaxed); }
    void setEnabled(bool on);

    // Appends n records (seq and pid filled in here); returns the first seq. Signals and waits
    // are counted in the per-semaphore table; records already resolved (flags & 1) count fully.
    uint64_t append(batonTelemetryRecord* recs, uint32_t n);
    // The same for records another process made (a shared channel's producer): pid kept as
    // given. telemetry/remote_zones.cpp.
    uint64_t appendFromPeer(batonTelemetryRecord* recs, uint32_t n, uint32_t pid);
    // Fills GPU times of a stream submission's records [first, first + n): Submit gets
    // begin..end, waits prevEnd-or-cpu..begin, signals end.
    void resolveSubmission(uint64_t first, uint32_t n, uint64_t begin, uint64_t end, uint64_t prevEnd);
    // Fills one record's GPU times.
    void resolveOne(uint64_t seq, uint64_t start, uint64_t end);
    uint32_t read(uint64_t after, batonTelemetryRecord* out, uint32_t capacity);
    // A channel frame the consumer's queue has passed (the channel calls it; frame_ring.cpp).
    void noteFrame(const FrameTicks& f);
    uint32_t readFrames(uint64_t after, batonTelemetryFrame* out, uint32_t capacity);
    uint64_t lastFrameSeq();
    uint64_t lastSeq();
    // Oldest seq still in the ring.
    uint64_t firstSeq();

    void noteApi(batonTelemetryApi api, uint64_t ns);
    void apiStats(batonTelemetryApi api, batonTelemetryApiStats* out) const;
    void semaphoreStats(uint64_t object, batonTelemetrySemaphoreStats* out);

    // GPU ticks -> host ns. Calibrated with VK_EXT_calibrated_timestamps where available
    // (re-calibrated every second against drift), else bounded by completion times seen.
    uint64_t gpuToHost(uint64_t ticks);
    // A GPU timestamp known to have been written before hostNow (fallback calibration).
    void observeCompletion(uint64_t ticks, uint64_t hostNow);
    bool calibrated() const { return offsetKnown_.load(std::memory_order_acquire); }

    // Trace capture state (trace.cpp).
    std::mutex traceMutex;
    bool tracing = false;
    std::string tracePath;
    uint64_t traceFrom = 0;
    uint64_t traceFromFrame = 0;  // first frame seq of the capture

    Context* const ctx;

private:
    struct SemSlot {
        uint64_t object;
        uint64_t signals, waits, waitNs, waitMax, lastSignal;
    };
    SemSlot* semSlot(uint64_t object);  // under mutex_; nullptr when the table is full
    void countWaitLocked(const batonTelemetryRecord& r);
    void rememberProduceLocked(const batonTelemetryRecord& r);
    uint64_t produceCpuLocked(uint64_t channel, uint64_t frame) const;
    void calibrate(uint64_t hostNow);

    static constexpr uint32_t kRing = 1u << 16;
    static constexpr uint32_t kSemSlots = 1024;
    std::atomic<bool> enabled_{false};
    std::mutex mutex_;
    batonTelemetryRecord* ring_ = nullptr;  // kRing records
    uint64_t next_ = 1;
    SemSlot* sems_ = nullptr;               // kSemSlots, open addressing by object
    // Channel frames (batonTelemetryFrame), and the producers' enqueue times by frame number
    // until the frame resolves (a frame resolves at most ~32 frames after it was produced).
    static constexpr uint32_t kFrameRing = 4096;
    static constexpr uint32_t kProduceSlots = 512;
    struct ProduceSlot {
        uint64_t channel, frame, cpuNs;
    };
    batonTelemetryFrame* frames_ = nullptr;  // kFrameRing
    uint64_t nextFrame_ = 1;
    ProduceSlot* produces_ = nullptr;        // kProduceSlots, by frame number
    struct ApiSlot {
        std::atomic<uint64_t> calls{0}, total{0}, max{0};
    } api_[batonTelemetryApiCount];
    uint32_t pid_ = 0;

    double periodNs_ = 1.0;                 // ns per GPU tick
    std::atomic<int64_t> offsetNs_{0};      // host = ticks * period + offset
    std::atomic<bool> offsetKnown_{false};
    std::atomic<uint64_t> lastCalibration_{0};
    // The device has calibrated timestamps (CLOCK_MONOTONIC). Atomic: calibrate() clears it
    // under mutex_ when the driver refuses, while observeCompletion reads it unlocked on
    // every stream thread (defect 16: a data race).
    std::atomic<bool> hasCalibrated_{false};
};

// The telemetry of a context if it records right now, else nullptr.
Telemetry* activeTelemetry(Context* ctx);
// The telemetry of a context, created on first use (enable, queries). Throws std::bad_alloc
// (only entry points call it, and they are guarded()).
Telemetry* ensureTelemetry(Context* ctx);

// Per stream: pre-recorded timestamp command buffers and the records of each submission.
class StreamTelemetry {
public:
    // nullptr only when out of host memory. When the queue family has no timestamps, or the
    // Vulkan objects for them cannot be made, the stream records without GPU times; for the
    // latter, setupFailure() says which call failed so that the stream reports it.
    static StreamTelemetry* create(Context* ctx, uint32_t family, uint32_t queueIndex, VkSemaphore timeline);
    ~StreamTelemetry();

    // The Vulkan call that failed while making the timestamp objects (nullptr: none), with its
    // result in *result. Everything made before it has been destroyed again.
    const char* setupFailure(VkResult* result) const {
        *result = setupResult_;
        return setupCall_;
    }

    // Worker thread, around Stream::process: the op is attributed to the submission that
    // the stream is building once process() returns (a flush inside process() goes first).
    void stash(const Op& op);
    void commit();
    // Worker thread, in Stream::flush before the submit: command buffers to put first and last.
    bool bracket(VkCommandBufferSubmitInfo* first, VkCommandBufferSubmitInfo* last);
    // After the submit of timeline point `point` (ok: it was accepted).
    void submitted(uint64_t point, bool ok);
    // A portable wait done on the host by the worker thread.
    void hostWait(const Semaphore* s, uint64_t value, uint64_t t0, uint64_t t1);
    // Any thread: resolves the GPU times of completed submissions.
    void resolve();

    const uint32_t lane;

private:
    StreamTelemetry(Context* c, uint32_t l, VkSemaphore t) : lane(l), ctx_(c), timeline_(t) {}

    struct Pending {
        batonTelemetryKind kind;
        uint64_t object, value;
    };
    struct Pair {
        uint64_t point;  // 0: free
        uint64_t firstSeq;
        uint32_t count;
    };
    static constexpr uint32_t kPairs = 128;
    static constexpr uint32_t kPending = 80;

    Context* const ctx_;
    const VkSemaphore timeline_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    VkCommandBuffer begin_[kPairs] = {}, end_[kPairs] = {};
    const char* setupCall_ = nullptr;  // set once by create()
    VkResult setupResult_ = VK_SUCCESS;

    bool makeTimestampObjects(uint32_t family);
    bool recordPairs();

    std::mutex mutex_;  // pairs_ and the resolve cursor (resolve runs on any thread)
    Pair pairs_[kPairs] = {};
    uint64_t lastPoint_[kPairs] = {};  // the point of a pair's last submission (settleForValidation)
    uint64_t issued_ = 0, resolved_ = 0;  // pair sequence numbers
    uint64_t prevEnd_ = 0;
    bool bracketed_ = false;

    // Worker thread only.
    Pending pending_[kPending] = {};
    uint32_t pendingCount_ = 0;
    Pending stash_{};
    bool stashed_ = false;
};

}  // namespace baton
