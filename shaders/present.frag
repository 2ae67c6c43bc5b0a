#version 450
// Shows the produced frame full-window. Target and frame have the same size except while a
// resize is in flight, when the frame is stretched until the ring catches up.
layout(location = 0) in vec2 uv;
layout(location = 0) out vec4 color;
layout(set = 0, binding = 0) uniform sampler2D frameImage;
// The view (sandbox/view_transform.h, PresentPush): the part of the frame that fills the
// target; identity (1, 1, 0, 0) shows it whole.
layout(push_constant) uniform View {
    vec4 scaleOffset;
} view;
void main() {
    color = vec4(texture(frameImage, uv * view.scaleOffset.xy + view.scaleOffset.zw).rgb, 1.0);
}
