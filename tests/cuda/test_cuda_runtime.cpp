// The CUDA-named calls around the semaphores, as CUDA interop code uses them: devices picked
// by UUID, streams and events with flags, CUDA's last-error rules, external memory mapped as
// buffers and arrays over the same bytes. And the probe table that tests/gpu compares with
// the real runtime, here against CUDA's documented codes.
#include <baton/cuda_names.h>
#include <baton/baton_memory.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>

#include "baton_test.h"

#define INTEROP_NS runtimeprobe
#include "interop_side.h"

namespace runtimeprobe {
cudaError_t writeWords(void*, size_t, unsigned, cudaStream_t) { return cudaErrorNotSupported; }  // not used here
}  // namespace runtimeprobe

namespace {

struct Exported {
    int fd = -1;
    batonMemory_t mem = nullptr;
    batonMemoryInfo info{};
    ~Exported() {
        if (fd >= 0) close(fd);
        batonDestroyMemory(mem);
    }
};

// A buffer exported by baton in the current context (host-visible if asked: skipped where
// the device exports no host-visible memory).
void exportBuffer(Exported* e, VkDeviceSize size, bool hostVisible = true) {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindBuffer;
    d.size = size;
    d.bufferUsage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    if (hostVisible) d.memoryProperties = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const batonError_t r = batonExportMemory(&e->fd, &e->mem, &d);
    if (r == batonErrorNotSupported) GTEST_SKIP() << "the device cannot export this buffer: " << batonGetLastErrorMessage();
    BATON_ASSERT_OK(r);
    BATON_ASSERT_OK(batonMemoryGetInfo(e->mem, &e->info));
    if (hostVisible) {
        ASSERT_NE(e->info.hostPointer, nullptr);
    }
}

// typeIndex: the exporter's memory type where it is not the one cudaImportExternalMemory
// assumes (the first device-local type: on NVIDIA not host-visible), through baton's variant.
cudaExternalMemory_t importFd(int* fd, unsigned long long size, unsigned flags = 0, int typeIndex = -1) {
    cudaExternalMemoryHandleDesc d{};
    d.type = cudaExternalMemoryHandleTypeOpaqueFd;
    d.handle.fd = *fd;
    d.size = size;
    d.flags = flags;
    cudaExternalMemory_t m = nullptr;
    cudaError_t e = typeIndex < 0 ? cudaImportExternalMemory(&m, &d)
                                  : static_cast<cudaError_t>(batonImportExternalMemoryWithType(
                                        &m, &d, static_cast<uint32_t>(typeIndex)));
    EXPECT_EQ(e, cudaSuccess) << batonGetLastErrorMessage();
    if (e == cudaSuccess) *fd = -1;  // baton's now
    return m;
}

TEST(CudaDevices, DeviceZeroIsTheDefaultContextsDevice) {
    int count = 0;
    ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
    ASSERT_GE(count, 1);
    batonContextInfo info{};
    BATON_ASSERT_OK(batonContextGetInfo(nullptr, &info));  // the default context
    cudaDeviceProp prop{};
    ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
    EXPECT_EQ(std::memcmp(prop.uuid.bytes, info.deviceUUID, 16), 0);
    EXPECT_STREQ(prop.name, info.deviceName);
    int device = -1;
    ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
    EXPECT_EQ(device, 0);
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    batonContext_t current = nullptr;
    BATON_ASSERT_OK(batonCtxGetCurrent(&current));
    batonContextInfo after{};
    BATON_ASSERT_OK(batonContextGetInfo(current, &after));
    EXPECT_EQ(after.device, info.device) << "cudaSetDevice(0) must keep the default context";
}

TEST(CudaDevices, PropertiesAndAttributesAgree) {
    cudaDeviceProp p{};
    ASSERT_EQ(cudaGetDeviceProperties(&p, 0), cudaSuccess);
    EXPECT_GT(p.totalGlobalMem, 0u);
    EXPECT_GT(p.warpSize, 0);
    EXPECT_GT(p.maxThreadsPerBlock, 0);
    EXPECT_EQ(p.major, 1);
    EXPECT_GE(p.minor, 3);
    const struct {
        cudaDeviceAttr attr;
        int want;
    } rows[] = {{cudaDevAttrWarpSize, p.warpSize},
                {cudaDevAttrMaxThreadsPerBlock, p.maxThreadsPerBlock},
                {cudaDevAttrComputeCapabilityMajor, p.major},
                {cudaDevAttrComputeCapabilityMinor, p.minor},
                {cudaDevAttrIntegrated, p.integrated},
                {cudaDevAttrPciBusId, p.pciBusID},
                {cudaDevAttrComputeMode, cudaComputeModeDefault},
                {cudaDevAttrTimelineSemaphoreInteropSupported, 1}};
    for (const auto& r : rows) {
        int v = -12345;
        ASSERT_EQ(cudaDeviceGetAttribute(&v, r.attr, 0), cudaSuccess) << static_cast<int>(r.attr);
        EXPECT_EQ(v, r.want) << "attribute " << static_cast<int>(r.attr);
    }
    int v = 0;
    EXPECT_EQ(cudaDeviceGetAttribute(&v, static_cast<cudaDeviceAttr>(13), 0), cudaErrorInvalidValue)
        << "an attribute baton cannot answer (cudaDevAttrClockRate) is refused, not made up";
}

TEST(CudaErrors, LastErrorIsNonStickyAndSurvivesSuccesses) {
    cudaGetLastError();
    EXPECT_EQ(cudaSetDevice(-1), cudaErrorInvalidDevice);
    EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidDevice);
    int count = 0;
    EXPECT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
    EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidDevice) << "a success does not clear the last error";
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "cudaGetLastError resets a non-sticky error";
    // Per thread, as in CUDA.
    EXPECT_EQ(cudaStreamCreateWithFlags(nullptr, 0), cudaErrorInvalidValue);
    cudaError_t other = cudaErrorUnknown;
    std::thread([&] { other = cudaGetLastError(); }).join();
    EXPECT_EQ(other, cudaSuccess);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
}

