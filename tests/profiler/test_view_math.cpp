// The glm maps behind the views: the sandbox's pan/zoom of the fractal (ViewTransform: target
// pixels -> image UV, pushed to present.frag) and the inspector's time axis (TimeAxis: ns ->
// screen x). Zooming keeps the point under the cursor in place, panning follows the mouse,
// the fractal's view never leaves the image, and the shader gets the same map.
#include <gtest/gtest.h>

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
