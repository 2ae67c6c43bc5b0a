// The sandbox end to end, as real processes: a headless run on lavapipe whose PNG shows the
// frame the compute shader makes for the reported frame number with the panel over it, and
// whose report has monotonic semaphore values; stalls that move the right way when the
// injected producer delay is raised; a windowed run under Xvfb with a resize. Every run has
// BATON_VALIDATION=1 and the sandbox exits non-zero on any validation error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "baton_test.h"
#include "julia_reference.h"
#include "sandbox_run.h"

using sandboxtest::Image;
using sandboxtest::Json;

namespace {

std::string exe(const char* name) { return std::string(SANDBOX_BIN_DIR) + "/" + name; }

struct SandboxRun {
    int rc = -1;
    Json report;
    Image png;
    std::string log;
};

// Runs the headless sandbox on lavapipe with the given extra arguments.
SandboxRun headless(const std::string& name, std::vector<std::string> extra) {
    const std::string dir = sandboxtest::scratchDir(name);
    std::vector<std::string> argv = {exe("baton-sandbox-headless"), "--quiet", "--cpu", "--png", dir + "/out.png",
                                     "--report", dir + "/report.json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    SandboxRun r;
    r.rc = sandboxtest::runProcess(argv, {"BATON_VALIDATION=1"}, dir + "/log.txt");
    r.log = sandboxtest::readFile(dir + "/log.txt");
    sandboxtest::readJsonFile(dir + "/report.json", &r.report);
    sandboxtest::readPng(dir + "/out.png", &r.png);
    return r;
}

double mean(const Json& stats) { return stats["mean"].num(); }

// The PNG of a 640x400 run shows the Julia frame the report names, with the panel over it.
void expectFrameAndPanel(const SandboxRun& r) {
    const int w = 640, h = 400;
    ASSERT_EQ(r.rc, 0) << r.log;
    ASSERT_EQ(r.png.width, w);
    ASSERT_EQ(r.png.height, h);
    EXPECT_EQ(r.report["validation_errors"].num(), 0);
    const uint32_t frame = static_cast<uint32_t>(r.report["displayed"]["anim_frame"].num());
    ASSERT_GT(frame, 0u) << "no produced frame was shown";

    // The produced content: sample the part of the image no panel covers and compare with
    // the CPU mirror of the shader for that frame, skipping pixels where float and double
    // disagree (too close to the set's boundary to be comparable).
    const Json& panel = r.report["panel_rect"];
    const Json& controls = r.report["controls_rect"];
    const int x0 = static_cast<int>(panel[0].num() + panel[2].num()) + 6;
    const int y0 = static_cast<int>(controls[1].num() + controls[3].num()) + 6;
    ASSERT_LT(x0, w - 20);
    ASSERT_LT(y0, h - 20);
    int stable = 0, matching = 0;
    for (int gy = 0; gy < 16; ++gy)
        for (int gx = 0; gx < 16; ++gx) {
            const int x = x0 + (w - 1 - x0) * gx / 15, y = y0 + (h - 1 - y0) * gy / 15;
            auto f = sandbox::juliaColor<float>(x, y, w, h, frame);
            auto d = sandbox::juliaColor<double>(x, y, w, h, frame);
            if (std::fabs(f.r - d.r) > 0.01 || std::fabs(f.g - d.g) > 0.01 || std::fabs(f.b - d.b) > 0.01) continue;
            ++stable;
            const unsigned char* p = r.png.at(x, y);
            const float tol = 10.0f;
            if (std::fabs(p[0] - f.r * 255.0f) <= tol && std::fabs(p[1] - f.g * 255.0f) <= tol &&
                std::fabs(p[2] - f.b * 255.0f) <= tol)
                ++matching;
        }
    ASSERT_GE(stable, 60) << "too few comparable sample points";
    EXPECT_GE(matching, stable * 9 / 10) << matching << " of " << stable << " sample points match frame " << frame;

    // The same comparison against another frame of the animation must fail: the test can
    // tell frames apart.
    int otherMatching = 0;
    for (int gy = 0; gy < 16; ++gy)
        for (int gx = 0; gx < 16; ++gx) {
            const int x = x0 + (w - 1 - x0) * gx / 15, y = y0 + (h - 1 - y0) * gy / 15;
            auto f = sandbox::juliaColor<float>(x, y, w, h, frame + 600);
            const unsigned char* p = r.png.at(x, y);
            if (std::fabs(p[0] - f.r * 255.0f) <= 10 && std::fabs(p[1] - f.g * 255.0f) <= 10 &&
                std::fabs(p[2] - f.b * 255.0f) <= 10)
                ++otherMatching;
        }
    EXPECT_LT(otherMatching, matching * 7 / 10);

    // The panel: drawn over the frame, with text (bright pixels) and widgets in its rectangle.
    int px = static_cast<int>(panel[0].num()), py = static_cast<int>(panel[1].num());
    int pw = static_cast<int>(panel[2].num()), ph = static_cast<int>(panel[3].num());
    ASSERT_GT(pw, 100);
    ASSERT_GT(ph, 100);
    int bright = 0, differs = 0, total = 0;
    for (int y = py + 2; y < py + ph - 2 && y < h; y += 2)
        for (int x = px + 2; x < px + pw - 2 && x < w; x += 2) {
            const unsigned char* p = r.png.at(x, y);
            auto f = sandbox::juliaColor<float>(x, y, w, h, frame);
            ++total;
            if (p[0] + p[1] + p[2] > 600) ++bright;
            if (std::fabs(p[0] - f.r * 255) + std::fabs(p[1] - f.g * 255) + std::fabs(p[2] - f.b * 255) > 30) ++differs;
        }
    EXPECT_GT(bright, 100) << "no text in the panel";
    EXPECT_GT(differs, total * 8 / 10) << "the panel does not cover its rectangle";
}

// The report's semaphore values never go back, pending >= current, and both advanced.
void expectMonotonicValues(const SandboxRun& r) {
    const Json& values = r.report["values"];
    ASSERT_GE(values.array.size(), 25u);
    for (size_t i = 0; i < values.array.size(); ++i) {
        const Json& row = values[i];
        EXPECT_GE(row[2].num(), row[1].num()) << "ready: pending below current at row " << i;
        EXPECT_GE(row[4].num(), row[3].num()) << "released: pending below current at row " << i;
        if (i == 0) continue;
        const Json& prev = values[i - 1];
        EXPECT_GE(row[0].num(), prev[0].num());
        for (int c = 1; c <= 4; ++c) EXPECT_GE(row[c].num(), prev[c].num()) << "column " << c << " went back at row " << i;
    }
    EXPECT_GT(values.array.back()[1].num(), values[0][1].num()) << "ready never advanced";
    EXPECT_GT(values.array.back()[3].num(), values[0][3].num()) << "released never advanced";
}

// The producer process's record in the report.
const Json& process(const SandboxRun& r) { return r.report["producer_process"]; }

}  // namespace

TEST(SandboxHeadless, ShowsTheProducedFrameAndThePanel) {
    SandboxRun r = headless("content", {"--frames", "36", "--size", "640x400"});
    expectFrameAndPanel(r);
    EXPECT_EQ(r.report["frames"].num(), 36);
}

TEST(SandboxHeadless, ReportValuesIncreaseMonotonically) {
    SandboxRun r = headless("values", {"--frames", "30", "--size", "320x200"});
    ASSERT_EQ(r.rc, 0) << r.log;
    expectMonotonicValues(r);
    EXPECT_EQ(r.report["produced"].num() >= r.report["fresh"].num() - 1, true);
}

TEST(SandboxHeadless, InjectedDelayMovesStallsTheRightWay) {
    SandboxRun fast = headless("delay0", {"--frames", "30", "--size", "320x200", "--delay", "0"});
    SandboxRun slow = headless("delay60", {"--frames", "30", "--size", "320x200", "--delay", "60"});
    ASSERT_EQ(fast.rc, 0) << fast.log;
    ASSERT_EQ(slow.rc, 0) << slow.log;
    const double cFast = mean(fast.report["consumer_stall_ms"]), cSlow = mean(slow.report["consumer_stall_ms"]);
    const double pFast = mean(fast.report["producer_stall_ms"]), pSlow = mean(slow.report["producer_stall_ms"]);
    // A slower producer: the graphics queue waits longer for each frame...
    EXPECT_GT(cSlow, cFast + 25.0) << "consumer stall mean: " << cFast << " ms -> " << cSlow << " ms";
    // ...and the producer no longer waits for free slots.
    EXPECT_LT(pSlow, pFast + 1.0) << "producer stall mean: " << pFast << " ms -> " << pSlow << " ms";
    EXPECT_LT(slow.report["fps"].num(), fast.report["fps"].num());
}

TEST(SandboxWindow, XvfbRunWithResize) {
    if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) GTEST_SKIP() << "xvfb-run is not installed (Debian: xvfb)";
    const std::string dir = sandboxtest::scratchDir("xvfb");
    std::vector<std::string> argv = {"xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", exe("baton-sandbox"), "--cpu",
                                     "--quiet", "--no-settings", "--frames", "300", "--size", "640x400",
                                     "--resize-at", "100:800x500", "--screenshot", dir + "/window.png", "--report",
                                     dir + "/report.json"};
    const int rc = sandboxtest::runProcess(argv, {"BATON_VALIDATION=1"}, dir + "/log.txt");
    const std::string log = sandboxtest::readFile(dir + "/log.txt");
    ASSERT_EQ(rc, 0) << log;
    Json report;
    ASSERT_TRUE(sandboxtest::readJsonFile(dir + "/report.json", &report)) << log;
    EXPECT_EQ(report["mode"].string, "window");
    EXPECT_EQ(report["frames"].num(), 300);
    EXPECT_EQ(report["validation_errors"].num(), 0);
    EXPECT_EQ(report["width"].num(), 800);
    EXPECT_EQ(report["height"].num(), 500);
    EXPECT_GE(report["swapchain_rebuilds"].num(), 1);
    EXPECT_GE(report["ring_rebuilds"].num(), 1) << "the ring did not follow the new size";
    EXPECT_GT(report["fresh"].num(), 100) << "frames were not produced live";
    Image png;
    ASSERT_TRUE(sandboxtest::readPng(dir + "/window.png", &png));
    EXPECT_EQ(png.width, 800);
    EXPECT_EQ(png.height, 500);
}

