/**
 * @file baton.h
 * baton: the CUDA runtime's external-semaphore API over Vulkan.
 *
 * A compute *stream* hands frames to a *graphics queue* through exported timeline
 * semaphores and an emulated keyed mutex, in one process or across processes.
 *
 * The four entry points of CUDA (cudaImportExternalSemaphore,
 * cudaSignalExternalSemaphoresAsync, cudaWaitExternalSemaphoresAsync,
 * cudaDestroyExternalSemaphore) keep their names (with the `baton` prefix), signatures,
 * struct layouts and error numbers. Include <baton/cuda_names.h> to compile interop code
 * written for CUDA against baton unchanged.
 *
 * Thread safety
 * -------------
 * The library has no global Vulkan state: every Vulkan function it calls comes from a
 * per-context dispatch table. Process-wide, baton keeps only the lazily created default
 * context, the per-thread current context and last-error message, and a registry of live
 * handles (so that a destroyed handle is refused instead of dereferenced). Handles are
 * opaque ids, never reused within a process: a destroyed handle stays refused
 * (batonErrorInvalidResourceHandle) for ever, whatever is created after it.
 * - All functions may be called from any thread. None throws or lets an exception through:
 *   an allocation failure inside baton returns batonErrorMemoryAllocation.
 * - After fork() without exec, the child must not use baton: every call that would touch a
 *   context, stream or semaphore made before the fork, or create a context when the parent
 *   had one, returns batonErrorInitializationError (as in CUDA); the parent is unaffected.
 *   The pure calls (batonGetErrorName/String, batonGetVersion, ...) still work.
 * - After device loss (VK_ERROR_DEVICE_LOST anywhere), every call that touches that context
 *   or its objects returns batonErrorLaunchFailure; destroying them still works.
 * - A stream may be used from several threads at once; operations enqueued concurrently
 *   are ordered in the order their calls acquired the stream (as in CUDA).
 * - A semaphore may be signaled and waited from several streams and threads at once.
 * - Destroying a handle while another thread uses it is the caller's race, as in CUDA.
 *
 * Companion headers: <baton/baton_memory.h> (buffers and images other processes can import)
 * and <baton/baton_transport.h> (handing semaphores, keyed mutexes and memory to another
 * process over a Unix socket, checked before the driver sees them).
 *
 * Ownership of file descriptors
 * -----------------------------
 * Importing takes ownership of the fd only if it succeeds: on any failure the caller's fd
 * is untouched and still open. baton closes every fd it owns when the handle is destroyed.
 * Exporting returns a new fd owned by the caller.
 */
#ifndef BATON_BATON_H
#define BATON_BATON_H

#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan_core.h>

#if defined(_WIN32)
#define BATON_API
#elif defined(BATON_BUILDING_LIBRARY)
#define BATON_API __attribute__((visibility("default")))
#else
#define BATON_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Version of this header: major * 10000 + minor * 100 + patch (CUDART_VERSION's shape). */
#define BATON_VERSION_MAJOR 0
#define BATON_VERSION_MINOR 1
#define BATON_VERSION_PATCH 0
#define BATON_VERSION (BATON_VERSION_MAJOR * 10000 + BATON_VERSION_MINOR * 100 + BATON_VERSION_PATCH)

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */
/* ------------------------------------------------------------------------------------ */

