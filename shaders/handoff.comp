#version 450
// The benchmark's producer: writes every pixel of a frame, with an adjustable amount of
// arithmetic per pixel (push constant `iterations`) to make frames cheap or realistic.
layout(local_size_x = 8, local_size_y = 8) in;
layout(binding = 0, rgba8) uniform writeonly image2D frameImage;
layout(push_constant) uniform Params {
    uint frame;
    uint iterations;
} params;

void main() {
    ivec2 xy = ivec2(gl_GlobalInvocationID.xy);
    if (any(greaterThanEqual(xy, imageSize(frameImage)))) return;
    float v = float(xy.x ^ xy.y) / 255.0;
    for (uint i = 0u; i < params.iterations; ++i) v = fract(v * 1.618 + 0.37);
    imageStore(frameImage, xy, vec4(v, float(params.frame & 255u) / 255.0, 0.0, 1.0));
}
