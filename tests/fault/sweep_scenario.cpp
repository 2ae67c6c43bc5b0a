#include "sweep_scenario.h"

#include <atomic>
#include <unistd.h>

#include "baton_test.h"
#include "fault_control.h"

namespace batonfault {
namespace {

constexpr uint64_t kTimeoutNs = 2'000'000'000ull;

void recordNothing(VkCommandBuffer, void*) {}
void countHostFunction(void* user) { ++*static_cast<int*>(user); }
void recordFrame(VkCommandBuffer, VkImage, unsigned long long, void*) {}

batonExternalSemaphoreSignalParams signalValue(unsigned long long v) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = v;
    return p;
}
batonExternalSemaphoreWaitParams waitValue(unsigned long long v) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = v;
    return p;
}

}  // namespace

bool Scenario::ok(const char* name, batonError_t e) {
    step = name;
    if (!*injectedDuring && injectedCount() > 0) injectedDuring = name;
    if (e == batonSuccess) return true;
    error = e;
    message = batonGetLastErrorMessage();
    return false;
}

std::atomic<const char*> g_currentStep{""};

#define STEP(name, call)           \
    do {                           \
        g_currentStep = name;      \
        if (!ok(name, (call))) return false; \
    } while (0)

void Scenario::run() {
    steps();
}

void Scenario::steps() {
    auto body = [&]() -> bool {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    STEP("batonContextCreate", batonContextCreate(&ctx, &ci));
    STEP("batonCtxSetCurrent", batonCtxSetCurrent(ctx));
    STEP("batonTelemetryEnable", batonTelemetryEnable(ctx, 1));
    STEP("batonStreamCreate", batonStreamCreate(&s1));
    STEP("batonStreamCreate (second)", batonStreamCreate(&s2));
    STEP("batonEventCreate", batonEventCreate(&e1));
    STEP("batonEventCreate (second)", batonEventCreate(&e2));
    STEP("batonEventRecord", batonEventRecord(e1, s1));
    STEP("batonStreamRecord", batonStreamRecord(s1, recordNothing, nullptr));
    STEP("batonLaunchHostFunc", batonLaunchHostFunc(s1, countHostFunction, &hostFunctionsRan));
    STEP("batonEventRecord (second)", batonEventRecord(e2, s1));
    STEP("batonStreamWaitEvent", batonStreamWaitEvent(s2, e2, 0));
    STEP("batonStreamSynchronize", batonStreamSynchronize(s1));
    STEP("batonEventSynchronize", batonEventSynchronize(e2));
    float ms = 0;
    STEP("batonEventElapsedTime", batonEventElapsedTime(&ms, e1, e2));
    semaphoreSteps();
    if (error != batonSuccess) return false;
    memorySteps();
    if (error != batonSuccess) return false;
    channelSteps();
    if (error != batonSuccess) return false;
    STEP("batonStreamQuery", batonStreamQuery(s2));
    STEP("batonDeviceSynchronize", batonDeviceSynchronize());
    return true;
    };
    body();
}

