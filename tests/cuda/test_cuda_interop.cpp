// A Vulkan-CUDA interop program in cuda-samples' simpleVulkan shape, run on baton: the
// renderer (vk_renderer.h) creates exportable memory and timelines on its own device; the
// interop side (interop_side.h, only cuda* names from cuda_names.h) picks the device by UUID,
// imports them, and every frame waits for the renderer, writes the buffer on its stream and
// signals; the renderer checks every word of every frame in its own submission. The same
// interop side is built against the real CUDA 13 runtime in tests/gpu/cuda_vk_interop.cu.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "baton_test.h"
#include "baton_side.h"

namespace {

unsigned long long frames() {
    const char* v = std::getenv("BATON_CUDA_FRAMES");
    return v ? std::strtoull(v, nullptr, 10) : 60;
}

void runWith(bool native) {
    const std::string fdsBefore = batontest::openFdList();
    {
        VkRenderer renderer;
        RendererOptions o;
        o.native = native;
        std::string why;
        if (!renderer.create(o, &why)) {
            if (native && why.find("vkCreateDevice") != std::string::npos)
                GTEST_SKIP() << "the renderer's device has no VK_KHR_external_semaphore_fd (" << why << ")";
            FAIL() << why;
        }
        EXPECT_EQ(viabaton::runProgram(renderer, frames()), "");
        EXPECT_EQ(renderer.validationErrors(), 0u) << "the renderer's device reported validation errors";
    }
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u) << "baton's contexts reported validation errors";
    // Everything the program imported was destroyed: no fd is left open (the per-device
    // contexts of cudaSetDevice and the default context stay, as CUDA's primary contexts do).
    EXPECT_EQ(batontest::fdChanges(fdsBefore, batontest::openFdList()), "");
}

// lavapipe in CI: baton-exported memory and portable timelines.
TEST(CudaInterop, SimpleVulkanShapeThroughBatonExports) {
    // The default context exists before fds are counted (it is the interop side's device 0).
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonCtxGetCurrent(&ctx));
    runWith(false);
}

// A GPU whose driver exports semaphore fds (the H200): the renderer's own exported fds.
TEST(CudaInterop, SimpleVulkanShapeWithRendererOwnFds) {
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonCtxGetCurrent(&ctx));
    batonContextInfo info{};
    BATON_ASSERT_OK(batonContextGetInfo(nullptr, &info));
    if (!info.nativeSemaphoreFd) GTEST_SKIP() << "the device exports no semaphore fds (lavapipe): the H200 runs this case";
    runWith(true);
}

}  // namespace
