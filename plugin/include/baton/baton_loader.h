/**
 * @file baton_loader.h
 * @brief Run-time loading of baton: one exported entry point that fills a versioned table
 * of every public function, for engines that load plugin modules with dlopen.
 *
 * The shape of Vulkan's and Unity's loaders: a host that does not link libbaton looks up a
 * single symbol, asks for the version it was compiled against, and gets back a table of
 * function pointers and the version of the library it found, so that it can refuse an
 * incompatible library *before* calling anything else in it.
 *
 * @code
 * #include <dlfcn.h>
 * #include <baton/baton_loader.h>
 *
 * void* lib = dlopen("libbaton.so.0", RTLD_NOW | RTLD_LOCAL);  // the SONAME: major version 0
 * PFN_batonGetProcTable getTable = lib ? (PFN_batonGetProcTable)dlsym(lib, BATON_GET_PROC_TABLE_NAME) : NULL;
 * batonProcTable baton = {0};
 * baton.structSize = sizeof baton;
 * if (!getTable || getTable(BATON_VERSION, &baton) != batonSuccess) {
 *     // Not there, or incompatible: baton.version says which library was found.
 * }
 * batonStream_t stream;
 * baton.batonStreamCreate(&stream);
 * @endcode
 *
 * Compatibility rules
 * -------------------
 * - The table only grows: within one major version, functions are appended at its end and
 *   never removed, reordered or changed. The major version is libbaton's SOVERSION.
 * - A library is compatible with a host compiled against BATON_VERSION `requested` when both
 *   have the same major version and the library's minor version is at least the requested
 *   one (it then has every function the host's header declares).
 * - A host compiled against an older header passes a smaller structSize: the library fills
 *   only that many bytes. Members beyond what an older library knows are set to NULL.
 *
 * The function pointers are the library's own exported functions: calling through the table
 * and calling the linked symbols are the same thing, with the same thread-safety rules.
 */
#ifndef BATON_BATON_LOADER_H
#define BATON_BATON_LOADER_H

#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_cuda.h>
#include <baton/baton_memory.h>
#include <baton/baton_telemetry.h>
#include <baton/baton_transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Name of the entry point to look up with dlsym (or GetProcAddress). */
#define BATON_GET_PROC_TABLE_NAME "batonGetProcTable"

/** @name Function pointer types of the public API, one per function of baton.h.
 * @{ */
typedef const char* (*PFN_batonGetErrorName)(batonError_t error);
typedef const char* (*PFN_batonGetErrorString)(batonError_t error);
typedef const char* (*PFN_batonGetLastErrorMessage)(void);
typedef batonError_t (*PFN_batonGetVersion)(int* version);
typedef batonError_t (*PFN_batonImportExternalSemaphore)(batonExternalSemaphore_t* extSem_out,
                                                         const batonExternalSemaphoreHandleDesc* semHandleDesc);
typedef batonError_t (*PFN_batonSignalExternalSemaphoresAsync)(const batonExternalSemaphore_t* extSemArray,
                                                               const batonExternalSemaphoreSignalParams* paramsArray,
                                                               unsigned int numExtSems, batonStream_t stream);
typedef batonError_t (*PFN_batonWaitExternalSemaphoresAsync)(const batonExternalSemaphore_t* extSemArray,
                                                             const batonExternalSemaphoreWaitParams* paramsArray,
                                                             unsigned int numExtSems, batonStream_t stream);
typedef batonError_t (*PFN_batonDestroyExternalSemaphore)(batonExternalSemaphore_t extSem);
typedef batonError_t (*PFN_batonExportExternalSemaphore)(int* fdOut, batonExternalSemaphore_t* extSemOut,
                                                         const batonExternalSemaphoreExportDesc* desc);
typedef batonError_t (*PFN_batonExternalSemaphoreGetInfo)(batonExternalSemaphore_t extSem,
                                                          batonExternalSemaphoreInfo* info);
