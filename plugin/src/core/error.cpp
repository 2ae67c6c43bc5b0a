#include "core/error.h"

#include "api/c_enum.h"

#include <cstdarg>
#include <cstdio>

namespace baton {
namespace {
thread_local char t_message[512];
thread_local batonError_t t_lastResult = batonSuccess;
}

batonError_t noteResult(batonError_t e) {
    if (e != batonSuccess && e != batonErrorNotReady) t_lastResult = e;
    return e;
}

batonError_t lastResult(bool reset) {
    const batonError_t e = t_lastResult;
    if (reset) t_lastResult = batonSuccess;
    return e;
}

batonError_t fail(batonError_t err, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(t_message, sizeof t_message, fmt, ap);
    va_end(ap);
    return err;
}

batonError_t ok() {
    t_message[0] = '\0';
    return batonSuccess;
}

const char* vkResultName(VkResult r) {
    switch (r) {
#define BATON_VK_RESULT(x) \
    case x:                \
        return #x;
        BATON_VK_RESULT(VK_SUCCESS)
        BATON_VK_RESULT(VK_NOT_READY)
        BATON_VK_RESULT(VK_TIMEOUT)
        BATON_VK_RESULT(VK_INCOMPLETE)
        BATON_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
        BATON_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        BATON_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
        BATON_VK_RESULT(VK_ERROR_DEVICE_LOST)
        BATON_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
        BATON_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
        BATON_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
        BATON_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
        BATON_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
        BATON_VK_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
#undef BATON_VK_RESULT
        default:
            return "VkResult(?)";
    }
}

batonError_t failVk(VkResult r, const char* call) {
    batonError_t err = batonErrorUnknown;
    switch (r) {
        case VK_ERROR_OUT_OF_HOST_MEMORY:
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        case VK_ERROR_TOO_MANY_OBJECTS:
            err = batonErrorMemoryAllocation;
            break;
        case VK_ERROR_INITIALIZATION_FAILED:
        case VK_ERROR_INCOMPATIBLE_DRIVER:
        case VK_ERROR_LAYER_NOT_PRESENT:
            err = batonErrorInitializationError;
            break;
        case VK_ERROR_EXTENSION_NOT_PRESENT:
        case VK_ERROR_FEATURE_NOT_PRESENT:
            err = batonErrorNotSupported;
            break;
        case VK_ERROR_DEVICE_LOST:
            err = batonErrorLaunchFailure;
            break;
        case VK_ERROR_INVALID_EXTERNAL_HANDLE:
            err = batonErrorInvalidResourceHandle;
            break;
        case VK_TIMEOUT:
            err = batonErrorTimeout;
            break;
        default:
            break;
    }
    return fail(err, "%s failed: %s (%d)", call, vkResultName(r), static_cast<int>(r));
}

}  // namespace baton

extern "C" {

// The pure calls below allocate nothing and cannot throw (no guarded() needed); they work
// everywhere, a child forked without exec included.
BATON_API const char* batonGetLastErrorMessage(void) { return baton::t_message; }

BATON_API const char* batonGetErrorName(batonError_t error) {
    switch (baton::rawEnum(error)) {
#define BATON_ERR(x) \
    case x:          \
        return #x;
        BATON_ERR(batonSuccess)
        BATON_ERR(batonErrorInvalidValue)
        BATON_ERR(batonErrorMemoryAllocation)
        BATON_ERR(batonErrorInitializationError)
        BATON_ERR(batonErrorInvalidChannelDescriptor)
        BATON_ERR(batonErrorNoDevice)
        BATON_ERR(batonErrorInvalidDevice)
        BATON_ERR(batonErrorOperatingSystem)
        BATON_ERR(batonErrorInvalidResourceHandle)
        BATON_ERR(batonErrorIllegalState)
        BATON_ERR(batonErrorNotReady)
        BATON_ERR(batonErrorLaunchFailure)
        BATON_ERR(batonErrorNotSupported)
        BATON_ERR(batonErrorTimeout)
        BATON_ERR(batonErrorUnknown)
        BATON_ERR(batonErrorMissingCapability)
        BATON_ERR(batonErrorKeyedMutexAbandoned)
        BATON_ERR(batonErrorWrongKind)
        BATON_ERR(batonErrorForeignDevice)
        BATON_ERR(batonErrorPeerLost)
#undef BATON_ERR
    }
    return "batonErrorUnrecognized";
}

BATON_API const char* batonGetErrorString(batonError_t error) {
    switch (baton::rawEnum(error)) {
        case batonSuccess: return "no error";
        case batonErrorInvalidValue: return "an argument is NULL, out of range or inconsistent";
        case batonErrorMemoryAllocation: return "host or device memory could not be allocated";
        case batonErrorInitializationError: return "Vulkan could not be initialised";
        case batonErrorInvalidChannelDescriptor: return "the channel format has no Vulkan format";
        case batonErrorNoDevice: return "no Vulkan device with the features baton needs was found";
        case batonErrorInvalidDevice: return "the device ordinal is not a device";
        case batonErrorOperatingSystem: return "a system call failed";
        case batonErrorInvalidResourceHandle: return "the handle or file descriptor is not valid for this operation";
        case batonErrorIllegalState: return "the object is not in a state that allows this call";
        case batonErrorNotReady: return "work is still pending";
        case batonErrorLaunchFailure: return "a Vulkan submission failed or the device was lost";
        case batonErrorNotSupported: return "the operation or handle type is not supported on this platform or device";
        case batonErrorTimeout: return "the wait timed out";
        case batonErrorUnknown: return "an unexpected internal error";
        case batonErrorMissingCapability: return "the device lacks a feature or extension baton needs";
        case batonErrorKeyedMutexAbandoned: return "the keyed mutex was acquired after its previous holder died";
        case batonErrorWrongKind: return "the handle is of another kind (binary, timeline or keyed mutex)";
        case batonErrorForeignDevice: return "the handle was exported by another GPU or driver";
        case batonErrorPeerLost: return "the other process of the frame channel died or left";
    }
    return "unrecognized error code";
}

BATON_API batonError_t batonGetVersion(int* version) {
    if (!version) return baton::fail(batonErrorInvalidValue, "batonGetVersion: version is NULL");
    *version = BATON_VERSION;
    return baton::ok();
}

}  // extern "C"