TEST(CudaErrors, NotReadyIsNotRecorded) {
    cudaStream_t s = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    std::atomic<bool> go{false};
    ASSERT_EQ(cudaLaunchHostFunc(
                  s, [](void* u) {
                      while (!static_cast<std::atomic<bool>*>(u)->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                  },
                  &go),
              cudaSuccess);
    cudaGetLastError();
    EXPECT_EQ(cudaStreamQuery(s), cudaErrorNotReady);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "cudaErrorNotReady is not an error (CUDA does not record it)";
    go = true;
    EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST(CudaStreams, FlagsAndPrioritiesAsCudaTakesThem) {
    int least = 7, greatest = 7;
    ASSERT_EQ(cudaDeviceGetStreamPriorityRange(&least, &greatest), cudaSuccess);
    EXPECT_EQ(least, 0);
    EXPECT_EQ(greatest, 0);
    cudaStream_t a = nullptr, b = nullptr, c = nullptr, bad = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&a, cudaStreamDefault), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithPriority(&c, cudaStreamNonBlocking, -5), cudaSuccess) << "clamped, as CUDA does";
    EXPECT_EQ(cudaStreamCreateWithFlags(&bad, 2), cudaErrorInvalidValue);
    EXPECT_EQ(bad, nullptr);
    int ran = 0;
    for (cudaStream_t s : {a, b, c}) {
        ASSERT_EQ(cudaLaunchHostFunc(s, [](void* u) { ++*static_cast<int*>(u); }, &ran), cudaSuccess);
        ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
        EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
    }
    EXPECT_EQ(ran, 3);
}

