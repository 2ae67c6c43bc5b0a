#include "settings.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

namespace sandbox {

const char* backendName(SemBackend b) {
    return b == SemBackend::Native ? "native" : b == SemBackend::Keyed ? "keyed" : "portable";
}
const char* pickName(PickMode p) { return p == PickMode::Fifo ? "fifo" : "mailbox"; }
const char* producerName(ProducerWhere w) { return w == ProducerWhere::Process ? "process" : "thread"; }

std::string defaultSettingsPath() { return std::string(SANDBOX_ASSETS_DIR) + "/settings/default.ini"; }

std::string settingsPath() {
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    std::string dir;
    if (xdg && *xdg) dir = xdg;
    else if (const char* home = std::getenv("HOME"); home && *home) dir = std::string(home) + "/.config";
    else return "";
    return dir + "/baton/sandbox.ini";
}

bool loadSettings(Settings* s, const std::string& path) {
    FILE* f = path.empty() ? nullptr : std::fopen(path.c_str(), "r");
    if (!f) return false;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        char key[64] = {}, value[128] = {};
        if (std::sscanf(line, " %63[^= ] = %127s", key, value) != 2 || key[0] == '#') continue;
        const std::string k = key, v = value;
        if (k == "backend") s->backend = v == "portable" ? SemBackend::Portable : v == "keyed" ? SemBackend::Keyed : SemBackend::Native;
        else if (k == "pick") s->pick = v == "mailbox" ? PickMode::Mailbox : PickMode::Fifo;
        else if (k == "vsync") s->vsync = v != "0" && v != "off" && v != "false";
        else if (k == "ring_depth") s->ringDepth = std::clamp(std::atoi(value), 2, 8);
        else if (k == "cost_ms") s->costMs = std::clamp(static_cast<float>(std::atof(value)), 0.0f, 100.0f);
        else if (k == "delay_ms") s->delayMs = std::clamp(static_cast<float>(std::atof(value)), 0.0f, 500.0f);
        else if (k == "jitter_ms") s->jitterMs = std::clamp(static_cast<float>(std::atof(value)), 0.0f, 500.0f);
        else if (k == "width") s->width = std::clamp(std::atoi(value), 64, 16384);
        else if (k == "height") s->height = std::clamp(std::atoi(value), 64, 16384);
        else if (k == "producer") s->producer = v == "process" ? ProducerWhere::Process : ProducerWhere::Thread;
        else if (k == "inspector") s->inspector = v == "1" || v == "on" || v == "true";
    }
    std::fclose(f);
    return true;
}

bool saveSettings(const Settings& s, const std::string& path) {
    if (path.empty()) return false;
    // mkdir -p of the parent directories ($XDG_CONFIG_HOME itself may not exist yet).
    for (size_t i = 1; i < path.size(); ++i)
        if (path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    std::fprintf(f, "# baton sandbox settings (written on exit)\n");
    std::fprintf(f, "backend = %s\npick = %s\nvsync = %d\nring_depth = %d\n", backendName(s.backend), pickName(s.pick),
                 s.vsync ? 1 : 0, s.ringDepth);
    std::fprintf(f, "cost_ms = %.3f\ndelay_ms = %.3f\njitter_ms = %.3f\nwidth = %d\nheight = %d\n", s.costMs, s.delayMs,
                 s.jitterMs, s.width, s.height);
    std::fprintf(f, "producer = %s\ninspector = %d\n", producerName(s.producer), s.inspector ? 1 : 0);
    return std::fclose(f) == 0;
}

}  // namespace sandbox
