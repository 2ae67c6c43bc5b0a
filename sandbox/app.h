// The run loop shared by the window and headless executables: attach baton to the
// renderer's device, build the handoff, start the producer, then per frame pick a frame,
// draw it with the panel, submit, and account for stalls. Returns the process exit code
// (0 ok, 3 validation errors, 2 fatal).
#pragma once

#include "gpu.h"
#include "options.h"
#include "platform.h"

namespace sandbox {

// SIGINT and SIGTERM end the run like closing the window (the trace, the report and the
// settings are written); installed first thing in main(), so that a signal during start-up
// ends the run the same way.
void installStopHandlers();

int runApp(Gpu& gpu, Platform& platform, Options& options);

// Creates the directory of path's parent (mkdir -p). False on failure.
bool makeParentDirs(const std::string& path);

}  // namespace sandbox
