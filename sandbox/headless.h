// A headless run: the same renderer into offscreen images, N frames, then a PNG of exactly
// what the window would show and a JSON report. Needs no display and no X/GLFW libraries.
#pragma once

#include "options.h"

namespace sandbox {

// Fills in the headless defaults (300 frames, ./sandbox-out/sandbox.png + report), runs.
int runHeadless(Options& options);

// Whether this process can open a window (DISPLAY or WAYLAND_DISPLAY set).
bool haveDisplay();

}  // namespace sandbox
