// The real CUDA runtime importing a baton-exported timeline fd, then handing values back and
// forth with baton streams in both directions, with GPU work on both sides whose results are
// checked. Also measures the CPU cost of one cudaSignalExternalSemaphoresAsync call beside one
// batonSignalExternalSemaphoresAsync call. Built with nvcc by scripts/gpu-check.sh.
#include <baton/baton.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK_CUDA(x)                                                                    \
    do {                                                                                 \
        cudaError_t e_ = (x);                                                            \
        if (e_ != cudaSuccess) {                                                         \
            std::printf("FAIL %s:%d %s -> %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            std::exit(1);                                                                \
        }                                                                                \
    } while (0)
#define CHECK_BATON(x)                                                                   \
    do {                                                                                 \
        batonError_t e_ = (x);                                                           \
        if (e_ != batonSuccess) {                                                        \
            std::printf("FAIL %s:%d %s -> %s: %s\n", __FILE__, __LINE__, #x, batonGetErrorName(e_), \
                        batonGetLastErrorMessage());                                     \
            std::exit(1);                                                                \
        }                                                                                \
    } while (0)

// baton keeps CUDA's struct layouts and numbers: checked here against the real headers.
#include <cstddef>
static_assert(sizeof(batonExternalSemaphoreHandleDesc) == sizeof(cudaExternalSemaphoreHandleDesc), "HandleDesc size");
static_assert(offsetof(batonExternalSemaphoreHandleDesc, flags) == offsetof(cudaExternalSemaphoreHandleDesc, flags), "flags");
static_assert(sizeof(batonExternalSemaphoreSignalParams) == sizeof(cudaExternalSemaphoreSignalParams), "SignalParams size");
static_assert(offsetof(batonExternalSemaphoreSignalParams, flags) == offsetof(cudaExternalSemaphoreSignalParams, flags), "flags");
static_assert(offsetof(batonExternalSemaphoreSignalParams, params.keyedMutex.key) ==
              offsetof(cudaExternalSemaphoreSignalParams, params.keyedMutex.key), "keyedMutex.key");
static_assert(sizeof(batonExternalSemaphoreWaitParams) == sizeof(cudaExternalSemaphoreWaitParams), "WaitParams size");
static_assert(offsetof(batonExternalSemaphoreWaitParams, params.keyedMutex.timeoutMs) ==
              offsetof(cudaExternalSemaphoreWaitParams, params.keyedMutex.timeoutMs), "timeoutMs");
static_assert((int)batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32 == (int)cudaExternalSemaphoreHandleTypeTimelineSemaphoreWin32, "types");
static_assert((int)batonExternalSemaphoreHandleTypeKeyedMutex == (int)cudaExternalSemaphoreHandleTypeKeyedMutex, "types");
static_assert((int)batonErrorOperatingSystem == (int)cudaErrorOperatingSystem && (int)batonErrorTimeout == (int)cudaErrorTimeout &&
              (int)batonErrorNotSupported == (int)cudaErrorNotSupported && (int)batonErrorNotReady == (int)cudaErrorNotReady &&
              (int)batonErrorInvalidResourceHandle == (int)cudaErrorInvalidResourceHandle &&
              (int)batonErrorIllegalState == (int)cudaErrorIllegalState && (int)batonErrorLaunchFailure == (int)cudaErrorLaunchFailure &&
              (int)batonErrorNoDevice == (int)cudaErrorNoDevice && (int)batonErrorUnknown == (int)cudaErrorUnknown,
              "error numbers");

__global__ void stamp(unsigned* out, unsigned value) { out[threadIdx.x] = value; }

struct HostCounter {
    unsigned seen = 0;
};
static void countHost(void* p) { ++static_cast<HostCounter*>(p)->seen; }

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main() {
    int version = 0;
    CHECK_BATON(batonGetVersion(&version));
    batonContextInfo info{};
    CHECK_BATON(batonContextGetInfo(nullptr, &info));
    std::printf("baton %d on %s (native semaphore fds: %s)\n", version, info.deviceName,
                info.nativeSemaphoreFd ? "yes" : "no");
    if (!info.nativeSemaphoreFd) {
        std::printf("FAIL the device exports no semaphore fds\n");
        return 1;
    }

    // baton exports, CUDA imports (CUDA owns that fd from here on).
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t bsem = nullptr;
    CHECK_BATON(batonExportExternalSemaphore(&fd, &bsem, &d));
    cudaExternalSemaphoreHandleDesc cd{};
    cd.type = cudaExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    cd.handle.fd = fd;
    cudaExternalSemaphore_t csem = nullptr;
    CHECK_CUDA(cudaImportExternalSemaphore(&csem, &cd));

    cudaStream_t cs;
    CHECK_CUDA(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking));
    batonStream_t bs;
    CHECK_BATON(batonStreamCreate(&bs));
    unsigned* dout = nullptr;
    CHECK_CUDA(cudaMalloc(&dout, 32 * sizeof(unsigned)));
    HostCounter counter;

    // Round trips: baton signals 2i+1 after its prior work, CUDA waits for it, runs a kernel,
    // signals 2i+2; baton waits for that and runs a host function. Both directions, N times.
    const unsigned kRounds = 2000;
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < kRounds; ++i) {
        batonExternalSemaphoreSignalParams bsig{};
        bsig.params.fence.value = 2ull * i + 1;
        CHECK_BATON(batonSignalExternalSemaphoresAsync(&bsem, &bsig, 1, bs));
        cudaExternalSemaphoreWaitParams cw{};
        cw.params.fence.value = 2ull * i + 1;
        CHECK_CUDA(cudaWaitExternalSemaphoresAsync(&csem, &cw, 1, cs));
        stamp<<<1, 32, 0, cs>>>(dout, i);
        cudaExternalSemaphoreSignalParams csig{};
        csig.params.fence.value = 2ull * i + 2;
        CHECK_CUDA(cudaSignalExternalSemaphoresAsync(&csem, &csig, 1, cs));
        batonExternalSemaphoreWaitParams bw{};
        bw.params.fence.value = 2ull * i + 2;
        CHECK_BATON(batonWaitExternalSemaphoresAsync(&bsem, &bw, 1, bs));
        CHECK_BATON(batonLaunchHostFunc(bs, countHost, &counter));
    }
    CHECK_BATON(batonStreamSynchronize(bs));
    CHECK_CUDA(cudaStreamSynchronize(cs));
    auto t1 = std::chrono::steady_clock::now();
    unsigned host[32];
    CHECK_CUDA(cudaMemcpy(host, dout, sizeof host, cudaMemcpyDeviceToHost));
    batonExternalSemaphoreInfo si{};
    CHECK_BATON(batonExternalSemaphoreGetInfo(bsem, &si));
    bool okValues = si.currentValue == 2ull * kRounds && host[31] == kRounds - 1 && counter.seen == kRounds;
    std::printf("%s round trips baton->CUDA->baton: %u, final value %llu (want %llu), kernel stamp %u, host fns %u; "
                "%.1f us per round trip\n",
                okValues ? "PASS" : "FAIL", kRounds, si.currentValue, 2ull * kRounds, host[31], counter.seen,
                std::chrono::duration<double, std::micro>(t1 - t0).count() / kRounds);

    // CUDA first: CUDA signals, baton waits, and the other way round on the host side too.
    cudaExternalSemaphoreSignalParams csig{};
    csig.params.fence.value = 2ull * kRounds + 1;
    CHECK_CUDA(cudaSignalExternalSemaphoresAsync(&csem, &csig, 1, cs));
    batonError_t hw = batonExternalSemaphoreHostWait(bsem, 2ull * kRounds + 1, 2000000000ull);
    std::printf("%s baton host wait on a CUDA signal: %s\n", hw == batonSuccess ? "PASS" : "FAIL", batonGetErrorName(hw));

    // Strictness: CUDA moves a timeline backwards without complaint; baton refuses.
    batonExternalSemaphoreSignalParams back{};
    back.params.fence.value = 3;
    batonError_t be = batonSignalExternalSemaphoresAsync(&bsem, &back, 1, bs);
    std::printf("%s baton refuses a backwards signal (3 after %llu): %s\n",
                be == batonErrorInvalidValue ? "PASS" : "FAIL", 2ull * kRounds + 1, batonGetErrorName(be));

    // CPU cost of one signal call, CUDA vs baton, same machine, same run. Each side signals a
    // timeline of its own: two queues signaling one timeline would race each other.
    int fd2 = -1;
    batonExternalSemaphore_t bsem2 = nullptr;
    CHECK_BATON(batonExportExternalSemaphore(&fd2, &bsem2, &d));
    cudaExternalSemaphoreHandleDesc cd2{};
    cd2.type = cudaExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    cd2.handle.fd = fd2;
    cudaExternalSemaphore_t csem2 = nullptr;
    CHECK_CUDA(cudaImportExternalSemaphore(&csem2, &cd2));
    const int kCalls = 20000;
    std::vector<double> cudaNs, batonNs;
    unsigned long long base = 1ull << 40;
    for (int i = 0; i < kCalls; ++i) {
        cudaExternalSemaphoreSignalParams p{};
        p.params.fence.value = base + i;
        auto a = std::chrono::steady_clock::now();
        CHECK_CUDA(cudaSignalExternalSemaphoresAsync(&csem2, &p, 1, cs));
        auto b = std::chrono::steady_clock::now();
        cudaNs.push_back(std::chrono::duration<double, std::nano>(b - a).count());
        batonExternalSemaphoreSignalParams q{};
        q.params.fence.value = base + i;
        a = std::chrono::steady_clock::now();
        CHECK_BATON(batonSignalExternalSemaphoresAsync(&bsem, &q, 1, bs));
        b = std::chrono::steady_clock::now();
        batonNs.push_back(std::chrono::duration<double, std::nano>(b - a).count());
        if (i % 256 == 255) {  // keep both queues short
            CHECK_CUDA(cudaStreamSynchronize(cs));
            CHECK_BATON(batonStreamSynchronize(bs));
        }
    }
    CHECK_CUDA(cudaStreamSynchronize(cs));
    CHECK_BATON(batonStreamSynchronize(bs));
    std::printf("figure: CPU per signal call, median: cudaSignalExternalSemaphoresAsync %.0f ns, "
                "batonSignalExternalSemaphoresAsync %.0f ns (ratio %.2f)\n",
                median(cudaNs), median(batonNs), median(batonNs) / median(cudaNs));

    CHECK_CUDA(cudaDestroyExternalSemaphore(csem));
    CHECK_CUDA(cudaDestroyExternalSemaphore(csem2));
    CHECK_BATON(batonDestroyExternalSemaphore(bsem));
    CHECK_BATON(batonDestroyExternalSemaphore(bsem2));
    CHECK_BATON(batonStreamDestroy(bs));
    CHECK_CUDA(cudaFree(dout));
    CHECK_CUDA(cudaStreamDestroy(cs));
    batonContext_t ctx = nullptr;
    unsigned long long vErrors = 0;
    CHECK_BATON(batonCtxGetCurrent(&ctx));
    CHECK_BATON(batonContextGetMessageCount(ctx, batonMessageSeverityError, &vErrors));
    std::printf("%s validation errors: %llu\n", vErrors == 0 ? "PASS" : "FAIL", vErrors);
    okValues = okValues && vErrors == 0;
    std::printf("%s cuda_interop\n", okValues && hw == batonSuccess && be == batonErrorInvalidValue ? "PASS" : "FAIL");
    return okValues && hw == batonSuccess && be == batonErrorInvalidValue ? 0 : 1;
}
