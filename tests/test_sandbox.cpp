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

}  // namespace

TEST(SandboxHeadless, ShowsTheProducedFrameAndThePanel) {
    const int w = 640, h = 400;
    SandboxRun r = headless("content", {"--frames", "36", "--size", "640x400"});
    ASSERT_EQ(r.rc, 0) << r.log;
    ASSERT_EQ(r.png.width, w);
    ASSERT_EQ(r.png.height, h);
    EXPECT_EQ(r.report["validation_errors"].num(), 0);
    EXPECT_EQ(r.report["frames"].num(), 36);
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

TEST(SandboxHeadless, ReportValuesIncreaseMonotonically) {
    SandboxRun r = headless("values", {"--frames", "30", "--size", "320x200"});
    ASSERT_EQ(r.rc, 0) << r.log;
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
