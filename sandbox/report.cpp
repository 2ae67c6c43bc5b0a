#include "report.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include <baton/baton_telemetry.h>

namespace sandbox {
namespace {

void stats(FILE* f, const char* name, const StallStats& s) {
    std::fprintf(f,
                 "  \"%s\": {\"count\": %llu, \"nonzero\": %llu, \"total\": %.3f, \"mean\": %.4f, \"p50\": %.4f, "
                 "\"p95\": %.4f, \"max\": %.4f},\n",
                 name, static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(s.nonZero), s.sumMs,
                 s.count ? s.sumMs / static_cast<double>(s.count) : 0.0, s.percentile(0.5), s.percentile(0.95), s.maxMs);
}

std::string escaped(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) o += c;
    }
    return o;
}

}  // namespace

HandoffLatency summarizeHandoffs(batonContext_t ctx) {
    HandoffLatency out;
    std::vector<batonTelemetryFrame> frames(4096);
    unsigned n = 0;
    if (batonTelemetryReadFrames(ctx, 0, frames.data(), static_cast<unsigned>(frames.size()), &n) != batonSuccess) return out;
    std::vector<double> lat, whole;
    for (unsigned i = 0; i < n; ++i) {
        if (!(frames[i].flags & BATON_TELEMETRY_FRAME_TIMED)) continue;
        lat.push_back(static_cast<double>(frames[i].handoffNs) * 1e-3);
        whole.push_back(static_cast<double>(frames[i].frameNs) * 1e-3);
    }
    out.frames = n;
    out.timed = lat.size();
    if (lat.empty()) return out;
    auto pct = [](std::vector<double>& v, double p) {
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
    };
    for (double v : lat) {
        out.meanUs += v / static_cast<double>(lat.size());
        out.maxUs = std::max(out.maxUs, v);
    }
    out.p50Us = pct(lat, 0.5);
    out.p99Us = pct(lat, 0.99);
    out.frameP50Us = pct(whole, 0.5);
    out.frameP99Us = pct(whole, 0.99);
    return out;
}

