/*
 * baton_cuda.h: the rest of the CUDA runtime's interop surface, under baton's names.
 *
 * Interop code written for CUDA calls more than the four semaphore functions: it picks the
 * CUDA device that matches its Vulkan device by UUID, creates streams and events with flags,
 * reads cudaGetLastError, and imports the renderer's memory. This header declares those
 * calls with the `baton` prefix, CUDA's signatures, CUDA's numbers and (for the external
 * memory structs) CUDA 13's layouts; <baton/cuda_names.h> maps the cuda* names onto them.
 *
 * What a "device" is here: a Vulkan physical device baton can open (Vulkan 1.3, timeline
 * semaphores, synchronization2), numbered best first as baton's default context picks them
 * (discrete, integrated, virtual GPU, then CPU; BATON_DEVICE=cpu puts lavapipe first), so
 * device 0 is the default context's device. batonSetDevice(i) makes a context on device i
 * current on the calling thread (device 0: the default context; others: one context per
 * device, created on first use and kept for the life of the process, like CUDA's primary
 * contexts).
 *
 * Kernels stay the user's own: record them with batonStreamRecord into the stream, using the
 * VkBuffer / VkImage that batonMappedBufferGetInfo / batonMipmappedArrayGetInfo return.
 */
#ifndef BATON_BATON_CUDA_H
#define BATON_BATON_CUDA_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Devices                                                                              */
/* ------------------------------------------------------------------------------------ */

/** CUDA's cudaUUID_t: the Vulkan deviceUUID (VkPhysicalDeviceIDProperties). */
typedef struct batonUUID_t {
    char bytes[16];
} batonUUID_t;

/**
 * The fields of cudaDeviceProp that interop code reads, same names and types. Not CUDA's
 * binary layout (cudaDeviceProp has about 90 fields a Vulkan device cannot answer): code
 * that reads these fields by name compiles and gets these answers.
 */
typedef struct batonDeviceProp {
    char name[256];                  /**< VkPhysicalDeviceProperties::deviceName. */
    batonUUID_t uuid;                /**< VkPhysicalDeviceIDProperties::deviceUUID: match it against your VkPhysicalDevice's. */
    char luid[8];                    /**< deviceLUID (zero where the driver has none, as on Linux). */
    unsigned int luidDeviceNodeMask; /**< deviceNodeMask (0 where no LUID). */
    size_t totalGlobalMem;           /**< Size of the largest DEVICE_LOCAL heap. */
    size_t sharedMemPerBlock;        /**< maxComputeSharedMemorySize. */
    int warpSize;                    /**< subgroupSize (Vulkan 1.1 subgroup properties). */
    int maxThreadsPerBlock;          /**< maxComputeWorkGroupInvocations. */
    size_t totalConstMem;            /**< maxUniformBufferRange. */
    int major;                       /**< Not a compute capability: the device's Vulkan major version. */
    int minor;                       /**< The device's Vulkan minor version. */
    int multiProcessorCount;         /**< Vulkan does not say: 1. */
    int integrated;                  /**< 1 for an integrated GPU or a CPU device. */
    int pciBusID;                    /**< From VK_EXT_pci_bus_info where the driver has it, else 0. */
    int pciDeviceID;
    int pciDomainID;
    int unifiedAddressing;           /**< 0: baton gives no unified address space. */
    int reserved[33];                /**< Keeps the size the struct had with computeMode. */
} batonDeviceProp;

/** cudaComputeMode's values, the answer of batonDeviceGetAttribute(batonDevAttrComputeMode)
 *  (CUDA 13 removed cudaDeviceProp::computeMode: the attribute is the one way to ask). */
typedef enum batonComputeMode {
    batonComputeModeDefault = 0,
    batonComputeModeProhibited = 2
} batonComputeMode;

/** The cudaDeviceAttr values batonDeviceGetAttribute answers (CUDA's numbers); others: InvalidValue. */
typedef enum batonDeviceAttr {
    batonDevAttrMaxThreadsPerBlock = 1,
    batonDevAttrMaxSharedMemoryPerBlock = 8,
    batonDevAttrTotalConstantMemory = 9,
    batonDevAttrWarpSize = 10,
    batonDevAttrMultiProcessorCount = 16,
    batonDevAttrIntegrated = 18,
    batonDevAttrComputeMode = 20,
    batonDevAttrPciBusId = 33,
    batonDevAttrPciDeviceId = 34,
    batonDevAttrUnifiedAddressing = 41,
    batonDevAttrPciDomainId = 50,
    batonDevAttrComputeCapabilityMajor = 75,
    batonDevAttrComputeCapabilityMinor = 76,
    batonDevAttrConcurrentManagedAccess = 89,
    batonDevAttrTimelineSemaphoreInteropSupported = 114
} batonDeviceAttr;