/** Result of every baton call. Codes shared with CUDA keep CUDA's numbers. */
typedef enum batonError_t {
    batonSuccess = 0,                       /**< The call succeeded. */
    batonErrorInvalidValue = 1,             /**< An argument is out of range, NULL or inconsistent. */
    batonErrorMemoryAllocation = 2,         /**< Host or device memory could not be allocated. */
    batonErrorInitializationError = 3,      /**< Vulkan could not be initialised (no loader, no instance). */
    batonErrorInvalidChannelDescriptor = 20, /**< A channel format (baton_cuda.h) that has no Vulkan format. */
    batonErrorNoDevice = 100,               /**< No Vulkan device with what baton needs was found. */
    batonErrorInvalidDevice = 101,          /**< A device ordinal that is not a device (baton_cuda.h). */
    batonErrorOperatingSystem = 304,        /**< A system call failed (memfd, mmap, socket, futex...). */
    batonErrorInvalidResourceHandle = 400,  /**< A handle or fd is not valid for this operation. */
    batonErrorIllegalState = 401,           /**< The object is not in a state that allows the call. */
    batonErrorNotReady = 600,               /**< Work is still pending (query functions). */
    batonErrorLaunchFailure = 719,          /**< A Vulkan submission failed or the device was lost. */
    batonErrorNotSupported = 801,           /**< The operation or handle type is not supported here. */
    batonErrorTimeout = 909,                /**< A keyed-mutex acquire (or a host wait) timed out. */
    batonErrorUnknown = 999,                /**< An unexpected internal failure. */
    /* baton-specific codes start at 10000 so they never collide with CUDA's. */
    batonErrorMissingCapability = 10001,    /**< An attached device lacks a feature or extension baton needs. */
    batonErrorKeyedMutexAbandoned = 10002,  /**< Acquired a keyed mutex whose previous holder died or was destroyed holding it: the acquirer holds it now (see Keyed mutex). */
    batonErrorWrongKind = 10003,            /**< A handle of another kind (binary/timeline/keyed mutex) was given. */
    batonErrorForeignDevice = 10004,        /**< A handle exported by another GPU or driver was given. */
    batonErrorPeerLost = 10005              /**< The other process of a shared frame channel died or left (baton_channel.h, Peer death). */
} batonError_t;

/** Name of an error code, e.g. "batonErrorInvalidValue". Never NULL. */
BATON_API const char* batonGetErrorName(batonError_t error);
/** One-sentence description of an error code. Never NULL. */
BATON_API const char* batonGetErrorString(batonError_t error);
/**
 * Details of the last failure on the calling thread: which argument was wrong, which
 * VkResult a driver call returned, which extension a device lacks. Valid until the next
 * baton call on this thread. Returns "" when the last call succeeded.
 */
BATON_API const char* batonGetLastErrorMessage(void);
/** Version of the library that is loaded (compare with BATON_VERSION). */
BATON_API batonError_t batonGetVersion(int* version);

/* ------------------------------------------------------------------------------------ */
/* Handles                                                                              */
/* ------------------------------------------------------------------------------------ */

typedef struct batonContext_st* batonContext_t;                     /**< A Vulkan device baton works on. */
typedef struct batonStream_st* batonStream_t;                       /**< An ordered queue of work; NULL is the default stream. */
typedef struct batonEvent_st* batonEvent_t;                         /**< A point in a stream, with a GPU timestamp. */
typedef struct batonExternalSemaphore_st* batonExternalSemaphore_t; /**< An imported or exported semaphore. */

/*
 * Rules every function follows:
 * - A handle argument that is not a live handle of the expected type (destroyed, made up,
 *   a handle of another type, an object of another context than the stream it is used
 *   with) returns batonErrorInvalidResourceHandle; nothing is dereferenced. Where NULL has
 *   a meaning (the default stream, the current context, destroy functions) it is accepted.
 * - A NULL pointer where one is required, nonzero flags or reserved fields, and values out
 *   of range return batonErrorInvalidValue.
 * - Arguments are checked before anything is created, enqueued or handed to the driver: a
 *   call that fails creates, reserves, enqueues and takes nothing (the lazily created
 *   default context aside), and batonGetLastErrorMessage() says which argument.
 */

/* ------------------------------------------------------------------------------------ */
/* External semaphores: CUDA's types, same values and layouts                           */
/* ------------------------------------------------------------------------------------ */

typedef enum batonExternalSemaphoreHandleType {
    batonExternalSemaphoreHandleTypeOpaqueFd = 1,               /**< Binary semaphore, fd (Linux). */
    batonExternalSemaphoreHandleTypeOpaqueWin32 = 2,            /**< Windows only: NotSupported. */
    batonExternalSemaphoreHandleTypeOpaqueWin32Kmt = 3,         /**< Windows only: NotSupported. */
    batonExternalSemaphoreHandleTypeD3D12Fence = 4,             /**< Windows only: NotSupported. */
    batonExternalSemaphoreHandleTypeD3D11Fence = 5,             /**< Windows only: NotSupported. */
    batonExternalSemaphoreHandleTypeNvSciSync = 6,              /**< NotSupported. */
    batonExternalSemaphoreHandleTypeKeyedMutex = 7,             /**< Emulated keyed mutex, fd (Linux). */
    batonExternalSemaphoreHandleTypeKeyedMutexKmt = 8,          /**< Windows only: NotSupported. */
    batonExternalSemaphoreHandleTypeTimelineSemaphoreFd = 9,    /**< Timeline semaphore, fd (Linux). */
    batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32 = 10 /**< Windows only: NotSupported. */
} batonExternalSemaphoreHandleType;

