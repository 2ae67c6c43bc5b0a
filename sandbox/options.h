// Command line of both sandbox executables.
#pragma once

#include <string>

#include "settings.h"

namespace sandbox {

struct Options {
    bool headless = false;
    bool help = false;
    bool preferCpu = false;        // --cpu: lavapipe even where a GPU exists
    bool useSettingsFile = true;   // window mode only; --no-settings turns it off
    bool quiet = false;
    uint64_t frames = 0;           // renderer frames to run (0: until closed; headless default 300)
    double fps = 0;                // headless pacing (0: as fast as the handoff allows)
    std::string outDir;            // headless: where the PNG and report go
    std::string pngPath, reportPath, tracePath;
    uint64_t resizeAt = 0;         // window: resize at this frame (tests)
    int resizeWidth = 0, resizeHeight = 0;
    uint64_t killProducerAt = 0;   // --kill-producer-at N: SIGKILL the producer process at frame N
    bool restartProducer = false;  // --restart-producer: start a new one as soon as one died
    uint64_t inspectAt = 0;        // --inspect-at N: at frame N, pause the inspector on the newest frame
    std::string fontPath;          // --font PATH: the panel's font (default: assets' DejaVu Sans)
    std::string uiMapPath;         // --ui-map PATH: where the panel's widgets are (scripted UI tests)
    Settings settings;             // starting values of the panel controls
    // Which settings the command line gave (they win over the settings file).
    bool setBackend = false, setPick = false, setVsync = false, setRing = false, setCost = false, setDelay = false,
         setJitter = false, setSize = false, setProducer = false, setInspector = false;
};

// Parses argv. Returns false (after printing why) on a bad argument.
bool parseOptions(int argc, char** argv, bool windowBinary, Options* out);
void printHelp(const char* argv0, bool windowBinary);
// Applies the settings file under the command line's choices.
void mergeSettingsFile(Options* o, const Settings& file);

}  // namespace sandbox
