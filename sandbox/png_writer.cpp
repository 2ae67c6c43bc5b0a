#include "png_writer.h"

#include <stb/stb_image_write.h>

namespace sandbox {

bool writePng(const std::string& path, const std::vector<uint8_t>& rgba, uint32_t width, uint32_t height) {
    if (rgba.size() < static_cast<size_t>(width) * height * 4) return false;
    return stbi_write_png(path.c_str(), static_cast<int>(width), static_cast<int>(height), 4, rgba.data(),
                          static_cast<int>(width * 4)) != 0;
}

}  // namespace sandbox