// The producer in a process of its own (baton-sandbox-producer, its own baton context and
// VkDevice, the ring's images and timelines handed over a socketpair): the picture is the
// Julia frame the report names, the values are live and monotonic, the child stopped
// cleanly at the end, and the sandbox has as many fds open after as before.
TEST(SandboxProcess, ShowsTheFrameOfAProducerProcess) {
    SandboxRun r = headless("process", {"--frames", "40", "--size", "640x400", "--producer", "process"});
    ASSERT_EQ(r.rc, 0) << r.log;
    EXPECT_EQ(r.report["producer"].string, "process");
    EXPECT_EQ(r.report["frames"].num(), 40);
    EXPECT_GT(r.report["fresh"].num(), 10) << "frames were not produced live by the child";
    expectFrameAndPanel(r);
    expectMonotonicValues(r);
    const Json& p = process(r);
    EXPECT_GT(p["pid"].num(), 0);
    EXPECT_EQ(p["started"].num(), 1);
    EXPECT_EQ(p["exits"].num(), 0) << p["exit"].string;
    EXPECT_EQ(p["last_stop"].string, "exited with status 0") << r.log;
    EXPECT_EQ(p["validation_errors"].num(), 0);
    EXPECT_GT(p["fds_before_first_ring"].num(), 0);
    EXPECT_EQ(p["fds_after_last_teardown"].num(), p["fds_before_first_ring"].num()) << "fds leaked";
    EXPECT_GT(r.report["producer_stall_ms"]["count"].num(), 0) << "no stall samples came from the child";
}

