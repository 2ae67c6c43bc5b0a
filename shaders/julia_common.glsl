// The produced image, as a function of (pixel, frame): an animated Julia set zoom.
// sandbox/julia_reference.h mirrors this line for line on the CPU so that tests can check
// the pixels the sandbox shows for a given frame number. Change both together.

const int kJuliaMaxIter = 192;

vec3 juliaPalette(float t) {
    // Inigo Quilez's cosine palette: deep blue -> teal -> gold.
    return vec3(0.5, 0.5, 0.5) + vec3(0.5, 0.5, 0.5) * cos(6.2831853 * (vec3(1.0, 1.0, 1.0) * t + vec3(0.0, 0.10, 0.20)));
}

vec3 juliaColor(uvec2 pixel, uvec2 size, uint frame) {
    float t = float(frame) / 60.0;
    float a = 2.75 + 0.30 * sin(0.13 * t);  // c stays near the boundary of the Mandelbrot set: connected, spiralling
    vec2 c = 0.7885 * vec2(cos(a), sin(a));
    float zoom = 1.45 * exp(-1.1 * (0.5 - 0.5 * cos(0.17 * t)));
    float rot = 0.05 * t;
    vec2 p = (2.0 * (vec2(pixel) + 0.5) - vec2(size)) / float(size.y) * zoom;
    vec2 z = vec2(p.x * cos(rot) - p.y * sin(rot), p.x * sin(rot) + p.y * cos(rot));
    int i = 0;
    float r2 = dot(z, z);
    for (; i < kJuliaMaxIter && r2 <= 256.0; ++i) {
        z = vec2(z.x * z.x - z.y * z.y, 2.0 * z.x * z.y) + c;
        r2 = dot(z, z);
    }
    if (i == kJuliaMaxIter) return vec3(0.02, 0.02, 0.06);  // inside: near black
    float n = float(i) - log2(log2(r2)) + 4.0;                // smooth iteration count
    return juliaPalette(0.035 * n + 0.55) * (0.35 + 0.65 * min(n / 24.0, 1.0));
}