/** Describes a handle to import. Zero-initialise, then set type and handle. */
typedef struct batonExternalSemaphoreHandleDesc {
    batonExternalSemaphoreHandleType type; /**< What the handle is. */
    union {
        int fd; /**< OpaqueFd, TimelineSemaphoreFd, KeyedMutex: owned by baton on success only. */
        struct {
            void* handle;     /**< Windows types: exactly one of handle/name non-NULL (Kmt: name NULL). */
            const void* name;
        } win32;
        const void* nvSciSyncObj; /**< NvSciSync: not supported. */
    } handle;
    unsigned int flags;        /**< Must be 0. */
    unsigned int reserved[16]; /**< As in CUDA 12/13's cudaExternalSemaphoreHandleDesc; not read. */
} batonExternalSemaphoreHandleDesc;

/** Per-semaphore parameters of a signal. */
typedef struct batonExternalSemaphoreSignalParams {
    struct {
        struct {
            unsigned long long value; /**< Timeline: the value to set; must exceed every earlier one. */
        } fence;
        union {
            void* fence;
            unsigned long long reserved;
        } nvSciSync; /**< Unused. */
        struct {
            unsigned long long key; /**< Keyed mutex: release with this key. */
        } keyedMutex;
        unsigned int reserved[12];
    } params;
    unsigned int flags; /**< Must be 0. */
    unsigned int reserved[16];
} batonExternalSemaphoreSignalParams;

/** Per-semaphore parameters of a wait. */
typedef struct batonExternalSemaphoreWaitParams {
    struct {
        struct {
            unsigned long long value; /**< Timeline: proceed once the value is >= this. */
        } fence;
        union {
            void* fence;
            unsigned long long reserved;
        } nvSciSync; /**< Unused. */
        struct {
            unsigned long long key; /**< Keyed mutex: acquire when released with this key. */
            unsigned int timeoutMs; /**< Keyed mutex: 0xFFFFFFFF waits forever. */
        } keyedMutex;
        unsigned int reserved[10];
    } params;
    unsigned int flags; /**< Must be 0. */
    unsigned int reserved[16];
} batonExternalSemaphoreWaitParams;

/** Keyed-mutex timeout that never expires (D3D's INFINITE). */
#define BATON_INFINITE 0xFFFFFFFFu

/*
 * Keyed mutex (batonExternalSemaphoreHandleTypeKeyedMutex)
 * ---------------------------------------------------------
 * IDXGIKeyedMutex's semantics, emulated in a sealed memfd (so always the portable backend;
 * on Linux its handle is that fd), in stream order:
 * - Export with initialKey: the mutex starts released with that key. Import the fd in any
 *   process (or again in this one): every handle is one party, like a D3D device's
 *   IDXGIKeyedMutex of a shared resource.
 * - Wait = AcquireSync(key, timeoutMs): once the stream reaches the wait (everything before
 *   it submitted), it waits until the mutex is released with `key` and claims it for this
 *   handle; work enqueued after it is submitted once it is held. timeoutMs counts from that
 *   moment; 0 tries once; BATON_INFINITE never expires. Waiting sleeps on a futex.
 * - Signal = ReleaseSync(key): releases with `key` once the GPU has completed the stream's
 *   work before it (the work done under the mutex), not before.
 * - Asynchronous results, reported once by batonStreamSynchronize / batonStreamQuery or by
 *   the next call on the stream (which then enqueues nothing), as every stream error:
 *   batonErrorTimeout: not acquired in time; the handle does not hold the mutex, its
 *     release (if already enqueued) does nothing, and it may acquire again. Work enqueued
 *     behind the failed acquire still runs (a stream never retracts work): check the result
 *     before trusting what it produced.
 *   batonErrorKeyedMutexAbandoned: the previous holder's process died, or its handle was
 *     destroyed while holding; the acquirer (whatever key it asked for) now holds the mutex
 *     and goes on; the protected data may be half-written. While it waits, baton tests the
 *     holder's liveness lock (an OFD lock the kernel drops when the holder's process dies)
 *     every 50 ms and once more before timing out, since a dead process cannot wake a futex:
 *     a dead holder is reported as abandoned, never as a timeout, within about 50 ms, in any
 *     pid namespace or container. A holder's fork()ed child that has not exec'd keeps the
 *     lock alive until it exits.
 *   batonErrorIllegalState (also): the shared page holds a state no baton process can have
 *     written (a hostile or broken peer); nothing is held.
 * - Misuse is refused when enqueued, with batonErrorIllegalState and nothing enqueued:
 *   acquiring on a handle that already has an acquire without a release (unless that acquire
 *   failed), releasing on a handle without an acquire, releasing on another stream than the
 *   acquire's (the release must follow the work done under the acquire).
 * - batonExternalSemaphoreGetInfo: currentValue is the key of the last release (or the
 *   initial key), pendingValue is 1 while any handle holds the mutex.
 * - Destroying a handle that holds the mutex (once its pending operations completed)
 *   abandons it, as D3D does when a holder lets go of the resource without ReleaseSync.
 */

