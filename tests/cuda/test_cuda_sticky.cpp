// CUDA's sticky errors are baton's lost devices: once the current context's device is lost
// (VK_LAYER_BATON_fault makes a vkQueueSubmit2 return VK_ERROR_DEVICE_LOST),
// cudaGetLastError keeps returning cudaErrorLaunchFailure instead of resetting, as every call
// on that context does; on a healthy current context the same error is reported once.
#include <baton/cuda_names.h>
#include <gtest/gtest.h>

#include "baton_test.h"
#include "fault_control.h"

namespace {

void noop(VkCommandBuffer, void*) {}

TEST(CudaStickyErrors, LostDeviceKeepsTheLastErrorAndHealthyOnesReset) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t lost = nullptr, healthy = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&lost, &ci));
    BATON_ASSERT_OK(batonContextCreate(&healthy, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(lost));
    cudaStream_t s = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(batonfault::configure("vkQueueSubmit2:1:VK_ERROR_DEVICE_LOST"), 1);
    const cudaError_t recorded = batonStreamRecord(s, noop, nullptr);
    const cudaError_t synced = cudaStreamSynchronize(s);
    batonfault::configure("");
    EXPECT_TRUE(recorded == cudaErrorLaunchFailure || synced == cudaErrorLaunchFailure)
        << cudaGetErrorName(recorded) << ", " << cudaGetErrorName(synced);
    EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
    EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure) << "sticky: not reset while the device is lost";
    EXPECT_EQ(cudaPeekAtLastError(), cudaErrorLaunchFailure);
    cudaEvent_t ev = nullptr;
    EXPECT_EQ(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), cudaErrorLaunchFailure)
        << "every call on the lost context says so";
    // Another current context: the error is an ordinary one there, reported once.
    BATON_ASSERT_OK(batonCtxSetCurrent(healthy));
    EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
    cudaStreamDestroy(s);
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    EXPECT_EQ(batonContextDestroy(lost), batonSuccess);
    EXPECT_EQ(batonContextDestroy(healthy), batonSuccess);
}

}  // namespace
