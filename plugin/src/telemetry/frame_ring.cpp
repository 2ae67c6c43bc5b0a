// Telemetry's frame ring: one batonTelemetryFrame per channel frame the consumer's queue has
// passed, with the handoff latency (producer's last command -> consumer's first) and produce
// start -> present, from the channel's GPU timestamps. Sized when telemetry is made: noting a
// frame allocates nothing.
#include <cstring>
#include <unistd.h>

#include "telemetry/telemetry.h"

namespace baton {

namespace {
uint64_t slotOf(uint64_t channel, uint64_t frame, uint32_t slots) {
    return ((channel >> 4) * 0x9E3779B97F4A7C15ull + frame) % slots;
}
}  // namespace

// Under mutex_: the producer's enqueue time of a frame, kept until its frame resolves. The
// table is small because a frame resolves within the consumer's ring of frames in flight;
// an overwritten slot only costs that frame its produceCpuNs (0).
void Telemetry::rememberProduceLocked(const batonTelemetryRecord& r) {
    produces_[slotOf(r.object, r.value, kProduceSlots)] = {r.object, r.value, r.cpuNs};
}

uint64_t Telemetry::produceCpuLocked(uint64_t channel, uint64_t frame) const {
    const ProduceSlot& p = produces_[slotOf(channel, frame, kProduceSlots)];
    return p.channel == channel && p.frame == frame ? p.cpuNs : 0;
}

void Telemetry::noteFrame(const FrameTicks& f) {
    batonTelemetryFrame out{};
    out.channel = f.channel;
    out.frame = f.frame;
    out.ready = f.ready;
    out.released = f.released;
    out.producerLane = f.producerLane;
    out.consumerLane = f.consumerLane;
    out.producerPid = f.producerPid ? f.producerPid : pid_;
    out.consumerPid = pid_;
    out.acquireCpuNs = f.acquireCpuNs;
    out.produceStartNs = f.produceStart ? gpuToHost(f.produceStart) : 0;
    out.readyNs = f.produceEnd ? gpuToHost(f.produceEnd) : 0;
    out.consumeStartNs = f.consumeStart ? gpuToHost(f.consumeStart) : 0;
    out.consumeEndNs = f.consumeEnd ? gpuToHost(f.consumeEnd) : 0;
    // Differences of one device's ticks: exact, whatever the host calibration does.
    auto span = [this](uint64_t from, uint64_t to) -> uint64_t {
        return from && to >= from ? static_cast<uint64_t>(static_cast<double>(to - from) * periodNs_) : 0;
    };
    if (f.produceEnd && f.consumeStart >= f.produceEnd && f.produceStart && f.consumeEnd >= f.produceStart) {
        out.handoffNs = span(f.produceEnd, f.consumeStart);
        out.frameNs = span(f.produceStart, f.consumeEnd);
        out.flags |= BATON_TELEMETRY_FRAME_TIMED;
    } else if (f.produceEndHostNs && out.consumeStartNs >= f.produceEndHostNs && f.produceStartHostNs &&
               out.consumeEndNs >= f.produceStartHostNs) {
        // Across processes: both calibrated to the host clock (each process its own).
        out.produceStartNs = f.produceStartHostNs;
        out.readyNs = f.produceEndHostNs;
        out.handoffNs = out.consumeStartNs - out.readyNs;
        out.frameNs = out.consumeEndNs - out.produceStartNs;
        out.flags |= BATON_TELEMETRY_FRAME_TIMED;
    }
    if ((out.flags & BATON_TELEMETRY_FRAME_TIMED) && f.inConsumerCommands)
        out.flags |= BATON_TELEMETRY_FRAME_IN_CONSUMER_COMMANDS;
    // The consumer's queue could run its work from the acquire on; it waited if the frame
    // was ready only later.
    if (out.readyNs > f.acquireCpuNs && f.acquireCpuNs) out.stallNs = out.readyNs - f.acquireCpuNs;
    std::lock_guard lock(mutex_);
    out.produceCpuNs = produceCpuLocked(f.channel, f.frame);
    out.seq = nextFrame_++;
    frames_[out.seq % kFrameRing] = out;
}

uint32_t Telemetry::readFrames(uint64_t after, batonTelemetryFrame* out, uint32_t capacity) {
    std::lock_guard lock(mutex_);
    uint64_t from = after + 1;
    if (nextFrame_ > kFrameRing && from < nextFrame_ - kFrameRing) from = nextFrame_ - kFrameRing;
    uint32_t n = 0;
    for (uint64_t seq = from; seq < nextFrame_ && n < capacity; ++seq) out[n++] = frames_[seq % kFrameRing];
    return n;
}

uint64_t Telemetry::lastFrameSeq() {
    std::lock_guard lock(mutex_);
    return nextFrame_ - 1;
}

}  // namespace baton