/**
 * Imports a semaphore that another process or API exported, into the calling thread's
 * current context (created lazily: the best GPU, else lavapipe).
 *
 * Accepted on Linux: OpaqueFd (binary), TimelineSemaphoreFd and KeyedMutex fds. baton
 * recognises its own portable semaphores (a sealed memfd) and, where the driver has
 * VK_KHR_external_semaphore_fd, the driver's opaque fds; it never hands the driver an fd it
 * has not checked first (one failed import poisons the NVIDIA driver for the process).
 * An fd baton cannot vouch for is refused with batonErrorInvalidResourceHandle.
 *
 * Ownership: on success baton owns desc->handle.fd and closes it on destroy; on failure the
 * fd is untouched and still the caller's.
 *
 * Returns batonErrorInvalidValue (NULL pointers, flags != 0, unknown type, fd < 0, bad
 * Windows descriptor), batonErrorNotSupported (Windows types with a valid descriptor,
 * NvSciSync, KeyedMutexKmt), batonErrorInvalidResourceHandle (closed fd, or an fd that is
 * not a semaphore baton can use), batonErrorWrongKind (a baton semaphore of another kind).
 */
BATON_API batonError_t batonImportExternalSemaphore(batonExternalSemaphore_t* extSem_out,
                                                    const batonExternalSemaphoreHandleDesc* semHandleDesc);

/**
 * Enqueues signals of numExtSems semaphores on stream (NULL: the default stream). They take
 * effect when all prior work on the stream has completed. Binary: set signaled. Timeline:
 * set to params.fence.value, which must exceed every value signaled or pending (else
 * batonErrorInvalidValue: baton never moves a timeline backwards). Keyed mutex: release with
 * params.keyedMutex.key once the stream's prior work completed; batonErrorIllegalState if
 * this handle has no acquire to release or acquired on another stream.
 *
 * All arguments are checked before anything is enqueued: on error nothing is enqueued.
 * Never blocks on the GPU; costs no allocation, no semaphore creation and no fd traffic.
 *
 * Returns batonErrorInvalidValue (extSemArray or paramsArray NULL, numExtSems 0,
 * params.flags != 0, a timeline value of 0 or not above every value signaled or pending,
 * also earlier in the same array), batonErrorInvalidResourceHandle (an element that is not
 * a live semaphore, or one of another context than the stream; a stream that is not live).
 */
BATON_API batonError_t batonSignalExternalSemaphoresAsync(const batonExternalSemaphore_t* extSemArray,
                                                          const batonExternalSemaphoreSignalParams* paramsArray,
                                                          unsigned int numExtSems, batonStream_t stream);

/**
 * Enqueues waits on numExtSems semaphores on stream: work enqueued after this call runs once
 * every wait is satisfied. Binary: wait until signaled, then reset (consume). Timeline:
 * wait until the value is >= params.fence.value (the wait may be enqueued before the
 * signal). Keyed mutex: acquire with params.keyedMutex.key within params.keyedMutex.timeoutMs
 * (see Keyed mutex above).
 *
 * All arguments are checked before anything is enqueued. Returns batonErrorInvalidValue
 * (extSemArray or paramsArray NULL, numExtSems 0, params.flags != 0),
 * batonErrorInvalidResourceHandle (as for signals), batonErrorIllegalState (keyed mutex: this
 * handle already has an acquire without a release).
 */
