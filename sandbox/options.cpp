#include "options.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sandbox {

void printHelp(const char* argv0, bool windowBinary) {
    std::printf(
        "Usage: %s [options]\n"
        "The baton sandbox: a compute stream produces frames live, the graphics queue shows them,\n"
        "a panel shows the semaphore values and the stalls of the handoff.\n\n",
        argv0);
    if (windowBinary)
        std::printf(
            "  --headless            no window: render offscreen (automatic without DISPLAY/WAYLAND_DISPLAY)\n"
            "  --resize-at N:WxH     resize the window at frame N (tests)\n"
            "  --screenshot PATH     save what the window shows at the end of the run\n"
            "  --no-settings         neither read nor write the settings file\n");
    std::printf(
        "  --frames N            frames to render, then exit (headless default 300; window: until closed)\n"
        "  --size WxH            window / offscreen size (default 1280x720)\n"
        "  --out-dir DIR         headless: where sandbox.png and sandbox-report.json go (default ./sandbox-out)\n"
        "  --png PATH            headless: PNG path (overrides --out-dir)\n"
        "  --report PATH         JSON report path (headless default: beside the PNG)\n"
        "  --trace PATH          capture a Chrome/Perfetto trace of the run (baton's trace writer), written at exit\n"
        "                        (also on SIGINT/SIGTERM or when the window is closed)\n"
        "  --inspector           open the frame inspector (baton::imgui) beside the panel\n"
        "  --inspect-at N        at frame N pause the inspector on the newest frame (headless PNGs)\n"
        "  --font PATH           the panel's TrueType font (default: DejaVu Sans from assets)\n"
        "  --ui-map PATH         keep PATH up to date with where the panel's widgets are (\"name x y w h\"\n"
        "                        lines; for scripted UI tests)\n"
        "  --backend native|portable|keyed   baton backend of the handoff: ready/released timelines\n"
        "                        (native: driver fds where the driver has them), or one keyed mutex\n"
        "                        per slot; all through baton's frame channel (either producer mode)\n"
        "  --pick fifo|mailbox   next frame in order, or the newest one\n"
        "  --vsync on|off        window present mode FIFO, or mailbox/immediate\n"
        "  --ring N              images in the ring (2..8, default 3)\n"
        "  --cost MS             extra GPU work per produced frame, in milliseconds\n"
        "  --delay MS            injected producer delay per frame (host function on the stream)\n"
        "  --jitter MS           +- jitter on the delay\n"
        "  --producer thread|process   producer in a thread of this process (default), or in a child\n"
        "                        process (baton-sandbox-producer) with its own baton context and device\n"
        "  --kill-producer-at N  SIGKILL the producer process at renderer frame N (implies --producer process);\n"
        "                        the sandbox goes on repeating the last complete frame\n"
        "  --restart-producer    start a new producer process as soon as one has died\n"
        "  --fps N               headless: pace the renderer to N frames per second (default: unpaced)\n"
        "  --cpu                 use lavapipe even where a GPU exists\n"
        "  --quiet               no progress line\n"
        "  --help                this text\n\n"
        "Environment: BATON_VALIDATION=1 enables VK_LAYER_KHRONOS_validation; any validation error\n"
        "makes the run exit with status 3.\n");
}

namespace {

bool parseSize(const char* s, int* w, int* h) {
    return std::sscanf(s, "%dx%d", w, h) == 2 && *w >= 64 && *h >= 64 && *w <= 16384 && *h <= 16384;
}

}  // namespace