/** Number of devices (>= 1), or batonErrorNoDevice (count set to 0). Enumerates once per process. */
BATON_API batonError_t batonGetDeviceCount(int* count);
/** Makes device's context current on the calling thread. batonErrorInvalidDevice when out of range. */
BATON_API batonError_t batonSetDevice(int device);
/** The device of the calling thread's current context (the default context's if none was set). */
BATON_API batonError_t batonGetDevice(int* device);
/** Fills prop for device (no context is created). */
BATON_API batonError_t batonGetDeviceProperties(batonDeviceProp* prop, int device);
/** One attribute of device (batonDeviceAttr); an attribute not listed: batonErrorInvalidValue. */
BATON_API batonError_t batonDeviceGetAttribute(int* value, batonDeviceAttr attr, int device);
/**
 * Stream priorities: baton's queues have none of their own (every stream gets the same
 * queue priority), so the range is [0, 0], which CUDA also reports where priorities are not
 * supported. Either pointer may be NULL.
 */
BATON_API batonError_t batonDeviceGetStreamPriorityRange(int* leastPriority, int* greatestPriority);

/* ------------------------------------------------------------------------------------ */
/* Streams, events, errors                                                              */
/* ------------------------------------------------------------------------------------ */

#define batonStreamDefault 0x00u     /**< cudaStreamDefault. */
#define batonStreamNonBlocking 0x01u /**< cudaStreamNonBlocking. */

/**
 * batonStreamCreate with CUDA's flags: batonStreamDefault or batonStreamNonBlocking; other
 * bits are batonErrorInvalidValue. Both give the same stream: baton's NULL stream never
 * synchronises implicitly with other streams (it behaves like a non-blocking stream).
 */
BATON_API batonError_t batonStreamCreateWithFlags(batonStream_t* stream, unsigned int flags);
/**
 * As batonStreamCreateWithFlags; priority is clamped into batonDeviceGetStreamPriorityRange
 * (so today every priority is 0: accepted, no effect), as CUDA clamps it.
 */
BATON_API batonError_t batonStreamCreateWithPriority(batonStream_t* stream, unsigned int flags, int priority);

/**
 * The last error any baton call returned on this thread (batonErrorNotReady from query
 * functions is not an error and is not recorded, as in CUDA), then resets it to
 * batonSuccess. Sticky errors are not reset: once the current context's device is lost,
 * this returns batonErrorLaunchFailure every time, as every call on that context does.
 */
BATON_API batonError_t batonGetLastError(void);
/** As batonGetLastError without the reset. */
BATON_API batonError_t batonPeekAtLastError(void);

#define batonEventDefault 0x00u       /**< cudaEventDefault. */
#define batonEventBlockingSync 0x01u  /**< cudaEventBlockingSync: accepted; baton's event waits always sleep. */
#define batonEventDisableTiming 0x02u /**< cudaEventDisableTiming: no timestamp is written; elapsed time is InvalidResourceHandle. */
#define batonEventInterprocess 0x04u  /**< cudaEventInterprocess: NotSupported (needs DisableTiming, else InvalidValue). */

/** batonEventCreate with CUDA's flags (above); unknown bits are batonErrorInvalidValue. */
BATON_API batonError_t batonEventCreateWithFlags(batonEvent_t* event, unsigned int flags);

/* ------------------------------------------------------------------------------------ */
/* External memory: CUDA's types, same values and (CUDA 13) layouts                     */
/* ------------------------------------------------------------------------------------ */

typedef struct batonExternalMemory_st* batonExternalMemory_t;   /**< Imported memory. */
typedef struct batonMipmappedArray_st* batonMipmappedArray_t;   /**< A VkImage over imported memory. */

