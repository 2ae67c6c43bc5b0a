// The sandbox's view of Vulkan: volk's function pointers (renamed, see CMakeLists.txt) and
// abort-on-error checks. Aborting is fine here, in the app; never in plugin/.
#pragma once

#include "volk_rename.h"
#include <volk.h>

namespace sandbox {

[[noreturn]] void vkFatal(VkResult r, const char* expr, const char* file, int line);
const char* vkResultName(VkResult r);

}  // namespace sandbox

#define VK_CHECK(expr)                                                          \
    do {                                                                        \
        VkResult vk_check_r_ = (expr);                                          \
        if (vk_check_r_ != VK_SUCCESS) ::sandbox::vkFatal(vk_check_r_, #expr, __FILE__, __LINE__); \
    } while (0)

#define BATON_CHECK(expr)                                                       \
    do {                                                                        \
        batonError_t baton_check_e_ = (expr);                                   \
        if (baton_check_e_ != batonSuccess) ::sandbox::batonFatal(baton_check_e_, #expr, __FILE__, __LINE__); \
    } while (0)

#include <baton/baton.h>
namespace sandbox {
[[noreturn]] void batonFatal(batonError_t e, const char* expr, const char* file, int line);
}
