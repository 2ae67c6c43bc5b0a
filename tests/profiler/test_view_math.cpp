// The glm maps behind the views: the Julia zoom's own view (juliaView: image pixels -> complex
// plane, pushed to julia.comp), the sandbox's pan/zoom of the fractal (ViewTransform: target
// pixels -> image UV, pushed to present.frag) and the inspector's time axis (TimeAxis: ns ->
// screen x). Zooming keeps the point under the cursor in place, panning follows the mouse,
// the fractal's view never leaves the image, and the shader gets the same map.
#include <gtest/gtest.h>

#include <cmath>

#include "julia_reference.h"
#include "time_axis.h"
#include "view_transform.h"

using baton::imgui::TimeAxis;
using sandbox::ViewTransform;

TEST(ViewMath, FractalZoomKeepsThePointUnderTheCursor) {
    ViewTransform v;
    const glm::dvec2 size(1280, 720), cursor(900, 200);
    EXPECT_TRUE(v.identity());
    EXPECT_NEAR(v.uvAt(cursor, size).x, 900.0 / 1280, 1e-12);
    const glm::dvec2 before = v.uvAt(cursor, size);
    v.zoomAt(cursor, size, 4.0);
    EXPECT_DOUBLE_EQ(v.zoom(), 4.0);
    EXPECT_NEAR(v.uvAt(cursor, size).x, before.x, 1e-12);
    EXPECT_NEAR(v.uvAt(cursor, size).y, before.y, 1e-12);
    // The shader's map is the same: uv * scale + offset at the cursor's unit position.
    const sandbox::PresentPush p = v.push();
    EXPECT_NEAR(cursor.x / size.x * p.scaleOffset.x + p.scaleOffset.z, before.x, 1e-6);
    EXPECT_NEAR(cursor.y / size.y * p.scaleOffset.y + p.scaleOffset.w, before.y, 1e-6);
}

TEST(ViewMath, FractalPanFollowsTheMouseAndStaysInTheImage) {
    ViewTransform v;
    const glm::dvec2 size(1000, 1000);
    v.zoomAt(glm::dvec2(500, 500), size, 2.0);
    const glm::dvec2 c0 = v.center();
    v.pan(glm::dvec2(100, 0), size);  // drag right: the image moves right, the view left
    EXPECT_NEAR(v.center().x, c0.x - 0.05, 1e-12);
    v.pan(glm::dvec2(1e6, -1e6), size);  // far beyond the edge: clamped
    const glm::dvec2 corner0 = v.uvAt(glm::dvec2(0, 0), size), corner1 = v.uvAt(size, size);
    EXPECT_GE(corner0.x, 0.0);
    EXPECT_LE(corner1.y, 1.0);
    EXPECT_NEAR(corner0.x, 0.0, 1e-12);
    EXPECT_NEAR(corner1.y, 1.0, 1e-12);
    v.zoomAt(glm::dvec2(0, 0), size, 1e9);
    EXPECT_DOUBLE_EQ(v.zoom(), ViewTransform::kMaxZoom);
    v.zoomAt(glm::dvec2(0, 0), size, 1e-9);
    EXPECT_DOUBLE_EQ(v.zoom(), 1.0);
    v.reset();
    EXPECT_TRUE(v.identity());
}

TEST(ViewMath, InspectorTimeAxisZoomsAboutTheCursorAndPans) {
    TimeAxis ax;
    ax.set(1'000'000'000'000ull, 1'000'000'010'000ull);  // 10 us of a long run: ns precision kept
    ax.pixels = glm::dvec2(100.0, 1100.0);
    EXPECT_FLOAT_EQ(ax.x(1'000'000'005'000ull), 600.0f);
    EXPECT_EQ(ax.nsAt(600.0f), 1'000'000'005'000ull);
    const uint64_t under = ax.nsAt(350.0f);
    ax.zoomAt(350.0f, 0.5);
    EXPECT_NEAR(static_cast<double>(ax.nsAt(350.0f)), static_cast<double>(under), 1.0);
    EXPECT_NEAR(ax.span(), 5000.0, 1e-6);
    ax.pan(100.0f);  // drag right by a tenth of the width: half a microsecond earlier
    EXPECT_NEAR(static_cast<double>(ax.nsAt(350.0f)), static_cast<double>(under) - 500.0, 1.0);
    ax.zoomAt(350.0f, 1e-9);
    EXPECT_GE(ax.span(), 100.0) << "zoom stops at 100 ns";
}

// The animation's view: the image's centre at 0, its height spanning 2 * zoom, turned by the
// animation's rotation; the push constants carry the same map and c.
TEST(ViewMath, JuliaViewCentresScalesAndTurnsTheImage) {
    for (uint32_t frame : {0u, 600u, 12345u}) {
        SCOPED_TRACE(frame);
        const sandbox::JuliaView<double> v = sandbox::juliaView<double>(1280, 720, frame);
        const double t = frame / 60.0, rot = 0.05 * t;
        const double zoom = 1.45 * std::exp(-1.1 * (0.5 - 0.5 * std::cos(0.17 * t)));
        const glm::dvec2 centre(v.pixelToZ * glm::dvec3(640, 360, 1));
        EXPECT_NEAR(centre.x, 0.0, 1e-12);
        EXPECT_NEAR(centre.y, 0.0, 1e-12);
        const glm::dvec2 bottom = glm::dvec2(v.pixelToZ * glm::dvec3(640, 720, 1)) - centre;
        EXPECT_NEAR(glm::length(bottom), zoom, 1e-12) << "half the height maps to zoom";
        const glm::dvec2 right = glm::dvec2(v.pixelToZ * glm::dvec3(641, 360, 1)) - centre;
        EXPECT_NEAR(std::atan2(right.y, right.x), std::remainder(rot, 2 * M_PI), 1e-9) << "the x axis turns by rot";
        EXPECT_NEAR(glm::dot(right, bottom), 0.0, 1e-12) << "no shear";
        EXPECT_NEAR(glm::length(v.c), 0.7885, 1e-12);
        const sandbox::JuliaPush p = sandbox::juliaPush(1280, 720, frame);
        EXPECT_NEAR(p.m01.x, v.pixelToZ[0][0], 1e-6);
        EXPECT_NEAR(p.m01.w, v.pixelToZ[1][1], 1e-6);
        EXPECT_NEAR(p.m2c.x, v.pixelToZ[2][0], 1e-4);
        EXPECT_NEAR(p.m2c.w, v.c.y, 1e-6);
        EXPECT_EQ(p.width, 1280u);
    }
}
