// Driving VK_LAYER_BATON_fault from a test (README.md): enable() puts the layer into every
// Vulkan instance created afterwards in this process (through the loader's environment) and
// keeps its library loaded, so that configure() reaches the very copy the loader uses.
#pragma once

#include <string>

namespace batonfault {

// Call before the first Vulkan instance of the process (the default context included).
// Returns an empty string, or why the layer cannot be used.
std::string enable();
// The layer's side channel (fault_layer.h); enable() must have succeeded.
int configure(const char* spec);  // -1: bad spec
unsigned long long callCount(const char* function);
unsigned long long injectedCount();
unsigned long long threadCallCount(const char* function);  // the calling thread's, never reset
// The vkQueueSubmit2 calls' shape since configure: submit infos, wait infos, signal infos,
// command buffers; and vkSignalSemaphore calls (fault_layer.h).
void submitCounts(unsigned long long out[5]);
bool anyDeviceLost();
// While alive, this thread's Vulkan calls pass through the layer uncounted and unfailed.
struct PassThrough {
    PassThrough();
    ~PassThrough();
};

}  // namespace batonfault
