// What the sandbox measures itself, from its own CPU clock and GPU timestamps (baton's own
// telemetry API does not exist yet; when it does, the panel reads it instead). Fixed-size
// rings: nothing is allocated per frame. Written by the producer thread and the render
// loop, read by the panel, the report and the trace writer.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace sandbox {

enum class Lane : uint8_t { ProducerHost, ComputeQueue, GraphicsQueue, RendererHost, Count };
enum class SpanKind : uint8_t { Work, Cost, Delay, Stall, Wait, Present };

struct Span {
    uint64_t t0, t1;  // host ns
    uint64_t frame;   // animation frame the span belongs to
    Lane lane;
    SpanKind kind;
};

struct ValueSample {
    uint64_t t;
    uint64_t readyCurrent, readyPending, releasedCurrent, releasedPending;
};

// A distribution: totals, a fixed histogram and the most recent samples (for percentiles).
class StallStats {
public:
    static constexpr int kBins = 25;
    static constexpr double kBinMs = 2.0;  // 0..50 ms, last bin takes everything above
    static constexpr size_t kRecent = 4096;
    void add(double ms);
    uint64_t count = 0, nonZero = 0;
    double sumMs = 0, maxMs = 0;
    std::array<float, kBins> bins{};
    std::array<float, kRecent> recent{};
    uint64_t recentCount = 0;
    double percentile(double p) const;  // over the recent samples
};

class Telemetry {
public:
    Telemetry();
    void addSpan(const Span& s);
    void addValues(const ValueSample& v);
    void addProducerStall(double ms);
    void addConsumerStall(double ms);
    void addFrameTime(double ms);

    // Copies under the lock, newest last (panel, report, trace).
    void spans(std::vector<Span>& out, uint64_t sinceNs) const;
    void values(std::vector<ValueSample>& out) const;
    void frameTimes(std::vector<float>& out) const;
    StallStats producerStalls() const;
    StallStats consumerStalls() const;

    // Counters.
    std::atomic<uint64_t> enqueued{0};        // producer frames enqueued on the stream
    std::atomic<uint64_t> produced{0};        // producer frames the GPU finished
    std::atomic<uint64_t> presented{0};       // renderer frames submitted (fresh + repeats)
    std::atomic<uint64_t> fresh{0};           // renderer frames that showed a new producer frame
    std::atomic<uint64_t> repeats{0};         // renderer frames that re-showed the last one
    std::atomic<uint64_t> drops{0};           // producer frames never shown (mailbox)
    std::atomic<uint64_t> waitTimeouts{0};    // FIFO waits that gave up and repeated
    std::atomic<uint64_t> swapchainRebuilds{0};
    std::atomic<double> producerGpuMs{0}, producerCostMs{0}, graphicsGpuMs{0};  // last measured

    // Outstanding waits, for "pending with no signal in sight" warnings (0 = none).
    std::atomic<uint64_t> consumerWants{0}, consumerWantsSince{0};
    std::atomic<uint64_t> producerWants{0}, producerWantsSince{0};
    std::atomic<uint64_t> startNs{0};

private:
    mutable std::mutex mutex_;
    static constexpr size_t kSpans = 16384, kValues = 8192, kFrames = 4096;
    std::vector<Span> spans_;  // ring, sized once
    uint64_t spanCount_ = 0;
    std::vector<ValueSample> values_;
    uint64_t valueCount_ = 0;
    std::vector<float> frameTimes_;
    uint64_t frameCount_ = 0;
    StallStats producerStalls_, consumerStalls_;
};

}  // namespace sandbox