BATON_API batonError_t batonWaitExternalSemaphoresAsync(const batonExternalSemaphore_t* extSemArray,
                                                        const batonExternalSemaphoreWaitParams* paramsArray,
                                                        unsigned int numExtSems, batonStream_t stream);

/**
 * Destroys a semaphore handle. Operations already enqueued on it still complete: the
 * Vulkan objects, mappings and fds are released once they have (deferred release), never
 * under the GPU's feet. Accepts NULL (returns batonSuccess). A handle that is not a live
 * semaphore (destroyed already, made up) returns batonErrorInvalidResourceHandle.
 */
BATON_API batonError_t batonDestroyExternalSemaphore(batonExternalSemaphore_t extSem);

/** Flags of batonExternalSemaphoreExportDesc. */
typedef enum batonExportFlags {
    batonExportFlagPortable = 0x1 /**< Use the portable shared-timeline backend even where the driver exports fds. */
} batonExportFlags;

/** Describes a new shareable semaphore. Zero-initialise, then set type. */
typedef struct batonExternalSemaphoreExportDesc {
    batonExternalSemaphoreHandleType type; /**< OpaqueFd (binary), TimelineSemaphoreFd or KeyedMutex. */
    unsigned long long initialValue;       /**< Timeline: its first value. Must be 0 for the others. */
    unsigned long long initialKey;         /**< Keyed mutex: the key it starts released with. Must be 0 for the others. */
    unsigned int flags;                    /**< batonExportFlags. */
    unsigned int reserved[16];             /**< Must be 0. */
} batonExternalSemaphoreExportDesc;

/**
 * Creates a new semaphore in the current context and exports it as an fd that another
 * process or API can import. Native (driver opaque fd) where the driver has
 * VK_KHR_external_semaphore_fd, the portable shared timeline otherwise or when asked.
 * The returned fd belongs to the caller (close it, or pass it on; importing it elsewhere
 * transfers it). Setup-time call: it creates a semaphore (hundreds of microseconds).
 *
 * Returns batonErrorInvalidValue (a NULL pointer, unknown flags, reserved fields not zero,
 * a type that is no handle type, an initialValue for a binary semaphore) or
 * batonErrorNotSupported (a handle type baton does not export, such as the Windows types).
 */
BATON_API batonError_t batonExportExternalSemaphore(int* fdOut, batonExternalSemaphore_t* extSemOut,
                                                    const batonExternalSemaphoreExportDesc* desc);

/** How a semaphore is implemented. */
typedef enum batonSemaphoreBackend {
    batonSemaphoreBackendNative = 1,   /**< The driver's own exportable VkSemaphore. */
    batonSemaphoreBackendPortable = 2  /**< baton's shared state in a memfd, bridged to the GPU. */
} batonSemaphoreBackend;

/** What baton knows of a semaphore. */
typedef struct batonExternalSemaphoreInfo {
    batonExternalSemaphoreHandleType type; /**< OpaqueFd, TimelineSemaphoreFd or KeyedMutex. */
    batonSemaphoreBackend backend;
    unsigned long long currentValue;  /**< Timeline: value reached; binary: 1 when signaled; keyed mutex: key of the last release. */
    unsigned long long pendingValue;  /**< Timeline: highest value signaled or pending (this process; any process for portable); keyed mutex: 1 while held. */
    uint8_t id[16];                   /**< Identity of the shared object (portable); zero for native. */
} batonExternalSemaphoreInfo;

/** Fills info for a semaphore. Cheap; never blocks. */
BATON_API batonError_t batonExternalSemaphoreGetInfo(batonExternalSemaphore_t extSem, batonExternalSemaphoreInfo* info);

/**
 * Host-side wait until a timeline semaphore reaches value (or a binary one is signaled,
 * without consuming it), for at most timeoutNs nanoseconds (UINT64_MAX: forever).
 * Returns batonErrorTimeout when the time runs out, batonErrorIllegalState when a portable
 * semaphore's shared page holds values no baton process can have written (a hostile or
 * broken peer: a timeline going backwards or above every pending value, an impossible
 * binary count, a changed header); that semaphore then stays refused.
 */
