// PNG files from tightly packed RGBA8 pixels (stb_image_write from Debian's libstb, linked
// statically so that the headless binary needs nothing extra at run time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sandbox {

bool writePng(const std::string& path, const std::vector<uint8_t>& rgba, uint32_t width, uint32_t height);

}  // namespace sandbox
