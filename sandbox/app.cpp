#include "app.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <memory>
#include <thread>
#include <unistd.h>
#include <sys/stat.h>

#include <baton/baton_imgui.h>
#include <baton/baton_telemetry.h>
#include <imgui.h>
#include <backends/imgui_impl_vulkan.h>

#include "attach.h"
#include "gpu_clock.h"
#include "handoff_channel.h"
#include "producer_lanes.h"
#include "producer_remote.h"
#include "panel.h"
#include "png_writer.h"
#include "producer.h"
#include "renderer.h"
#include "report.h"

namespace sandbox {

bool makeParentDirs(const std::string& path) {
    for (size_t i = 1; i < path.size(); ++i)
        if (path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
    return true;
}

namespace {

// SIGINT and SIGTERM end the run like closing the window: the loop stops at the next frame
// and the trace, the report and the settings are written. SA_RESETHAND: a second signal
// kills as usual (a run stuck somewhere can still be stopped).
std::atomic<int> g_stopSignal{0};
extern "C" void onStopSignal(int sig) { g_stopSignal.store(sig, std::memory_order_relaxed); }

}  // namespace

void installStopHandlers() {
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

namespace {

uint64_t threadCpuNs() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec);
}

// The panel's font: --font, else DejaVu Sans (copied into the build's assets/ from Debian's
// fonts-dejavu-core), else ImGui's built-in font.
void loadPanelFont(const std::string& path) {
    const std::string p = !path.empty() ? path : SANDBOX_FONT;
    if (p.empty()) return;
    if (!ImGui::GetIO().Fonts->AddFontFromFileTTF(p.c_str(), 14.0f))
        std::fprintf(stderr, "baton-sandbox: cannot load the font %s: ImGui's built-in font instead\n", p.c_str());
}

constexpr int kKeyF12 = 301;  // GLFW_KEY_F12

// Where the panel's widgets are, for scripted UI tests: written whole, then renamed.
void writeUiMap(const std::string& path, const Panel& panel, const baton::imgui::Profiler& profiler) {
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return;
    int n = 0;
    const Panel::Widget* w = panel.widgets(&n);
    for (int i = 0; i < n; ++i)
        std::fprintf(f, "%s %.0f %.0f %.0f %.0f\n", w[i].name, w[i].rect[0], w[i].rect[1], w[i].rect[2], w[i].rect[3]);
    const float* p = panel.rect();
    std::fprintf(f, "panel %.0f %.0f %.0f %.0f\n", p[0], p[1], p[2], p[3]);
    std::fprintf(f, "inspector_paused %d 0 0 0\n", profiler.paused() ? 1 : 0);  // state, same format
    if (std::fclose(f) == 0) std::rename(tmp.c_str(), path.c_str());
}

constexpr uint64_t kResizeSettleNs = 150'000'000;  // rebuild the ring once a resize has settled

class Session {
public:
    Session(Gpu& gpu, Platform& platform, Options& options)
        : gpu_(gpu), platform_(platform), options_(options), settings_(options.settings), clock_(gpu) {}

    int run();

private:
    void buildRing(VkExtent2D extent);
    void teardownRing();
    void applyControls();
    bool pickFrame(ConsumerFrame* frame, double* hostStallMs);
    void progress(uint64_t frame, bool last);
    void saveCapture(const std::string& path);
    void pollProducerProcess(uint64_t frame);
    void steerView(VkExtent2D extent, bool reset);
    void killProducer(uint64_t frame);
    RemoteControls currentControls() const;
    SemBackend effectiveBackend() const {  // native only where the driver exports semaphore fds
        if (settings_.backend == SemBackend::Native && !ctxInfo_.nativeSemaphoreFd) return SemBackend::Portable;
        return settings_.backend;
    }

    Gpu& gpu_;
    Platform& platform_;
    Options& options_;
    Settings settings_;
    bool paused_ = false;
    GpuClock clock_;
    Telemetry telemetry_;
    ProducerControls controls_;
    batonContext_t ctx_ = nullptr;
    batonContextInfo ctxInfo_{};
    std::unique_ptr<Renderer> renderer_;
    std::unique_ptr<Producer> producer_;  // the in-process producer (thread mode), made on first use
    // Everything that depends on the handoff is torn down and rebuilt together (ring depth,
    // backend, size, producer mode changes). Setup-time work, never per frame.
    std::unique_ptr<Handoff> ring_;
    RemoteProducer* remote_ = nullptr;  // ring_ when the producer is a process
    ProducerLanes producerLanes_;       // the process's lanes, from baton's telemetry
    PickMode channelPick_ = PickMode::Fifo;  // the channel's policy (fixed per channel: a change rebuilds)
    ProducerWhere ringProducer_ = ProducerWhere::Thread;
    RemoteControls sentControls_{};
    ProducerProcessSummary proc_;   // for the panel and the report
    bool exitNoted_ = false;
    bool restartRequested_ = false;  // the panel's "restart" button
    uint64_t freshAtExit_ = 0;
    uint64_t animBase_ = 0;
    uint64_t ringRebuilds_ = 0;
    uint64_t lastAnimFrame_ = 0, lastSequence_ = 0;
    uint64_t lastProgressNs_ = 0;
    uint64_t sizeChangedNs_ = 0;
    std::string status_;
    int screenshotCount_ = 0, traceCount_ = 0;
    ViewTransform view_;  // the mouse's pan/zoom of the fractal
};

void Session::buildRing(VkExtent2D extent) {
    if (proc_.fdsBeforeFirstRing < 0) {
        if (settings_.producer == ProducerWhere::Process) startDriverFdCheck();  // its socket is no leak
        proc_.fdsBeforeFirstRing = countOpenFds();
    }
    HandoffConfig cfg;
    cfg.depth = static_cast<uint32_t>(settings_.ringDepth);
    cfg.extent = extent;
    cfg.backend = effectiveBackend();
    cfg.animBase = animBase_;
    ringProducer_ = settings_.producer;
    if (ringProducer_ == ProducerWhere::Process) {
        RemoteLaunch launch;
        launch.executable = executableDir() + "/baton-sandbox-producer";
        launch.preferCpu = options_.preferCpu;
        std::memcpy(launch.deviceUUID, ctxInfo_.deviceUUID, VK_UUID_SIZE);
        launch.controls = currentControls();
        launch.pick = settings_.pick;
        launch.submitRelease = [this](const ChannelHandoff::ReleaseSubmit& r) {
            renderer_->submitRelease(r.wait, r.commands, r.commandCount, r.signal);
            renderer_->waitIdle();
        };
        sentControls_ = launch.controls;
        auto remote = std::make_unique<RemoteProducer>(gpu_, cfg, launch);
        remote_ = remote.get();
        producerLanes_.restart(ctx_);
        channelPick_ = remote->mode();
        ring_ = std::move(remote);
        renderer_->bindHandoff(*ring_);
        proc_.pid = remote_->pid();
        exitNoted_ = false;
        ++proc_.started;
        proc_.fdsAfterBuild.push_back(countOpenFds());
        return;
    }
    // In this process every backend goes through baton's frame channel.
    auto submitRelease = [this](const ChannelHandoff::ReleaseSubmit& r) {
        renderer_->submitRelease(r.wait, r.commands, r.commandCount, r.signal);
        renderer_->waitIdle();
    };
    auto channel = std::make_unique<ChannelHandoff>(gpu_, cfg, settings_.pick, submitRelease);
    channelPick_ = channel->mode();
    ring_ = std::move(channel);
    renderer_->bindHandoff(*ring_);
    if (!producer_) producer_ = std::make_unique<Producer>(gpu_, ctx_, clock_, telemetry_, controls_);
    producer_->start(*ring_);
}

RemoteControls Session::currentControls() const {
    RemoteControls c;
    c.costMs = settings_.costMs;
    c.delayMs = settings_.delayMs;
    c.jitterMs = settings_.jitterMs;
    c.paused = paused_;
    return c;
}

void Session::killProducer(uint64_t frame) {
    if (!remote_ || !remote_->alive()) return;
    proc_.killedAtFrame = frame;
    remote_->kill();
}

// The producer process: its status messages, and what happens when it dies (killed from
// the panel or the command line, or crashed): the panel says so, the report records it, the
// renderer goes on repeating the last complete frame, and --restart-producer starts another.
void Session::pollProducerProcess(uint64_t frame) {
    if (!remote_) return;
    remote_->poll(telemetry_);
    const RemoteControls c = currentControls();
    if (std::memcmp(&c, &sentControls_, sizeof c) != 0) {
        remote_->sendControls(c);
        sentControls_ = c;
    }
    proc_.childValidationErrors = std::max(proc_.childValidationErrors, remote_->childValidationErrors());
    if (remote_->alive() || exitNoted_) return;
    exitNoted_ = true;
    freshAtExit_ = telemetry_.fresh.load();
    proc_.exit = remote_->exitText();
    proc_.exitPid = remote_->pid();
    proc_.exitFrame = frame;
    proc_.readyAtExit = remote_->readyAtExit();
    proc_.displayedAtExit = lastSequence_;
    ++proc_.exits;
    status_ = "producer process " + std::to_string(remote_->pid()) + " " + proc_.exit + " at frame " +
              std::to_string(frame) + (remote_->killedByUs() ? " (killed from the sandbox)" : "");
    if (!remote_->childMessage().empty() && !remote_->killedByUs()) status_ += ": " + remote_->childMessage();
    if (!options_.quiet) std::fprintf(stderr, "baton-sandbox: %s\n", status_.c_str());
}

// The mouse over the fractal (not over a panel): the wheel zooms about the cursor, a drag
// pans, a double click (or the panel's button) resets.
void Session::steerView(VkExtent2D extent, bool reset) {
    const ImGuiIO& io = ImGui::GetIO();
    const glm::dvec2 size(extent.width, extent.height), mouse(io.MousePos.x, io.MousePos.y);
    if (reset) view_.reset();
    if (!io.WantCaptureMouse) {
        if (io.MouseWheel != 0.0f) view_.zoomAt(mouse, size, std::pow(1.25, static_cast<double>(io.MouseWheel)));
        if (ImGui::IsMouseDragging(ImGuiMouseButton_Left)) view_.pan(glm::dvec2(io.MouseDelta.x, io.MouseDelta.y), size);
        if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) view_.reset();
    }
    renderer_->setView(view_.push());
}

void Session::teardownRing() {
    if (!ring_) return;
    if (remote_) {
        // Ask the child to stop; it answers with the last sequence it enqueued, which this
        // side releases so that its stream drains; then it exits. A dead child (killed)
        // answers nothing, and nothing of it is waited on.
        const uint64_t last = remote_->stop(3'000'000'000ull);
        VkSemaphoreSubmitInfo release{};
        if (last && ring_->releaseAll(last, &release)) renderer_->submitSignal(release);
        remote_->reap(5'000'000'000ull);
        if (!exitNoted_) {  // a stop we asked for: how it ended, quietly
            exitNoted_ = true;
            freshAtExit_ = telemetry_.fresh.load();
        }
        proc_.lastStop = remote_->exitText();
        renderer_->waitIdle();
        animBase_ += std::max(last, remote_->highestSequence());
        if (exitNoted_) proc_.freshAfterExit += telemetry_.fresh.load() - freshAtExit_;
        remote_ = nullptr;
        ring_.reset();
        return;
    }
    // Stop the producer, let every slot go (so that no stream wait is left hanging), then
    // wait for both sides before the images and semaphores go away.
    const uint64_t last = producer_->stop();
    VkSemaphoreSubmitInfo release{};
    if (ring_->releaseAll(last, &release)) renderer_->submitSignal(release);
    producer_->synchronize();
    renderer_->waitIdle();
    animBase_ += last;  // the animation continues where it was
    ring_.reset();
}

void Session::applyControls() {
    controls_.costMs = settings_.costMs;
    controls_.delayMs = settings_.delayMs;
    controls_.jitterMs = settings_.jitterMs;
    controls_.paused = paused_;
}

// The consumer's side of the handoff. FIFO takes the next frame in order and blocks on the
// host (bounded) when the producer has not even submitted it; mailbox takes the newest
// completed frame and never blocks. Either re-shows the last frame when nothing is new.
bool Session::pickFrame(ConsumerFrame* frame, double* hostStallMs) {
    *hostStallMs = 0;
    const PickMode mode = settings_.pick;
    const uint64_t t0 = nowNs();
    const uint64_t want = ring_->nextWanted();
    if (telemetry_.consumerWants.load() != want) {
        telemetry_.consumerWants = want;
        telemetry_.consumerWantsSince = t0;
    }
    bool got = ring_->acquire(mode, frame);
    const bool producerGone = remote_ && !remote_->alive();  // nothing more will come: no host wait
    if (mode == PickMode::Fifo && (!got || !frame->fresh) && !paused_ && !producerGone) {
        // Window: at most ~100 ms so that the panel stays live; headless: a second.
        const uint64_t timeout = platform_.hasVsync() ? 100'000'000ull : 1'000'000'000ull;
        ring_->waitReady(want, timeout);
        got = ring_->acquire(mode, frame);
        const uint64_t t1 = nowNs();
        *hostStallMs = static_cast<double>(t1 - t0) * 1e-6;
        if (*hostStallMs > 0.05) telemetry_.addSpan({t0, t1, want + animBase_, Lane::RendererHost, SpanKind::Wait});
        if (got && !frame->fresh) telemetry_.waitTimeouts.fetch_add(1);
    }
    if (!got) return false;
    if (frame->fresh) {
        telemetry_.fresh.fetch_add(1);
        telemetry_.drops.fetch_add(frame->dropped);
    } else {
        telemetry_.repeats.fetch_add(1);
    }
    return true;
}

void Session::progress(uint64_t frame, bool last) {
    if (options_.quiet || platform_.hasVsync()) return;
    const uint64_t now = nowNs();
    const bool tty = isatty(STDERR_FILENO);
    if (!last && now - lastProgressNs_ < (tty ? 1'000'000'000ull : 10'000'000'000ull)) return;
    lastProgressNs_ = now;
    const double secs = static_cast<double>(now - telemetry_.startNs.load()) * 1e-9;
    const StallStats c = telemetry_.consumerStalls(), p = telemetry_.producerStalls();
    std::fprintf(stderr, "%sframe %llu/%llu  %.1f fps  stalls: producer %.2f ms, consumer %.2f ms (mean)%s", tty ? "\r" : "",
                 static_cast<unsigned long long>(frame), static_cast<unsigned long long>(options_.frames),
                 secs > 0 ? static_cast<double>(frame) / secs : 0.0, p.count ? p.sumMs / static_cast<double>(p.count) : 0.0,
                 c.count ? c.sumMs / static_cast<double>(c.count) : 0.0, last || !tty ? "\n" : "   ");
}

void Session::saveCapture(const std::string& path) {
    std::vector<uint8_t> rgba;
    uint32_t w = 0, h = 0;
    renderer_->readCapture(rgba, &w, &h);
    makeParentDirs(path);
    if (writePng(path, rgba, w, h)) status_ = "saved " + path;
    else status_ = "could not write " + path;
}

int Session::run() {
    ctx_ = attachBaton(gpu_);
    BATON_CHECK(batonContextGetInfo(ctx_, &ctxInfo_));
    // baton's telemetry feeds the panel's latency and inspector, the report and the trace
    // (one writer: the library's).
    BATON_CHECK(batonTelemetryEnable(ctx_, 1));
    bool tracing = false;
    if (!options_.tracePath.empty()) {
        makeParentDirs(options_.tracePath);
        tracing = batonTraceStart(ctx_, options_.tracePath.c_str()) == batonSuccess;
        if (!tracing) std::fprintf(stderr, "baton-sandbox: cannot trace: %s\n", batonGetLastErrorMessage());
    }
    if (!ctxInfo_.nativeSemaphoreFd && settings_.backend == SemBackend::Native)
        settings_.backend = SemBackend::Portable;  // no driver fds (lavapipe)
    Target& target = platform_.target();
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;  // the panel lays itself out; settings live in our ini
    loadPanelFont(options_.fontPath);
    ImGui::StyleColorsDark();
    ImGuiStyle& style = ImGui::GetStyle();
    style.WindowRounding = 6.0f;
    style.FrameRounding = 3.0f;
    style.GrabRounding = 3.0f;
    platform_.initImGui();
    renderer_ = std::make_unique<Renderer>(gpu_, clock_, telemetry_, target.format());
    applyControls();
    buildRing(target.extent());
    platform_.setVsync(settings_.vsync);

    Panel panel;
    baton::imgui::Profiler profiler(ctx_);  // baton's own profiler: what an engine embeds
    double panelCpuUs = 0;
    bool resetView = false;
    const bool headless = std::string(platform_.name()) == "headless";
    uint64_t frame = 0;
    uint64_t lastFrameNs = nowNs();
    const uint64_t start = lastFrameNs;
    while (options_.frames == 0 || frame < options_.frames) {
        if (g_stopSignal.load(std::memory_order_relaxed)) break;
        if (!platform_.pump()) break;
        if (platform_.minimized()) continue;
        if (options_.resizeAt && frame == options_.resizeAt) platform_.resize(options_.resizeWidth, options_.resizeHeight);

        // Controls that need a new ring: depth, backend, or a settled new size.
        const VkExtent2D extent = target.extent();
        const HandoffConfig& cfg = ring_->config();
        const bool sizeDiffers = extent.width != cfg.extent.width || extent.height != cfg.extent.height;
        if (sizeDiffers && !sizeChangedNs_) sizeChangedNs_ = nowNs();
        if (static_cast<uint32_t>(settings_.ringDepth) != cfg.depth ||
            effectiveBackend() != cfg.backend || settings_.producer != ringProducer_ ||
            settings_.pick != channelPick_ ||
            (remote_ && !remote_->alive() && (options_.restartProducer || restartRequested_)) ||
            (sizeDiffers && nowNs() - sizeChangedNs_ > kResizeSettleNs)) {
            teardownRing();
            buildRing(extent);
            ++ringRebuilds_;
            sizeChangedNs_ = 0;
            restartRequested_ = false;
        }
        applyControls();
        if (options_.killProducerAt && frame == options_.killProducerAt) killProducer(frame);
        pollProducerProcess(frame);

        if (!renderer_->begin(target)) continue;  // minimised or swapchain being rebuilt
        ConsumerFrame cf{};
        double hostStallMs = 0;
        if (!pickFrame(&cf, &hostStallMs)) cf = ConsumerFrame{};  // nothing produced yet: panel only
        if (remote_) producerLanes_.pull(ctx_, animBase_, telemetry_);  // what the acquire brought in
        if (cf.sequence) {
            lastAnimFrame_ = cf.animFrame;
            lastSequence_ = cf.sequence;
        }

        const uint64_t now = nowNs();
        const double dt = static_cast<double>(now - lastFrameNs) * 1e-9;
        if (frame > 0) telemetry_.addFrameTime(dt * 1e3);
        lastFrameNs = now;
        platform_.newImGuiFrame(dt > 0 ? dt : 1.0 / 60.0);
        ImGui_ImplVulkan_NewFrame();
        ImGui::NewFrame();
        steerView(target.extent(), resetView);
        resetView = false;
        PanelInputs in;
        in.telemetry = &telemetry_;
        in.handoff = ring_.get();
        in.device = ctxInfo_.deviceName;
        in.mode = platform_.name();
        in.queueShared = gpu_.queueShared;
        in.nativeAvailable = ctxInfo_.nativeSemaphoreFd;
        in.vsyncAvailable = !headless;
        in.backendInUse = ring_->config().backend;
        in.animFrame = lastAnimFrame_;
        in.burnLoops = producer_ && !remote_ ? producer_->burnLoops() : 0;
        in.producerWhere = ringProducer_;
        if (remote_) {
            in.processPid = remote_->pid();
            in.processAlive = remote_->alive();
            in.processExit = remote_->exitText();
        }
        in.ringRebuilds = ringRebuilds_;
        in.status = status_;
        in.profiler = &profiler;
        PanelActions actions;
        const bool vsyncBefore = settings_.vsync;
        const uint64_t panelT0 = threadCpuNs();
        profiler.update();
        if (options_.inspectAt && frame == options_.inspectAt && profiler.lastFrame() > 2)
            profiler.showFrame(profiler.lastFrame() - 2, 2);
        panel.draw(in, &settings_, &paused_, &actions);
        // F12 (GLFW_KEY_F12: the GLFW backend of ImGui 1.86 indexes KeysDown by GLFW key) saves a
        // screenshot without moving the mouse (a hovered zone keeps its tooltip).
        if (ImGui::IsKeyPressed(kKeyF12, false)) actions.screenshot = true;
        panelCpuUs += static_cast<double>(threadCpuNs() - panelT0) * 1e-3;
        ImGui::Render();
        if (settings_.vsync != vsyncBefore) platform_.setVsync(settings_.vsync);

        const bool lastFrame = options_.frames && frame + 1 == options_.frames;
        const bool capture = actions.screenshot || (lastFrame && !options_.pngPath.empty());
        renderer_->submit(target, cf, ImGui::GetDrawData(), capture, hostStallMs);
        resetView = actions.resetView;
        if (actions.killProducer) killProducer(frame);
        if (actions.restartProducer) restartRequested_ = true;
        if (!options_.uiMapPath.empty()) writeUiMap(options_.uiMapPath, panel, profiler);
        if (actions.screenshot) {
            const std::string shot = "sandbox-screenshot-" + std::to_string(++screenshotCount_) + ".png";
            if (!options_.uiMapPath.empty()) writeUiMap(shot + ".ui.txt", panel, profiler);  // the layout of this very image
            saveCapture(shot);
        }
        if (actions.trace) {
            std::string path = "sandbox-trace-" + std::to_string(++traceCount_) + ".json";
            status_ = batonTraceWrite(ctx_, path.c_str()) == batonSuccess
                          ? "trace written to " + path
                          : "could not write " + path + ": " + batonGetLastErrorMessage();
        }

        // Semaphore values, one sample per frame.
        SemaphoreView sems[2];
        ring_->semaphores(sems, 2);
        batonExternalSemaphoreInfo r{}, l{};
        batonExternalSemaphoreGetInfo(sems[0].sem, &r);
        batonExternalSemaphoreGetInfo(sems[1].sem, &l);
        // A native semaphore's pendingValue counts this process's signals only: with the
        // producer in another process, "ready" pending is at least what was reached.
        telemetry_.addValues({nowNs(), r.currentValue, std::max(r.pendingValue, r.currentValue), l.currentValue,
                              std::max(l.pendingValue, l.currentValue)});
        ++frame;
        progress(frame, lastFrame);
        if (lastFrame && !options_.pngPath.empty()) saveCapture(options_.pngPath);
        if (headless && options_.fps > 0) {
            const uint64_t next = start + static_cast<uint64_t>(static_cast<double>(frame) * 1e9 / options_.fps);
            const uint64_t t = nowNs();
            if (next > t) std::this_thread::sleep_for(std::chrono::nanoseconds(next - t));
        }
    }
    const double duration = static_cast<double>(nowNs() - start) * 1e-9;
    const float* rect = panel.rect();
    const float* crect = panel.controlsRect();
    const float* irect = panel.inspectorRect();
    if (target.generation() > 1) telemetry_.swapchainRebuilds = target.generation() - 1;
    const VkExtent2D finalExtent = target.extent();

    teardownRing();
    proc_.fdsAfterLastTeardown = countOpenFds();
    producer_.reset();
    renderer_.reset();
    platform_.shutdownImGui();
    ImGui::DestroyContext();
    // The trace and the latency figures before the context goes (streams and channels are
    // gone: their last frames are resolved).
    std::string tracePath;
    if (tracing) {
        if (batonTraceStop(ctx_) == batonSuccess) tracePath = options_.tracePath;
        else std::fprintf(stderr, "baton-sandbox: cannot write the trace: %s\n", batonGetLastErrorMessage());
    }
    const HandoffLatency latency = summarizeHandoffs(ctx_);
    BATON_CHECK(batonContextDestroy(ctx_));

    RunSummary run;
    run.mode = platform_.name();
    run.device = ctxInfo_.deviceName;
    run.queueShared = gpu_.queueShared;
    run.nativeAvailable = ctxInfo_.nativeSemaphoreFd;
    run.settings = settings_;
    run.width = finalExtent.width;
    run.height = finalExtent.height;
    run.durationS = duration;
    run.displayedSequence = lastSequence_;
    run.displayedAnimFrame = lastAnimFrame_;
    for (int i = 0; i < 4; ++i) {
        run.panelRect[i] = rect[i];
        run.controlsRect[i] = crect[i];
        run.inspectorRect[i] = irect[i];
    }
    run.ringRebuilds = ringRebuilds_;
    run.validationErrors = gpu_.validationErrors.load() + proc_.childValidationErrors;
    run.producerProcess = proc_;
    run.producerWhere = ringProducer_;
    run.validationWarnings = gpu_.validationWarnings.load();
    run.validationSuppressed = gpu_.validationSuppressed.load();
    run.pngPath = options_.pngPath;
    run.tracePath = tracePath;
    run.panelCpuUs = frame ? panelCpuUs / static_cast<double>(frame) : 0;
    run.profilerCpuUs = profiler.meanCostUs();
    run.inspectedFrame = profiler.selectedFrame();
    run.viewZoom = view_.zoom();
    run.viewCenter[0] = view_.center().x;
    run.viewCenter[1] = view_.center().y;
    run.handoff = latency;
    if (const int sig = g_stopSignal.load()) run.endedBy = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
    else run.endedBy = options_.frames && frame >= options_.frames ? "frames" : "closed";
    if (!options_.reportPath.empty()) {
        makeParentDirs(options_.reportPath);
        if (!writeReport(options_.reportPath, run, telemetry_))
            std::fprintf(stderr, "baton-sandbox: cannot write %s\n", options_.reportPath.c_str());
    }
    options_.settings = settings_;  // the window saves them
    if (!options_.quiet) {
        if (!options_.pngPath.empty()) std::printf("image:  %s\n", options_.pngPath.c_str());
        if (!options_.reportPath.empty()) std::printf("report: %s\n", options_.reportPath.c_str());
        if (!run.tracePath.empty()) std::printf("trace:  %s\n", run.tracePath.c_str());
        std::printf("%llu frames in %.2f s on %s (%s backend): consumer stall mean %.2f ms, producer stall mean %.2f ms\n",
                    static_cast<unsigned long long>(telemetry_.presented.load()), duration, ctxInfo_.deviceName,
                    backendName(effectiveBackend()),
                    telemetry_.consumerStalls().count ? telemetry_.consumerStalls().sumMs /
                                                            static_cast<double>(telemetry_.consumerStalls().count) : 0.0,
                    telemetry_.producerStalls().count ? telemetry_.producerStalls().sumMs /
                                                            static_cast<double>(telemetry_.producerStalls().count) : 0.0);
    }
    if (run.validationErrors) {
        std::fprintf(stderr, "baton-sandbox: %u validation error(s) during the run\n", run.validationErrors);
        return 3;
    }
    return 0;
}

}  // namespace

int runApp(Gpu& gpu, Platform& platform, Options& options) {
    installStopHandlers();  // again: the main()s install them first, a host embedding runApp may not
    Session s(gpu, platform, options);
    return s.run();
}

}  // namespace sandbox
