#include "gpu_clock.h"

namespace sandbox {

void GpuClock::calibrateLocked() {
    VkCalibratedTimestampInfoEXT infos[2] = {
        {VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT, nullptr, VK_TIME_DOMAIN_DEVICE_EXT},
        {VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT, nullptr, VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT}};
    uint64_t ts[2] = {}, deviation = 0;
    if (vkGetCalibratedTimestampsEXT(gpu_.device, 2, infos, ts, &deviation) != VK_SUCCESS) return;
    const double period = gpu_.properties.limits.timestampPeriod;
    offsetNs_ = static_cast<int64_t>(ts[1]) - static_cast<int64_t>(static_cast<double>(ts[0]) * period);
    haveOffset_ = true;
    lastCalibration_ = ts[1];
}

uint64_t GpuClock::toHost(uint64_t ticks, uint32_t validBits) {
    if (validBits < 64) ticks &= (1ull << validBits) - 1;
    const double period = gpu_.properties.limits.timestampPeriod;
    std::lock_guard lock(mutex_);
    const uint64_t now = nowNs();
    if (gpu_.calibratedTimestamps && (!haveOffset_ || now - lastCalibration_ > 1000000000ull)) calibrateLocked();
    if (!haveOffset_) {  // no calibration: the query just completed, so "now" is an upper bound
        offsetNs_ = static_cast<int64_t>(now) - static_cast<int64_t>(static_cast<double>(ticks) * period);
        haveOffset_ = true;
    }
    return static_cast<uint64_t>(static_cast<int64_t>(static_cast<double>(ticks) * period) + offsetNs_);
}

}  // namespace sandbox
