// GPU timestamps -> host time (CLOCK_MONOTONIC ns), so that the queue lanes of the panel and
// the trace line up with host events. Uses VK_EXT_calibrated_timestamps where the device has
// it (lavapipe and NVIDIA do), recalibrating every second; otherwise anchors each queue's
// clock the first time a completed timestamp is read (good to a frame, no better).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "gpu.h"

namespace sandbox {

class GpuClock {
public:
    explicit GpuClock(Gpu& gpu) : gpu_(gpu) {}
    // Converts a raw timestamp of a completed query to host ns. Thread safe.
    uint64_t toHost(uint64_t ticks, uint32_t validBits);
    double ticksToMs(uint64_t ticks) const { return static_cast<double>(ticks) * gpu_.properties.limits.timestampPeriod * 1e-6; }

private:
    void calibrateLocked();
    Gpu& gpu_;
    std::mutex mutex_;
    uint64_t lastCalibration_ = 0;
    bool haveOffset_ = false;
    int64_t offsetNs_ = 0;  // host = ticks * period + offset
};

}  // namespace sandbox
