// The Vulkan-CUDA interop program of tests/cuda (cuda-samples' simpleVulkan shape) on the
// H200, with the renderer's own exported fds (native memory, native timelines):
//   1. its interop side (tests/cuda/interop_side.h) built against the real CUDA 13 runtime,
//      with a CUDA kernel as the "kernel";
//   2. the same interop side built against baton (tests/cuda/baton_kernel.cpp: cuda_names.h,
//      a vkCmdFillBuffer as the "kernel");
//   3. baton's build again with baton-exported memory and portable timelines (the CI path);
//   4. the bad-input probes of interop_side.h on both builds, compared call by call.
// Every frame's words are checked by the renderer; validation must stay clean.
// Also checks baton_cuda.h's layouts and numbers against the real CUDA headers.
//
// Build and run: scripts/gpu-cuda-interop.sh (nvcc this file with tests/cuda/baton_kernel.cpp and
// tests/cuda/vk_renderer.cpp, -Iplugin/include -Itests/cuda, -lbaton and libvulkan.so.1).
#include <cuda_runtime.h>

#include <baton/baton_cuda.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>

// ---- baton_cuda.h keeps CUDA 13's layouts and numbers --------------------------------------
#define SAME_SIZE(b, c) static_assert(sizeof(b) == sizeof(c), #b " vs " #c)
#define SAME_OFFSET(b, c, f) static_assert(offsetof(b, f) == offsetof(c, f), #b "::" #f)
#define SAME_VALUE(b, c) static_assert(static_cast<long long>(b) == static_cast<long long>(c), #b " vs " #c)
SAME_SIZE(batonExternalMemoryHandleDesc, cudaExternalMemoryHandleDesc);
SAME_OFFSET(batonExternalMemoryHandleDesc, cudaExternalMemoryHandleDesc, type);
SAME_OFFSET(batonExternalMemoryHandleDesc, cudaExternalMemoryHandleDesc, handle);
SAME_OFFSET(batonExternalMemoryHandleDesc, cudaExternalMemoryHandleDesc, handle.win32.name);
SAME_OFFSET(batonExternalMemoryHandleDesc, cudaExternalMemoryHandleDesc, size);
SAME_OFFSET(batonExternalMemoryHandleDesc, cudaExternalMemoryHandleDesc, flags);
SAME_OFFSET(batonExternalMemoryHandleDesc, cudaExternalMemoryHandleDesc, reserved);
SAME_SIZE(batonExternalMemoryBufferDesc, cudaExternalMemoryBufferDesc);
SAME_OFFSET(batonExternalMemoryBufferDesc, cudaExternalMemoryBufferDesc, offset);
SAME_OFFSET(batonExternalMemoryBufferDesc, cudaExternalMemoryBufferDesc, size);
SAME_OFFSET(batonExternalMemoryBufferDesc, cudaExternalMemoryBufferDesc, flags);
SAME_OFFSET(batonExternalMemoryBufferDesc, cudaExternalMemoryBufferDesc, reserved);
SAME_SIZE(batonExternalMemoryMipmappedArrayDesc, cudaExternalMemoryMipmappedArrayDesc);
SAME_OFFSET(batonExternalMemoryMipmappedArrayDesc, cudaExternalMemoryMipmappedArrayDesc, offset);
SAME_OFFSET(batonExternalMemoryMipmappedArrayDesc, cudaExternalMemoryMipmappedArrayDesc, formatDesc);
SAME_OFFSET(batonExternalMemoryMipmappedArrayDesc, cudaExternalMemoryMipmappedArrayDesc, extent);
SAME_OFFSET(batonExternalMemoryMipmappedArrayDesc, cudaExternalMemoryMipmappedArrayDesc, flags);
SAME_OFFSET(batonExternalMemoryMipmappedArrayDesc, cudaExternalMemoryMipmappedArrayDesc, numLevels);
SAME_OFFSET(batonExternalMemoryMipmappedArrayDesc, cudaExternalMemoryMipmappedArrayDesc, reserved);
SAME_SIZE(batonChannelFormatDesc, cudaChannelFormatDesc);
SAME_OFFSET(batonChannelFormatDesc, cudaChannelFormatDesc, f);
SAME_SIZE(batonExtent, cudaExtent);
SAME_OFFSET(batonExtent, cudaExtent, depth);
SAME_SIZE(batonUUID_t, cudaUUID_t);
SAME_VALUE(batonExternalMemoryHandleTypeOpaqueFd, cudaExternalMemoryHandleTypeOpaqueFd);
SAME_VALUE(batonExternalMemoryHandleTypeOpaqueWin32, cudaExternalMemoryHandleTypeOpaqueWin32);
SAME_VALUE(batonExternalMemoryHandleTypeOpaqueWin32Kmt, cudaExternalMemoryHandleTypeOpaqueWin32Kmt);
SAME_VALUE(batonExternalMemoryHandleTypeD3D12Heap, cudaExternalMemoryHandleTypeD3D12Heap);
SAME_VALUE(batonExternalMemoryHandleTypeD3D12Resource, cudaExternalMemoryHandleTypeD3D12Resource);
SAME_VALUE(batonExternalMemoryHandleTypeD3D11Resource, cudaExternalMemoryHandleTypeD3D11Resource);
SAME_VALUE(batonExternalMemoryHandleTypeD3D11ResourceKmt, cudaExternalMemoryHandleTypeD3D11ResourceKmt);
SAME_VALUE(batonExternalMemoryHandleTypeNvSciBuf, cudaExternalMemoryHandleTypeNvSciBuf);
SAME_VALUE(batonExternalMemoryDedicated, cudaExternalMemoryDedicated);
SAME_VALUE(batonChannelFormatKindSigned, cudaChannelFormatKindSigned);
SAME_VALUE(batonChannelFormatKindUnsigned, cudaChannelFormatKindUnsigned);
SAME_VALUE(batonChannelFormatKindFloat, cudaChannelFormatKindFloat);
SAME_VALUE(batonChannelFormatKindNone, cudaChannelFormatKindNone);
SAME_VALUE(batonArrayLayered, cudaArrayLayered);
SAME_VALUE(batonArraySurfaceLoadStore, cudaArraySurfaceLoadStore);
SAME_VALUE(batonArrayCubemap, cudaArrayCubemap);
SAME_VALUE(batonArrayTextureGather, cudaArrayTextureGather);
SAME_VALUE(batonArrayColorAttachment, cudaArrayColorAttachment);
SAME_VALUE(batonStreamDefault, cudaStreamDefault);
SAME_VALUE(batonStreamNonBlocking, cudaStreamNonBlocking);
SAME_VALUE(batonEventDefault, cudaEventDefault);
SAME_VALUE(batonEventBlockingSync, cudaEventBlockingSync);
SAME_VALUE(batonEventDisableTiming, cudaEventDisableTiming);
SAME_VALUE(batonEventInterprocess, cudaEventInterprocess);
SAME_VALUE(batonComputeModeDefault, cudaComputeModeDefault);
SAME_VALUE(batonComputeModeProhibited, cudaComputeModeProhibited);
SAME_VALUE(batonDevAttrMaxThreadsPerBlock, cudaDevAttrMaxThreadsPerBlock);
SAME_VALUE(batonDevAttrMaxSharedMemoryPerBlock, cudaDevAttrMaxSharedMemoryPerBlock);
SAME_VALUE(batonDevAttrTotalConstantMemory, cudaDevAttrTotalConstantMemory);
SAME_VALUE(batonDevAttrWarpSize, cudaDevAttrWarpSize);
SAME_VALUE(batonDevAttrMultiProcessorCount, cudaDevAttrMultiProcessorCount);
SAME_VALUE(batonDevAttrIntegrated, cudaDevAttrIntegrated);
SAME_VALUE(batonDevAttrComputeMode, cudaDevAttrComputeMode);
SAME_VALUE(batonDevAttrPciBusId, cudaDevAttrPciBusId);
SAME_VALUE(batonDevAttrPciDeviceId, cudaDevAttrPciDeviceId);
SAME_VALUE(batonDevAttrUnifiedAddressing, cudaDevAttrUnifiedAddressing);
SAME_VALUE(batonDevAttrPciDomainId, cudaDevAttrPciDomainId);
SAME_VALUE(batonDevAttrComputeCapabilityMajor, cudaDevAttrComputeCapabilityMajor);
SAME_VALUE(batonDevAttrComputeCapabilityMinor, cudaDevAttrComputeCapabilityMinor);
SAME_VALUE(batonDevAttrConcurrentManagedAccess, cudaDevAttrConcurrentManagedAccess);
SAME_VALUE(batonDevAttrTimelineSemaphoreInteropSupported, cudaDevAttrTimelineSemaphoreInteropSupported);
SAME_VALUE(batonErrorInvalidDevice, cudaErrorInvalidDevice);
SAME_VALUE(batonErrorInvalidChannelDescriptor, cudaErrorInvalidChannelDescriptor);
SAME_VALUE(batonErrorInvalidValue, cudaErrorInvalidValue);
SAME_VALUE(batonErrorInvalidResourceHandle, cudaErrorInvalidResourceHandle);
SAME_VALUE(batonErrorNotSupported, cudaErrorNotSupported);
// The batonDeviceProp fields have cudaDeviceProp's types (the names are checked by
// interop_side.h compiling against both).
static_assert(sizeof(batonDeviceProp::name) == sizeof(cudaDeviceProp::name), "name");
static_assert(sizeof(batonDeviceProp::luid) == sizeof(cudaDeviceProp::luid), "luid");

