// The interop side of tests/cuda/interop_side.h built against baton through cuda_names.h,
// with its "kernel": a vkCmdFillBuffer recorded into the stream (kernels stay the user's own).
#include <baton/cuda_names.h>

#define INTEROP_NS viabaton
#include <unistd.h>

#include "interop_side.h"
#include "vk_renderer.h"

namespace viabaton {

cudaError_t writeWords(void* devPtr, size_t bytes, unsigned value, cudaStream_t stream) {
    batonMappedBufferInfo info{};
    cudaError_t e = batonMappedBufferGetInfo(devPtr, &info);
    if (e != cudaSuccess) return e;
    struct Fill {
        VkBuffer buffer;
        VkDeviceSize bytes;
        uint32_t value;
    } fill{info.buffer, bytes, value};
    return batonStreamRecord(
        stream,
        [](VkCommandBuffer cb, void* user) {
            auto* f = static_cast<Fill*>(user);
            vkCmdFillBuffer(cb, f->buffer, 0, f->bytes, f->value);
        },
        &fill);
}

// Runs the whole program: setup, `frames` frames checked by the renderer, teardown.
// Returns "" or what failed.
std::string runInterop(VkRenderer& renderer, unsigned long long frames) {
    InteropHandles h;
    std::string why;
    if (!renderer.exportHandles(&h, &why)) return why;
    InteropSide side;
    std::string step;
    cudaError_t e = side.init(h, &step);
    for (int fd : {h.memoryFd, h.cudaDoneFd, h.vkDoneFd})
        if (fd >= 0) close(fd);  // not taken: still ours
    if (e != cudaSuccess) {
        side.finish();
        return step + " -> " + cudaGetErrorName(e) + ": " + batonGetLastErrorMessage();
    }
    for (unsigned long long n = 1; n <= frames; ++n) {
        if ((e = side.frame(n)) != cudaSuccess) {
            why = "frame " + std::to_string(n) + ": " + cudaGetErrorName(e) + ": " + batonGetLastErrorMessage();
            break;
        }
        if (!renderer.readFrame(n, &why)) break;
    }
    const cudaError_t f = side.finish();
    if (why.empty() && f != cudaSuccess) why = std::string("finish -> ") + cudaGetErrorName(f) + ": " + batonGetLastErrorMessage();
    return why;
}

}  // namespace viabaton