TEST(CudaEvents, DisableTimingWritesNoTimestampAndRefusesElapsedTime) {
    cudaStream_t s = nullptr;
    ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
    cudaEvent_t plain = nullptr, untimed = nullptr, blocking = nullptr;
    ASSERT_EQ(cudaEventCreateWithFlags(&plain, cudaEventDefault), cudaSuccess);
    ASSERT_EQ(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming), cudaSuccess);
    ASSERT_EQ(cudaEventCreateWithFlags(&blocking, cudaEventBlockingSync), cudaSuccess);
    for (cudaEvent_t e : {plain, untimed, blocking}) ASSERT_EQ(cudaEventRecord(e, s), cudaSuccess);
    ASSERT_EQ(cudaEventSynchronize(blocking), cudaSuccess);
    EXPECT_EQ(cudaEventQuery(untimed), cudaSuccess);
    float ms = -1;
    EXPECT_EQ(cudaEventElapsedTime(&ms, plain, untimed), cudaErrorInvalidResourceHandle);
    EXPECT_EQ(cudaEventElapsedTime(&ms, untimed, plain), cudaErrorInvalidResourceHandle);
    const cudaError_t timed = cudaEventElapsedTime(&ms, plain, blocking);
    EXPECT_TRUE(timed == cudaSuccess || timed == cudaErrorNotSupported) << cudaGetErrorName(timed);
    cudaEvent_t none = nullptr;
    EXPECT_EQ(cudaEventCreateWithFlags(&none, cudaEventInterprocess), cudaErrorInvalidValue);
    EXPECT_EQ(cudaEventCreateWithFlags(&none, cudaEventInterprocess | cudaEventDisableTiming), cudaErrorNotSupported);
    EXPECT_EQ(cudaEventCreateWithFlags(&none, 0x8), cudaErrorInvalidValue);
    EXPECT_EQ(none, nullptr);
    for (cudaEvent_t e : {plain, untimed, blocking}) EXPECT_EQ(cudaEventDestroy(e), cudaSuccess);
    EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST(CudaExternalMemory, MappedBuffersAreTheExportersBytes) {
    Exported ex;
    ASSERT_NO_FATAL_FAILURE(exportBuffer(&ex, 64 * 1024));
    if (IsSkipped()) return;
    if (ex.info.dedicated) GTEST_SKIP() << "the driver exports this buffer as a dedicated allocation: no offset mappings";
    // The exporter's host-visible type (the H200's first device-local type is not: there the
    // plain import gave a mapping without a host pointer).
    cudaExternalMemory_t mem = importFd(&ex.fd, ex.info.allocationSize, 0, static_cast<int>(ex.info.memoryTypeIndex));
    ASSERT_NE(mem, nullptr);
    cudaExternalMemoryBufferDesc whole{}, part{};
    whole.size = 64 * 1024;
    part.offset = 4096;
    part.size = 8192;
    void* pw = nullptr;
    void* pp = nullptr;
    ASSERT_EQ(cudaExternalMemoryGetMappedBuffer(&pw, mem, &whole), cudaSuccess) << batonGetLastErrorMessage();
    ASSERT_EQ(cudaExternalMemoryGetMappedBuffer(&pp, mem, &part), cudaSuccess) << batonGetLastErrorMessage();
    batonMappedBufferInfo wi{}, pi{};
    BATON_ASSERT_OK(batonMappedBufferGetInfo(pw, &wi));
    BATON_ASSERT_OK(batonMappedBufferGetInfo(pp, &pi));
    EXPECT_EQ(pi.offset, 4096u);
    EXPECT_EQ(pi.size, 8192u);
    ASSERT_NE(wi.hostPointer, nullptr);
    EXPECT_EQ(pw, wi.hostPointer) << "host-visible memory: the device pointer is the host pointer";
    EXPECT_EQ(static_cast<char*>(pp) - static_cast<char*>(pw), 4096);
    // The exporter's bytes, seen through the import, both ways.
    auto* exporter = static_cast<uint32_t*>(ex.info.hostPointer);
    exporter[1024 + 5] = 0xFEEDF00Du;
    EXPECT_EQ(static_cast<uint32_t*>(pp)[5], 0xFEEDF00Du);
    // GPU work on the imported buffer (the "kernel"), seen by the exporter.
    cudaStream_t s = nullptr;
    ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
    struct Fill {
        VkBuffer b;
    } f{pi.buffer};
    BATON_ASSERT_OK(batonStreamRecord(
        s, [](VkCommandBuffer cb, void* u) { vkCmdFillBuffer(cb, static_cast<Fill*>(u)->b, 0, VK_WHOLE_SIZE, 0x5A5A5A5Au); },
        &f));
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    EXPECT_EQ(exporter[1024], 0x5A5A5A5Au);
    EXPECT_EQ(exporter[1024 + 2047], 0x5A5A5A5Au);
    EXPECT_NE(exporter[1023], 0x5A5A5A5Au) << "the fill stayed inside the mapped range";
    EXPECT_NE(exporter[3072], 0x5A5A5A5Au);
    EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
    EXPECT_EQ(cudaFree(pp), cudaSuccess);
    EXPECT_EQ(cudaFree(pp), cudaErrorInvalidValue) << "freed twice";
    // CUDA code may destroy the memory first and free the mapping after: both succeed.
    EXPECT_EQ(cudaDestroyExternalMemory(mem), cudaSuccess);
    EXPECT_EQ(cudaFree(pw), cudaSuccess);
    EXPECT_EQ(cudaFree(pw), cudaErrorInvalidValue);
    EXPECT_EQ(cudaFree(nullptr), cudaSuccess);
}