// ---- the interop side, on the real runtime ----------------------------------------------
#define INTEROP_NS realcuda
#define INTEROP_DETAIL() ""
#include "interop_side.h"
#undef INTEROP_DETAIL
#include "baton_side.h"
#include "vk_renderer.h"

namespace realcuda {

__global__ void fillWords(unsigned* words, size_t n, unsigned value) {
    const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
    if (i < n) words[i] = value;
}

cudaError_t writeWords(void* devPtr, size_t bytes, unsigned value, cudaStream_t stream) {
    const size_t n = bytes / 4;
    fillWords<<<static_cast<unsigned>((n + 255) / 256), 256, 0, stream>>>(static_cast<unsigned*>(devPtr), n, value);
    return cudaGetLastError();
}

}  // namespace realcuda

namespace {

int g_failures = 0;

void report(const char* what, const std::string& why, const VkRenderer& r) {
    const bool ok = why.empty() && r.validationErrors() == 0;
    if (!ok) ++g_failures;
    std::printf("%s %s on %s: %s (renderer validation errors: %llu)\n", ok ? "PASS" : "FAIL", what, r.deviceName(),
                why.empty() ? "every frame's words checked" : why.c_str(),
                static_cast<unsigned long long>(r.validationErrors()));
}

template <class Run>
void program(const char* what, bool native, unsigned long long frames, Run run) {
    VkRenderer r;
    RendererOptions o;
    o.native = native;
    o.validation = std::getenv("BATON_VALIDATION") && std::getenv("BATON_VALIDATION")[0] == '1';
    std::string why;
    if (!r.create(o, &why)) {
        ++g_failures;
        std::printf("FAIL %s: renderer: %s\n", what, why.c_str());
        return;
    }
    report(what, run(r, frames), r);
}

std::vector<InteropProbe> probeWith(bool baton) {
    VkRenderer r;
    RendererOptions o;
    o.native = true;
    o.validation = false;
    std::string why;
    InteropHandles h;
    if (!r.create(o, &why) || !r.exportHandles(&h, &why)) {
        std::printf("FAIL probes: renderer: %s\n", why.c_str());
        ++g_failures;
        return {};
    }
    close(h.cudaDoneFd);
    close(h.vkDoneFd);
    return baton ? viabaton::probes(h.memoryFd, h.memorySize) : realcuda::probeErrors(h.memoryFd, h.memorySize);
}

}  // namespace

