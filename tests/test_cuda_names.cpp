// Interop code written for the CUDA runtime, compiled unchanged against baton through
// <baton/cuda_names.h>, running a real handoff.
#include <baton/cuda_names.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <type_traits>

static_assert(std::is_same_v<cudaError_t, batonError_t>);
static_assert(cudaErrorTimeout == 909 && cudaErrorNotSupported == 801 && cudaErrorInvalidResourceHandle == 400);
static_assert(cudaExternalSemaphoreHandleTypeTimelineSemaphoreFd == 9 && cudaExternalSemaphoreHandleTypeOpaqueFd == 1);
// CUDA's struct layouts (driver_types.h): sizes on LP64.
static_assert(sizeof(cudaExternalSemaphoreHandleDesc) == 96);  // with reserved[16], as CUDA 13
static_assert(sizeof(cudaExternalSemaphoreSignalParams) == 144);
static_assert(sizeof(cudaExternalSemaphoreWaitParams) == 144);

// What a CUDA interop routine looks like: import an fd, wait on a stream, signal back.
static cudaError_t cudaStyleHandoff(int fd, unsigned long long value, cudaStream_t stream) {
    cudaExternalSemaphoreHandleDesc desc = {};
    desc.type = cudaExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    desc.handle.fd = fd;
    cudaExternalSemaphore_t sem;
    cudaError_t err = cudaImportExternalSemaphore(&sem, &desc);
    if (err != cudaSuccess) return err;
    cudaExternalSemaphoreWaitParams wait = {};
    wait.params.fence.value = value;
    err = cudaWaitExternalSemaphoresAsync(&sem, &wait, 1, stream);
    cudaExternalSemaphoreSignalParams signal = {};
    signal.params.fence.value = value + 1;
    if (err == cudaSuccess) err = cudaSignalExternalSemaphoresAsync(&sem, &signal, 1, stream);
    if (err == cudaSuccess) err = cudaStreamSynchronize(stream);
    cudaDestroyExternalSemaphore(sem);
    return err;
}

TEST(CudaNames, CudaStyleCodeRunsOnBaton) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t mine = nullptr;
    ASSERT_EQ(batonExportExternalSemaphore(&fd, &mine, &d), batonSuccess) << batonGetLastErrorMessage();
    cudaStream_t s;
    ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
    batonExternalSemaphoreSignalParams first{};
    first.params.fence.value = 1;
    ASSERT_EQ(batonSignalExternalSemaphoresAsync(&mine, &first, 1, nullptr), batonSuccess);
    ASSERT_EQ(cudaStyleHandoff(fd, 1, s), cudaSuccess) << cudaGetErrorName(cudaErrorTimeout);
    EXPECT_EQ(batonExternalSemaphoreHostWait(mine, 2, 5000000000ull), batonSuccess);
    EXPECT_STREQ(cudaGetErrorName(cudaErrorInvalidValue), "batonErrorInvalidValue");
    cudaStreamDestroy(s);
    batonDestroyExternalSemaphore(mine);
}
