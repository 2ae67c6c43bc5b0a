#include "telemetry.h"

#include <algorithm>

#include "gpu.h"

namespace sandbox {

void StallStats::add(double ms) {
    ++count;
    if (ms > 0.05) ++nonZero;
    sumMs += ms;
    maxMs = std::max(maxMs, ms);
    int bin = static_cast<int>(ms / kBinMs);
    bins[static_cast<size_t>(std::clamp(bin, 0, kBins - 1))] += 1.0f;
    recent[recentCount++ % kRecent] = static_cast<float>(ms);
}

double StallStats::percentile(double p) const {
    size_t n = std::min<uint64_t>(recentCount, kRecent);
    if (n == 0) return 0;
    std::vector<float> v(recent.begin(), recent.begin() + static_cast<long>(n));
    size_t k = std::min(n - 1, static_cast<size_t>(p * static_cast<double>(n - 1) + 0.5));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
}

Telemetry::Telemetry() : spans_(kSpans), values_(kValues), frameTimes_(kFrames) { startNs = nowNs(); }

void Telemetry::addSpan(const Span& s) {
    std::lock_guard lock(mutex_);
    spans_[spanCount_++ % kSpans] = s;
}

void Telemetry::addValues(const ValueSample& v) {
    std::lock_guard lock(mutex_);
    values_[valueCount_++ % kValues] = v;
}

void Telemetry::addProducerStall(double ms) {
    std::lock_guard lock(mutex_);
    producerStalls_.add(ms);
}

void Telemetry::addConsumerStall(double ms) {
    std::lock_guard lock(mutex_);
    consumerStalls_.add(ms);
}

void Telemetry::addFrameTime(double ms) {
    std::lock_guard lock(mutex_);
    frameTimes_[frameCount_++ % kFrames] = static_cast<float>(ms);
}

void Telemetry::spans(std::vector<Span>& out, uint64_t sinceNs) const {
    std::lock_guard lock(mutex_);
    out.clear();
    uint64_t n = std::min<uint64_t>(spanCount_, kSpans);
    for (uint64_t i = spanCount_ - n; i < spanCount_; ++i) {
        const Span& s = spans_[i % kSpans];
        if (s.t1 >= sinceNs) out.push_back(s);
    }
}

void Telemetry::values(std::vector<ValueSample>& out) const {
    std::lock_guard lock(mutex_);
    out.clear();
    uint64_t n = std::min<uint64_t>(valueCount_, kValues);
    for (uint64_t i = valueCount_ - n; i < valueCount_; ++i) out.push_back(values_[i % kValues]);
}

void Telemetry::frameTimes(std::vector<float>& out) const {
    std::lock_guard lock(mutex_);
    out.clear();
    uint64_t n = std::min<uint64_t>(frameCount_, kFrames);
    for (uint64_t i = frameCount_ - n; i < frameCount_; ++i) out.push_back(frameTimes_[i % kFrames]);
}

StallStats Telemetry::producerStalls() const {
    std::lock_guard lock(mutex_);
    return producerStalls_;
}

StallStats Telemetry::consumerStalls() const {
    std::lock_guard lock(mutex_);
    return consumerStalls_;
}

}  // namespace sandbox
