#include "producer_lanes.h"

#include <unistd.h>

namespace sandbox {

void ProducerLanes::restart(batonContext_t ctx) {
    // Skip to the newest record, reading forward a batch at a time (setup time, not per frame).
    unsigned n = 0;
    while (batonTelemetryRead(ctx, cursor_, recs_, kBatch, &n) == batonSuccess && n) {
        cursor_ = recs_[n - 1].seq;
        if (n < kBatch) break;
    }
}

void ProducerLanes::pull(batonContext_t ctx, uint64_t animBase, Telemetry& out) {
    const uint32_t self = static_cast<uint32_t>(getpid());
    for (;;) {
        unsigned n = 0;
        if (batonTelemetryRead(ctx, cursor_, recs_, kBatch, &n) != batonSuccess || n == 0) return;
        cursor_ = recs_[n - 1].seq;
        for (unsigned i = 0; i < n; ++i) {
            const batonTelemetryRecord& r = recs_[i];
            if (r.pid == self || !(r.flags & 1) || r.gpuEndNs < r.gpuStartNs) continue;  // ours, or times unknown
            const uint64_t frame = animBase + r.value;
            if (r.kind == batonTelemetryProduce)
                out.addSpan({r.gpuStartNs, r.gpuEndNs, frame, Lane::ProducerHost, SpanKind::Work});
            else if (r.kind == batonTelemetryHostWait)
                out.addSpan({r.gpuStartNs, r.gpuEndNs, frame, Lane::ProducerHost, SpanKind::Stall});
            else if (r.kind == batonTelemetrySignal)
                out.addSpan({r.gpuStartNs, r.gpuEndNs, frame, Lane::ComputeQueue, SpanKind::Work});
        }
        if (n < kBatch) return;
    }
}

}  // namespace sandbox
