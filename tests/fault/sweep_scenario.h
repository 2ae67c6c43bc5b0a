// The operations the fault sweep runs: one pass over what the suites use (context, telemetry,
// streams, record, host functions, events, semaphores of every kind exported and imported,
// signal and wait on streams and on the host, memory export and import, a channel frame
// consumed on the renderer's queue), stopping at the first call that fails.
#pragma once

#include <atomic>
#include <string>

#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_memory.h>
#include <baton/baton_telemetry.h>

namespace batonfault {

// The step running now (for a watchdog's report).
extern std::atomic<const char*> g_currentStep;

struct Scenario {
    // Runs every step until one fails; then `step` names it and `error`/`message` say what.
    void run();
    // Destroys whatever run() created, in reverse order; records the first destroy that failed.
    void teardown();

    const char* step = "";
    const char* injectedDuring = "";  // the first step after which the layer had failed a call
    batonError_t error = batonSuccess;
    std::string message;
    const char* teardownStep = "";
    batonError_t teardownError = batonSuccess;
    std::string teardownMessage;

    batonContext_t ctx = nullptr;
    batonStream_t s1 = nullptr, s2 = nullptr;
    batonEvent_t e1 = nullptr, e2 = nullptr;
    batonExternalSemaphore_t timeline = nullptr, timelineImported = nullptr, binary = nullptr, keyed = nullptr;
    batonMemory_t memory = nullptr, memoryImported = nullptr, buffer = nullptr, bufferImported = nullptr;
    batonChannel_t channel = nullptr;
    int hostFunctionsRan = 0;

private:
    bool ok(const char* name, batonError_t e);
    void steps();
    void semaphoreSteps();
    void memorySteps();
    void channelSteps();
    void waitRendererIdle();  // the test's consumer submits, before teardown
    bool consume(const batonChannelFrame& frame, const batonChannelRelease& release);
};

}  // namespace batonfault
