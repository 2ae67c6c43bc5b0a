// The inspector's time-to-pixel mapping: an affine map between a span of CLOCK_MONOTONIC
// (ns, as doubles) and a span of screen x, kept as glm vectors, with the zoom about a point
// and the pan that the mouse drives. Times are relative to an origin so that doubles keep
// nanosecond precision over a long run.
#pragma once

#include <cstdint>

#include <glm/glm.hpp>

namespace baton {
namespace imgui {

struct TimeAxis {
    uint64_t origin = 0;           // ns; view times are relative to it
    glm::dvec2 view{0.0, 1e6};     // [start, end] ns after origin
    glm::dvec2 pixels{0.0, 1.0};   // [left, right] screen x

    void set(uint64_t startNs, uint64_t endNs) {
        origin = startNs;
        view = glm::dvec2(0.0, static_cast<double>(endNs > startNs ? endNs - startNs : 1));
    }
    double span() const { return view.y - view.x; }
    double rel(uint64_t ns) const { return static_cast<double>(static_cast<int64_t>(ns - origin)); }
    // Screen x of a time; time of a screen x.
    float x(uint64_t ns) const {
        return static_cast<float>(glm::mix(pixels.x, pixels.y, (rel(ns) - view.x) / span()));
    }
    double timeAt(float px) const {
        const double t = (static_cast<double>(px) - pixels.x) / (pixels.y - pixels.x);
        return glm::mix(view.x, view.y, glm::clamp(t, -1.0, 2.0));
    }
    uint64_t nsAt(float px) const { return origin + static_cast<uint64_t>(static_cast<int64_t>(timeAt(px))); }
    // Zoom by factor (< 1: in) keeping the time under screen x px where it is.
    void zoomAt(float px, double factor) {
        const double t = timeAt(px);
        view = glm::dvec2(t) + (view - glm::dvec2(t)) * factor;
        if (span() < 100.0) view = glm::dvec2(t - 50.0, t + 50.0);  // 100 ns is enough
    }
    // Pan by a drag of dx pixels.
    void pan(float dx) { view -= glm::dvec2(static_cast<double>(dx) * span() / (pixels.y - pixels.x)); }
    bool visible(uint64_t start, uint64_t end) const { return rel(end) >= view.x && rel(start) <= view.y; }
};

}  // namespace imgui
}  // namespace baton
