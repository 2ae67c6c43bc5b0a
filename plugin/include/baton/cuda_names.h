/*
 * Opt-in: maps the CUDA runtime's names of the external-semaphore API (and the stream, event
 * and error functions around it) onto baton's, so interop code written for CUDA compiles
 * against baton unchanged. Never include it together with cuda_runtime.h: the names would
 * collide, and this header refuses to be included after it.
 */
#ifndef BATON_CUDA_NAMES_H
#define BATON_CUDA_NAMES_H

#if defined(__CUDA_RUNTIME_H__) || defined(CUDART_VERSION)
#error "baton/cuda_names.h maps CUDA's names onto baton's: do not include it together with cuda_runtime.h"
#endif

#include <baton/baton.h>

/* Types */
#define cudaError_t batonError_t
#define cudaStream_t batonStream_t
#define cudaEvent_t batonEvent_t
#define cudaExternalSemaphore_t batonExternalSemaphore_t
#define cudaExternalSemaphoreHandleType batonExternalSemaphoreHandleType
#define cudaExternalSemaphoreHandleDesc batonExternalSemaphoreHandleDesc
#define cudaExternalSemaphoreSignalParams batonExternalSemaphoreSignalParams
#define cudaExternalSemaphoreWaitParams batonExternalSemaphoreWaitParams
#define cudaHostFn_t batonHostFn_t

/* Handle types (same values) */
#define cudaExternalSemaphoreHandleTypeOpaqueFd batonExternalSemaphoreHandleTypeOpaqueFd
#define cudaExternalSemaphoreHandleTypeOpaqueWin32 batonExternalSemaphoreHandleTypeOpaqueWin32
#define cudaExternalSemaphoreHandleTypeOpaqueWin32Kmt batonExternalSemaphoreHandleTypeOpaqueWin32Kmt
#define cudaExternalSemaphoreHandleTypeD3D12Fence batonExternalSemaphoreHandleTypeD3D12Fence
#define cudaExternalSemaphoreHandleTypeD3D11Fence batonExternalSemaphoreHandleTypeD3D11Fence
#define cudaExternalSemaphoreHandleTypeNvSciSync batonExternalSemaphoreHandleTypeNvSciSync
#define cudaExternalSemaphoreHandleTypeKeyedMutex batonExternalSemaphoreHandleTypeKeyedMutex
#define cudaExternalSemaphoreHandleTypeKeyedMutexKmt batonExternalSemaphoreHandleTypeKeyedMutexKmt
#define cudaExternalSemaphoreHandleTypeTimelineSemaphoreFd batonExternalSemaphoreHandleTypeTimelineSemaphoreFd
#define cudaExternalSemaphoreHandleTypeTimelineSemaphoreWin32 batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32

/* Error codes (same numbers) */
#define cudaSuccess batonSuccess
#define cudaErrorInvalidValue batonErrorInvalidValue
#define cudaErrorMemoryAllocation batonErrorMemoryAllocation
#define cudaErrorInitializationError batonErrorInitializationError
#define cudaErrorNoDevice batonErrorNoDevice
#define cudaErrorOperatingSystem batonErrorOperatingSystem
#define cudaErrorInvalidResourceHandle batonErrorInvalidResourceHandle
#define cudaErrorIllegalState batonErrorIllegalState
#define cudaErrorNotReady batonErrorNotReady
#define cudaErrorLaunchFailure batonErrorLaunchFailure
#define cudaErrorNotSupported batonErrorNotSupported
#define cudaErrorTimeout batonErrorTimeout
#define cudaErrorUnknown batonErrorUnknown

/* Functions */
#define cudaImportExternalSemaphore batonImportExternalSemaphore
#define cudaSignalExternalSemaphoresAsync batonSignalExternalSemaphoresAsync
#define cudaWaitExternalSemaphoresAsync batonWaitExternalSemaphoresAsync
#define cudaDestroyExternalSemaphore batonDestroyExternalSemaphore
#define cudaGetErrorName batonGetErrorName
#define cudaGetErrorString batonGetErrorString
#define cudaStreamCreate batonStreamCreate
#define cudaStreamDestroy batonStreamDestroy
#define cudaStreamSynchronize batonStreamSynchronize
#define cudaStreamQuery batonStreamQuery
#define cudaStreamWaitEvent batonStreamWaitEvent
#define cudaDeviceSynchronize batonDeviceSynchronize
#define cudaLaunchHostFunc batonLaunchHostFunc
#define cudaEventCreate batonEventCreate
#define cudaEventDestroy batonEventDestroy
#define cudaEventRecord batonEventRecord
#define cudaEventQuery batonEventQuery
#define cudaEventSynchronize batonEventSynchronize
#define cudaEventElapsedTime batonEventElapsedTime

#endif /* BATON_CUDA_NAMES_H */