BATON_API batonError_t batonExternalSemaphoreHostWait(batonExternalSemaphore_t extSem, unsigned long long value,
                                                      uint64_t timeoutNs);

/* ------------------------------------------------------------------------------------ */
/* Renderer helpers: put baton semaphores into your own vkQueueSubmit2                  */
/* ------------------------------------------------------------------------------------ */

/**
 * Fills the VkSemaphoreSubmitInfo with which a renderer's own vkQueueSubmit2 on the
 * context's device waits until a timeline semaphore reaches value (native: the semaphore
 * itself; portable: a local timeline that baton signals from the host once the shared value
 * is reached). Native binary semaphores are accepted too (value ignored; Vulkan's rule that
 * the signal be submitted first applies). Portable binary semaphores: batonErrorNotSupported.
 *
 * On a context whose queue is shared by baton and the renderer (lavapipe has one queue), a
 * wait submitted before its signal would stall the queue that must run the signal; then the
 * call returns batonErrorNotReady until a signal for value has at least been submitted
 * (try again next frame, or wait on the host with batonExternalSemaphoreHostWait).
 */
BATON_API batonError_t batonGetWaitSubmitInfo(batonExternalSemaphore_t extSem, unsigned long long value,
                                              VkPipelineStageFlags2 stageMask, VkSemaphoreSubmitInfo* info);

/**
 * Fills the VkSemaphoreSubmitInfo with which a renderer's own vkQueueSubmit2 signals a
 * timeline semaphore to value (must exceed every earlier value, as for streams). For a
 * portable semaphore baton publishes the value once the GPU reaches it. The caller must then
 * really submit the signal. Same device rule as batonGetWaitSubmitInfo.
 */
BATON_API batonError_t batonGetSignalSubmitInfo(batonExternalSemaphore_t extSem, unsigned long long value,
                                                VkPipelineStageFlags2 stageMask, VkSemaphoreSubmitInfo* info);

/* ------------------------------------------------------------------------------------ */
/* Contexts                                                                             */
/* ------------------------------------------------------------------------------------ */

/** Severity of a message passed to batonMessageCallback. */
typedef enum batonMessageSeverity {
    batonMessageSeverityInfo = 1,
    batonMessageSeverityWarning = 2,
    batonMessageSeverityError = 3
} batonMessageSeverity;

/** Receives validation-layer and diagnostic messages. Called from any thread. */
typedef void (*batonMessageCallback)(batonMessageSeverity severity, const char* message, void* userData);

/** Flags of batonContextCreateInfo and batonContextAttachInfo. */
typedef enum batonContextFlags {
    batonContextFlagValidation = 0x1,     /**< Standalone: enable VK_LAYER_KHRONOS_validation and report its messages. */
    batonContextFlagPreferSoftware = 0x2, /**< Standalone: pick the CPU device (lavapipe) even if a GPU exists. */
    batonContextFlagNoNative = 0x4        /**< Never use driver semaphore fds: every semaphore is portable. */
} batonContextFlags;

/**
 * Creates a standalone context: baton's own VkInstance and VkDevice. Zero-initialise.
 * The environment variable BATON_VALIDATION=1 turns on batonContextFlagValidation for every
 * standalone context (the default context included); BATON_DEVICE=cpu prefers lavapipe.
 */
typedef struct batonContextCreateInfo {
    unsigned int flags;                    /**< batonContextFlags. */
    const uint8_t* deviceUUID;             /**< NULL: the best GPU, else lavapipe. Else VK_UUID_SIZE bytes. */
    batonMessageCallback messageCallback;  /**< NULL: errors go to stderr. */
    void* messageUserData;
    unsigned int reserved[8];              /**< Must be 0. */
} batonContextCreateInfo;

/** Host's queue lock, called around every vkQueueSubmit2 baton makes on a shared queue. */
typedef void (*batonQueueLockFn)(VkQueue queue, void* userData);

/** A queue a host lends to baton. */
typedef struct batonQueueInfo {
    VkQueue queue;
    uint32_t familyIndex;
    uint32_t queueIndex;
} batonQueueInfo;