// SIGKILL of the producer process at frame 25: the run still renders every frame and exits
// 0 (no GPU wait on a value the dead child would never signal), the report says how it
// died, nothing newer than what had completed before the kill is shown (repeats only), and
// no fd is left behind.
TEST(SandboxProcess, KilledProducerIsSurvivedAndReported) {
    const int frames = 80, killAt = 25;
    SandboxRun r = headless("kill", {"--frames", std::to_string(frames), "--size", "320x200", "--kill-producer-at",
                                     std::to_string(killAt)});
    ASSERT_EQ(r.rc, 0) << r.log;
    EXPECT_EQ(r.report["frames"].num(), frames);
    EXPECT_EQ(r.report["validation_errors"].num(), 0);
    const Json& p = process(r);
    EXPECT_EQ(p["exit"].string, "killed by signal 9");
    EXPECT_EQ(p["at_frame"].num(), killAt);
    EXPECT_GE(p["seen_at_frame"].num(), killAt);
    EXPECT_LE(p["seen_at_frame"].num(), killAt + 2);
    EXPECT_EQ(p["started"].num(), 1);
    const double readyAtExit = p["ready_at_exit"].num();
    EXPECT_GT(readyAtExit, 0);
    // Nothing newer than what had completed when it died; the rest are repeats.
    EXPECT_LE(r.report["displayed"]["sequence"].num(), readyAtExit);
    EXPECT_LE(r.report["fresh"].num(), readyAtExit);
    // (Not repeats >= frames - readyAtExit: the first frames, before anything was produced,
    // are neither fresh nor repeats; on a fast GPU there are a few.)
    EXPECT_GE(r.report["repeats"].num(), frames - killAt - 8);
    EXPECT_EQ(p["fds_after_last_teardown"].num(), p["fds_before_first_ring"].num()) << "fds leaked";
    // The image still shows a complete frame (the last one), with the panel.
    ASSERT_EQ(r.png.width, 320);
    const unsigned char* px = r.png.at(315, 195);
    EXPECT_GT(px[0] + px[1] + px[2], 0) << "the frame area is black after the kill";
}

