// The embeddable profiler (baton::imgui) drawn by an example engine that is not the sandbox
// (tests/profiler/imgui_host): a real handoff through baton's channel, the engine's own
// ImGui frame rendered offscreen with ImGui's Vulkan backend, the profiler window in it with
// the inspector on a selected frame. The PNG is checked: the window is where the host says,
// it has text, the timeline has zones of the kinds baton records and flow arrows, and the
// rest of the image is the engine's clear colour.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "sandbox_run.h"

namespace {

std::map<std::string, std::string> readKeyValues(const std::string& path) {
    std::map<std::string, std::string> kv;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (size_t eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    return kv;
}

struct Rect {
    int x = 0, y = 0, w = 0, h = 0;
};
Rect rectOf(const std::string& s) {
    Rect r;
    std::istringstream(s) >> r.x >> r.y >> r.w >> r.h;
    return r;
}

bool near(const unsigned char* p, int r, int g, int b, int tol) {
    return std::abs(p[0] - r) <= tol && std::abs(p[1] - g) <= tol && std::abs(p[2] - b) <= tol;
}

}  // namespace

TEST(ProfilerImgui, ExampleHostDrawsTheInspectorOnASelectedFrame) {
    const std::string dir = sandboxtest::scratchDir("imgui-host");
    std::vector<std::string> argv = {IMGUI_HOST, "--out", dir, "--frames", "240", "--size", "1280x720", "--inspect"};
    const std::string font = BATON_PANEL_FONT_PATH;  // copied from fonts-dejavu-core at configure time
    if (std::ifstream(font).good()) argv.insert(argv.end(), {"--font", font});
    const int rc = sandboxtest::runProcess(argv, {"BATON_VALIDATION=1"}, dir + "/log.txt");
    const std::string log = sandboxtest::readFile(dir + "/log.txt");
    ASSERT_EQ(rc, 0) << log;
    auto kv = readKeyValues(dir + "/host-report.txt");
    EXPECT_EQ(kv["frames"], "240") << "the profiler holds every frame of the handoff";
    EXPECT_GT(std::atof(kv["p50_us"].c_str()), 0.0);
    EXPECT_EQ(kv["selected"], "120");
    sandboxtest::Image png;
    ASSERT_TRUE(sandboxtest::readPng(dir + "/profiler.png", &png));
    ASSERT_EQ(png.width, 1280);
    ASSERT_EQ(png.height, 720);

    // The engine's clear colour outside the profiler window (0.10, 0.12, 0.16).
    const Rect win = rectOf(kv["window"]), tl = rectOf(kv["timeline"]);
    ASSERT_GT(win.w, 600);
    ASSERT_GT(win.h, 300);
    int outsideClear = 0, outside = 0;
    for (int y = win.y + win.h + 4; y < png.height; y += 4)
        for (int x = 0; x < png.width; x += 4, ++outside) outsideClear += near(png.at(x, y), 26, 31, 41, 3);
    ASSERT_GT(outside, 1000);
    EXPECT_GT(outsideClear, outside * 99 / 100) << "the image outside the window is not the engine's clear colour";

    // The window: not the clear colour, with text.
    int inWindow = 0, notClear = 0, bright = 0;
    for (int y = win.y + 2; y < win.y + win.h - 2; y += 2)
        for (int x = win.x + 2; x < win.x + win.w - 2; x += 2, ++inWindow) {
            const unsigned char* p = png.at(x, y);
            notClear += !near(p, 26, 31, 41, 3);
            bright += p[0] + p[1] + p[2] > 600;
        }
    EXPECT_GT(notClear, inWindow * 9 / 10) << "no window drawn where the profiler says it is";
    EXPECT_GT(bright, 200) << "no text in the window";

    // The timeline: GPU work (teal), waits (orange), consumer frames (blue), the selection
    // (yellow) and white arrows.
    ASSERT_GT(tl.w, 300);
    int teal = 0, orange = 0, blue = 0, yellow = 0, white = 0;
    for (int y = tl.y; y < tl.y + tl.h && y < png.height; ++y)
        for (int x = tl.x; x < tl.x + tl.w && x < png.width; ++x) {
            const unsigned char* p = png.at(x, y);
            teal += near(p, 60, 190, 165, 12);
            orange += near(p, 235, 140, 60, 12) || near(p, 235, 120, 90, 12);
            blue += near(p, 90, 150, 255, 12);
            yellow += near(p, 255, 230, 0, 20);
            white += p[0] > 200 && p[1] > 200 && p[2] > 200;
        }
    EXPECT_GT(teal, 50) << "no GPU work zones";
    EXPECT_GT(orange, 20) << "no waits or handoff spans";
    EXPECT_GT(blue, 20) << "no consumer zones";
    EXPECT_GT(yellow, 20) << "the selected frame is not highlighted";
    EXPECT_GT(white, 100) << "no signals or flow arrows";
}
