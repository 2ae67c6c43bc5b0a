// Telemetry query entry points (the trace capture is in trace.cpp). Every entry point runs
// through guarded() (core/entry.h).
#include <cstring>

#include "api/c_enum.h"
#include "core/entry.h"
#include "core/error.h"
#include "exec/context.h"
#include "exec/stream.h"
#include "sync/semaphore.h"
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
    return guarded("batonTelemetryEnable", [&] {
        Context* c = nullptr;
        batonError_t e = resolveContext(ctx, &c);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(c);
        ensureTelemetry(c)->setEnabled(enable != 0);  // std::bad_alloc goes to guarded()
        return ok();
    });
}

BATON_API batonError_t batonTelemetryRead(batonContext_t ctx, unsigned long long afterSeq,
                                          batonTelemetryRecord* records, unsigned int capacity, unsigned int* count) {
    return guarded("batonTelemetryRead", [&] {
        if (!count || (!records && capacity))
            return fail(batonErrorInvalidValue, "batonTelemetryRead: count is NULL, or records is NULL with a capacity");
        Context* c = nullptr;
        batonError_t e = resolveContext(ctx, &c);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(c);
        *count = 0;
        if (Telemetry* t = c->telemetry.load(std::memory_order_acquire)) {
            resolveAllStreams(c);
            *count = t->read(afterSeq, records, capacity);
        }
        return ok();
    });
}

BATON_API batonError_t batonTelemetryReadFrames(batonContext_t ctx, unsigned long long afterSeq,
                                                batonTelemetryFrame* frames, unsigned int capacity, unsigned int* count) {
    return guarded("batonTelemetryReadFrames", [&] {
        if (!count || (!frames && capacity))
            return fail(batonErrorInvalidValue, "batonTelemetryReadFrames: count is NULL, or frames is NULL with a capacity");
        Context* c = nullptr;
        batonError_t e = resolveContext(ctx, &c);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(c);
        *count = 0;
        if (Telemetry* t = c->telemetry.load(std::memory_order_acquire)) *count = t->readFrames(afterSeq, frames, capacity);
        return ok();
    });
}

BATON_API batonError_t batonTelemetryGetSemaphoreStats(batonExternalSemaphore_t sem, batonTelemetrySemaphoreStats* stats) {
    return guarded("batonTelemetryGetSemaphoreStats", [&] {
        if (!stats) return fail(batonErrorInvalidValue, "batonTelemetryGetSemaphoreStats: stats is NULL");
        Semaphore* s = nullptr;
        batonError_t e = resolveObject(sem, ObjectType::Semaphore, "semaphore", &s);
        if (e != batonSuccess) return e;
        ScopedRef<Semaphore> hold(s);
        std::memset(stats, 0, sizeof *stats);
        stats->currentValue = s->currentValue();
        stats->pendingValue = s->pendingValue();
        if (Telemetry* t = s->ctx->telemetry.load(std::memory_order_acquire)) {
            resolveAllStreams(s->ctx);
            t->semaphoreStats(s->handleId(), stats);
        }
        return ok();
    });
}

BATON_API batonError_t batonTelemetryGetApiStats(batonContext_t ctx, batonTelemetryApi api, batonTelemetryApiStats* stats) {
    return guarded("batonTelemetryGetApiStats", [&] {
        // A C caller's enum is read as an int (c_enum.h): comparing the enum itself would load
        // an out-of-range value as the enum, which is undefined (defect 16).
        const int which = rawEnum(api);
        if (!stats || which < 0 || which >= batonTelemetryApiCount)
            return fail(batonErrorInvalidValue, "batonTelemetryGetApiStats: stats is NULL or api %d is unknown", which);
        Context* c = nullptr;
        batonError_t e = resolveContext(ctx, &c);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(c);
        std::memset(stats, 0, sizeof *stats);
        if (Telemetry* t = c->telemetry.load(std::memory_order_acquire))
            t->apiStats(static_cast<batonTelemetryApi>(which), stats);
        return ok();
    });
}

}  // extern "C"