int main() {
    const unsigned long long frames = 1000;
    program("real CUDA 13, renderer's own fds", true, frames,
            [](VkRenderer& r, unsigned long long n) { return realcuda::runInterop(r, n); });
    program("baton (cuda_names.h), renderer's own fds", true, frames,
            [](VkRenderer& r, unsigned long long n) { return viabaton::runProgram(r, n); });
    program("baton (cuda_names.h), baton-exported memory and portable timelines", false, frames,
            [](VkRenderer& r, unsigned long long n) { return viabaton::runProgram(r, n); });

    const std::vector<InteropProbe> real = probeWith(false), mine = probeWith(true);
    int differ = 0;
    for (size_t i = 0; i < real.size() && i < mine.size(); ++i) {
        const bool same = real[i].code == mine[i].code;
        differ += !same;
        std::printf("%s probe %-48s CUDA %4d %-34s baton %4d %s\n", same ? "same" : "DIFF", real[i].name, real[i].code,
                    cudaGetErrorName(static_cast<cudaError_t>(real[i].code)), mine[i].code,
                    batonGetErrorName(static_cast<batonError_t>(mine[i].code)));
    }
    if (real.size() != mine.size()) ++differ;
    std::printf("%s probes: %d of %zu differ\n", differ ? "FAIL" : "PASS", differ, real.size());
    g_failures += differ != 0;
    std::printf("%s cuda_vk_interop\n", g_failures ? "FAIL" : "PASS");
    return g_failures ? 1 : 0;
}
