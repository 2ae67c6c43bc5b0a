// The interop side of a Vulkan-CUDA program, written the way cuda-samples' simpleVulkan is:
// find the CUDA device whose UUID is the Vulkan device's, import the renderer's memory and
// timeline semaphores, and every frame wait for the renderer, write the buffer on a stream,
// signal the renderer. It uses only CUDA runtime names: include it after <cuda_runtime.h>
// (the real runtime, tests/gpu) or after <baton/cuda_names.h> (baton, tests/cuda).
//
// The includer defines INTEROP_NS (a namespace, so that both builds can live in one program)
// and, in it, the "kernel" (kernels stay the user's own):
//   cudaError_t writeWords(void* devPtr, size_t bytes, unsigned value, cudaStream_t stream);
#include <cstring>
#include <string>

#include "interop_handles.h"

namespace INTEROP_NS {

cudaError_t writeWords(void* devPtr, size_t bytes, unsigned value, cudaStream_t stream);

class InteropSide {
public:
    // Takes the fds of h (on success of each import, as CUDA does; the rest stay the caller's).
    cudaError_t init(InteropHandles& h, std::string* step) {
        int count = 0;
        cudaError_t e = cudaGetDeviceCount(&count);
        if (e != cudaSuccess) return failed(step, "cudaGetDeviceCount", e);
        device = -1;
        for (int i = 0; i < count && device < 0; ++i) {
            cudaDeviceProp prop;
            std::memset(&prop, 0, sizeof prop);
            if ((e = cudaGetDeviceProperties(&prop, i)) != cudaSuccess) return failed(step, "cudaGetDeviceProperties", e);
            if (prop.computeMode != cudaComputeModeProhibited && std::memcmp(prop.uuid.bytes, h.deviceUUID, 16) == 0) {
                device = i;
                deviceName = prop.name;
            }
        }
        if (device < 0) return failed(step, "no CUDA device has the Vulkan device's UUID", cudaErrorNoDevice);
        if ((e = cudaSetDevice(device)) != cudaSuccess) return failed(step, "cudaSetDevice", e);
        int current = -1;
        if ((e = cudaGetDevice(&current)) != cudaSuccess || current != device)
            return failed(step, "cudaGetDevice", e != cudaSuccess ? e : cudaErrorInvalidDevice);
        int timelines = 0;
        e = cudaDeviceGetAttribute(&timelines, cudaDevAttrTimelineSemaphoreInteropSupported, device);
        if (e != cudaSuccess || !timelines) return failed(step, "cudaDevAttrTimelineSemaphoreInteropSupported", e);
        if ((e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) != cudaSuccess)
            return failed(step, "cudaStreamCreateWithFlags", e);
        if ((e = cudaEventCreateWithFlags(&done, cudaEventDisableTiming)) != cudaSuccess)
            return failed(step, "cudaEventCreateWithFlags", e);

        cudaExternalMemoryHandleDesc md;
        std::memset(&md, 0, sizeof md);
        md.type = cudaExternalMemoryHandleTypeOpaqueFd;
        md.handle.fd = h.memoryFd;
        md.size = h.memorySize;
        md.flags = h.dedicated ? cudaExternalMemoryDedicated : 0;
        if ((e = cudaImportExternalMemory(&memory, &md)) != cudaSuccess) return failed(step, "cudaImportExternalMemory", e);
        h.memoryFd = -1;  // CUDA's now
        cudaExternalMemoryBufferDesc bd;
        std::memset(&bd, 0, sizeof bd);
        bd.offset = 0;
        bd.size = h.bufferBytes;
        bytes = h.bufferBytes;
        if ((e = cudaExternalMemoryGetMappedBuffer(&devPtr, memory, &bd)) != cudaSuccess)
            return failed(step, "cudaExternalMemoryGetMappedBuffer", e);

        if ((e = importTimeline(&h.cudaDoneFd, &cudaDone)) != cudaSuccess) return failed(step, "import cudaDone", e);
        if ((e = importTimeline(&h.vkDoneFd, &vkDone)) != cudaSuccess) return failed(step, "import vkDone", e);
        if ((e = cudaGetLastError()) != cudaSuccess) return failed(step, "cudaGetLastError after setup", e);
        return cudaSuccess;
    }

    // Frame n: once the renderer has read frame n-1, write frame n, then tell the renderer.
    cudaError_t frame(unsigned long long n) {
        cudaExternalSemaphoreWaitParams wait;
        std::memset(&wait, 0, sizeof wait);
        wait.params.fence.value = n - 1;
        cudaError_t e = cudaWaitExternalSemaphoresAsync(&vkDone, &wait, 1, stream);
        if (e == cudaSuccess) e = writeWords(devPtr, bytes, framePattern(n), stream);
        cudaExternalSemaphoreSignalParams signal;
        std::memset(&signal, 0, sizeof signal);
        signal.params.fence.value = n;
        if (e == cudaSuccess) e = cudaSignalExternalSemaphoresAsync(&cudaDone, &signal, 1, stream);
        if (e == cudaSuccess) e = cudaEventRecord(done, stream);
        return e;
    }

    // Waits for the stream, checks the event and the last error, destroys everything.
    cudaError_t finish() {
        cudaError_t first = stream ? cudaStreamSynchronize(stream) : cudaSuccess;
        if (first == cudaSuccess && done) first = cudaEventQuery(done);
        if (first == cudaSuccess) first = cudaPeekAtLastError();
        const cudaError_t steps[] = {
            cudaSemaphore(&cudaDone), cudaSemaphore(&vkDone),
            devPtr ? cudaFree(devPtr) : cudaSuccess,
            memory ? cudaDestroyExternalMemory(memory) : cudaSuccess,
            done ? cudaEventDestroy(done) : cudaSuccess,
            stream ? cudaStreamDestroy(stream) : cudaSuccess,
        };
        for (cudaError_t s : steps)
            if (first == cudaSuccess) first = s;
        devPtr = nullptr;
        memory = nullptr;
        done = nullptr;
        stream = nullptr;
        return first;
    }

    int device = -1;
    std::string deviceName;

private:
    static cudaError_t failed(std::string* step, const char* what, cudaError_t e) {
        *step = what;
        return e == cudaSuccess ? cudaErrorUnknown : e;
    }
    static cudaError_t importTimeline(int* fd, cudaExternalSemaphore_t* out) {
        cudaExternalSemaphoreHandleDesc d;
        std::memset(&d, 0, sizeof d);
        d.type = cudaExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        d.handle.fd = *fd;
        cudaError_t e = cudaImportExternalSemaphore(out, &d);
        if (e == cudaSuccess) *fd = -1;
        return e;
    }
    static cudaError_t cudaSemaphore(cudaExternalSemaphore_t* s) {
        cudaError_t e = *s ? cudaDestroyExternalSemaphore(*s) : cudaSuccess;
        *s = nullptr;
        return e;
    }

    cudaStream_t stream = nullptr;
    cudaEvent_t done = nullptr;
    cudaExternalMemory_t memory = nullptr;
    void* devPtr = nullptr;
    size_t bytes = 0;
    cudaExternalSemaphore_t cudaDone = nullptr, vkDone = nullptr;
};

}  // namespace INTEROP_NS
