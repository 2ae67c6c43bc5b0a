// The baton build of the interop side (baton_kernel.cpp), for the tests.
#pragma once

#include <string>
#include <vector>

#include "interop_handles.h"
#include "vk_renderer.h"

namespace viabaton {
std::string runProgram(VkRenderer& renderer, unsigned long long frames);
std::vector<InteropProbe> probes(int memoryFd, unsigned long long memorySize);
}  // namespace viabaton
