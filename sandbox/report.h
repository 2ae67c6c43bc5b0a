// The JSON report of a run: what ran, frames, stalls, semaphore values over time, timings.
// tests/test_sandbox.cpp reads it; so can any script.
#pragma once

#include <string>
#include <vector>

#include <baton/baton.h>

#include "settings.h"
#include "telemetry.h"

namespace sandbox {

// The producer process (--producer process) over the run, for the report and the panel.
struct ProducerProcessSummary {
    int pid = -1;                 // the last one started
    uint64_t started = 0, exits = 0;
    std::string exit;             // how the last one that died during the run ended ("killed by signal 9"), or ""
    int exitPid = -1;             // ... and its pid
    std::string lastStop;         // how the one stopped at the end (or at a rebuild) exited
    uint64_t killedAtFrame = 0;   // renderer frame of the last kill from the sandbox (0: none)
    uint64_t exitFrame = 0;       // renderer frame at which the last exit was seen
    uint64_t readyAtExit = 0;     // "ready" when it was seen dead: no sequence above it was shown
    uint64_t displayedAtExit = 0; // the sequence on screen then
    uint64_t freshAfterExit = 0;  // fresh frames shown after an exit (from what had completed)
    unsigned childValidationErrors = 0;
    int fdsBeforeFirstRing = -1, fdsAfterLastTeardown = -1;  // this process's open fds
    std::vector<int> fdsAfterBuild;  // after each producer process was started
};

// The handoff latency of the run's channel frames, from baton's telemetry frame ring
// (batonTelemetryReadFrames): producer's ready signal -> consumer's first command, and
// produce start -> present. Percentiles over the last frames the ring holds.
struct HandoffLatency {
    uint64_t frames = 0, timed = 0;
    double p50Us = 0, p99Us = 0, meanUs = 0, maxUs = 0;
    double frameP50Us = 0, frameP99Us = 0;  // produce start -> present
};
HandoffLatency summarizeHandoffs(batonContext_t ctx);

struct RunSummary {
    std::string mode;            // "headless" or "window"
    std::string device;
    bool queueShared = false;
    bool nativeAvailable = false;  // the device exports semaphore fds
    Settings settings;           // the controls at the end of the run
    uint32_t width = 0, height = 0;  // what was rendered last
    double durationS = 0;
    uint64_t displayedSequence = 0, displayedAnimFrame = 0;  // the frame in the last image
    float panelRect[4] = {};     // x, y, w, h of the panel window in the last image
    float controlsRect[4] = {};  // x, y, w, h of the controls window
    float inspectorRect[4] = {}; // x, y, w, h of the frame inspector (0: closed)
    double panelCpuUs = 0;       // CPU time of the panel (baton's profiler included) per frame, mean
    double profilerCpuUs = 0;    // of which baton::imgui's update + draw
    unsigned long long inspectedFrame = 0;  // the inspector's selected frame at the end
    double viewZoom = 1, viewCenter[2] = {0.5, 0.5};  // the mouse's view of the fractal at the end
    uint64_t ringRebuilds = 0;
    unsigned validationErrors = 0, validationWarnings = 0, validationSuppressed = 0;
    std::string pngPath, tracePath;
    ProducerWhere producerWhere = ProducerWhere::Thread;  // at the end of the run
    ProducerProcessSummary producerProcess;
    HandoffLatency handoff;
    std::string endedBy;         // "frames", "closed" (window), "SIGTERM", "SIGINT"
};

bool writeReport(const std::string& path, const RunSummary& run, const Telemetry& telemetry);

}  // namespace sandbox
