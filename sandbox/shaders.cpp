#include "shaders.h"

namespace sandbox {
namespace {
const uint32_t julia[] = {
#include "julia.comp.inc"
};
const uint32_t burn[] = {
#include "burn.comp.inc"
};
const uint32_t fullscreen[] = {
#include "fullscreen.vert.inc"
};
const uint32_t present[] = {
#include "present.frag.inc"
};
}  // namespace

const Spirv kJuliaComp{julia, sizeof julia};
const Spirv kBurnComp{burn, sizeof burn};
const Spirv kFullscreenVert{fullscreen, sizeof fullscreen};
const Spirv kPresentFrag{present, sizeof present};

VkShaderModule createShader(VkDevice device, const Spirv& spirv) {
    VkShaderModuleCreateInfo ci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, nullptr, 0, spirv.bytes, spirv.words};
    VkShaderModule m = VK_NULL_HANDLE;
    VK_CHECK(vkCreateShaderModule(device, &ci, nullptr, &m));
    return m;
}

}  // namespace sandbox