typedef enum batonExternalMemoryHandleType {
    batonExternalMemoryHandleTypeOpaqueFd = 1,            /**< An opaque fd (VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT). */
    batonExternalMemoryHandleTypeOpaqueWin32 = 2,         /**< Windows only: NotSupported. */
    batonExternalMemoryHandleTypeOpaqueWin32Kmt = 3,      /**< Windows only: NotSupported. */
    batonExternalMemoryHandleTypeD3D12Heap = 4,           /**< Windows only: NotSupported. */
    batonExternalMemoryHandleTypeD3D12Resource = 5,       /**< Windows only: NotSupported. */
    batonExternalMemoryHandleTypeD3D11Resource = 6,       /**< Windows only: NotSupported. */
    batonExternalMemoryHandleTypeD3D11ResourceKmt = 7,    /**< Windows only: NotSupported. */
    batonExternalMemoryHandleTypeNvSciBuf = 8             /**< NotSupported. */
} batonExternalMemoryHandleType;

/** cudaExternalMemoryDedicated: the memory is a dedicated allocation (of one buffer or image). */
#define batonExternalMemoryDedicated 0x1u

/** Describes memory to import. Zero-initialise, then set type, handle and size. */
typedef struct batonExternalMemoryHandleDesc {
    batonExternalMemoryHandleType type;
    union {
        int fd; /**< OpaqueFd: owned by baton on success only. */
        struct {
            void* handle;     /**< Windows types: exactly one of handle/name non-NULL (Kmt types: name NULL). */
            const void* name;
        } win32;
        const void* nvSciBufObject; /**< NvSciBuf: not supported. */
    } handle;
    unsigned long long size;   /**< Size of the allocation (> 0): the exporter's allocationSize. */
    unsigned int flags;        /**< 0 or batonExternalMemoryDedicated. */
    unsigned int reserved[16]; /**< As in CUDA 13; not read. */
} batonExternalMemoryHandleDesc;

/** A buffer over part of imported memory. */
typedef struct batonExternalMemoryBufferDesc {
    unsigned long long offset; /**< Into the memory (0 for dedicated memory). */
    unsigned long long size;   /**< > 0; offset + size within the memory. */
    unsigned int flags;        /**< Must be 0. */
    unsigned int reserved[16]; /**< Not read. */
} batonExternalMemoryBufferDesc;

/** cudaChannelFormatKind (same values). */
typedef enum batonChannelFormatKind {
    batonChannelFormatKindSigned = 0,
    batonChannelFormatKindUnsigned = 1,
    batonChannelFormatKindFloat = 2,
    batonChannelFormatKindNone = 3
} batonChannelFormatKind;

/** cudaChannelFormatDesc: bits per component x, y, z, w and their kind. */
typedef struct batonChannelFormatDesc {
    int x, y, z, w;
    batonChannelFormatKind f;
} batonChannelFormatDesc;

/** cudaExtent: width, height and depth in elements (height 0: 1D; depth 0: 2D). */
typedef struct batonExtent {
    size_t width, height, depth;
} batonExtent;

/** cudaArray flags that shape the VkImage (same values). */
#define batonArrayDefault 0x00u
#define batonArrayLayered 0x01u          /**< depth = number of layers. */
#define batonArraySurfaceLoadStore 0x02u /**< VK_IMAGE_USAGE_STORAGE_BIT. */
#define batonArrayCubemap 0x04u          /**< NotSupported. */
#define batonArrayTextureGather 0x08u    /**< Accepted (sampling is the image's anyway). */
#define batonArrayColorAttachment 0x20u  /**< VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT. */

/** make_cudaExtent. */
static inline batonExtent batonMakeExtent(size_t w, size_t h, size_t d) {
    batonExtent e;
    e.width = w;
    e.height = h;
    e.depth = d;
    return e;
}

/** cudaCreateChannelDesc (the C form; CUDA's template form cudaCreateChannelDesc<T>() is not mapped). */
static inline batonChannelFormatDesc batonCreateChannelDesc(int x, int y, int z, int w, batonChannelFormatKind f) {
    batonChannelFormatDesc c;
    c.x = x;
    c.y = y;
    c.z = z;
    c.w = w;
    c.f = f;
    return c;
}

/** A mipmapped array (a VkImage, optimal tiling) over part of imported memory. */
typedef struct batonExternalMemoryMipmappedArrayDesc {
    unsigned long long offset;         /**< Into the memory (0 for dedicated memory). */
    batonChannelFormatDesc formatDesc; /**< 1, 2 or 4 components of 8, 16 or 32 bits (see the README). */
    batonExtent extent;
    unsigned int flags;                /**< batonArray* flags above. */
    unsigned int numLevels;            /**< > 0. */
    unsigned int reserved[16];         /**< Not read. */
} batonExternalMemoryMipmappedArrayDesc;