TEST(CudaExternalMemory, MipmappedArrayIsAVkImageOverTheMemory) {
    Exported ex;
    ASSERT_NO_FATAL_FAILURE(exportBuffer(&ex, 256 * 1024, false));
    if (IsSkipped()) return;
    if (ex.info.dedicated) GTEST_SKIP() << "the driver exports this buffer as a dedicated allocation";
    cudaExternalMemory_t mem = importFd(&ex.fd, ex.info.allocationSize);
    ASSERT_NE(mem, nullptr);
    cudaExternalMemoryMipmappedArrayDesc d{};
    d.formatDesc = cudaCreateChannelDesc(8, 8, 8, 8, cudaChannelFormatKindUnsigned);
    d.extent = make_cudaExtent(64, 32, 0);
    d.numLevels = 3;
    d.flags = cudaArraySurfaceLoadStore;
    cudaMipmappedArray_t arr = nullptr;
    const cudaError_t mapped = cudaExternalMemoryGetMappedMipmappedArray(&arr, mem, &d);
    if (mapped == cudaErrorInvalidValue && std::strstr(batonGetLastErrorMessage(), "cannot hold")) {
        cudaDestroyExternalMemory(mem);
        GTEST_SKIP() << "the buffer's memory type cannot hold images on this device: " << batonGetLastErrorMessage();
    }
    ASSERT_EQ(mapped, cudaSuccess) << batonGetLastErrorMessage();
    batonMipmappedArrayInfo info{};
    BATON_ASSERT_OK(batonMipmappedArrayGetInfo(arr, &info));
    EXPECT_NE(info.image, VK_NULL_HANDLE);
    EXPECT_EQ(info.format, VK_FORMAT_R8G8B8A8_UINT);
    EXPECT_EQ(info.imageType, VK_IMAGE_TYPE_2D);
    EXPECT_EQ(info.extent.width, 64u);
    EXPECT_EQ(info.extent.height, 32u);
    EXPECT_EQ(info.mipLevels, 3u);
    EXPECT_TRUE(info.usage & VK_IMAGE_USAGE_STORAGE_BIT);
    d.extent = make_cudaExtent(16, 16, 4);
    d.flags = cudaArrayLayered;
    d.numLevels = 1;
    d.formatDesc = cudaCreateChannelDesc(32, 0, 0, 0, cudaChannelFormatKindFloat);
    cudaMipmappedArray_t layered = nullptr;
    ASSERT_EQ(cudaExternalMemoryGetMappedMipmappedArray(&layered, mem, &d), cudaSuccess) << batonGetLastErrorMessage();
    BATON_ASSERT_OK(batonMipmappedArrayGetInfo(layered, &info));
    EXPECT_EQ(info.format, VK_FORMAT_R32_SFLOAT);
    EXPECT_EQ(info.arrayLayers, 4u);
    EXPECT_EQ(cudaFreeMipmappedArray(arr), cudaSuccess);
    EXPECT_EQ(cudaFreeMipmappedArray(arr), cudaErrorInvalidResourceHandle);
    EXPECT_EQ(cudaDestroyExternalMemory(mem), cudaSuccess);
    EXPECT_EQ(cudaFreeMipmappedArray(layered), cudaSuccess) << "freed with its memory: still freeable once";
}

