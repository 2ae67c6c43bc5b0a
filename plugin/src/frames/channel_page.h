// A shared channel's control page: one sealed memfd page that the producer's and the
// consumer's processes both map, with each slot's metadata and both sides' liveness.
//
// Liveness without pids (as the keyed mutex, sync/keyed_mutex.h): each side opens its own
// file description of the memfd (/proc/self/fd/N) and takes an OFD write lock on its byte
// (beyond the end of the page) for its whole life. The kernel drops the lock when the last
// fd of that description closes, i.e. when the process exits, however it dies. The other side
// tests it with F_OFD_GETLK: one fcntl, no timeout, no heartbeat needed to decide. The
// heartbeat words are written for the curious (GetPeerInfo) and never trusted.
//
// The page is untrusted input: the peer can write any byte at any time. It carries only
// hints and metadata; nothing read from it goes to the driver unchecked, and a reading that
// no honest peer can produce (header changed, a slot naming another frame than the one the
// semaphores say is there) is reported as batonErrorIllegalState.
#pragma once

#include <atomic>
#include <cstdint>

#include <baton/baton.h>

namespace baton {

inline constexpr uint32_t kChannelPageMagic = 0x50544142u;  // "BATP"
inline constexpr uint32_t kChannelPageVersion = 1;
inline constexpr uint32_t kChannelPageSize = 4096;
inline constexpr uint32_t kChannelMaxDepth = 8;

struct ChannelPageLayout {
    uint32_t magic, version, size, depth;
    uint8_t id[16];                          // the channel's identity, also in the send message
    std::atomic<uint64_t> produced;          // producer: frames enqueued (hint)
    std::atomic<uint64_t> producerBeatNs;    // CLOCK_MONOTONIC of the producer's last produce
    std::atomic<uint64_t> consumerBeatNs;    // ... of the consumer's last acquire
    std::atomic<uint64_t> consumerAttached;  // consumer: set once it holds its lock
    // The producer's telemetry zones, for the consumer's telemetry and trace: a ring the
    // producer writes (zone i in zones[i % kZones], its seq set last) and the consumer reads
    // behind it. Untrusted like the rest: every field is checked before it becomes a record.
    static constexpr uint32_t kZones = 48;
    struct Zone {
        std::atomic<uint64_t> seq;  // i + 1 once zone i is written
        uint32_t kind;              // batonTelemetryProduce, HostWait (waited for a slot) or Signal
        uint32_t lane;              // the producer's queue lane ((family << 16) | index)
        uint64_t frame, beginNs, endNs;
    } zones[kZones];
    std::atomic<uint64_t> zoneHead;  // zones written
    uint32_t producerPid;            // the trace's process lane (a label only)
    uint32_t reserved1;
    struct Slot {
        std::atomic<uint64_t> frame;      // the frame last produced into the slot
        std::atomic<uint64_t> produceNs;  // CLOCK_MONOTONIC when it was enqueued
        std::atomic<uint64_t> returned;   // keyed: the frame whose slot the consumer gave back last (hint)
    } slots[kChannelMaxDepth];
    uint64_t reserved[8];
};
static_assert(sizeof(ChannelPageLayout) <= kChannelPageSize, "the control page must fit one page");

enum class ChannelSide : uint8_t { Producer = 0, Consumer = 1 };

class ChannelPage {
public:
    ChannelPage() = default;
    ~ChannelPage();
    ChannelPage(const ChannelPage&) = delete;
    ChannelPage& operator=(const ChannelPage&) = delete;

    // Producer: a new sealed page for depth slots, locked as the producer's.
    batonError_t create(uint32_t depth, const uint8_t id[16]);
    // Consumer: checks fd (a sealed memfd of the page's size whose header says depth and id),
    // maps it and takes the consumer's lock. Takes the fd only on success.
    batonError_t open(int fd, uint32_t depth, const uint8_t id[16]);
    int fd() const { return fd_; }

    // Whether the other side's process is alive (holds its lock). Consumer side: false once
    // the producer's lock is gone. Producer side: false only after the consumer attached.
    bool peerAlive() const;
    // The header as created, re-checked (a peer may have overwritten it).
    batonError_t checkHeader() const;
    ChannelPageLayout& page() const { return *layout_; }

private:
    batonError_t takeLock(ChannelSide side);
    static bool sealedPage(int fd);

    int fd_ = -1;
    int liveFd_ = -1;  // this side's own description; its OFD lock says we are alive
    ChannelSide side_ = ChannelSide::Producer;
    uint32_t depth_ = 0;
    uint8_t id_[16] = {};
    ChannelPageLayout* layout_ = nullptr;
};

}  // namespace baton