// The same with --restart-producer: a new child takes over, new frames appear again, and
// kill + restart leaves this process with as many fds as before.
TEST(SandboxProcess, KilledProducerIsRestarted) {
    const int frames = 120, killAt = 25;
    SandboxRun r = headless("restart", {"--frames", std::to_string(frames), "--size", "640x400", "--kill-producer-at",
                                        std::to_string(killAt), "--restart-producer"});
    ASSERT_EQ(r.rc, 0) << r.log;
    const Json& p = process(r);
    EXPECT_EQ(p["exit"].string, "killed by signal 9");
    EXPECT_EQ(p["started"].num(), 2);
    EXPECT_NE(p["pid"].num(), p["exit_pid"].num());
    EXPECT_EQ(p["last_stop"].string, "exited with status 0");
    EXPECT_GT(r.report["fresh"].num(), p["ready_at_exit"].num() + 20) << "the new producer's frames were not shown";
    ASSERT_EQ(p["fds_after_start"].array.size(), 2u);
    EXPECT_EQ(p["fds_after_start"][1].num(), p["fds_after_start"][0].num()) << "kill + restart leaked fds";
    EXPECT_EQ(p["fds_after_last_teardown"].num(), p["fds_before_first_ring"].num()) << "fds leaked";
    // The animation continues past the killed child's frames, and the picture is that frame.
    EXPECT_GT(r.report["displayed"]["anim_frame"].num(), p["ready_at_exit"].num());
    expectFrameAndPanel(r);
}

// The keyed-mutex backend (one baton keyed mutex per slot; producer acquire 0 / release 1,
// consumer acquire 1 / release 0): the right frame on screen, live counters, and the
// report says keyed. The same content check as the timeline backends, so a frame shown
// from a slot the producer still held (or never wrote) fails it.
TEST(SandboxHeadless, KeyedMutexBackendShowsTheProducedFrame) {
    SandboxRun r = headless("keyed", {"--frames", "40", "--size", "640x400", "--backend", "keyed"});
    ASSERT_EQ(r.rc, 0) << r.log;
    EXPECT_EQ(r.report["settings"]["backend"].string, "keyed");
    EXPECT_EQ(r.report["frames"].num(), 40);
    EXPECT_GT(r.report["fresh"].num(), 20) << "the keyed handoff did not deliver frames live";
    EXPECT_LE(r.report["displayed"]["sequence"].num(), r.report["enqueued"].num());
    expectFrameAndPanel(r);
    expectMonotonicValues(r);
}

// Keyed with the producer in another process (issue 11): the child creates a shared channel
// with a keyed mutex per slot and sends it; the right frame on screen, live, report says keyed.
TEST(SandboxHeadless, KeyedMutexWithProducerProcess) {
    SandboxRun r = headless("keyed-process", {"--frames", "40", "--size", "640x400", "--backend", "keyed",
                                              "--producer", "process"});
    ASSERT_EQ(r.rc, 0) << r.log;
    EXPECT_EQ(r.report["settings"]["backend"].string, "keyed");
    EXPECT_GT(r.report["fresh"].num(), 10) << "the keyed handoff from the producer process delivered no frames";
    expectFrameAndPanel(r);
}