// The probes tests/gpu runs on the real runtime, against the codes CUDA documents.
TEST(CudaProbes, BatonAnswersAsCudaDocuments) {
    Exported ex;
    ASSERT_NO_FATAL_FAILURE(exportBuffer(&ex, 64 * 1024, false));
    if (IsSkipped()) return;
    int fd = ex.fd;
    ex.fd = -1;
    const bool memfd = batontest::fdIsMemfd(fd);  // before the probes take the fd
    const std::vector<InteropProbe> got = runtimeprobe::probeErrors(fd, ex.info.allocationSize);
    constexpr int kDriverDecides = -1;
    const std::pair<const char*, int> want[] = {
        {"cudaSetDevice(count)", cudaErrorInvalidDevice},
        {"cudaGetLastError after it", cudaErrorInvalidDevice},
        {"cudaGetLastError again", cudaSuccess},
        {"cudaSetDevice(-1)", cudaErrorInvalidDevice},
        {"cudaPeekAtLastError", cudaErrorInvalidDevice},
        {"cudaPeekAtLastError again", cudaErrorInvalidDevice},
        {"cudaGetDeviceCount between", cudaSuccess},
        {"cudaGetLastError after a success", cudaErrorInvalidDevice},
        {"cudaGetDeviceProperties(count)", cudaErrorInvalidDevice},
        {"cudaDeviceGetAttribute(count)", cudaErrorInvalidDevice},
        {"cudaStreamCreateWithFlags(0x4)", cudaErrorInvalidValue},
        {"cudaStreamCreateWithPriority(-100)", cudaSuccess},
        {"cudaEventCreateWithFlags(Interprocess)", cudaErrorInvalidValue},
        {"cudaEventCreateWithFlags(0x10)", cudaErrorInvalidValue},
        {"cudaEventCreateWithFlags(DisableTiming)", cudaSuccess},
        {"cudaEventCreateWithFlags(BlockingSync)", cudaSuccess},
        {"cudaEventElapsedTime(DisableTiming event)", cudaErrorInvalidResourceHandle},
        {"cudaImportExternalMemory(OpaqueWin32)", cudaErrorNotSupported},
        {"cudaImportExternalMemory(type 0)", cudaErrorInvalidValue},
        {"cudaImportExternalMemory(size 0)", cudaErrorInvalidValue},
        {"cudaImportExternalMemory(flags 0x2)", cudaErrorInvalidValue},
        {"cudaImportExternalMemory(size x2)", kDriverDecides},
        {"cudaImportExternalMemory(size ~0)", cudaErrorInvalidResourceHandle},
        {"cudaImportExternalMemory(good)", cudaSuccess},
        {"cudaExternalMemoryGetMappedBuffer(offset = size)", cudaErrorInvalidValue},
        {"cudaExternalMemoryGetMappedBuffer(size + 1)", cudaErrorInvalidValue},
        {"cudaExternalMemoryGetMappedBuffer(flags 1)", cudaErrorInvalidValue},
        {"cudaExternalMemoryGetMappedBuffer(good)", cudaSuccess},
        {"cudaFree(mapped)", cudaSuccess},
        {"cudaDestroyExternalMemory", cudaSuccess},
    };
    ASSERT_EQ(got.size(), std::size(want));
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_STREQ(got[i].name, want[i].first);
        if (want[i].second == kDriverDecides) {
            // A memfd's size is baton's to check; another driver's fd is the driver's (what the
            // real CUDA answers there: scripts/gpu-cuda-interop.sh prints it beside baton's).
            if (memfd) EXPECT_EQ(got[i].code, cudaErrorInvalidResourceHandle) << got[i].name;
            else EXPECT_NE(got[i].code, cudaSuccess) << got[i].name;
            continue;
        }
        EXPECT_EQ(got[i].code, want[i].second) << got[i].name << " returned " << cudaGetErrorName(static_cast<cudaError_t>(got[i].code));
    }
}

}  // namespace
