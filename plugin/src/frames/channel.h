// A frame channel: depth images, a "ready" and a "released" timeline, a producer side on a
// baton stream and a consumer side for a renderer's own submits (see baton_channel.h).
//
// Frame k lives in slot (k - 1) % depth. The producer of frame k waits (stream-ordered) for
// released >= k - depth, records, signals ready = k. The consumer waits (queue-ordered) for
// ready >= k and signals released = k, which also releases every older frame: that is what
// lets mailbox skip frames with one timeline. Per frame nothing is allocated or created.
//
// Keyed slots (batonChannelFlagKeyedMutex, channel_keyed.cpp): each slot also has a keyed
// mutex with two handles, the producer's and the consumer's. The producer's stream acquires
// key 0 before it writes a slot and releases key 1 after; the consumer takes key 1 on the
// host (a zero-timeout try) before it hands the frame out, and gives key 0 back once the
// renderer's submit that signaled "released" completed. "ready" stays as the frame counter
// and the consumer's GPU wait (it is signaled before the mutex's release).
//
// Shared (batonChannelFlagShared, channel_share.cpp): producer and consumer are two processes,
// each with its own Channel of role Producer or Consumer over the same memory, semaphores and
// control page (channel_page.h). See baton_channel.h for the rules that keep every wait bounded.
// Their timelines are portable, or native on request (the driver's fds): either way neither
// process submits a GPU wait for a value the other has not reached yet (slotFree and
// completeFrames look on the host first), which is what makes a dead native signaler harmless.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include <baton/baton_channel.h>
#include <baton/baton_telemetry.h>

#include "core/object.h"
#include "frames/channel_page.h"
#include "sync/keyed_mutex.h"

namespace baton {

class Context;
class Memory;
class Semaphore;
class Stream;
class Telemetry;
struct Op;

// A producer's keyed-mutex turn for one frame (the slot's acquire and release share a ticket).
struct KeyedTurn {
    bool taken = false;
    uint32_t ticket = 0;
    KeyedMutex::EnqueueState saved;
};

class Channel final : public Object {
public:
    static batonError_t create(Context* ctx, const batonChannelCreateInfo& info, Channel** out);
    ~Channel() override;

    batonError_t produce(Stream* stream, batonChannelRecordFn record, void* user, uint64_t* frameOut);
    // inConsumerCommands: batonChannelAcquireInConsumerCommands (cmdAcquire records baton's acquire).
    batonError_t acquire(VkPipelineStageFlags2 waitStage, bool inConsumerCommands, batonChannelFrame* out);
    batonError_t cmdAcquire(const batonChannelFrame& frame, VkCommandBuffer cmd);
    batonError_t releaseFrame(const batonChannelFrame& frame, VkPipelineStageFlags2 stage, batonChannelRelease* out);
    void getInfo(batonChannelInfo* out) const;
    void getStats(batonChannelStats* out);
    batonError_t exportFds(uint32_t slot, int* memoryFd, int* readyFd, int* releasedFd) const;
    // Waits (bounded) until the GPU is done with what was enqueued; called before destruction.
    void drain();

    // ---- Across processes (channel_share.cpp) ----
    batonError_t send(int socket, int timeoutMs);
    static batonError_t receive(Context* ctx, int socket, int timeoutMs, const batonChannelCreateInfo* expected,
                                Channel** out);
    batonError_t waitForFrame(uint64_t timeoutNs);
    batonError_t waitForSlot(uint64_t timeoutNs);
    void getPeerInfo(batonChannelPeerInfo* out) const;

