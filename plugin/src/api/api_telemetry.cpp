// Telemetry query entry points (the trace capture is in trace.cpp).
#include <cstring>

#include "exec/context.h"
#include "core/error.h"
#include "sync/semaphore.h"
#include "exec/stream.h"
#include "telemetry/telemetry.h"

using namespace baton;

namespace baton {
// Resolves the GPU times of every stream's completed submissions.
void resolveAllStreams(Context* ctx) {
    ctx->forEachStream([](Stream* s, void*) { s->resolveTelemetry(); }, nullptr);
}
}  // namespace baton

extern "C" {

BATON_API batonError_t batonTelemetryEnable(batonContext_t ctx, int enable) {
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    Telemetry* t = ensureTelemetry(c);
    if (t) t->setEnabled(enable != 0);
    c->release();
    return t ? ok() : fail(batonErrorMemoryAllocation, "cannot allocate the telemetry rings");
}

BATON_API batonError_t batonTelemetryRead(batonContext_t ctx, unsigned long long afterSeq,
                                          batonTelemetryRecord* records, unsigned int capacity, unsigned int* count) {
    if (!count || (!records && capacity))
        return fail(batonErrorInvalidValue, "batonTelemetryRead: count is NULL, or records is NULL with a capacity");
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    *count = 0;
    if (Telemetry* t = c->telemetry.load(std::memory_order_acquire)) {
        resolveAllStreams(c);
        *count = t->read(afterSeq, records, capacity);
    }
    c->release();
    return ok();
}

BATON_API batonError_t batonTelemetryGetSemaphoreStats(batonExternalSemaphore_t sem, batonTelemetrySemaphoreStats* stats) {
    if (!stats) return fail(batonErrorInvalidValue, "batonTelemetryGetSemaphoreStats: stats is NULL");
    auto* s = static_cast<Semaphore*>(lookupHandle(sem, ObjectType::Semaphore));
    if (!s) return fail(batonErrorInvalidResourceHandle, "%p is not a live baton semaphore", static_cast<void*>(sem));
    std::memset(stats, 0, sizeof *stats);
    stats->currentValue = s->currentValue();
    stats->pendingValue = s->pendingValue();
    if (Telemetry* t = s->ctx->telemetry.load(std::memory_order_acquire)) {
        resolveAllStreams(s->ctx);
        t->semaphoreStats(reinterpret_cast<uintptr_t>(s), stats);
    }
    s->release();
    return ok();
}

BATON_API batonError_t batonTelemetryGetApiStats(batonContext_t ctx, batonTelemetryApi api, batonTelemetryApiStats* stats) {
    if (!stats || api < 0 || api >= batonTelemetryApiCount)
        return fail(batonErrorInvalidValue, "batonTelemetryGetApiStats: stats is NULL or api %d is unknown", static_cast<int>(api));
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    std::memset(stats, 0, sizeof *stats);
    if (Telemetry* t = c->telemetry.load(std::memory_order_acquire)) t->apiStats(api, stats);
    c->release();
    return ok();
}

}  // extern "C"
