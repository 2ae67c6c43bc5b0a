// CPU mirror of shaders/julia_common.glsl, line for line: the colour the producer writes for
// a pixel of a frame. Tests compare the sandbox's PNG with it. Change both together.
// The Julia zoom's view (aspect, animated zoom and rotation: pixel -> complex plane) and the
// parameter c are computed here once per frame with glm (juliaView) and pushed to julia.comp
// (JuliaPush), which applies the same affine map to every pixel.
#pragma once

#include <cmath>
#include <cstdint>

#define GLM_ENABLE_EXPERIMENTAL
#include <glm/glm.hpp>
#include <glm/gtx/matrix_transform_2d.hpp>

namespace sandbox {

template <typename F>
struct JuliaRgb {
    F r, g, b;
};

template <typename F>
JuliaRgb<F> juliaPalette(F t) {
    const F twoPi = F(6.2831853);
    return {F(0.5) + F(0.5) * std::cos(twoPi * (t + F(0.0))), F(0.5) + F(0.5) * std::cos(twoPi * (t + F(0.10))),
            F(0.5) + F(0.5) * std::cos(twoPi * (t + F(0.20)))};
}

// The Julia zoom of frame `frame` on a width x height image: the affine map from a pixel's
// centre (x + 0.5, y + 0.5) to the complex plane, z0 = pixelToZ * (x + 0.5, y + 0.5, 1), and c.
// Centre of the image -> 0; the image's height spans 2 * zoom; the plane turns by rot.
template <typename F>
struct JuliaView {
    glm::mat<3, 3, F> pixelToZ;
    glm::vec<2, F> c;
};

template <typename F>
JuliaView<F> juliaView(uint32_t width, uint32_t height, uint64_t frame) {
    using V2 = glm::vec<2, F>;
    using M3 = glm::mat<3, 3, F>;
    const F t = F(frame) / F(60.0);
    const F a = F(2.75) + F(0.30) * std::sin(F(0.13) * t);  // c near the Mandelbrot set's boundary: spiralling
    const F zoom = F(1.45) * std::exp(F(-1.1) * (F(0.5) - F(0.5) * std::cos(F(0.17) * t)));
    const F rot = F(0.05) * t;
    const V2 size(static_cast<F>(width), static_cast<F>(height));
    const M3 m = glm::rotate(M3(F(1)), rot) * glm::scale(M3(F(1)), V2(F(2) * zoom / size.y)) *
                 glm::translate(M3(F(1)), -F(0.5) * size);
    return {m, F(0.7885) * V2(std::cos(a), std::sin(a))};
}

// julia.comp's push constants (std430): the view's 2x3 map column by column, c, the image's size.
struct JuliaPush {
    glm::vec4 m01;  // pixelToZ[0].xy, pixelToZ[1].xy
    glm::vec4 m2c;  // pixelToZ[2].xy (the translation), c
    uint32_t width, height, pad[2];
};
static_assert(sizeof(JuliaPush) == 48, "julia.comp's push_constant block is two vec4 and two uints (padded)");

inline JuliaPush juliaPush(uint32_t width, uint32_t height, uint64_t frame) {
    const JuliaView<float> v = juliaView<float>(width, height, frame);
    return {glm::vec4(v.pixelToZ[0][0], v.pixelToZ[0][1], v.pixelToZ[1][0], v.pixelToZ[1][1]),
            glm::vec4(v.pixelToZ[2][0], v.pixelToZ[2][1], v.c.x, v.c.y), width, height, {0, 0}};
}

// F = float reproduces the shader's arithmetic (on the view juliaPush sends it); F = double
// tells which pixels are too close to the set's boundary for float results to be comparable.
template <typename F>
JuliaRgb<F> juliaColor(uint32_t px, uint32_t py, uint32_t width, uint32_t height, uint32_t frame) {
    const int kMaxIter = 192;
    const JuliaView<F> v = juliaView<F>(width, height, frame);
    const F x = F(px) + F(0.5), y = F(py) + F(0.5);
    F zx = v.pixelToZ[0][0] * x + v.pixelToZ[1][0] * y + v.pixelToZ[2][0];
    F zy = v.pixelToZ[0][1] * x + v.pixelToZ[1][1] * y + v.pixelToZ[2][1];
    const F cx = v.c.x, cy = v.c.y;
    int i = 0;
    F r2 = zx * zx + zy * zy;
    for (; i < kMaxIter && r2 <= F(256.0); ++i) {
        F nx = zx * zx - zy * zy + cx;
        zy = F(2.0) * zx * zy + cy;
        zx = nx;
        r2 = zx * zx + zy * zy;
    }
    if (i == kMaxIter) return {F(0.02), F(0.02), F(0.06)};
    F n = F(i) - std::log2(std::log2(r2)) + F(4.0);
    JuliaRgb<F> c = juliaPalette(F(0.035) * n + F(0.55));
    F k = F(0.35) + F(0.65) * std::fmin(n / F(24.0), F(1.0));
    return {c.r * k, c.g * k, c.b * k};
}

}  // namespace sandbox
