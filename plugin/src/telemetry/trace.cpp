// Trace capture: Chrome trace-event JSON (Perfetto, chrome://tracing) from telemetry records.
//
// Lanes: pid = the recording process, tid = a queue lane (streams' queues, the renderer's
// queue family, the host). Zones ("X") for submissions, waits and consumer frames; flows
// ("s" -> "f", bound to the enclosing zones) from each signal to the waits it released (the
// signal with the smallest value >= the wait's value on the same semaphore); counters ("C")
// for semaphore values.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/entry.h"
#include "core/ref.h"
#include "core/error.h"
#include "exec/context.h"
#include "telemetry/telemetry.h"

namespace baton {
void resolveAllStreams(Context* ctx);
}

using namespace baton;

namespace {

constexpr double kMinZoneUs = 0.1;  // so that instants can carry flow ends

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

uint32_t tidOf(uint32_t lane) { return lane == BATON_TELEMETRY_LANE_HOST ? 1u : lane + 2u; }

void laneName(uint32_t lane, char* out, size_t n) {
    if (lane == BATON_TELEMETRY_LANE_HOST)
        std::snprintf(out, n, "host (baton threads)");
    else if ((lane & 0xFFFF) == 0x8000)
        std::snprintf(out, n, "renderer queue (family %u)", lane >> 16);
    else
        std::snprintf(out, n, "stream queue %u.%u", lane >> 16, lane & 0xFFFF);
}

bool isWait(const batonTelemetryRecord& r) {
    return (r.kind == batonTelemetryWait || r.kind == batonTelemetryHostWait) && (r.flags & 1) && r.gpuEndNs;
}
bool isSignal(const batonTelemetryRecord& r) { return r.kind == batonTelemetrySignal && (r.flags & 1) && r.gpuEndNs; }

void zone(FILE* f, bool& first, const batonTelemetryRecord& r, const char* name, uint64_t start, uint64_t end) {
    double dur = end > start ? us(end - start) : 0.0;
    if (dur < kMinZoneUs) dur = kMinZoneUs;
    std::fprintf(f,
                 "%s\n{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"name\":\"%s\",\"cat\":\"baton\","
                 "\"args\":{\"object\":\"0x%" PRIx64 "\",\"value\":%llu,\"seq\":%llu}}",
                 first ? "" : ",", r.pid, tidOf(r.lane), us(start), dur, name, r.object, r.value, r.seq);
    first = false;
}

// The records from `from` on (the read may throw std::bad_alloc: callers are guarded()).
std::vector<batonTelemetryRecord> collect(Context* ctx, Telemetry* t, uint64_t from) {
    resolveAllStreams(ctx);
    const uint64_t last = t->lastSeq();
    if (from < t->firstSeq()) from = t->firstSeq();
    std::vector<batonTelemetryRecord> recs(last >= from ? last - from + 1 : 0);
    if (!recs.empty()) recs.resize(t->read(from - 1, recs.data(), static_cast<uint32_t>(recs.size())));
    return recs;
}

// Metadata: one process per pid, one thread per queue lane.
void writeLanes(FILE* f, bool& first, const std::vector<batonTelemetryRecord>& recs) {
    std::vector<std::pair<uint32_t, uint32_t>> lanes;  // pid, lane
    for (const auto& r : recs)
        if (std::find(lanes.begin(), lanes.end(), std::make_pair(r.pid, r.lane)) == lanes.end())
            lanes.emplace_back(r.pid, r.lane);
    std::vector<uint32_t> pids;
    for (const auto& l : lanes)
        if (std::find(pids.begin(), pids.end(), l.first) == pids.end()) pids.push_back(l.first);
    for (uint32_t pid : pids) {
        std::fprintf(f, "%s\n{\"ph\":\"M\",\"pid\":%u,\"name\":\"process_name\",\"args\":{\"name\":\"baton pid %u\"}}",
                     first ? "" : ",", pid, pid);
        first = false;
    }
    for (const auto& l : lanes) {
        char name[96];
        laneName(l.second, name, sizeof name);
        std::fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"name\":\"thread_name\",\"args\":{\"name\":\"%s\"}}",
                     l.first, tidOf(l.second), name);
    }
}

void counter(FILE* f, const batonTelemetryRecord& r, const char* suffix) {
    std::fprintf(f, ",\n{\"ph\":\"C\",\"pid\":%u,\"ts\":%.3f,\"name\":\"semaphore 0x%" PRIx64 "%s\",\"args\":{\"value\":%llu}}",
                 r.pid, us(r.gpuEndNs), r.object, suffix, r.value);
}

