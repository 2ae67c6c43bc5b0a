// The JSON report of a run: what ran, frames, stalls, semaphore values over time, timings.
// tests/test_sandbox.cpp reads it; so can any script.
#pragma once

#include <string>

#include "settings.h"
#include "telemetry.h"

namespace sandbox {

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
    uint64_t ringRebuilds = 0;
    unsigned validationErrors = 0, validationWarnings = 0, validationSuppressed = 0;
    std::string pngPath, tracePath;
};

bool writeReport(const std::string& path, const RunSummary& run, const Telemetry& telemetry);

}  // namespace sandbox
