// Records another process made, in this process's telemetry: a shared frame channel's
// consumer feeds its producer's zones (channel_page.h: produce, slot waits, GPU signals)
// here, so that one batonTelemetryRead and one trace show both processes. The records are
// counted as any others; only their pid stays the producer's (its process lane in the trace).
#include "telemetry/telemetry.h"

namespace baton {

uint64_t Telemetry::appendFromPeer(batonTelemetryRecord* recs, uint32_t n, uint32_t pid) {
    const uint64_t first = append(recs, n);
    std::lock_guard lock(mutex_);
    for (uint32_t i = 0; i < n; ++i) {
        batonTelemetryRecord& r = ring_[(first + i) % kRing];
        if (r.seq == first + i) r.pid = pid;  // (not yet overwritten by newer records)
    }
    return first;
}

}  // namespace baton
