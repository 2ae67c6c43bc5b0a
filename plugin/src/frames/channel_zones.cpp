// Telemetry across processes: a shared channel's producer writes its zones (each frame's
// produce call, the time it waited for a slot, the GPU time of its frame once complete) into
// the control page's ring; the consumer reads the new ones when it acquires and appends them
// to its own telemetry with the producer's pid, so that its batonTelemetryRead, its stats and
// one trace show both processes (the producer's signal of "ready" = k draws a flow arrow to
// the consumer's wait for it). Nothing here allocates or makes a syscall per frame.
#include "core/error.h"
#include "exec/context.h"
#include "exec/stream.h"
#include "frames/channel.h"
#include "sync/semaphore.h"
#include "telemetry/telemetry.h"

namespace baton {
namespace {

// What a zone may span (a longer one is a peer's garbage, not a stall).
constexpr uint64_t kMaxZoneNs = 60'000'000'000ull;

bool zoneKindKnown(uint32_t k) {
    return k == batonTelemetryProduce || k == batonTelemetryHostWait || k == batonTelemetrySignal;
}

}  // namespace

void Channel::writeZone(uint32_t kind, uint32_t lane, uint64_t frame, uint64_t beginNs, uint64_t endNs) {
    ChannelPageLayout& pg = page_.page();
    const uint64_t i = pg.zoneHead.load(std::memory_order_relaxed);  // the producer is its only writer
    ChannelPageLayout::Zone& z = pg.zones[i % ChannelPageLayout::kZones];
    z.seq.store(0, std::memory_order_relaxed);  // being rewritten: a reader that sees 0 skips it
    std::atomic_thread_fence(std::memory_order_release);
    z.kind = kind;
    z.lane = lane;
    z.frame = frame;
    z.beginNs = beginNs;
    z.endNs = endNs;
    z.seq.store(i + 1, std::memory_order_release);
    pg.zoneHead.store(i + 1, std::memory_order_release);
}

// Producer, under producerMutex_, after frame k was enqueued (callNs: when the call began).
void Channel::writeProducerZones(const Stream& stream, uint64_t k, uint64_t callNs) {
    Telemetry* tel = activeTelemetry(ctx);
    if (!tel) return;  // the producer's telemetry decides, as in one process
    const uint32_t lane = (stream.queue->family << 16) | stream.queue->index;
    const uint64_t now = monotonicNs();
    if (stallSinceNs_) writeZone(batonTelemetryHostWait, lane, k, stallSinceNs_, now);
    stallSinceNs_ = 0;
    writeZone(batonTelemetryProduce, lane, k, callNs, now);
    // GPU signals of the frames completed since: their GPU end, on this process's clock.
    if (!producerTimed_) return;
    const uint64_t done = ready->currentValue();
    if (signalZoned_ + kProducerQueries / 2 < done) signalZoned_ = done - kProducerQueries / 2;  // older: overwritten
    for (uint64_t f = signalZoned_ + 1; f <= done && f < k; ++f) {
        uint64_t ticks[2] = {};
        const uint32_t q = 2 * static_cast<uint32_t>(f % kProducerQueries);
        if (producerStamped_[f % kProducerQueries].load(std::memory_order_acquire) != f) {  // produced untimed
            signalZoned_ = f;
            continue;
        }
        if (ctx->vkd.vkGetQueryPoolResults(ctx->device, producerQueries_, q, 2, sizeof ticks, ticks, sizeof ticks[0],
                                           VK_QUERY_RESULT_64_BIT) != VK_SUCCESS)
            break;
        writeZone(batonTelemetrySignal, lane, f, tel->gpuToHost(ticks[0]), tel->gpuToHost(ticks[1]));
        signalZoned_ = f;
    }
}

// Consumer: the producer's new zones become records of this process's telemetry.
void Channel::readPeerZones() {
    Telemetry* tel = activeTelemetry(ctx);
    if (!tel) return;
    const ChannelPageLayout& pg = page_.page();
    const uint64_t head = pg.zoneHead.load(std::memory_order_acquire);
    if (head <= zoneCursor_) return;  // nothing new (or a head moved back by a peer: ignored)
    if (head - zoneCursor_ > ChannelPageLayout::kZones) zoneCursor_ = head - ChannelPageLayout::kZones;  // lost
    batonTelemetryRecord recs[ChannelPageLayout::kZones] = {};
    uint32_t n = 0;
    for (uint64_t i = zoneCursor_; i < head; ++i) {
        const ChannelPageLayout::Zone& z = pg.zones[i % ChannelPageLayout::kZones];
        if (z.seq.load(std::memory_order_acquire) != i + 1) continue;
        batonTelemetryRecord r{};
        r.kind = static_cast<batonTelemetryKind>(z.kind);
        r.lane = z.lane;
        r.value = z.frame;
        r.gpuStartNs = z.beginNs;
        r.gpuEndNs = z.endNs;
        std::atomic_thread_fence(std::memory_order_acquire);
        if (z.seq.load(std::memory_order_relaxed) != i + 1) continue;  // rewritten while read
        // Checked: a kind no producer writes, a zone backwards or longer than a minute, a frame
        // beyond what the page says was produced: the peer's garbage, left out.
        if (!zoneKindKnown(z.kind) || r.gpuEndNs < r.gpuStartNs || r.gpuEndNs - r.gpuStartNs > kMaxZoneNs ||
            !r.value || r.value > pg.produced.load(std::memory_order_relaxed))
            continue;
        // The objects are this process's handles of the same things (ids are per process).
        r.object = r.kind == batonTelemetryProduce ? handleId()
                   : r.kind == batonTelemetrySignal ? ready->handleId()
                                                     : released->handleId();
        r.cpuNs = r.kind == batonTelemetryProduce ? r.gpuStartNs : r.gpuEndNs;
        r.flags = 1;  // times known
        if (r.kind == batonTelemetrySignal)  // the frame's GPU end, for its handoff latency here
            peerReady_[r.value % kProducerQueries] = {r.value, r.gpuStartNs, r.gpuEndNs};
        recs[n++] = r;
    }
    zoneCursor_ = head;
    if (n) tel->appendFromPeer(recs, n, pg.producerPid);
}

}  // namespace baton