    Context* const ctx;
    Semaphore* ready = nullptr;     // retained; also a registered handle
    Semaphore* released = nullptr;  // retained; also a registered handle

private:
    enum class Role : uint8_t { Both, Producer, Consumer };
    explicit Channel(Context* c) : Object(ObjectType::Channel), ctx(c) {}
    batonError_t createSharedImages();
    batonError_t createKeyedSlots();
    // Producer: the ops before and after the record of frame k (keyed: the slot's mutex).
    uint32_t producerWaitOps(const Stream* stream, uint64_t k, uint32_t slot, Op* ops, KeyedTurn* turn);
    uint32_t producerSignalOps(uint64_t k, uint32_t slot, Op* ops, const KeyedTurn& turn);
    // Shared producer: whether frame k's slot is back from the consumer (PeerLost/NotReady if not).
    batonError_t slotFree(uint64_t k);
    // Consumer, keyed: takes frame k's slot (key 1) on the host; gives it back (key 0).
    batonError_t takeSlot(uint64_t k);
    void giveSlot(uint64_t k);
    // Shared consumer: the newest complete frame (checked read of ready) in *out.
    batonError_t completeFrames(uint64_t* out);
    batonError_t importShared(const struct ChannelWire& w, const int* fds, bool* taken);
    batonError_t sendAck(int socket, batonError_t result) const;
    batonError_t peerLost(const char* side);
    void recordOwnership(VkCommandBuffer cmd, uint32_t slot, bool acquire, VkPipelineStageFlags2 stage);
    // Telemetry across processes (channel_zones.cpp): the shared producer writes its zones
    // into the page; the consumer turns the new ones into its own telemetry's records.
    void writeProducerZones(const Stream& stream, uint64_t k, uint64_t callNs);
    void writeZone(uint32_t kind, uint32_t lane, uint64_t frame, uint64_t beginNs, uint64_t endNs);
    void readPeerZones();  // under consumerMutex_
    batonError_t createImages(bool exportable);
    batonError_t createConsumerSide();
    // timed: the frame's two producer timestamps are written (only while telemetry records).
    void recordProducer(VkCommandBuffer cmd, uint32_t slot, uint64_t frame, bool timed, batonChannelRecordFn fn,
                        void* user);
    void resolveConsumer();  // under consumerMutex_
    void noteHandoff(uint64_t h);
    void retireForValidation(const Semaphore& sem, uint64_t upTo) const;
    struct Entry;
    void fillFrame(uint64_t k, VkPipelineStageFlags2 waitStage, bool timed, VkSemaphore waitSem, uint64_t waitValue,
                   batonChannelFrame* out) const;
    batonError_t recordAcquire(Entry& e, bool timed, batonChannelFrame* out);  // under consumerMutex_
    void recordAcquireInto(VkCommandBuffer cmd, uint32_t entry, bool timed, const VkImageMemoryBarrier2& b) const;
    VkImageMemoryBarrier2 acquireBarrier(uint64_t k, VkPipelineStageFlags2 waitStage) const;
    batonError_t nextFrame(uint64_t* frame);  // under consumerMutex_
    uint64_t producerEndNs(uint64_t frame);
    bool producerTicks(uint64_t frame, uint64_t ticks[2]);

    static constexpr uint32_t kMaxDepth = 8;
    static constexpr uint32_t kConsumerRing = 32;    // consumer command buffers / frames in flight
    static constexpr uint32_t kProducerQueries = 256;  // producer timestamps, by frame number

