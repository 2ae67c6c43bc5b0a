// The message batonChannelSend sends: one fixed-size description of the channel with every
// fd it needs in one SCM_RIGHTS control message, in this order:
//     control page, memory of slot 0..depth-1, "ready", "released" [, keyed mutex of slot 0..depth-1]
// `timelines` says what "ready" and "released" are: baton's portable memfds or the driver's
// native opaque fds (kChannelTimelines*); the receiver refuses an fd that is not that kind.
// The receiver treats it as a hostile peer's (every field read as a raw integer and checked,
// every fd classified before use, all of them closed on any refusal), then answers with one
// int32 (kChannelAckMagic, then its batonError_t) so that the sender learns the outcome.
#pragma once

#include <cstdint>

#include <vulkan/vulkan_core.h>

#include "frames/channel_page.h"

namespace baton {

inline constexpr uint32_t kChannelWireMagic = 0x43544142u;  // "BATC"
inline constexpr uint16_t kChannelWireVersion = 2;  // 2: `timelines`
inline constexpr uint32_t kChannelWireKind = 1;
inline constexpr uint32_t kChannelAckMagic = 0x4b544142u;  // "BATK"
// ChannelWire::timelines: the kind of the "ready" and "released" fds.
inline constexpr uint32_t kChannelTimelinesPortable = 1;  // baton's sealed memfds (portable backend)
inline constexpr uint32_t kChannelTimelinesNative = 2;    // the driver's opaque timeline fds (native backend)
// 1 page + 8 memories + 2 timelines + 8 keyed mutexes.
inline constexpr int kChannelMaxFds = 1 + 2 * static_cast<int>(kChannelMaxDepth) + 2;

struct ChannelWire {
    uint32_t magic;
    uint16_t version;
    uint16_t size;  // sizeof(ChannelWire) of the sender
    uint32_t kind;  // kChannelWireKind
    uint32_t depth;
    uint32_t format, width, height, usage;
    uint32_t policy, keyed, consumerLayout, fdCount;
    uint8_t deviceUUID[VK_UUID_SIZE];
    uint8_t driverUUID[VK_UUID_SIZE];
    uint8_t id[16];  // the control page's id
    uint64_t allocationSize[kChannelMaxDepth];
    uint32_t memoryTypeIndex[kChannelMaxDepth];
    uint32_t dedicated[kChannelMaxDepth];
    uint32_t timelines;  // kChannelTimelines*; keyed channels: portable
    uint32_t reserved[7];
};

inline uint32_t channelFdCount(uint32_t depth, bool keyed) { return 1 + depth + 2 + (keyed ? depth : 0); }

struct ChannelAck {
    uint32_t magic;  // kChannelAckMagic
    int32_t result;  // batonError_t of the receiver
};

}  // namespace baton
