// The produced image, as a function of (pixel, frame): an animated Julia set zoom. The frame's
// view (pixel -> complex plane) and c come from the CPU (sandbox/julia_reference.h: juliaView).
// sandbox/julia_reference.h mirrors this line for line on the CPU so that tests can check
// the pixels the sandbox shows for a given frame number. Change both together.

const int kJuliaMaxIter = 192;

vec3 juliaPalette(float t) {
    // Inigo Quilez's cosine palette: deep blue -> teal -> gold.
    return vec3(0.5, 0.5, 0.5) + vec3(0.5, 0.5, 0.5) * cos(6.2831853 * (vec3(1.0, 1.0, 1.0) * t + vec3(0.0, 0.10, 0.20)));
}

// m01 = (pixelToZ[0].xy, pixelToZ[1].xy), m2c = (pixelToZ[2].xy, c): the frame's view and c,
// computed on the CPU with glm (sandbox/julia_reference.h: juliaView, juliaPush).
vec3 juliaColor(uvec2 pixel, vec4 m01, vec4 m2c) {
    vec2 p = vec2(pixel) + 0.5;
    vec2 z = vec2(m01.x * p.x + m01.z * p.y + m2c.x, m01.y * p.x + m01.w * p.y + m2c.y);
    vec2 c = m2c.zw;
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