    uint32_t depth_ = 3;
    VkFormat format_ = VK_FORMAT_UNDEFINED;
    VkExtent2D extent_{};
    VkImageUsageFlags usage_ = 0;
    batonChannelPolicy policy_ = batonChannelPolicyFifo;
    VkImageLayout consumerLayout_ = VK_IMAGE_LAYOUT_GENERAL;
    uint32_t producerFamily_ = 0, consumerFamily_ = 0;
    bool exportable_ = false;  // families differ: ownership release/acquire barriers
    VkImage images_[kMaxDepth] = {};
    VkDeviceMemory memory_[kMaxDepth] = {};
    int readyFd_ = -1, releasedFd_ = -1;  // kept for batonChannelExportFds
    Role role_ = Role::Both;
    bool keyed_ = false;   // a keyed mutex per slot
    bool shared_ = false;  // the other end is (or will be) another process
    bool sent_ = false;
    std::atomic<bool> lost_{false};  // the peer process died: sticky
    Memory* mems_[kMaxDepth] = {};  // shared: the images as exportable/imported memory
    Semaphore* producerKm_[kMaxDepth] = {};  // keyed: the producer's handle of each slot's mutex
    Semaphore* consumerKm_[kMaxDepth] = {};  // keyed: the consumer's handle
    bool consumerHolds_[kMaxDepth] = {};     // keyed: the consumer holds the slot's mutex (consumerMutex_)
    ChannelPage page_;  // shared only
    uint64_t stallSinceNs_ = 0;   // producer: when produce first found the next slot taken (producerMutex_)
    uint64_t signalZoned_ = 0;    // producer: frames whose GPU signal zone is written (producerMutex_)
    uint64_t zoneCursor_ = 0;     // consumer: peer zones read (consumerMutex_)
    // Consumer: each frame's GPU work in the producer process (its signal zone, host ns), by
    // frame number, for the handoff latency across processes (consumerMutex_).
    struct PeerReady {
        uint64_t frame, beginNs, endNs;
    };
    PeerReady peerReady_[kProducerQueries] = {};
    const PeerReady* peerReady(uint64_t frame) const;  // nullptr: its zone has not come (or was overwritten)
    uint8_t id_[16] = {};

    // Producer side.
    std::mutex producerMutex_;
    uint64_t produced_ = 0;               // under producerMutex_
    std::atomic<uint64_t> published_{0};  // frames whose ready signal is enqueued
    VkQueryPool producerQueries_ = VK_NULL_HANDLE;  // 2 per frame number % kProducerQueries
    bool producerTimed_ = false;  // the producer's family has timestamps
    // The frame whose two timestamps query pair i holds (0: none): frames produced while
    // telemetry was off write none (issue 13), so a reader checks before it reads.
    std::atomic<uint64_t> producerStamped_[kProducerQueries] = {};
    std::atomic<uint32_t> producerLane_{0};  // queue index of the last producing stream (telemetry lanes)

    // Consumer side.
    std::mutex consumerMutex_;
    uint64_t lastAcquired_ = 0, lastReleased_ = 0;
    VkCommandPool consumerPool_ = VK_NULL_HANDLE;
    VkQueryPool consumerQueries_ = VK_NULL_HANDLE;  // 2 per ring entry
    bool consumerTimed_ = false;
    struct Entry {
        enum State : uint8_t { Free, Acquired, Released } state;
        bool timed;
        uint64_t frame;
        uint64_t acquireNs;
        uint64_t waitSeq, consumeSeq, signalSeq;  // telemetry records (0: none)
        VkCommandBuffer acquireCmd, releaseCmd;
        // batonChannelAcquireInConsumerCommands: cmdAcquire records into the consumer's own
        // command buffer (recorded: it did, so the timestamps' queries are reset there).
        bool inConsumer = false, recorded = false;
        VkPipelineStageFlags2 waitStage = 0;
    };
    Entry ring_[kConsumerRing] = {};
    void noteFrame(Telemetry* tel, const Entry& e, const uint64_t consumerTicks[2]);  // under consumerMutex_
    void resolveTimed(const Entry& e, uint32_t i, Telemetry* tel);                    // under consumerMutex_
    uint64_t ringNext_ = 0, ringResolved_ = 0;

    // Statistics.
    std::atomic<uint64_t> consumed_{0}, dropped_{0}, notReady_{0};
    uint64_t consumerStalls_ = 0, consumerStallNs_ = 0;  // under consumerMutex_
    uint64_t handoffs_ = 0, handoffLast_ = 0, handoffTotal_ = 0, handoffMax_ = 0;
};

}  // namespace baton
