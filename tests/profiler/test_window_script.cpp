// The windowed sandbox under Xvfb driven by xdotool (window_script.sh): pause the frame
// inspector, zoom its timeline with the wheel, hover zones, switch the backend, zoom the
// fractal; each step's screenshot (F12, with the layout of that very frame) is compared with
// the one before: the view changed where the step says, and nowhere while nothing was done.
// The run ends with SIGTERM: report, trace and settings are written.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox_run.h"
#include "trace_check.h"

namespace {

struct Rect {
    int x = 0, y = 0, w = 0, h = 0;
};

std::map<std::string, Rect> readUi(const std::string& path) {
    std::map<std::string, Rect> out;
    std::ifstream in(path);
    std::string name;
    Rect r;
    while (in >> name >> r.x >> r.y >> r.w >> r.h) out[name] = r;
    return out;
}

// Pixels of rect a in image A that differ (sum of channel differences > 48) from rect b in B
// (same size), as a fraction of the rect.
double differs(const sandboxtest::Image& A, Rect a, const sandboxtest::Image& B, Rect b) {
    int n = 0, d = 0;
    for (int y = 0; y < a.h; ++y)
        for (int x = 0; x < a.w; ++x) {
            if (a.x + x < 0 || a.y + y < 0 || b.x + x < 0 || b.y + y < 0 || a.x + x >= A.width || a.y + y >= A.height ||
                b.x + x >= B.width || b.y + y >= B.height)
                continue;
            const unsigned char *p = A.at(a.x + x, a.y + y), *q = B.at(b.x + x, b.y + y);
            ++n;
            d += std::abs(p[0] - q[0]) + std::abs(p[1] - q[1]) + std::abs(p[2] - q[2]) > 48;
        }
    return n ? static_cast<double>(d) / n : 0.0;
}

}  // namespace

TEST(SandboxWindowScript, PauseZoomHoverAndBackendChangeTheView) {
    if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) GTEST_SKIP() << "xvfb-run is not installed (Debian: xvfb)";
    if (std::system("command -v xdotool >/dev/null 2>&1") != 0) GTEST_SKIP() << "xdotool is not installed (Debian: xdotool)";
    const std::string dir = sandboxtest::scratchDir("window-script");
    std::system(("rm -rf '" + dir + "'/* 2>/dev/null").c_str());
    char abs[4096];
    ASSERT_NE(realpath(dir.c_str(), abs), nullptr);
    const std::string adir = abs;
    const int rc = sandboxtest::runProcess({"xvfb-run", "-a", "-s", "-screen 0 1280x800x24", WINDOW_SCRIPT, WINDOW_SANDBOX, adir},
                                           {}, adir + "/script.log");
    const std::string log = sandboxtest::readFile(adir + "/script.log") + sandboxtest::readFile(adir + "/steps.txt") +
                            sandboxtest::readFile(adir + "/sandbox.log");
    ASSERT_EQ(rc, 0) << log;
    ASSERT_NE(log.find("sandbox exit 0"), std::string::npos) << log;

    std::vector<sandboxtest::Image> shot(11);
    std::vector<std::map<std::string, Rect>> ui(11);
    for (int i = 1; i <= 10; ++i) {
        const std::string png = adir + "/sandbox-screenshot-" + std::to_string(i) + ".png";
        ASSERT_TRUE(sandboxtest::readPng(png, &shot[i])) << png << "\n" << log;
        ui[i] = readUi(png + ".ui.txt");
        ASSERT_TRUE(ui[i].count("inspector_timeline")) << png << ": no layout";
    }
    auto rect = [&](int i, const char* name) { return ui[i][name]; };
    auto between = [&](int a, int b, const char* name) { return differs(shot[a], rect(a, name), shot[b], rect(b, name)); };
    std::printf("changed: pause %.3f, paused-idle timeline %.4f, zoom %.3f, backend %.3f\n",
                between(1, 2, "inspector_pause"), between(2, 3, "inspector_timeline"), between(3, 4, "inspector_timeline"),
                between(9, 10, "backend_keyed"));

    // 1 -> 2: the pause button (its label).
    EXPECT_GT(differs(shot[1], rect(1, "inspector_pause"), shot[2], rect(2, "inspector_pause")), 0.05) << "pause";
    // 2 -> 3: paused and nothing done: the timeline did not move.
    EXPECT_LT(differs(shot[2], rect(2, "inspector_timeline"), shot[3], rect(3, "inspector_timeline")), 0.002)
        << "the paused timeline changed by itself";
    // 3 -> 4: four wheel clicks: the timeline (ruler, zones) changed.
    EXPECT_GT(differs(shot[3], rect(3, "inspector_timeline"), shot[4], rect(4, "inspector_timeline")), 0.01) << "zoom";
    // 5..9: hovering the stream lane's zones: a tooltip beside the cursor in at least one.
    std::istringstream steps(sandboxtest::readFile(adir + "/steps.txt"));
    std::vector<std::pair<int, int>> hovers;
    for (std::string line; std::getline(steps, line);) {
        int x = 0, y = 0;
        if (std::sscanf(line.c_str(), "hover %d %d", &x, &y) == 2) hovers.emplace_back(x, y);
    }
    ASSERT_EQ(hovers.size(), 5u) << log;
    int tooltips = 0;
    for (int k = 0; k < 5; ++k) {
        const int i = 5 + k;
        const Rect tl = rect(i, "inspector_timeline"), tl4 = rect(4, "inspector_timeline");
        const Rect near{hovers[k].first + 14, hovers[k].second + 14, 160, 60};
        const Rect before{near.x - tl.x + tl4.x, near.y - tl.y + tl4.y, near.w, near.h};
        const double d = differs(shot[i], near, shot[4], before);
        std::printf("hover %d at %d,%d: %.3f of the area beside the cursor changed\n", k, hovers[k].first, hovers[k].second, d);
        if (d > 0.05) ++tooltips;  // paused: without a tooltip this area does not change (~0)
    }
    EXPECT_GE(tooltips, 1) << "no hover showed a zone's details";
    // 9 -> 10: the backend radio button.
    EXPECT_GT(differs(shot[9], rect(9, "backend_keyed"), shot[10], rect(10, "backend_keyed")), 0.02) << "backend";

    sandboxtest::Json r;
    ASSERT_TRUE(sandboxtest::readJsonFile(adir + "/report.json", &r)) << log;
    EXPECT_EQ(r["mode"].string, "window");
    EXPECT_EQ(r["ended_by"].string, "SIGTERM");
    EXPECT_EQ(r["settings"]["backend"].string, "keyed");
    EXPECT_GE(r["ring_rebuilds"].num(), 1);
    EXPECT_GT(r["view"]["zoom"].num(), 1.5) << "the wheel over the fractal did not zoom it";
    EXPECT_EQ(r["validation_errors"].num(), 0);
    const std::string ini = sandboxtest::readFile(adir + "/config/baton/sandbox.ini");
    EXPECT_NE(ini.find("backend = keyed"), std::string::npos) << "settings not saved on SIGTERM:\n" << ini;
    EXPECT_NE(ini.find("inspector = 1"), std::string::npos) << ini;
    batontest::TraceFile t;
    std::string why;
    ASSERT_TRUE(t.read(adir + "/trace.json", &why)) << why;
    EXPECT_TRUE(t.balanced);
}
