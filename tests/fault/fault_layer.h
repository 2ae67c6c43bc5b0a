// The side channel of VK_LAYER_BATON_fault (tests/fault/README.md): functions the layer's
// shared library exports, for a test that loaded the same library (faultLayer() below) to
// reconfigure it while it runs. The environment (BATON_FAULT) configures it at load instead.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Replaces the rules ("fn:N[:RESULT],..."; "" = fail nothing) and restarts every call count
// from 0. Returns the number of rules, or -1 when the spec cannot be parsed (nothing changed).
int batonFaultConfigure(const char* spec);
// Calls of `function` (KHR aliases included) seen since the last configure.
unsigned long long batonFaultCallCount(const char* function);
// Calls of `function` counted on the calling thread since it started (never reset).
unsigned long long batonFaultThreadCallCount(const char* function);
// Count-only, since the last configure: out[0] VkSubmitInfo2s in the vkQueueSubmit2 calls,
// out[1] their wait semaphore infos, out[2] their signal infos, out[3] their command buffers,
// out[4] vkSignalSemaphore calls (host signals).
void batonFaultSubmitCounts(unsigned long long out[5]);
// Failures injected since the last configure.
unsigned long long batonFaultInjectedCount(void);
// Pass-through for the calling thread (on != 0): its calls are neither counted nor failed,
// nor answered as lost (for a test's own Vulkan calls beside the code under test).
void batonFaultPassThrough(int on);
// Whether the layer can fail `function`.
int batonFaultKnows(const char* function);
// Whether a live device has been made lost by an injected VK_ERROR_DEVICE_LOST.
int batonFaultAnyDeviceLost(void);

#ifdef __cplusplus
}  // extern "C"
#endif
