// SPIR-V of the shaders in shaders/, compiled by glslc at build time and embedded here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vk.h"

namespace sandbox {

struct Spirv {
    const uint32_t* words;
    size_t bytes;
};

extern const Spirv kJuliaComp, kBurnComp, kFullscreenVert, kPresentFrag;

VkShaderModule createShader(VkDevice device, const Spirv& spirv);

}  // namespace sandbox
