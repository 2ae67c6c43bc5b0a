// What the panel controls, and what persists between runs: a small ini file in
// $XDG_CONFIG_HOME/baton/sandbox.ini (~/.config/baton/sandbox.ini without XDG_CONFIG_HOME).
// The window loads and saves it; headless runs ignore it so that they are reproducible
// from their command line alone.
#pragma once

#include <string>

#include "handoff.h"

namespace sandbox {

// Where the producer runs: a thread of this process, or baton-sandbox-producer (a child
// process with its own baton context and device, producer_remote.h).
enum class ProducerWhere : uint8_t { Thread, Process };

struct Settings {
    SemBackend backend = SemBackend::Native;  // falls back to portable where the driver has no fds
    PickMode pick = PickMode::Fifo;
    bool vsync = true;         // FIFO present mode (else mailbox, else immediate)
    int ringDepth = 3;         // 2..8
    float costMs = 0.0f;       // extra GPU work per produced frame
    float delayMs = 0.0f;      // injected producer delay
    float jitterMs = 0.0f;     // +- on the delay
    int width = 1280, height = 720;
    ProducerWhere producer = ProducerWhere::Thread;
    bool inspector = false;    // the frame inspector window (baton::imgui) is open
};

// The default settings in the source tree's assets/ (assets/settings/default.ini).
std::string defaultSettingsPath();
// Path of the settings file ("" when neither XDG_CONFIG_HOME nor HOME is set).
std::string settingsPath();
// Loads what the file has over *s (unknown keys and bad values are ignored). False: no file.
bool loadSettings(Settings* s, const std::string& path);
// Writes s (creating the directory). False on an I/O error.
bool saveSettings(const Settings& s, const std::string& path);

const char* backendName(SemBackend b);
const char* pickName(PickMode p);
const char* producerName(ProducerWhere w);

}  // namespace sandbox