bool writeReport(const std::string& path, const RunSummary& run, const Telemetry& t) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    const Settings& s = run.settings;
    std::vector<float> ft;
    t.frameTimes(ft);
    StallStats frameStats;
    for (float v : ft) frameStats.add(v);
    const uint64_t presented = t.presented.load(), produced = t.produced.load();
    std::fprintf(f, "{\n  \"mode\": \"%s\",\n  \"device\": \"%s\",\n  \"queue_shared\": %s,\n  \"native_available\": %s,\n",
                 run.mode.c_str(), escaped(run.device).c_str(), run.queueShared ? "true" : "false",
                 run.nativeAvailable ? "true" : "false");
    std::fprintf(f,
                 "  \"settings\": {\"backend\": \"%s\", \"pick\": \"%s\", \"vsync\": %s, \"ring_depth\": %d, "
                 "\"cost_ms\": %.3f, \"delay_ms\": %.3f, \"jitter_ms\": %.3f, \"producer\": \"%s\"},\n",
                 backendName(s.backend), pickName(s.pick), s.vsync ? "true" : "false", s.ringDepth, s.costMs, s.delayMs,
                 s.jitterMs, producerName(s.producer));
    std::fprintf(f, "  \"width\": %u,\n  \"height\": %u,\n  \"duration_s\": %.4f,\n", run.width, run.height, run.durationS);
    std::fprintf(f,
                 "  \"frames\": %llu,\n  \"fresh\": %llu,\n  \"repeats\": %llu,\n  \"drops\": %llu,\n"
                 "  \"wait_timeouts\": %llu,\n  \"enqueued\": %llu,\n  \"produced\": %llu,\n"
                 "  \"swapchain_rebuilds\": %llu,\n  \"ring_rebuilds\": %llu,\n",
                 static_cast<unsigned long long>(presented), static_cast<unsigned long long>(t.fresh.load()),
                 static_cast<unsigned long long>(t.repeats.load()), static_cast<unsigned long long>(t.drops.load()),
                 static_cast<unsigned long long>(t.waitTimeouts.load()), static_cast<unsigned long long>(t.enqueued.load()),
                 static_cast<unsigned long long>(produced), static_cast<unsigned long long>(t.swapchainRebuilds.load()),
                 static_cast<unsigned long long>(run.ringRebuilds));
    const double dur = run.durationS > 0 ? run.durationS : 1;
    std::fprintf(f, "  \"fps\": %.3f,\n  \"fresh_fps\": %.3f,\n", static_cast<double>(presented) / dur,
                 static_cast<double>(t.fresh.load()) / dur);
    stats(f, "frame_time_ms", frameStats);
    stats(f, "producer_stall_ms", t.producerStalls());
    stats(f, "consumer_stall_ms", t.consumerStalls());
    std::fprintf(f, "  \"producer_gpu_ms\": %.4f,\n  \"producer_cost_ms\": %.4f,\n  \"graphics_gpu_ms\": %.4f,\n",
                 t.producerGpuMs.load(), t.producerCostMs.load(), t.graphicsGpuMs.load());
    std::fprintf(f, "  \"displayed\": {\"sequence\": %llu, \"anim_frame\": %llu},\n",
                 static_cast<unsigned long long>(run.displayedSequence),
                 static_cast<unsigned long long>(run.displayedAnimFrame));
    std::fprintf(f, "  \"panel_rect\": [%.1f, %.1f, %.1f, %.1f],\n", run.panelRect[0], run.panelRect[1],
                 run.panelRect[2], run.panelRect[3]);
    std::fprintf(f, "  \"controls_rect\": [%.1f, %.1f, %.1f, %.1f],\n", run.controlsRect[0], run.controlsRect[1],
                 run.controlsRect[2], run.controlsRect[3]);
    std::fprintf(f, "  \"inspector_rect\": [%.1f, %.1f, %.1f, %.1f],\n  \"inspected_frame\": %llu,\n",
                 run.inspectorRect[0], run.inspectorRect[1], run.inspectorRect[2], run.inspectorRect[3], run.inspectedFrame);
    std::fprintf(f, "  \"view\": {\"zoom\": %.4f, \"center\": [%.4f, %.4f]},\n", run.viewZoom, run.viewCenter[0],
                 run.viewCenter[1]);
    std::fprintf(f, "  \"panel_cpu_us_per_frame\": %.2f,\n  \"profiler_cpu_us_per_frame\": %.2f,\n", run.panelCpuUs,
                 run.profilerCpuUs);
    std::fprintf(f, "  \"validation_errors\": %u,\n  \"validation_warnings\": %u,\n  \"validation_known_false_positives\": %u,\n",
                 run.validationErrors, run.validationWarnings, run.validationSuppressed);
    const ProducerProcessSummary& pp = run.producerProcess;
    std::fprintf(f, "  \"producer\": \"%s\",\n", producerName(run.producerWhere));
    std::fprintf(f,
                 "  \"producer_process\": {\"pid\": %d, \"started\": %llu, \"exits\": %llu, \"exit\": \"%s\", "
                 "\"exit_pid\": %d, \"last_stop\": \"%s\", "
                 "\"at_frame\": %llu, \"seen_at_frame\": %llu, \"ready_at_exit\": %llu, \"displayed_at_exit\": %llu, "
                 "\"fresh_after_exit\": %llu, \"validation_errors\": %u, \"fds_before_first_ring\": %d, "
                 "\"fds_after_last_teardown\": %d, \"fds_after_start\": [",
                 pp.pid, static_cast<unsigned long long>(pp.started), static_cast<unsigned long long>(pp.exits),
                 escaped(pp.exit).c_str(), pp.exitPid, escaped(pp.lastStop).c_str(),
                 static_cast<unsigned long long>(pp.killedAtFrame),
                 static_cast<unsigned long long>(pp.exitFrame), static_cast<unsigned long long>(pp.readyAtExit),
                 static_cast<unsigned long long>(pp.displayedAtExit), static_cast<unsigned long long>(pp.freshAfterExit),
                 pp.childValidationErrors, pp.fdsBeforeFirstRing, pp.fdsAfterLastTeardown);
    for (size_t i = 0; i < pp.fdsAfterBuild.size(); ++i) std::fprintf(f, "%s%d", i ? ", " : "", pp.fdsAfterBuild[i]);
    std::fprintf(f, "]},\n");
    const HandoffLatency& h = run.handoff;
    std::fprintf(f,
                 "  \"handoff_latency_us\": {\"frames\": %llu, \"timed\": %llu, \"p50\": %.3f, \"p99\": %.3f, "
                 "\"mean\": %.3f, \"max\": %.3f, \"produce_to_present_p50\": %.3f, \"produce_to_present_p99\": %.3f},\n",
                 static_cast<unsigned long long>(h.frames), static_cast<unsigned long long>(h.timed), h.p50Us, h.p99Us,
                 h.meanUs, h.maxUs, h.frameP50Us, h.frameP99Us);
    std::fprintf(f, "  \"ended_by\": \"%s\",\n", run.endedBy.c_str());
    std::fprintf(f, "  \"png\": \"%s\",\n  \"trace\": \"%s\",\n", escaped(run.pngPath).c_str(),
                 escaped(run.tracePath).c_str());
    // Semaphore values over time: [ms since start, ready current, ready pending, released
    // current, released pending], one row per renderer frame (the most recent 8192).
    std::vector<ValueSample> values;
    t.values(values);
    std::fprintf(f, "  \"values_columns\": [\"t_ms\", \"ready_current\", \"ready_pending\", \"released_current\", "
                    "\"released_pending\"],\n  \"values\": [");
    const uint64_t t0 = t.startNs.load();
    for (size_t i = 0; i < values.size(); ++i) {
        const ValueSample& v = values[i];
        std::fprintf(f, "%s\n    [%.3f, %llu, %llu, %llu, %llu]", i ? "," : "",
                     static_cast<double>(v.t - std::min(v.t, t0)) * 1e-6, static_cast<unsigned long long>(v.readyCurrent),
                     static_cast<unsigned long long>(v.readyPending), static_cast<unsigned long long>(v.releasedCurrent),
                     static_cast<unsigned long long>(v.releasedPending));
    }
    std::fprintf(f, "\n  ]\n}\n");
    return std::fclose(f) == 0;
}

}  // namespace sandbox
