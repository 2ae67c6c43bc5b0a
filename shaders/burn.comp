#version 450
// The cost knob: a dependent chain of ALU work, `loops` long per invocation. The producer
// adjusts `loops` from GPU timestamps until the dispatch takes the requested milliseconds.
layout(local_size_x = 64) in;
layout(set = 0, binding = 1, std430) buffer Sink { float sink[]; };
layout(push_constant) uniform Push { uint loops; } pc;

void main() {
    float x = float(gl_GlobalInvocationID.x) * 1e-4;
    for (uint i = 0u; i < pc.loops; ++i) x = fract(x * 1.000123 + 0.618034) * 0.999;
    sink[gl_GlobalInvocationID.x] = x;  // keeps the loop alive
}