typedef batonError_t (*PFN_batonExternalSemaphoreHostWait)(batonExternalSemaphore_t extSem, unsigned long long value,
                                                           uint64_t timeoutNs);
typedef batonError_t (*PFN_batonGetWaitSubmitInfo)(batonExternalSemaphore_t extSem, unsigned long long value,
                                                   VkPipelineStageFlags2 stageMask, VkSemaphoreSubmitInfo* info);
typedef batonError_t (*PFN_batonGetSignalSubmitInfo)(batonExternalSemaphore_t extSem, unsigned long long value,
                                                     VkPipelineStageFlags2 stageMask, VkSemaphoreSubmitInfo* info);
typedef batonError_t (*PFN_batonContextCreate)(batonContext_t* ctxOut, const batonContextCreateInfo* info);
typedef batonError_t (*PFN_batonContextAttach)(batonContext_t* ctxOut, const batonContextAttachInfo* info);
typedef batonError_t (*PFN_batonContextDestroy)(batonContext_t ctx);
typedef batonError_t (*PFN_batonCtxSetCurrent)(batonContext_t ctx);
typedef batonError_t (*PFN_batonCtxGetCurrent)(batonContext_t* ctx);
typedef batonError_t (*PFN_batonContextGetInfo)(batonContext_t ctx, batonContextInfo* info);
typedef batonError_t (*PFN_batonContextLockQueue)(batonContext_t ctx, VkQueue queue);
typedef batonError_t (*PFN_batonContextUnlockQueue)(batonContext_t ctx, VkQueue queue);
typedef batonError_t (*PFN_batonContextGetMessageCount)(batonContext_t ctx, batonMessageSeverity severity,
                                                        unsigned long long* count);