void Scenario::semaphoreSteps() {
    auto body = [&]() -> bool {
        // A timeline exported (native where the driver has fds, else portable) and imported back.
        batonExternalSemaphoreExportDesc ed{};
        ed.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        int fd = -1;
        STEP("batonExportExternalSemaphore (timeline)", batonExportExternalSemaphore(&fd, &timeline, &ed));
        batonExternalSemaphoreHandleDesc hd{};
        hd.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        hd.handle.fd = fd;
        batonError_t e = batonImportExternalSemaphore(&timelineImported, &hd);
        if (e != batonSuccess) close(fd);  // still ours: ownership passes on success only
        STEP("batonImportExternalSemaphore (timeline)", e);
        auto sp = signalValue(1);
        auto wp = waitValue(1);
        STEP("batonSignalExternalSemaphoresAsync (timeline)", batonSignalExternalSemaphoresAsync(&timeline, &sp, 1, s1));
        STEP("batonWaitExternalSemaphoresAsync (imported timeline)",
             batonWaitExternalSemaphoresAsync(&timelineImported, &wp, 1, s2));
        STEP("batonExternalSemaphoreHostWait", batonExternalSemaphoreHostWait(timelineImported, 1, kTimeoutNs));
        // A binary semaphore, portable so that lavapipe and a GPU both take this path.
        ed = {};
        ed.type = batonExternalSemaphoreHandleTypeOpaqueFd;
        ed.flags = batonExportFlagPortable;
        int bfd = -1;
        STEP("batonExportExternalSemaphore (binary, portable)", batonExportExternalSemaphore(&bfd, &binary, &ed));
        close(bfd);
        auto bs = signalValue(0);
        auto bw = waitValue(0);
        STEP("batonSignalExternalSemaphoresAsync (binary)", batonSignalExternalSemaphoresAsync(&binary, &bs, 1, s1));
        STEP("batonWaitExternalSemaphoresAsync (binary)", batonWaitExternalSemaphoresAsync(&binary, &bw, 1, s2));
        // A keyed mutex: acquire key 0, release with key 1.
        ed = {};
        ed.type = batonExternalSemaphoreHandleTypeKeyedMutex;
        int kfd = -1;
        STEP("batonExportExternalSemaphore (keyed mutex)", batonExportExternalSemaphore(&kfd, &keyed, &ed));
        close(kfd);
        batonExternalSemaphoreWaitParams acq{};
        acq.params.keyedMutex.key = 0;
        acq.params.keyedMutex.timeoutMs = 2000;
        batonExternalSemaphoreSignalParams rel{};
        rel.params.keyedMutex.key = 1;
        STEP("batonWaitExternalSemaphoresAsync (keyed acquire)", batonWaitExternalSemaphoresAsync(&keyed, &acq, 1, s1));
        STEP("batonSignalExternalSemaphoresAsync (keyed release)", batonSignalExternalSemaphoresAsync(&keyed, &rel, 1, s1));
        STEP("batonStreamSynchronize (semaphores, first)", batonStreamSynchronize(s1));
        STEP("batonStreamSynchronize (semaphores, second)", batonStreamSynchronize(s2));
        return true;
    };
    body();
}

void Scenario::memorySteps() {
    auto body = [&]() -> bool {
        batonMemoryDesc d{};
        d.kind = batonMemoryKindImage;
        d.format = VK_FORMAT_R8G8B8A8_UNORM;
        d.width = 32;
        d.height = 32;
        d.imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
        int fd = -1;
        STEP("batonExportMemory", batonExportMemory(&fd, &memory, &d));
        batonMemoryInfo mi{};
        // The exported fd is the scenario's until the import takes it: a lost device here
        // (telemetry's thread may see it first) makes the next call fail, and the scenario,
        // not baton, would leak it (the ASan sweep's "+/memfd:llvmpipe" at call 14).
        batonError_t info = batonMemoryGetInfo(memory, &mi);
        if (info != batonSuccess) close(fd);
        STEP("batonMemoryGetInfo", info);
        batonMemoryImportDesc in{};
        in.desc = mi.desc;
        in.fd = fd;
        in.allocationSize = mi.allocationSize;
        in.memoryTypeIndex = mi.memoryTypeIndex;
        in.dedicated = mi.dedicated;
        batonError_t e = batonImportMemory(&memoryImported, &in);
        if (e != batonSuccess) close(fd);
        STEP("batonImportMemory", e);
        // A host-visible buffer: bound, mapped, exported, imported.
        batonMemoryDesc b{};
        b.kind = batonMemoryKindBuffer;
        b.size = 4096;
        b.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
        b.memoryProperties = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        STEP("batonExportMemory (buffer)", batonExportMemory(&fd, &buffer, &b));
        info = batonMemoryGetInfo(buffer, &mi);
        if (info != batonSuccess) close(fd);  // (as above)
        STEP("batonMemoryGetInfo (buffer)", info);
        in.desc = mi.desc;
        in.fd = fd;
        in.allocationSize = mi.allocationSize;
        in.memoryTypeIndex = mi.memoryTypeIndex;
        in.dedicated = mi.dedicated;
        e = batonImportMemory(&bufferImported, &in);
        if (e != batonSuccess) close(fd);
        STEP("batonImportMemory (buffer)", e);
        return true;
    };
    body();
}

