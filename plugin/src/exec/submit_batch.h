// One vkQueueSubmit2 being built (the shape of Mesa's vk_queue.c submit): small add* steps
// that the stream and the semaphore backends (sync/backend.h) call, and the bookkeeping the
// stream needs after the submission (what to publish, what to keep alive until the GPU is
// done). Fixed arrays: building a batch never allocates. The stream flushes before an add*
// that would not fit (the *Full() checks).
#pragma once

#include <cstdint>
#include <vulkan/vulkan.h>

#include "core/assert.h"

namespace baton {

class Object;
class Semaphore;

struct SubmitBatch {
    static constexpr uint32_t kMax = 32;

    // A portable signal: published once the GPU has passed `proxyValue` on the proxy.
    struct Publish {
        Semaphore* sem;  // the batch holds the op's reference
        uint64_t proxyValue, value;
        uint32_t signalIndex;  // its entry in signals
        bool superseded;       // a renderer's higher signal passed it on the proxy: dropped (claimProxySignals)
    };
    struct SemValue {
        Semaphore* sem;
        uint64_t value;
        bool dropped = false;  // timeline signal: not submitted to the GPU timeline (claimProxySignals)
    };

    VkSemaphoreSubmitInfo waits[2 * kMax + 1] = {};  // + the stream's chain wait, + claimProxySignals' waits
    VkSemaphoreSubmitInfo signals[kMax + 1] = {};  // + the stream's own point
    VkCommandBufferSubmitInfo cmds[kMax + 2] = {}; // + telemetry's timestamp brackets
    uint32_t slots[kMax] = {};                     // the stream's command-buffer slot of each cmd
    Object* refs[2 * kMax] = {};                   // released once the GPU passed the batch
    Publish publishes[kMax] = {};
    SemValue timelineSignals[kMax] = {};  // timelines this batch signals (noteSubmitted)
    SemValue waitedProxies[kMax] = {};    // portable timelines waited on their proxy
    uint32_t waitCount = 0, signalCount = 0, cmdCount = 0, refCount = 0, publishCount = 0;
    uint32_t timelineSignalCount = 0, waitedProxyCount = 0;

    bool empty() const { return !waitCount && !cmdCount && !signalCount; }
    // A wait gates everything in its submission: it starts a new one after commands or signals.
    bool waitNeedsFlush() const { return cmdCount || signalCount || waitCount == kMax || refCount + 1 >= 2 * kMax; }
    bool signalNeedsFlush() const { return signalCount == kMax || refCount + 1 >= 2 * kMax; }

    void addWait(VkSemaphore sem, uint64_t value) {
        BATON_ASSERT(waitCount < 2 * kMax + 1);
        waits[waitCount++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, sem, value,
                              VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    }
    void addSignal(VkSemaphore sem, uint64_t value) {
        BATON_ASSERT(signalCount < kMax + 1);
        signals[signalCount++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, sem, value,
                                  VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    }
    void addCommandBuffer(VkCommandBuffer cmd, uint32_t slot) {
        BATON_ASSERT(cmdCount < kMax);
        cmds[cmdCount] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
        slots[cmdCount++] = slot;
    }
    // Keeps obj (its reference moves to the batch) until the GPU has passed the batch.
    void addRef(Object* obj) {
        BATON_ASSERT(refCount < 2 * kMax);
        refs[refCount++] = obj;
    }
    // A signal of the proxy that the publisher turns into `value` once the GPU got there.
    void addPublish(Semaphore* sem, VkSemaphore proxy, uint64_t proxyValue, uint64_t value) {
        BATON_ASSERT(publishCount < kMax);
        addSignal(proxy, proxyValue);
        publishes[publishCount++] = {sem, proxyValue, value, signalCount - 1, false};
    }
    void addTimelineSignal(Semaphore* sem, uint64_t value) {
        BATON_ASSERT(timelineSignalCount < kMax);
        timelineSignals[timelineSignalCount++] = {sem, value, false};
    }
    // A wait on a portable timeline's proxy: the stream publishes the value once it passed.
    void addWaitedProxy(Semaphore* sem, uint64_t value) {
        BATON_ASSERT(waitedProxyCount < kMax);
        waitedProxies[waitedProxyCount++] = {sem, value, false};
    }
    void clear() {
        waitCount = signalCount = cmdCount = refCount = publishCount = timelineSignalCount = waitedProxyCount = 0;
    }
};

}  // namespace baton