typedef batonError_t (*PFN_batonStreamCreate)(batonStream_t* stream);
typedef batonError_t (*PFN_batonStreamDestroy)(batonStream_t stream);
typedef batonError_t (*PFN_batonStreamSynchronize)(batonStream_t stream);
typedef batonError_t (*PFN_batonStreamQuery)(batonStream_t stream);
typedef batonError_t (*PFN_batonDeviceSynchronize)(void);
typedef batonError_t (*PFN_batonStreamRecord)(batonStream_t stream, batonRecordFn record, void* userData);
typedef batonError_t (*PFN_batonLaunchHostFunc)(batonStream_t stream, batonHostFn_t fn, void* userData);
typedef batonError_t (*PFN_batonEventCreate)(batonEvent_t* event);
typedef batonError_t (*PFN_batonEventDestroy)(batonEvent_t event);
typedef batonError_t (*PFN_batonEventRecord)(batonEvent_t event, batonStream_t stream);
typedef batonError_t (*PFN_batonEventQuery)(batonEvent_t event);
typedef batonError_t (*PFN_batonEventSynchronize)(batonEvent_t event);
typedef batonError_t (*PFN_batonEventElapsedTime)(float* ms, batonEvent_t start, batonEvent_t end);
typedef batonError_t (*PFN_batonStreamWaitEvent)(batonStream_t stream, batonEvent_t event, unsigned int flags);
typedef batonError_t (*PFN_batonChannelCreate)(batonChannel_t* channel, const batonChannelCreateInfo* info);
typedef batonError_t (*PFN_batonChannelDestroy)(batonChannel_t channel);
typedef batonError_t (*PFN_batonChannelProduceFrame)(batonChannel_t channel, batonStream_t stream, batonChannelRecordFn record, void* userData, unsigned long long* frameOut);
typedef batonError_t (*PFN_batonChannelAcquireFrame)(batonChannel_t channel, VkPipelineStageFlags2 waitStage, batonChannelFrame* frame);
typedef batonError_t (*PFN_batonChannelAcquireFrameWithFlags)(batonChannel_t channel, VkPipelineStageFlags2 waitStage, unsigned int flags, batonChannelFrame* frame);
typedef batonError_t (*PFN_batonChannelCmdAcquireFrame)(batonChannel_t channel, const batonChannelFrame* frame, VkCommandBuffer commandBuffer);
typedef batonError_t (*PFN_batonChannelReleaseFrame)(batonChannel_t channel, const batonChannelFrame* frame, VkPipelineStageFlags2 releaseStage, batonChannelRelease* release);
typedef batonError_t (*PFN_batonChannelGetInfo)(batonChannel_t channel, batonChannelInfo* info);
typedef batonError_t (*PFN_batonChannelExportFds)(batonChannel_t channel, uint32_t slot, int* memoryFd, int* readyFd, int* releasedFd);
typedef batonError_t (*PFN_batonChannelSend)(batonChannel_t channel, int socket, int timeoutMs);
typedef batonError_t (*PFN_batonChannelReceive)(batonChannel_t* channel, int socket, int timeoutMs, const batonChannelCreateInfo* expected);
typedef batonError_t (*PFN_batonChannelWaitForFrame)(batonChannel_t channel, uint64_t timeoutNs);
typedef batonError_t (*PFN_batonChannelWaitForSlot)(batonChannel_t channel, uint64_t timeoutNs);
typedef batonError_t (*PFN_batonChannelGetPeerInfo)(batonChannel_t channel, batonChannelPeerInfo* info);
typedef batonError_t (*PFN_batonTelemetryEnable)(batonContext_t ctx, int enable);
typedef batonError_t (*PFN_batonTelemetryRead)(batonContext_t ctx, unsigned long long afterSeq, batonTelemetryRecord* records, unsigned int capacity, unsigned int* count);
typedef batonError_t (*PFN_batonTelemetryGetSemaphoreStats)(batonExternalSemaphore_t sem, batonTelemetrySemaphoreStats* stats);
typedef batonError_t (*PFN_batonChannelGetStats)(batonChannel_t channel, batonChannelStats* stats);
typedef batonError_t (*PFN_batonTelemetryGetApiStats)(batonContext_t ctx, batonTelemetryApi api, batonTelemetryApiStats* stats);
typedef batonError_t (*PFN_batonTraceStart)(batonContext_t ctx, const char* path);
typedef batonError_t (*PFN_batonTraceStop)(batonContext_t ctx);
typedef batonError_t (*PFN_batonTelemetryReadFrames)(batonContext_t ctx, unsigned long long afterSeq, batonTelemetryFrame* frames, unsigned int capacity, unsigned int* count);
typedef batonError_t (*PFN_batonTraceWrite)(batonContext_t ctx, const char* path);
typedef batonError_t (*PFN_batonExportMemory)(int* fdOut, batonMemory_t* memOut, const batonMemoryDesc* desc);
typedef batonError_t (*PFN_batonImportMemory)(batonMemory_t* memOut, const batonMemoryImportDesc* desc);
typedef batonError_t (*PFN_batonMemoryGetInfo)(batonMemory_t mem, batonMemoryInfo* info);
typedef batonError_t (*PFN_batonDestroyMemory)(batonMemory_t mem);
typedef batonError_t (*PFN_batonSendExternalSemaphore)(int socket, batonExternalSemaphore_t extSem, unsigned long long tag);
typedef batonError_t (*PFN_batonReceiveExternalSemaphore)(int socket, batonExternalSemaphoreHandleType expectedType, int timeoutMs, batonExternalSemaphore_t* extSemOut, batonHandleHeader* header);
typedef batonError_t (*PFN_batonSendMemory)(int socket, batonMemory_t mem, unsigned long long tag);
typedef batonError_t (*PFN_batonReceiveMemory)(int socket, int timeoutMs, batonMemory_t* memOut, batonHandleHeader* header);
typedef batonError_t (*PFN_batonSendHandle)(int socket, const batonHandleHeader* header, int fd);
typedef batonError_t (*PFN_batonReceiveHandle)(int socket, int timeoutMs, batonHandleHeader* header, int* fdOut);
/* CUDA's interop surface (baton_cuda.h). */
typedef batonError_t (*PFN_batonGetDeviceCount)(int* count);
typedef batonError_t (*PFN_batonSetDevice)(int device);
typedef batonError_t (*PFN_batonGetDevice)(int* device);
typedef batonError_t (*PFN_batonGetDeviceProperties)(batonDeviceProp* prop, int device);
typedef batonError_t (*PFN_batonDeviceGetAttribute)(int* value, batonDeviceAttr attr, int device);
typedef batonError_t (*PFN_batonDeviceGetStreamPriorityRange)(int* leastPriority, int* greatestPriority);
typedef batonError_t (*PFN_batonStreamCreateWithFlags)(batonStream_t* stream, unsigned int flags);
typedef batonError_t (*PFN_batonStreamCreateWithPriority)(batonStream_t* stream, unsigned int flags, int priority);
typedef batonError_t (*PFN_batonGetLastError)(void);
typedef batonError_t (*PFN_batonPeekAtLastError)(void);
typedef batonError_t (*PFN_batonEventCreateWithFlags)(batonEvent_t* event, unsigned int flags);
typedef batonError_t (*PFN_batonImportExternalMemory)(batonExternalMemory_t* extMem_out, const batonExternalMemoryHandleDesc* memHandleDesc);
typedef batonError_t (*PFN_batonImportExternalMemoryWithType)(batonExternalMemory_t* extMem_out, const batonExternalMemoryHandleDesc* memHandleDesc, uint32_t memoryTypeIndex);
typedef batonError_t (*PFN_batonExternalMemoryGetMappedBuffer)(void** devPtr, batonExternalMemory_t extMem, const batonExternalMemoryBufferDesc* bufferDesc);
typedef batonError_t (*PFN_batonExternalMemoryGetMappedMipmappedArray)(batonMipmappedArray_t* mipmap, batonExternalMemory_t extMem, const batonExternalMemoryMipmappedArrayDesc* mipmapDesc);
typedef batonError_t (*PFN_batonDestroyExternalMemory)(batonExternalMemory_t extMem);
typedef batonError_t (*PFN_batonFree)(void* devPtr);
typedef batonError_t (*PFN_batonFreeMipmappedArray)(batonMipmappedArray_t mipmap);
typedef batonError_t (*PFN_batonMappedBufferGetInfo)(const void* devPtr, batonMappedBufferInfo* info);
typedef batonError_t (*PFN_batonMipmappedArrayGetInfo)(batonMipmappedArray_t mipmap, batonMipmappedArrayInfo* info);
/** @} */