// The renderer's side of one frame: wait for it, then signal its release, in one submit on
// the context's graphics queue. The test's own calls pass through the layer unfailed.
bool Scenario::consume(const batonChannelFrame& frame, const batonChannelRelease& release) {
    PassThrough own;
    batonContextInfo info{};
    if (batonContextGetInfo(ctx, &info) != batonSuccess) return false;
    auto submit = reinterpret_cast<PFN_vkQueueSubmit2>(info.getDeviceProcAddr(info.device, "vkQueueSubmit2"));
    VkCommandBufferSubmitInfo cbs[2]{};
    uint32_t n = 0;
    for (VkCommandBuffer cb : {frame.acquireCommands, release.releaseCommands})
        if (cb) cbs[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cb, 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = 1;
    si.pWaitSemaphoreInfos = &frame.wait;
    si.commandBufferInfoCount = n;
    si.pCommandBufferInfos = cbs;
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &release.signal;
    VkQueue q = info.graphicsQueue.queue;
    if (info.queueShared && batonContextLockQueue(ctx, q) != batonSuccess) return false;
    VkResult r = submit(q, 1, &si, VK_NULL_HANDLE);
    if (info.queueShared) batonContextUnlockQueue(ctx, q);
    return r == VK_SUCCESS;
}

void Scenario::waitRendererIdle() {
    PassThrough own;  // the test's call, not one of baton's (a lost device still waits for the driver)
    batonContextInfo info{};
    if (!channel || batonContextGetInfo(ctx, &info) != batonSuccess) return;
    auto waitIdle = reinterpret_cast<PFN_vkQueueWaitIdle>(info.getDeviceProcAddr(info.device, "vkQueueWaitIdle"));
    VkQueue q = info.graphicsQueue.queue;
    if (info.queueShared && batonContextLockQueue(ctx, q) != batonSuccess) return;
    waitIdle(q);
    if (info.queueShared) batonContextUnlockQueue(ctx, q);
}

void Scenario::channelSteps() {
    auto body = [&]() -> bool {
        batonChannelCreateInfo ci{};
        ci.depth = 2;
        ci.format = VK_FORMAT_R8G8B8A8_UNORM;
        ci.extent = {32, 32};
        ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
        STEP("batonChannelCreate", batonChannelCreate(&channel, &ci));
        for (int i = 0; i < 2; ++i) {
            unsigned long long k = 0;
            STEP("batonChannelProduceFrame", batonChannelProduceFrame(channel, s1, recordFrame, nullptr, &k));
            STEP("batonStreamSynchronize (produced)", batonStreamSynchronize(s1));
            batonChannelFrame f{};
            STEP("batonChannelAcquireFrame", batonChannelAcquireFrame(channel, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &f));
            batonChannelRelease rel{};
            STEP("batonChannelReleaseFrame",
                 batonChannelReleaseFrame(channel, &f, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &rel));
            if (!consume(f, rel)) {
                // On a lost device the renderer's submit is refused, as on a real loss; baton's
                // next call must then say why.
                if (batonfault::anyDeviceLost())
                    STEP("batonStreamSynchronize (after the renderer's submit met the loss)", batonStreamSynchronize(s1));
                step = "the test's own consumer submit";
                error = batonErrorUnknown;
                message = "the renderer-side vkQueueSubmit2 of the test failed";
                return false;
            }
        }
        STEP("batonStreamSynchronize (channel)", batonStreamSynchronize(s1));
        return true;
    };
    body();
}

void Scenario::teardown() {
    auto check = [&](const char* name, batonError_t e) {
        if (e != batonSuccess && teardownError == batonSuccess) {
            teardownStep = name;
            teardownError = e;
            teardownMessage = batonGetLastErrorMessage();
        }
    };
    if (!ctx) return;
    g_currentStep = "teardown";
    // The test's own consumer submits must be done before the channel goes (its header says
    // so). On lavapipe they share baton's queue, so the streams' synchronisation covered them;
    // on a GPU with a graphics queue of its own they may still be running.
    waitRendererIdle();
    // After a failure the streams may hold an error; synchronising reports it (not a teardown
    // failure), then every object is destroyed.
    if (s1) batonStreamSynchronize(s1);
    if (s2) batonStreamSynchronize(s2);
    check("batonChannelDestroy", batonChannelDestroy(channel));
    check("batonDestroyMemory (imported buffer)", batonDestroyMemory(bufferImported));
    check("batonDestroyMemory (buffer)", batonDestroyMemory(buffer));
    check("batonDestroyMemory (imported)", batonDestroyMemory(memoryImported));
    check("batonDestroyMemory", batonDestroyMemory(memory));
    for (batonExternalSemaphore_t s : {keyed, binary, timelineImported, timeline})
        if (s) check("batonDestroyExternalSemaphore", batonDestroyExternalSemaphore(s));
    for (batonEvent_t e : {e2, e1})
        if (e) check("batonEventDestroy", batonEventDestroy(e));
    for (batonStream_t s : {s2, s1})
        if (s) check("batonStreamDestroy", batonStreamDestroy(s));
    check("batonContextDestroy", batonContextDestroy(ctx));
    batonCtxSetCurrent(nullptr);
    ctx = nullptr;
}

}  // namespace batonfault
