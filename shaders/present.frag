#version 450
// Shows the produced frame full-window. Target and frame have the same size except while a
// resize is in flight, when the frame is stretched until the ring catches up.
layout(location = 0) in vec2 uv;
layout(location = 0) out vec4 color;
layout(set = 0, binding = 0) uniform sampler2D frameImage;
void main() {
    color = vec4(texture(frameImage, uv).rgb, 1.0);
}
