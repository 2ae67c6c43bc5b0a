#include "handoff_side.h"

#include <vulkan/vulkan.h>

namespace handoff {
namespace {

struct Fill {
    VkBuffer buffer;
    uint32_t value;
};

// Fills the whole buffer, then makes the writes visible to host reads (here or in the other
// process, which reads after it acquired: after this work completed).
void recordFill(VkCommandBuffer cb, void* user) {
    auto* f = static_cast<Fill*>(user);
    vkCmdFillBuffer(cb, f->buffer, 0, VK_WHOLE_SIZE, f->value);
    VkMemoryBarrier2 mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER_2};
    mb.srcStageMask = VK_PIPELINE_STAGE_2_TRANSFER_BIT;
    mb.srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT;
    mb.dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT;
    mb.dstAccessMask = VK_ACCESS_2_HOST_READ_BIT;
    VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    di.memoryBarrierCount = 1;
    di.pMemoryBarriers = &mb;
    vkCmdPipelineBarrier2(cb, &di);
}

}  // namespace

batonError_t acquireNow(const Side& s) {
    batonExternalSemaphoreWaitParams p{};
    p.params.keyedMutex.key = s.acquireKey;
    p.params.keyedMutex.timeoutMs = s.timeoutMs;
    batonError_t e = batonWaitExternalSemaphoresAsync(&s.mutex, &p, 1, s.stream);
    if (e != batonSuccess) return e;
    return batonStreamSynchronize(s.stream);
}

batonError_t writeAndRelease(const Side& s, uint32_t iteration) {
    batonMemoryInfo mi{};
    batonError_t e = batonMemoryGetInfo(s.buffer, &mi);
    if (e != batonSuccess) return e;
    Fill f{mi.buffer, stamp(s.myTag, iteration)};
    if ((e = batonStreamRecord(s.stream, recordFill, &f)) != batonSuccess) return e;
    batonExternalSemaphoreSignalParams r{};
    r.params.keyedMutex.key = s.releaseKey;
    return batonSignalExternalSemaphoresAsync(&s.mutex, &r, 1, s.stream);
}

uint64_t countMismatches(const Side& s, uint32_t expected) {
    batonMemoryInfo mi{};
    if (batonMemoryGetInfo(s.buffer, &mi) != batonSuccess || !mi.hostPointer) return kBufferBytes / 4;
    auto* words = static_cast<const volatile uint32_t*>(mi.hostPointer);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < kBufferBytes / 4; ++i) bad += words[i] != expected;
    return bad;
}

Tally run(const Side& s, uint32_t from, uint32_t count, uint32_t expectAtFrom) {
    Tally t;
    for (uint32_t i = from; i < from + count; ++i) {
        batonError_t e = acquireNow(s);
        if (e == batonErrorKeyedMutexAbandoned) {
            ++t.abandoned;
        } else if (e != batonSuccess) {
            if (e == batonErrorTimeout) ++t.timeouts;
            t.error = e;
            t.message = std::string("acquire at iteration ") + std::to_string(i) + ": " + batonGetErrorName(e) + ": " +
                        batonGetLastErrorMessage();
            return t;
        } else {
            uint32_t expected = i == from && expectAtFrom ? expectAtFrom : stamp(s.otherTag, i - s.lag);
            t.mismatches += countMismatches(s, expected);
        }
        if ((e = writeAndRelease(s, i)) != batonSuccess) {
            t.error = e;
            t.message = std::string("write/release at iteration ") + std::to_string(i) + ": " + batonGetErrorName(e) +
                        ": " + batonGetLastErrorMessage();
            return t;
        }
        ++t.done;
    }
    return t;
}

}  // namespace handoff