// One record's zone, instant or counter.
void writeRecord(FILE* f, bool& first, const batonTelemetryRecord& r) {
    char name[128];
    switch (r.kind) {
        case batonTelemetrySubmit:
            if (r.flags & 1 && r.gpuEndNs) zone(f, first, r, "GPU work", r.gpuStartNs, r.gpuEndNs);
            break;
        case batonTelemetryWait:
        case batonTelemetryHostWait:
            if (!isWait(r)) break;
            std::snprintf(name, sizeof name, "%s 0x%" PRIx64 " >= %llu",
                          r.kind == batonTelemetryWait ? "wait" : "host wait", r.object, r.value);
            zone(f, first, r, name, r.gpuStartNs, r.gpuEndNs);
            break;
        case batonTelemetrySignal:
            if (!isSignal(r)) break;
            std::snprintf(name, sizeof name, "signal 0x%" PRIx64 " = %llu", r.object, r.value);
            zone(f, first, r, name, r.gpuEndNs, r.gpuEndNs);
            counter(f, r, "");
            break;
        case batonTelemetryPublish:
            counter(f, r, " (published)");
            break;
        case batonTelemetryConsume:
            if (!(r.flags & 1) || !r.gpuEndNs) break;
            std::snprintf(name, sizeof name, "consume frame %llu", r.value);
            zone(f, first, r, name, r.gpuStartNs, r.gpuEndNs);
            break;
        case batonTelemetryProduce:
        case batonTelemetryDrop:
            std::fprintf(f, "%s\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"name\":\"%s frame %llu\"}",
                         first ? "" : ",", r.pid, tidOf(r.lane), us(r.cpuNs),
                         r.kind == batonTelemetryProduce ? "produce" : "drop", r.value);
            first = false;
            break;
    }
}

bool signalBefore(const batonTelemetryRecord* a, const batonTelemetryRecord* b) {
    return a->object != b->object ? a->object < b->object : a->value < b->value;
}

// Flows: each wait from the signal that released it.
void writeFlows(FILE* f, const std::vector<batonTelemetryRecord>& recs) {
    std::vector<const batonTelemetryRecord*> signals;
    for (const auto& r : recs)
        if (isSignal(r)) signals.push_back(&r);
    std::sort(signals.begin(), signals.end(), signalBefore);
    uint64_t flowId = 0;
    for (const auto& w : recs) {
        if (!isWait(w)) continue;
        auto it = std::lower_bound(signals.begin(), signals.end(), &w, signalBefore);
        if (it == signals.end() || (*it)->object != w.object) continue;
        const batonTelemetryRecord& s = **it;
        double waitEnd = us(w.gpuEndNs), waitStart = us(w.gpuStartNs);
        double fts = waitEnd - kMinZoneUs / 2 > waitStart ? waitEnd - kMinZoneUs / 2 : waitStart;
        ++flowId;
        std::fprintf(f, ",\n{\"ph\":\"s\",\"id\":%llu,\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"name\":\"signal->wait\","
                        "\"cat\":\"handoff\"}",
                     static_cast<unsigned long long>(flowId), s.pid, tidOf(s.lane), us(s.gpuEndNs) + kMinZoneUs / 2);
        std::fprintf(f, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"id\":%llu,\"pid\":%u,\"tid\":%u,\"ts\":%.3f,"
                        "\"name\":\"signal->wait\",\"cat\":\"handoff\"}",
                     static_cast<unsigned long long>(flowId), w.pid, tidOf(w.lane), fts);
    }
}

// Frames: an async slice per channel frame (produce start -> present; frames overlap, so
// they are not zones of one lane) carrying its journey, and a counter of the handoff latency.
std::vector<batonTelemetryFrame> collectFrames(Telemetry* t, uint64_t fromSeq) {
    const uint64_t last = t->lastFrameSeq();
    std::vector<batonTelemetryFrame> frames(last >= fromSeq ? last - fromSeq + 1 : 0);
    if (!frames.empty())
        frames.resize(t->readFrames(fromSeq ? fromSeq - 1 : 0, frames.data(), static_cast<uint32_t>(frames.size())));
    return frames;
}

