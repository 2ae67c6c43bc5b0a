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
#include <vector>
#include <unistd.h>

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
            // CUDA 13 has no cudaDeviceProp::computeMode: the attribute says whether the
            // device takes work at all.
            int mode = cudaComputeModeDefault;
            if ((e = cudaDeviceGetAttribute(&mode, cudaDevAttrComputeMode, i)) != cudaSuccess)
                return failed(step, "cudaDeviceGetAttribute(cudaDevAttrComputeMode)", e);
            if (mode != cudaComputeModeProhibited && std::memcmp(prop.uuid.bytes, h.deviceUUID, 16) == 0) {
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

// Runs the whole program against a renderer (vk_renderer.h): setup, `frames` frames, each
// checked by the renderer, teardown. Returns "" or what failed. INTEROP_DETAIL(), if the
// includer defines it, adds a message to failures (baton: batonGetLastErrorMessage()).
#ifndef INTEROP_DETAIL
#define INTEROP_DETAIL() ""
#endif
template <class Renderer>
std::string runInterop(Renderer& renderer, unsigned long long frames) {
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
        return step + " -> " + cudaGetErrorName(e) + ": " + INTEROP_DETAIL();
    }
    for (unsigned long long n = 1; n <= frames; ++n) {
        if ((e = side.frame(n)) != cudaSuccess) {
            why = "frame " + std::to_string(n) + ": " + cudaGetErrorName(e) + ": " + INTEROP_DETAIL();
            break;
        }
        if (!renderer.readFrame(n, &why)) break;
    }
    const cudaError_t f = side.finish();
    if (why.empty() && f != cudaSuccess) why = std::string("finish -> ") + cudaGetErrorName(f) + ": " + INTEROP_DETAIL();
    return why;
}

// What a call returns on bad input, for comparing baton's answers with the real runtime's
// (tests/gpu runs both builds and compares; tests/cuda compares baton's with CUDA's
// documented codes). memoryFd: an exported memory fd of memorySize bytes, or -1 to skip the
// memory probes (the fd is taken by the one import that succeeds).
using Probe = InteropProbe;

