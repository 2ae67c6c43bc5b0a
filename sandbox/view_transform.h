// The renderer's view of the produced fractal: which part of the frame image fills the
// target, as a 2-D affine map from target coordinates ([0,1]^2) to image UVs (glm::dmat3),
// driven by the mouse (wheel: zoom about the cursor, drag: pan). Identity by default, so
// that a headless PNG shows the frame pixel for pixel (tests compare it with the shader's CPU
// mirror). The fragment shader gets the map as a push constant (PresentPush).
#pragma once

#define GLM_ENABLE_EXPERIMENTAL
#include <glm/glm.hpp>
#include <glm/gtx/matrix_transform_2d.hpp>

namespace sandbox {

// present.frag's push constants (std430: one vec4): uv' = uv * scaleOffset.xy + scaleOffset.zw.
struct PresentPush {
    glm::vec4 scaleOffset{1.0f, 1.0f, 0.0f, 0.0f};
};
static_assert(sizeof(PresentPush) == 16, "present.frag's push_constant block is one vec4");

class ViewTransform {
public:
    static constexpr double kMaxZoom = 64.0;

    // Target coordinates (pixels) -> image UV.
    glm::dmat3 uvFromTarget(glm::dvec2 targetSize) const {
        return uvFromUnit_ * glm::scale(glm::dmat3(1.0), 1.0 / targetSize);
    }
    glm::dvec2 uvAt(glm::dvec2 px, glm::dvec2 targetSize) const {
        return glm::dvec2(uvFromTarget(targetSize) * glm::dvec3(px, 1.0));
    }
    // Zooms by factor (> 1: in) keeping the image point under px where it is.
    void zoomAt(glm::dvec2 px, glm::dvec2 targetSize, double factor) {
        const double z = glm::clamp(zoom() * factor, 1.0, kMaxZoom);
        const glm::dvec2 unit = px / targetSize;
        const glm::dvec2 anchor = glm::dvec2(uvFromUnit_ * glm::dvec3(unit, 1.0));
        // uv = anchor + (unit' - unit) / z
        uvFromUnit_ = glm::translate(glm::dmat3(1.0), anchor - unit / z) * glm::scale(glm::dmat3(1.0), glm::dvec2(1.0 / z));
        clampToImage();
    }
    // Pans by a drag of delta pixels (the image follows the mouse).
    void pan(glm::dvec2 delta, glm::dvec2 targetSize) {
        uvFromUnit_ = glm::translate(glm::dmat3(1.0), -delta / targetSize / zoom()) * uvFromUnit_;
        clampToImage();
    }
    void reset() { uvFromUnit_ = glm::dmat3(1.0); }
    double zoom() const { return 1.0 / uvFromUnit_[0][0]; }
    glm::dvec2 center() const { return glm::dvec2(uvFromUnit_ * glm::dvec3(0.5, 0.5, 1.0)); }
    bool identity() const { return uvFromUnit_ == glm::dmat3(1.0); }
    PresentPush push() const {
        return {glm::vec4(static_cast<float>(uvFromUnit_[0][0]), static_cast<float>(uvFromUnit_[1][1]),
                          static_cast<float>(uvFromUnit_[2][0]), static_cast<float>(uvFromUnit_[2][1]))};
    }

private:
    // Keeps the view inside the image (no empty borders).
    void clampToImage() {
        const double s = uvFromUnit_[0][0];
        uvFromUnit_[2][0] = glm::clamp(uvFromUnit_[2][0], 0.0, 1.0 - s);
        uvFromUnit_[2][1] = glm::clamp(uvFromUnit_[2][1], 0.0, 1.0 - s);
    }
    glm::dmat3 uvFromUnit_{1.0};  // unit target coordinates -> UV: scale then offset
};

}  // namespace sandbox
