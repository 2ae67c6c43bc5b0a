// The interop side of tests/cuda/interop_side.h built against baton through cuda_names.h,
// with its "kernel": a vkCmdFillBuffer recorded into the stream (kernels stay the user's own).
#include <baton/cuda_names.h>

#define INTEROP_NS viabaton
#define INTEROP_DETAIL() batonGetLastErrorMessage()
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

std::string runProgram(VkRenderer& renderer, unsigned long long frames) { return runInterop(renderer, frames); }
std::vector<InteropProbe> probes(int memoryFd, unsigned long long memorySize) { return probeErrors(memoryFd, memorySize); }

}  // namespace viabaton
