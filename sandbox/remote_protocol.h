// The socket protocol between the sandbox (parent, renderer side) and baton-sandbox-producer
// (the child it fork+execs with one end of a socketpair(AF_UNIX, SOCK_SEQPACKET)).
//
// Setup: parent -> child RemoteConfig (a plain message); the child creates a shared frame
// channel (baton_channel.h) with that depth, size, backend and policy and sends it with
// batonChannelSend; the parent takes it with batonChannelReceive (which answers the child).
// Then, child -> parent: RemoteStatus messages (the first one says it runs), about every
// 50 ms and on exit; parent -> child: RemoteControls whenever a control changes, and
// RemoteStop. A child told to stop stops enqueuing, sends a RemoteStatus with `stopped` set
// and the last sequence it enqueued, waits until the parent released every slot, and exits.
// Every message is one SEQPACKET record; the first word says which it is.
#pragma once

#include <cstdint>

#include <baton/baton.h>

namespace sandbox {

constexpr uint32_t kRemoteConfigMagic = 0x62636667;    // "bcfg"
constexpr uint32_t kRemoteControlsMagic = 0x6263746c;  // "bctl"
constexpr uint32_t kRemoteStopMagic = 0x6273746f;      // "bsto"
constexpr uint32_t kRemoteStatusMagic = 0x62737461;    // "bsta"

struct RemoteConfig {
    uint32_t magic = kRemoteConfigMagic;
    uint32_t depth = 0;
    uint32_t width = 0, height = 0;
    uint32_t format = 0;                 // VkFormat of the images
    uint32_t imageUsage = 0;             // VkImageUsageFlags they were exported with
    uint64_t animBase = 0;               // animation frame of sequence 0
    uint8_t deviceUUID[VK_UUID_SIZE]{};  // the child opens the same GPU
    uint32_t preferCpu = 0;
    float costMs = 0, delayMs = 0, jitterMs = 0;
    uint32_t paused = 0;
    uint32_t backend = 0;  // SemBackend (native: the driver's timeline fds where the device has them)
    uint32_t pick = 0;     // PickMode: the channel's policy
};

struct RemoteControls {
    uint32_t magic = kRemoteControlsMagic;
    float costMs = 0, delayMs = 0, jitterMs = 0;
    uint32_t paused = 0;
};

struct RemoteStop {
    uint32_t magic = kRemoteStopMagic;
};

struct RemoteStatus {
    static constexpr uint32_t kMaxStalls = 48;
    uint32_t magic = kRemoteStatusMagic;
    uint32_t stopped = 0;           // 1: the last status; lastEnqueued is final
    uint32_t failed = 0;            // 1: the child hit an error (message says which)
    uint32_t validationErrors = 0;  // the child's own validation layer / baton messages
    uint64_t lastEnqueued = 0, produced = 0, burnLoops = 0;
    double producerGpuMs = 0, producerCostMs = 0;
    uint32_t stallCount = 0;        // new producer stall samples in `stalls`
    float stalls[kMaxStalls]{};
    char message[160]{};
};

}  // namespace sandbox
