#version 450
// Producer: writes one frame of the Julia animation (its view pushed by the CPU) into one image of the ring.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 8, local_size_y = 8) in;
layout(set = 0, binding = 0, rgba8) uniform writeonly image2D frameImage;
layout(push_constant) uniform Push {  // sandbox::JuliaPush
    vec4 m01;  // the frame's view: pixel -> complex plane (columns 0 and 1)
    vec4 m2c;  // its translation, and c
    uint width;
    uint height;
} pc;

#include "julia_common.glsl"

void main() {
    uvec2 pixel = gl_GlobalInvocationID.xy;
    if (pixel.x >= pc.width || pixel.y >= pc.height) return;
    vec3 rgb = juliaColor(pixel, pc.m01, pc.m2c);
    imageStore(frameImage, ivec2(pixel), vec4(rgb, 1.0));
}
