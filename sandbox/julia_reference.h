// CPU mirror of shaders/julia_common.glsl, line for line: the colour the producer writes for
// a pixel of a frame. Tests compare the sandbox's PNG with it. Change both together.
#pragma once

#include <cmath>
#include <cstdint>

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

// F = float reproduces the shader's arithmetic; F = double tells which pixels are too close
// to the set's boundary for float results to be comparable.
template <typename F>
JuliaRgb<F> juliaColor(uint32_t px, uint32_t py, uint32_t width, uint32_t height, uint32_t frame) {
    const int kMaxIter = 192;
    F t = F(frame) / F(60.0);
    F a = F(2.75) + F(0.30) * std::sin(F(0.13) * t);
    F cx = F(0.7885) * std::cos(a), cy = F(0.7885) * std::sin(a);
    F zoom = F(1.45) * std::exp(F(-1.1) * (F(0.5) - F(0.5) * std::cos(F(0.17) * t)));
    F rot = F(0.05) * t;
    F x = (F(2.0) * (F(px) + F(0.5)) - F(width)) / F(height) * zoom;
    F y = (F(2.0) * (F(py) + F(0.5)) - F(height)) / F(height) * zoom;
    F zx = x * std::cos(rot) - y * std::sin(rot), zy = x * std::sin(rot) + y * std::cos(rot);
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
