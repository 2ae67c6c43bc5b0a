// Internal error reporting: every failure path returns a code and leaves a message that
// batonGetLastErrorMessage() shows, so a user sees *which* argument or driver call failed.
#pragma once

#include <baton/baton.h>
#include <vulkan/vulkan_core.h>

namespace baton {

// Records a printf-style message for the calling thread and returns err.
batonError_t fail(batonError_t err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Clears the calling thread's message (every entry point that succeeds calls it).
batonError_t ok();
// Maps a failed VkResult to the closest baton code and records which call failed.
batonError_t failVk(VkResult r, const char* call);
const char* vkResultName(VkResult r);
// The last error an entry point returned on this thread, for batonGetLastError (CUDA's
// cudaGetLastError): guarded() notes every result; success and batonErrorNotReady (not an
// error, as in CUDA) leave it alone. Returns e.
batonError_t noteResult(batonError_t e);
batonError_t lastResult(bool reset);

}  // namespace baton