/**
 * Imports memory that a Vulkan application (or batonExportMemory) exported as an opaque fd,
 * into the current context. The fd is checked before the driver sees it (its kind of file;
 * a memfd's size against desc->size) and on success is baton's (closed on destroy); on any
 * failure it is the caller's, open and untouched.
 *
 * Vulkan (unlike CUDA) needs the exporter's memory type to import an opaque fd: baton uses
 * the lowest-index DEVICE_LOCAL memory type that an exportable buffer may use on this device
 * (what cuda-samples' findMemoryType(DEVICE_LOCAL) and batonExportMemory choose), or
 * another with batonImportExternalMemoryWithType.
 *
 * Non-dedicated memory is imported here. Dedicated memory (batonExternalMemoryDedicated) can
 * only be bound to the one object it was allocated for, which Vulkan must know when it
 * imports: the driver import happens in the mapping call, which gives that object's shape.
 */
BATON_API batonError_t batonImportExternalMemory(batonExternalMemory_t* extMem_out,
                                                 const batonExternalMemoryHandleDesc* memHandleDesc);
/** As batonImportExternalMemory with the exporter's memory type index (baton only). */
BATON_API batonError_t batonImportExternalMemoryWithType(batonExternalMemory_t* extMem_out,
                                                         const batonExternalMemoryHandleDesc* memHandleDesc,
                                                         uint32_t memoryTypeIndex);

/**
 * Creates a VkBuffer over [offset, offset + size) of the memory and returns its "device
 * pointer": the host address of that range where the memory is host-visible (baton maps it),
 * else an opaque non-NULL token. Either way it names the mapping for batonMappedBufferGetInfo
 * and batonFree. Setup-time call.
 */
BATON_API batonError_t batonExternalMemoryGetMappedBuffer(void** devPtr, batonExternalMemory_t extMem,
                                                          const batonExternalMemoryBufferDesc* bufferDesc);
/** Creates a VkImage (VK_IMAGE_LAYOUT_UNDEFINED) over the memory at offset. Setup-time call. */
BATON_API batonError_t batonExternalMemoryGetMappedMipmappedArray(batonMipmappedArray_t* mipmap,
                                                                  batonExternalMemory_t extMem,
                                                                  const batonExternalMemoryMipmappedArrayDesc* mipmapDesc);
/**
 * Destroys the handle. Mappings still alive are freed with it (CUDA says they must no longer
 * be used); batonFree / batonFreeMipmappedArray on them afterwards still succeed once, so
 * CUDA code that frees them after destroying the memory works. Accepts NULL. As with
 * vkFreeMemory, the GPU work that uses the memory must have completed.
 */
BATON_API batonError_t batonDestroyExternalMemory(batonExternalMemory_t extMem);
/** Frees a mapping made by batonExternalMemoryGetMappedBuffer. NULL: no-op. Another pointer: InvalidValue. */
BATON_API batonError_t batonFree(void* devPtr);
/** Frees a mipmapped array. NULL: no-op. */
BATON_API batonError_t batonFreeMipmappedArray(batonMipmappedArray_t mipmap);

/** What a mapped buffer is, for the user's own commands (the "kernel"). */
typedef struct batonMappedBufferInfo {
    VkBuffer buffer;              /**< Covers exactly the mapped range, from its offset 0. */
    VkDeviceMemory memory;
    VkDeviceSize offset;          /**< Where the buffer lies in the imported memory. */
    VkDeviceSize size;
    void* hostPointer;            /**< The range on the host where host-visible, else NULL. */
    batonContext_t context;       /**< Whose device owns the buffer. */
} batonMappedBufferInfo;

/** Fills info for a pointer batonExternalMemoryGetMappedBuffer returned (the base pointer only). */
BATON_API batonError_t batonMappedBufferGetInfo(const void* devPtr, batonMappedBufferInfo* info);

/** What a mapped mipmapped array is. */
typedef struct batonMipmappedArrayInfo {
    VkImage image;
    VkFormat format;
    VkImageType imageType;
    VkExtent3D extent;
    uint32_t mipLevels;
    uint32_t arrayLayers;
    VkImageUsageFlags usage;
    batonContext_t context;
} batonMipmappedArrayInfo;

BATON_API batonError_t batonMipmappedArrayGetInfo(batonMipmappedArray_t mipmap, batonMipmappedArrayInfo* info);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BATON_CUDA_H */