bool parseOptions(int argc, char** argv, bool windowBinary, Options* o) {
    // The defaults come from assets/ (the command line below and, in a window, the user's
    // settings file go over them).
    loadSettings(&o->settings, defaultSettingsPath());
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s: %s needs a value (see --help)\n", argv[0], a);
                return nullptr;
            }
            return argv[++i];
        };
        auto is = [&](const char* name) { return std::strcmp(a, name) == 0; };
        const char* v = nullptr;
        if (is("--help") || is("-h")) o->help = true;
        else if (is("--headless")) o->headless = true;
        else if (is("--cpu")) o->preferCpu = true;
        else if (is("--quiet")) o->quiet = true;
        else if (is("--no-settings")) o->useSettingsFile = false;
        else if (is("--frames")) { if (!(v = value())) return false; o->frames = std::strtoull(v, nullptr, 10); }
        else if (is("--fps")) { if (!(v = value())) return false; o->fps = std::atof(v); }
        else if (is("--out-dir")) { if (!(v = value())) return false; o->outDir = v; }
        else if (is("--png") || is("--screenshot")) { if (!(v = value())) return false; o->pngPath = v; }
        else if (is("--report")) { if (!(v = value())) return false; o->reportPath = v; }
        else if (is("--trace")) { if (!(v = value())) return false; o->tracePath = v; }
        else if (is("--inspector")) { o->settings.inspector = true; o->setInspector = true; }
        else if (is("--inspect-at")) {
            if (!(v = value())) return false;
            o->inspectAt = std::strtoull(v, nullptr, 10);
            o->settings.inspector = o->setInspector = true;
        }
        else if (is("--font")) { if (!(v = value())) return false; o->fontPath = v; }
        else if (is("--ui-map")) { if (!(v = value())) return false; o->uiMapPath = v; }
        else if (is("--size")) {
            if (!(v = value())) return false;
            if (!parseSize(v, &o->settings.width, &o->settings.height)) {
                std::fprintf(stderr, "%s: --size wants WxH, e.g. 1280x720\n", argv[0]);
                return false;
            }
            o->setSize = true;
        } else if (is("--resize-at")) {
            if (!(v = value())) return false;
            unsigned long long n = 0;
            if (std::sscanf(v, "%llu:%dx%d", &n, &o->resizeWidth, &o->resizeHeight) != 3) {
                std::fprintf(stderr, "%s: --resize-at wants N:WxH\n", argv[0]);
                return false;
            }
            o->resizeAt = n;
        } else if (is("--backend")) {
            if (!(v = value())) return false;
            if (std::strcmp(v, "native") && std::strcmp(v, "portable") && std::strcmp(v, "keyed")) {
                std::fprintf(stderr, "%s: --backend is native, portable or keyed\n", argv[0]);
                return false;
            }
            o->settings.backend = std::strcmp(v, "portable") == 0 ? SemBackend::Portable
                                  : std::strcmp(v, "keyed") == 0  ? SemBackend::Keyed
                                                                  : SemBackend::Native;
            o->setBackend = true;
        } else if (is("--pick")) {
            if (!(v = value())) return false;
            if (std::strcmp(v, "fifo") && std::strcmp(v, "mailbox")) {
                std::fprintf(stderr, "%s: --pick is fifo or mailbox\n", argv[0]);
                return false;
            }
            o->settings.pick = std::strcmp(v, "mailbox") == 0 ? PickMode::Mailbox : PickMode::Fifo;
            o->setPick = true;
        } else if (is("--vsync")) {
            if (!(v = value())) return false;
            o->settings.vsync = std::strcmp(v, "off") != 0;
            o->setVsync = true;
        } else if (is("--ring")) {
            if (!(v = value())) return false;
            o->settings.ringDepth = std::atoi(v);
            if (o->settings.ringDepth < 2 || o->settings.ringDepth > 8) {
                std::fprintf(stderr, "%s: --ring is 2..8\n", argv[0]);
                return false;
            }
            o->setRing = true;
        } else if (is("--cost")) { if (!(v = value())) return false; o->settings.costMs = static_cast<float>(std::atof(v)); o->setCost = true; }
        else if (is("--delay")) { if (!(v = value())) return false; o->settings.delayMs = static_cast<float>(std::atof(v)); o->setDelay = true; }
        else if (is("--producer")) {
            if (!(v = value())) return false;
            if (std::strcmp(v, "thread") && std::strcmp(v, "process")) {
                std::fprintf(stderr, "%s: --producer is thread or process\n", argv[0]);
                return false;
            }
            o->settings.producer = std::strcmp(v, "process") == 0 ? ProducerWhere::Process : ProducerWhere::Thread;
            o->setProducer = true;
        } else if (is("--kill-producer-at")) {
            if (!(v = value())) return false;
            o->killProducerAt = std::strtoull(v, nullptr, 10);
            o->settings.producer = ProducerWhere::Process;
            o->setProducer = true;
        } else if (is("--restart-producer")) o->restartProducer = true;
        else if (is("--jitter")) { if (!(v = value())) return false; o->settings.jitterMs = static_cast<float>(std::atof(v)); o->setJitter = true; }
        else {
            std::fprintf(stderr, "%s: unknown option %s (see --help)\n", argv[0], a);
            return false;
        }
    }
    (void)windowBinary;
    return true;
}

void mergeSettingsFile(Options* o, const Settings& file) {
    Settings& s = o->settings;
    if (!o->setBackend) s.backend = file.backend;
    if (!o->setPick) s.pick = file.pick;
    if (!o->setVsync) s.vsync = file.vsync;
    if (!o->setRing) s.ringDepth = file.ringDepth;
    if (!o->setCost) s.costMs = file.costMs;
    if (!o->setDelay) s.delayMs = file.delayMs;
    if (!o->setJitter) s.jitterMs = file.jitterMs;
    if (!o->setProducer) s.producer = file.producer;
    if (!o->setInspector) s.inspector = file.inspector;
    if (!o->setSize) {
        s.width = file.width;
        s.height = file.height;
    }
}

}  // namespace sandbox
