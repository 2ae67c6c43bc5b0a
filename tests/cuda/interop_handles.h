// What a Vulkan renderer hands the CUDA-interop side of tests/cuda/interop_side.h: plain
// data, no CUDA or baton types, so that the renderer and both builds of the interop side
// (baton's cuda_names.h on lavapipe, the real CUDA runtime on the H200) share it.
#pragma once

struct InteropHandles {
    int memoryFd = -1;                 // opaque fd of the shared memory (the interop side takes it)
    unsigned long long memorySize = 0; // its allocationSize
    bool dedicated = false;            // allocated with VkMemoryDedicatedAllocateInfo
    unsigned long long bufferBytes = 0;  // the frame buffer at offset 0 of that memory
    int cudaDoneFd = -1;               // timeline the interop side signals to n after writing frame n
    int vkDoneFd = -1;                 // timeline the renderer signals to n after reading frame n
    unsigned char deviceUUID[16] = {}; // VkPhysicalDeviceIDProperties::deviceUUID of the renderer's device
};

// The words of frame n (what the interop side writes, what the renderer checks).
inline unsigned framePattern(unsigned long long n) { return 0xC0DA0000u ^ static_cast<unsigned>(n * 2654435761u); }

// One bad-input call and the code it returned (interop_side.h probeErrors).
struct InteropProbe {
    const char* name;
    int code;
};