/**
 * Attaches baton to a host renderer's device: baton uses the host's instance, device and the
 * queue it lends, never creates or destroys them. The host must keep them alive until
 * batonContextDestroy returns. Zero-initialise.
 */
typedef struct batonContextAttachInfo {
    PFN_vkGetInstanceProcAddr getInstanceProcAddr; /**< The host's loader entry point. */
    VkInstance instance;
    VkPhysicalDevice physicalDevice;
    VkDevice device;
    uint32_t apiVersion;                           /**< VkApplicationInfo::apiVersion of the instance (>= 1.2). */
    batonQueueInfo computeQueue;                   /**< The queue baton's streams submit to. */
    const char* const* enabledExtensions;          /**< Device extensions the device was created with. */
    uint32_t enabledExtensionCount;
    const void* enabledFeatures;                   /**< The pNext chain of features the device was created with (VkPhysicalDeviceFeatures2 or Vulkan12/13Features, ...). */
    batonQueueLockFn lockQueue;                    /**< NULL when baton has computeQueue to itself. */
    batonQueueLockFn unlockQueue;
    void* queueLockUserData;
    unsigned int flags;                            /**< batonContextFlagNoNative honoured. */
    batonMessageCallback messageCallback;
    void* messageUserData;
    unsigned int reserved[8];                      /**< Must be 0. */
} batonContextAttachInfo;

/** Creates a standalone context. info may be NULL. The new context is not made current. */
BATON_API batonError_t batonContextCreate(batonContext_t* ctxOut, const batonContextCreateInfo* info);

/**
 * Attaches to a host's device. Checks that it has what baton needs (Vulkan 1.2,
 * timelineSemaphore, synchronization2; VK_KHR_external_semaphore_fd for the native
 * backend) and, if not, returns batonErrorMissingCapability with a message naming what is
 * missing (batonGetLastErrorMessage).
 */
BATON_API batonError_t batonContextAttach(batonContext_t* ctxOut, const batonContextAttachInfo* info);

/**
 * Destroys a context after its work completes: lets every stream finish the work enqueued
 * on it (host functions, submissions, the signals peers wait for), then releases every
 * stream, event and semaphore still alive in it. Accepts NULL. Destroying the default
 * context is allowed; the next call that needs a device creates a new one.
 *
 * Bounded: work that cannot finish because it depends on a peer that will never act (a
 * portable or keyed-mutex wait nobody satisfies) is given up after 2 seconds
 * (BATON_DESTROY_TIMEOUT_MS overrides): the streams' remaining operations are dropped. GPU
 * work that has not completed by then (a GPU wait on a native semaphore whose signaller
 * died) cannot be freed safely; its stream, the context and (standalone) its device are then
 * left allocated, and the context reports an error message. After device loss, destroy
 * does not wait. It works on a lost context, and returns batonErrorInitializationError in a
 * child forked without exec (the context is the parent's).
 */
BATON_API batonError_t batonContextDestroy(batonContext_t ctx);

/** Makes ctx current on the calling thread (NULL: back to the default context). */
BATON_API batonError_t batonCtxSetCurrent(batonContext_t ctx);
/** The calling thread's current context, creating the default one if needed. */
BATON_API batonError_t batonCtxGetCurrent(batonContext_t* ctx);