/**
 * Every public function of baton, as filled by batonGetProcTable. Zero-initialise, set
 * structSize, pass it to batonGetProcTable.
 *
 * Append-only within a major version: new functions are added at the end, so an older host
 * (smaller structSize) and a newer library, or the reverse, agree on every member both know.
 */
typedef struct batonProcTable {
    uint32_t structSize;    /**< In: sizeof(batonProcTable) as the host compiled it. */
    uint32_t version;       /**< Out: BATON_VERSION of the library that filled the table. */
    uint32_t functionCount; /**< Out: number of function pointers filled; every later member is NULL. */
    uint32_t reserved;      /**< Out: 0. */

    /* Errors and version. */
    PFN_batonGetErrorName batonGetErrorName;
    PFN_batonGetErrorString batonGetErrorString;
    PFN_batonGetLastErrorMessage batonGetLastErrorMessage;
    PFN_batonGetVersion batonGetVersion;
    /* External semaphores (CUDA's four entry points, then baton's). */
    PFN_batonImportExternalSemaphore batonImportExternalSemaphore;
    PFN_batonSignalExternalSemaphoresAsync batonSignalExternalSemaphoresAsync;
    PFN_batonWaitExternalSemaphoresAsync batonWaitExternalSemaphoresAsync;
    PFN_batonDestroyExternalSemaphore batonDestroyExternalSemaphore;
    PFN_batonExportExternalSemaphore batonExportExternalSemaphore;
    PFN_batonExternalSemaphoreGetInfo batonExternalSemaphoreGetInfo;
    PFN_batonExternalSemaphoreHostWait batonExternalSemaphoreHostWait;
    /* Renderer helpers. */
    PFN_batonGetWaitSubmitInfo batonGetWaitSubmitInfo;
    PFN_batonGetSignalSubmitInfo batonGetSignalSubmitInfo;
    /* Contexts. */
    PFN_batonContextCreate batonContextCreate;
    PFN_batonContextAttach batonContextAttach;
    PFN_batonContextDestroy batonContextDestroy;
    PFN_batonCtxSetCurrent batonCtxSetCurrent;
    PFN_batonCtxGetCurrent batonCtxGetCurrent;
    PFN_batonContextGetInfo batonContextGetInfo;
    PFN_batonContextLockQueue batonContextLockQueue;
    PFN_batonContextUnlockQueue batonContextUnlockQueue;
    PFN_batonContextGetMessageCount batonContextGetMessageCount;
    /* Streams, host functions and events. */
    PFN_batonStreamCreate batonStreamCreate;
    PFN_batonStreamDestroy batonStreamDestroy;
    PFN_batonStreamSynchronize batonStreamSynchronize;
    PFN_batonStreamQuery batonStreamQuery;
    PFN_batonDeviceSynchronize batonDeviceSynchronize;
    PFN_batonStreamRecord batonStreamRecord;
    PFN_batonLaunchHostFunc batonLaunchHostFunc;
    PFN_batonEventCreate batonEventCreate;
    PFN_batonEventDestroy batonEventDestroy;
    PFN_batonEventRecord batonEventRecord;
    PFN_batonEventQuery batonEventQuery;
    PFN_batonEventSynchronize batonEventSynchronize;
    PFN_batonEventElapsedTime batonEventElapsedTime;
    PFN_batonStreamWaitEvent batonStreamWaitEvent;
    /* Frame channel. */
    PFN_batonChannelCreate batonChannelCreate;
    PFN_batonChannelDestroy batonChannelDestroy;
    PFN_batonChannelProduceFrame batonChannelProduceFrame;
    PFN_batonChannelAcquireFrame batonChannelAcquireFrame;
    PFN_batonChannelReleaseFrame batonChannelReleaseFrame;
    PFN_batonChannelGetInfo batonChannelGetInfo;
    PFN_batonChannelExportFds batonChannelExportFds;
    /* Telemetry and trace export. */
    PFN_batonTelemetryEnable batonTelemetryEnable;
    PFN_batonTelemetryRead batonTelemetryRead;
    PFN_batonTelemetryGetSemaphoreStats batonTelemetryGetSemaphoreStats;
    PFN_batonChannelGetStats batonChannelGetStats;
    PFN_batonTelemetryGetApiStats batonTelemetryGetApiStats;
    PFN_batonTraceStart batonTraceStart;
    PFN_batonTraceStop batonTraceStop;
    /* Frame memory. */
    PFN_batonExportMemory batonExportMemory;
    PFN_batonImportMemory batonImportMemory;
    PFN_batonMemoryGetInfo batonMemoryGetInfo;
    PFN_batonDestroyMemory batonDestroyMemory;
    /* Handle transport. */
    PFN_batonSendExternalSemaphore batonSendExternalSemaphore;
    PFN_batonReceiveExternalSemaphore batonReceiveExternalSemaphore;
    PFN_batonSendMemory batonSendMemory;
    PFN_batonReceiveMemory batonReceiveMemory;
    PFN_batonSendHandle batonSendHandle;
    PFN_batonReceiveHandle batonReceiveHandle;
    /* Frame channel across processes. */
    PFN_batonChannelSend batonChannelSend;
    PFN_batonChannelReceive batonChannelReceive;
    PFN_batonChannelWaitForFrame batonChannelWaitForFrame;
    PFN_batonChannelWaitForSlot batonChannelWaitForSlot;
    PFN_batonChannelGetPeerInfo batonChannelGetPeerInfo;
    /* Telemetry: frames and snapshots (0.1, issue 12). */
    PFN_batonTelemetryReadFrames batonTelemetryReadFrames;
    PFN_batonTraceWrite batonTraceWrite;
    /* CUDA's interop surface (baton_cuda.h). */
    PFN_batonGetDeviceCount batonGetDeviceCount;
    PFN_batonSetDevice batonSetDevice;
    PFN_batonGetDevice batonGetDevice;
    PFN_batonGetDeviceProperties batonGetDeviceProperties;
    PFN_batonDeviceGetAttribute batonDeviceGetAttribute;
    PFN_batonDeviceGetStreamPriorityRange batonDeviceGetStreamPriorityRange;
    PFN_batonStreamCreateWithFlags batonStreamCreateWithFlags;
    PFN_batonStreamCreateWithPriority batonStreamCreateWithPriority;
    PFN_batonGetLastError batonGetLastError;
    PFN_batonPeekAtLastError batonPeekAtLastError;
    PFN_batonEventCreateWithFlags batonEventCreateWithFlags;
    PFN_batonImportExternalMemory batonImportExternalMemory;
    PFN_batonImportExternalMemoryWithType batonImportExternalMemoryWithType;
    PFN_batonExternalMemoryGetMappedBuffer batonExternalMemoryGetMappedBuffer;
    PFN_batonExternalMemoryGetMappedMipmappedArray batonExternalMemoryGetMappedMipmappedArray;
    PFN_batonDestroyExternalMemory batonDestroyExternalMemory;
    PFN_batonFree batonFree;
    PFN_batonFreeMipmappedArray batonFreeMipmappedArray;
    PFN_batonMappedBufferGetInfo batonMappedBufferGetInfo;
    PFN_batonMipmappedArrayGetInfo batonMipmappedArrayGetInfo;
    /* Frame channel: baton's acquire in the consumer's own command buffer (issue 12). */
    PFN_batonChannelAcquireFrameWithFlags batonChannelAcquireFrameWithFlags;
    PFN_batonChannelCmdAcquireFrame batonChannelCmdAcquireFrame;
    /* New functions go here, at the end. */
} batonProcTable;

/**
 * Fills table with the library's functions, after checking that the library is compatible
 * with a host compiled against requestedVersion (pass BATON_VERSION). The one symbol a host
 * that loads baton at run time needs; call it before anything else.
 *
 * - table->structSize must be set (at least the four header fields): the library writes
 *   only that many bytes, so hosts built against older or newer headers are both safe.
 * - On success, table->version is the library's BATON_VERSION and table->functionCount the
 *   number of function pointers filled; members the library does not know are NULL.
 * - Incompatible (another major version, or an older minor version than requested):
 *   returns batonErrorNotSupported; table->version still says which library was found and
 *   every function pointer is NULL. The reason is in batonGetLastErrorMessage (also reachable
 *   with dlsym, since it is an exported function of the same library).
 * - Returns batonErrorInvalidValue when table is NULL or structSize is too small to hold the
 *   header fields (then nothing is written).
 *
 * Never creates a context or touches Vulkan; cheap; callable from any thread.
 */
BATON_API batonError_t batonGetProcTable(uint32_t requestedVersion, batonProcTable* table);

/** Type of batonGetProcTable, for dlsym. */
typedef batonError_t (*PFN_batonGetProcTable)(uint32_t requestedVersion, batonProcTable* table);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BATON_LOADER_H */