inline std::vector<Probe> probeErrors(int memoryFd, unsigned long long memorySize) {
    std::vector<Probe> out;
    auto add = [&](const char* name, cudaError_t e) { out.push_back(Probe{name, static_cast<int>(e)}); };
    int count = 0;
    cudaGetDeviceCount(&count);
    add("cudaSetDevice(count)", cudaSetDevice(count));
    add("cudaGetLastError after it", cudaGetLastError());
    add("cudaGetLastError again", cudaGetLastError());
    add("cudaSetDevice(-1)", cudaSetDevice(-1));
    add("cudaPeekAtLastError", cudaPeekAtLastError());
    add("cudaPeekAtLastError again", cudaPeekAtLastError());
    add("cudaGetDeviceCount between", cudaGetDeviceCount(&count));
    add("cudaGetLastError after a success", cudaGetLastError());
    cudaSetDevice(0);
    cudaDeviceProp prop;
    add("cudaGetDeviceProperties(count)", cudaGetDeviceProperties(&prop, count));
    int value = 0;
    add("cudaDeviceGetAttribute(count)", cudaDeviceGetAttribute(&value, cudaDevAttrWarpSize, count));
    cudaStream_t s = nullptr;
    add("cudaStreamCreateWithFlags(0x4)", cudaStreamCreateWithFlags(&s, 0x4));
    add("cudaStreamCreateWithPriority(-100)", cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, -100));
    cudaEvent_t ev = nullptr, ev2 = nullptr;
    add("cudaEventCreateWithFlags(Interprocess)", cudaEventCreateWithFlags(&ev, cudaEventInterprocess));
    add("cudaEventCreateWithFlags(0x10)", cudaEventCreateWithFlags(&ev, 0x10));
    add("cudaEventCreateWithFlags(DisableTiming)", cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    add("cudaEventCreateWithFlags(BlockingSync)", cudaEventCreateWithFlags(&ev2, cudaEventBlockingSync));
    if (s && ev && ev2) {
        cudaEventRecord(ev, s);
        cudaEventRecord(ev2, s);
        cudaEventSynchronize(ev2);
        float ms = 0;
        add("cudaEventElapsedTime(DisableTiming event)", cudaEventElapsedTime(&ms, ev, ev2));
    }
    if (ev) cudaEventDestroy(ev);
    if (ev2) cudaEventDestroy(ev2);
    cudaGetLastError();
    cudaExternalMemoryHandleDesc md;
    std::memset(&md, 0, sizeof md);
    cudaExternalMemory_t mem = nullptr;
    md.type = cudaExternalMemoryHandleTypeOpaqueWin32;
    md.handle.win32.handle = &out;
    md.size = 4096;
    add("cudaImportExternalMemory(OpaqueWin32)", cudaImportExternalMemory(&mem, &md));
    md.type = static_cast<cudaExternalMemoryHandleType>(0);
    add("cudaImportExternalMemory(type 0)", cudaImportExternalMemory(&mem, &md));
    if (memoryFd >= 0) {
        std::memset(&md, 0, sizeof md);
        md.type = cudaExternalMemoryHandleTypeOpaqueFd;
        md.handle.fd = memoryFd;
        md.size = 0;
        add("cudaImportExternalMemory(size 0)", cudaImportExternalMemory(&mem, &md));
        md.size = memorySize;
        md.flags = 0x2;
        add("cudaImportExternalMemory(flags 0x2)", cudaImportExternalMemory(&mem, &md));
        md.flags = 0;
        // More bytes than the exporter allocated: twice, and ~0. NVIDIA's opaque fds do not
        // tell their size, so what CUDA answers there is what baton should (on a memfd baton
        // checks the size itself). Each gets a duplicate of the fd, in case an import takes it.
        for (const unsigned long long size : {memorySize * 2ull, ~0ull}) {
            cudaExternalMemoryHandleDesc big = md;
            big.size = size;
            big.handle.fd = dup(memoryFd);
            cudaExternalMemory_t extra = nullptr;
            const cudaError_t e = cudaImportExternalMemory(&extra, &big);
            if (e == cudaSuccess)
                cudaDestroyExternalMemory(extra);
            else if (big.handle.fd >= 0)
                close(big.handle.fd);
            add(size == ~0ull ? "cudaImportExternalMemory(size ~0)" : "cudaImportExternalMemory(size x2)", e);
        }
        const cudaError_t imported = cudaImportExternalMemory(&mem, &md);
        add("cudaImportExternalMemory(good)", imported);
        if (imported == cudaSuccess) {
            cudaExternalMemoryBufferDesc bd;
            std::memset(&bd, 0, sizeof bd);
            void* p = nullptr;
            bd.offset = memorySize;
            bd.size = 4;
            add("cudaExternalMemoryGetMappedBuffer(offset = size)", cudaExternalMemoryGetMappedBuffer(&p, mem, &bd));
            bd.offset = 0;
            bd.size = memorySize + 1;
            add("cudaExternalMemoryGetMappedBuffer(size + 1)", cudaExternalMemoryGetMappedBuffer(&p, mem, &bd));
            bd.size = memorySize;
            bd.flags = 1;
            add("cudaExternalMemoryGetMappedBuffer(flags 1)", cudaExternalMemoryGetMappedBuffer(&p, mem, &bd));
            bd.flags = 0;
            add("cudaExternalMemoryGetMappedBuffer(good)", cudaExternalMemoryGetMappedBuffer(&p, mem, &bd));
            add("cudaFree(mapped)", cudaFree(p));
            add("cudaDestroyExternalMemory", cudaDestroyExternalMemory(mem));
        }
    }
    cudaGetLastError();
    if (s) cudaStreamDestroy(s);
    return out;
}

}  // namespace INTEROP_NS
