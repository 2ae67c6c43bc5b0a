// Puts VK_LAYER_BATON_fault into every Vulkan instance of this test process: runs before
// main, so before the first instance (the support's driver pinning, the default context).
#include <cstdio>
#include <cstdlib>

#include "fault_control.h"

namespace {

struct EnableFaultLayer {
    EnableFaultLayer() {
        std::string why = batonfault::enable();
        if (!why.empty()) {
            std::fprintf(stderr, "fault layer: %s\n", why.c_str());
            std::exit(1);  // every case here needs it: fail loudly rather than pass untested
        }
    }
} g_enable;

}  // namespace