/** Vulkan objects of a context, for a renderer that uses a standalone context's device. */
typedef struct batonContextInfo {
    VkInstance instance;
    VkPhysicalDevice physicalDevice;
    VkDevice device;
    uint32_t apiVersion;
    PFN_vkGetInstanceProcAddr getInstanceProcAddr;
    PFN_vkGetDeviceProcAddr getDeviceProcAddr;
    batonQueueInfo computeQueue;      /**< Where baton's streams submit (the first stream's queue). */
    batonQueueInfo graphicsQueue;     /**< A graphics queue for the host (standalone), or VK_NULL_HANDLE. */
    VkBool32 queueShared;             /**< computeQueue == graphicsQueue: lock it with batonContextLockQueue. */
    VkBool32 nativeSemaphoreFd;       /**< The device exports/imports opaque semaphore fds. */
    VkBool32 externalMemoryFd;        /**< The device exports/imports opaque memory fds. */
    uint8_t deviceUUID[VK_UUID_SIZE];
    uint8_t driverUUID[VK_UUID_SIZE];
    char deviceName[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    uint32_t vendorID;
} batonContextInfo;

/** Fills info for ctx (NULL: the current context). */
BATON_API batonError_t batonContextGetInfo(batonContext_t ctx, batonContextInfo* info);

/**
 * Locks a queue of a standalone context for the host's own vkQueueSubmit2/vkQueuePresentKHR
 * (Vulkan requires external synchronisation of a queue; baton's streams submit from their
 * own threads). Needed whenever the host submits to a queue baton also uses.
 */
BATON_API batonError_t batonContextLockQueue(batonContext_t ctx, VkQueue queue);
BATON_API batonError_t batonContextUnlockQueue(batonContext_t ctx, VkQueue queue);

/** Number of validation/diagnostic messages of at least `severity` seen by ctx so far. */
BATON_API batonError_t batonContextGetMessageCount(batonContext_t ctx, batonMessageSeverity severity,
                                                   unsigned long long* count);

/* ------------------------------------------------------------------------------------ */
/* Streams, host functions and events                                                   */
/* ------------------------------------------------------------------------------------ */

/**
 * Creates a stream in the current context: work on it runs in order on a compute queue (a
 * compute-only family where the GPU has one). Setup-time call: it creates a timeline
 * semaphore, a command pool and a submission thread.
 */
BATON_API batonError_t batonStreamCreate(batonStream_t* stream);
/**
 * Destroys a stream. Work already enqueued still completes; resources are released once it
 * has. Accepts NULL (no-op: the default stream lives as long as its context).
 */
BATON_API batonError_t batonStreamDestroy(batonStream_t stream);
/**
 * Waits until all work enqueued on the stream so far has completed. Returns the first
 * asynchronous error the stream met since the last report (e.g. batonErrorTimeout from a
 * keyed-mutex acquire), then clears it: the stream stays usable.
 */
BATON_API batonError_t batonStreamSynchronize(batonStream_t stream);
/** batonSuccess if all work enqueued so far has completed, batonErrorNotReady if not, or the pending asynchronous error. */
BATON_API batonError_t batonStreamQuery(batonStream_t stream);
/** Waits for every stream of the current context. */
BATON_API batonError_t batonDeviceSynchronize(void);

/** Records commands into a command buffer baton owns (already begun; do not end it). */
typedef void (*batonRecordFn)(VkCommandBuffer commandBuffer, void* userData);

/**
 * Enqueues GPU work: calls record synchronously, on the calling thread, to record into a
 * pooled command buffer of the stream's queue family, then submits it in stream order.
 * The command buffer is recycled once the GPU is done with it; never keep it.
 */
BATON_API batonError_t batonStreamRecord(batonStream_t stream, batonRecordFn record, void* userData);

/** A host function enqueued with batonLaunchHostFunc. Must not call baton on the same stream. */
typedef void (*batonHostFn_t)(void* userData);
/** Enqueues a host function: runs on a baton thread after all prior work; later work waits for it. */
BATON_API batonError_t batonLaunchHostFunc(batonStream_t stream, batonHostFn_t fn, void* userData);

/** Creates an event (a stream position with a GPU timestamp). */
BATON_API batonError_t batonEventCreate(batonEvent_t* event);
/** Destroys an event. Accepts NULL. */
BATON_API batonError_t batonEventDestroy(batonEvent_t event);
/** Records the event at the current end of the stream. */
BATON_API batonError_t batonEventRecord(batonEvent_t event, batonStream_t stream);
/** batonSuccess once the work before the event completed, batonErrorNotReady before. */
BATON_API batonError_t batonEventQuery(batonEvent_t event);
/** Waits until the work before the event completed. */
BATON_API batonError_t batonEventSynchronize(batonEvent_t event);
/**
 * GPU time between two completed events of the same context, in milliseconds. An event that
 * was never recorded is batonErrorInvalidResourceHandle (as in CUDA); one still pending,
 * batonErrorNotReady.
 */
BATON_API batonError_t batonEventElapsedTime(float* ms, batonEvent_t start, batonEvent_t end);
/** Makes future work on stream wait for the event (flags must be 0). */
BATON_API batonError_t batonStreamWaitEvent(batonStream_t stream, batonEvent_t event, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BATON_H */