void writeFrames(FILE* f, const std::vector<batonTelemetryFrame>& frames) {
    for (const batonTelemetryFrame& fr : frames) {
        if (!(fr.flags & BATON_TELEMETRY_FRAME_TIMED)) continue;
        const uint32_t tid = tidOf(fr.consumerLane);
        std::fprintf(f, ",\n{\"ph\":\"b\",\"cat\":\"frame\",\"id\":\"0x%" PRIx64 ".%llu\",\"pid\":%u,\"tid\":%u,"
                        "\"ts\":%.3f,\"name\":\"frame %llu\",\"args\":{\"frame\":%llu,\"handoff_us\":%.3f,"
                        "\"produce_to_present_us\":%.3f,\"stall_us\":%.3f,\"produce_cpu_us\":%.3f,\"acquire_cpu_us\":%.3f,"
                        "\"ready_us\":%.3f,\"consume_start_us\":%.3f,\"ready_semaphore\":\"0x%" PRIx64 "\"}}",
                     fr.channel, fr.frame, fr.consumerPid, tid, us(fr.produceStartNs), fr.frame, fr.frame, us(fr.handoffNs),
                     us(fr.frameNs), us(fr.stallNs), us(fr.produceCpuNs), us(fr.acquireCpuNs), us(fr.readyNs),
                     us(fr.consumeStartNs), fr.ready);
        std::fprintf(f, ",\n{\"ph\":\"e\",\"cat\":\"frame\",\"id\":\"0x%" PRIx64 ".%llu\",\"pid\":%u,\"tid\":%u,"
                        "\"ts\":%.3f,\"name\":\"frame %llu\"}",
                     fr.channel, fr.frame, fr.consumerPid, tid, us(fr.consumeEndNs), fr.frame);
        std::fprintf(f, ",\n{\"ph\":\"C\",\"pid\":%u,\"ts\":%.3f,\"name\":\"handoff latency (us)\","
                        "\"args\":{\"handoff\":%.3f}}",
                     fr.consumerPid, us(fr.consumeStartNs), us(fr.handoffNs));
    }
}

struct FileCloser {
    void operator()(FILE* f) const { std::fclose(f); }
};

batonError_t writeTrace(Context* ctx, Telemetry* t, const char* path, uint64_t from, uint64_t fromFrame) {
    const std::vector<batonTelemetryRecord> recs = collect(ctx, t, from);
    const std::vector<batonTelemetryFrame> frames = collectFrames(t, fromFrame);
    std::unique_ptr<FILE, FileCloser> file(std::fopen(path, "w"));  // closed on every path, a throw included
    if (!file) return fail(batonErrorOperatingSystem, "cannot write the trace to %s: %s", path, std::strerror(errno));
    FILE* f = file.get();
    std::fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    bool first = true;
    writeLanes(f, first, recs);
    for (const auto& r : recs) writeRecord(f, first, r);
    writeFlows(f, recs);
    writeFrames(f, frames);
    std::fprintf(f, "\n]}\n");
    const bool good = std::fflush(f) == 0 && !std::ferror(f);
    const bool closed = std::fclose(file.release()) == 0;
    if (!good || !closed) return fail(batonErrorOperatingSystem, "writing the trace to %s failed", path);
    return batonSuccess;
}

}  // namespace

extern "C" {

static batonError_t traceStart(batonContext_t ctx, const char* path) {
    if (!path || !*path) return fail(batonErrorInvalidValue, "batonTraceStart: path is NULL or empty");
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    Telemetry* t = ensureTelemetry(c);  // throws std::bad_alloc: guarded() reports it
    {
        std::lock_guard lock(t->traceMutex);
        if (t->tracing) {
            e = fail(batonErrorIllegalState, "a capture is already running (to %s)", t->tracePath.c_str());
        } else {
            t->tracePath = path;  // may throw: before anything changes
            t->tracing = true;
            t->traceFrom = t->lastSeq() + 1;
            t->traceFromFrame = t->lastFrameSeq() + 1;
            t->setEnabled(true);
        }
    }
    c->release();
    return e == batonSuccess ? ok() : e;
}

static batonError_t traceStop(batonContext_t ctx) {
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    Telemetry* t = c->telemetry.load(std::memory_order_acquire);
    if (!t) {
        c->release();
        return fail(batonErrorIllegalState, "no capture is running");
    }
    {
        std::lock_guard lock(t->traceMutex);
        if (!t->tracing)
            e = fail(batonErrorIllegalState, "no capture is running");
        else {
            t->tracing = false;
            e = writeTrace(c, t, t->tracePath.c_str(), t->traceFrom, t->traceFromFrame);
        }
    }
    c->release();
    return e == batonSuccess ? ok() : e;
}

static batonError_t traceWrite(batonContext_t ctx, const char* path) {
    if (!path || !*path) return fail(batonErrorInvalidValue, "batonTraceWrite: path is NULL or empty");
    Context* c = nullptr;
    batonError_t e = resolveContext(ctx, &c);
    if (e != batonSuccess) return e;
    ScopedRef<Context> hold(c);
    Telemetry* t = c->telemetry.load(std::memory_order_acquire);
    if (!t) return fail(batonErrorIllegalState, "batonTraceWrite: telemetry was never on for this context");
    e = writeTrace(c, t, path, 1, 1);  // everything the rings still hold
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonTraceWrite(batonContext_t ctx, const char* path) {
    return guarded("batonTraceWrite", [&] { return traceWrite(ctx, path); });
}

BATON_API batonError_t batonTraceStart(batonContext_t ctx, const char* path) {
    return guarded("batonTraceStart", [&] { return traceStart(ctx, path); });
}

BATON_API batonError_t batonTraceStop(batonContext_t ctx) {
    return guarded("batonTraceStop", [&] { return traceStop(ctx); });
}

}  // extern "C"
