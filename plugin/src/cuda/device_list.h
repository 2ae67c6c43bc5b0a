// The "devices" of baton_cuda.h: the Vulkan physical devices baton can open, numbered best
// first as the default context picks them, so that device 0 is the default context's device.
// Enumerated once per process through a short-lived VkInstance of its own (no Vulkan object
// outlives the enumeration: what is kept is plain data).
#pragma once

#include <cstdint>
#include <vector>

#include <baton/baton_cuda.h>

namespace baton {

struct DeviceRecord {
    batonDeviceProp prop{};
    uint8_t uuid[VK_UUID_SIZE] = {};
    bool timelineInterop = false;  // baton can export/import timelines on it (always: portable)
};

// The device list (enumerating on the first call). batonErrorNoDevice when there is none;
// a failed enumeration is not cached, the next call tries again.
batonError_t deviceList(const std::vector<DeviceRecord>** out);
// Resolves an ordinal: batonErrorInvalidDevice when out of range.
batonError_t deviceRecord(int device, const DeviceRecord** out);

}  // namespace baton
