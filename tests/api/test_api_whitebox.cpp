// White-box tests of the api layer (links baton_core, not libbaton):
//  - defect 14 (context/API part): once a context is marked lost, every entry point that
//    touches it returns its lostError(), and teardown still completes;
//  - defect 16 (telemetry part): hasCalibrated_ was a plain bool that calibrate() clears
//    under the telemetry mutex while every stream thread reads it unlocked; run under
//    ThreadSanitizer (label concurrency), the race fails the test.
#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_memory.h>
#include <baton/baton_telemetry.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "core/object.h"
#include "exec/context.h"
#include "telemetry/telemetry.h"

namespace {

std::atomic<int> g_errors{0};

void countErrors(batonMessageSeverity severity, const char* message, void*) {
    // The loss itself is reported as an error message; it is this test's doing.
    if (severity == batonMessageSeverityError && !std::strstr(message, "device was lost") &&
        !std::strstr(message, "gave up")) {
        std::fprintf(stderr, "error message: %s\n", message);
        g_errors.fetch_add(1);
    }
}

struct Call {
    const char* name;
    batonError_t result;
};

void noop(void*) {}
void recordNothing(VkCommandBuffer, void*) {}

// Keeps the driver stack loaded after the last context is gone, so that the leak checker
// can name (and tests/sanitizers/lsan.supp suppress) what the driver itself leaks.
void pinDriverStack() {
    for (const char* lib : {"libvulkan_lvp.so", "libVkLayer_khronos_validation.so", "libvulkan.so.1"})
        dlopen(lib, RTLD_NOW | RTLD_NODELETE);
}

TEST(ApiDeviceLost, EveryEntryPointTouchingALostContextSaysSo) {
    pinDriverStack();
    batonContextCreateInfo ci{};
    ci.flags = batonContextFlagValidation;
    ci.messageCallback = countErrors;
    batonContext_t ctx = nullptr;
    ASSERT_EQ(batonContextCreate(&ctx, &ci), batonSuccess) << batonGetLastErrorMessage();
    ASSERT_EQ(batonCtxSetCurrent(ctx), batonSuccess);
    batonStream_t s = nullptr;
    ASSERT_EQ(batonStreamCreate(&s), batonSuccess);
    batonEvent_t ev = nullptr;
    ASSERT_EQ(batonEventCreate(&ev), batonSuccess);
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    ASSERT_EQ(batonExportExternalSemaphore(&fd, &sem, &d), batonSuccess) << batonGetLastErrorMessage();
    close(fd);
    batonChannelCreateInfo chi{};
    chi.format = VK_FORMAT_R8G8B8A8_UNORM;
    chi.extent = {32, 32};
    chi.usage = VK_IMAGE_USAGE_STORAGE_BIT;
    batonChannel_t ch = nullptr;
    ASSERT_EQ(batonChannelCreate(&ch, &chi), batonSuccess) << batonGetLastErrorMessage();
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 1;
    ASSERT_EQ(batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s), batonSuccess);
    ASSERT_EQ(batonEventRecord(ev, s), batonSuccess);
    ASSERT_EQ(batonStreamSynchronize(s), batonSuccess);

    // What a VK_ERROR_DEVICE_LOST anywhere does (the fault layer makes the driver say so).
    {
        baton::Object* o = baton::lookupHandle(ctx, baton::ObjectType::Context);
        ASSERT_NE(o, nullptr);
        static_cast<baton::Context*>(o)->markLost("test: injected loss");
        o->release();
    }

    std::vector<Call> calls;
    auto call = [&](const char* name, batonError_t e) { calls.push_back({name, e}); };
    batonContextInfo info{};
    call("batonContextGetInfo", batonContextGetInfo(ctx, &info));
    unsigned long long count = 0;
    call("batonContextGetMessageCount", batonContextGetMessageCount(ctx, batonMessageSeverityError, &count));
    call("batonStreamQuery", batonStreamQuery(s));
    call("batonStreamSynchronize", batonStreamSynchronize(s));
    call("batonStreamSynchronize(NULL)", batonStreamSynchronize(nullptr));
    call("batonDeviceSynchronize", batonDeviceSynchronize());
    call("batonLaunchHostFunc", batonLaunchHostFunc(s, noop, nullptr));
    call("batonStreamRecord", batonStreamRecord(s, recordNothing, nullptr));
    call("batonEventRecord", batonEventRecord(ev, s));
    call("batonEventQuery", batonEventQuery(ev));
    call("batonEventSynchronize", batonEventSynchronize(ev));
    call("batonStreamWaitEvent", batonStreamWaitEvent(s, ev, 0));
    float ms = 0;
    call("batonEventElapsedTime", batonEventElapsedTime(&ms, ev, ev));
    batonStream_t s2 = nullptr;
    call("batonStreamCreate", batonStreamCreate(&s2));
    batonEvent_t ev2 = nullptr;
    call("batonEventCreate", batonEventCreate(&ev2));
    sp.params.fence.value = 2;
    call("batonSignalExternalSemaphoresAsync", batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s));
    batonExternalSemaphoreWaitParams wp{};
    wp.params.fence.value = 1;
    call("batonWaitExternalSemaphoresAsync", batonWaitExternalSemaphoresAsync(&sem, &wp, 1, s));
    batonExternalSemaphoreInfo si{};
    call("batonExternalSemaphoreGetInfo", batonExternalSemaphoreGetInfo(sem, &si));
    call("batonExternalSemaphoreHostWait", batonExternalSemaphoreHostWait(sem, 1, 0));
    VkSemaphoreSubmitInfo ssi{};
    call("batonGetWaitSubmitInfo", batonGetWaitSubmitInfo(sem, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &ssi));
    call("batonGetSignalSubmitInfo", batonGetSignalSubmitInfo(sem, 3, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &ssi));
    batonExternalSemaphore_t sem2 = nullptr;
    call("batonExportExternalSemaphore", batonExportExternalSemaphore(&fd, &sem2, &d));
    call("batonTelemetryEnable", batonTelemetryEnable(ctx, 1));
    unsigned n = 0;
    call("batonTelemetryRead", batonTelemetryRead(ctx, 0, nullptr, 0, &n));
    batonTelemetryApiStats as{};
    call("batonTelemetryGetApiStats", batonTelemetryGetApiStats(ctx, static_cast<batonTelemetryApi>(0), &as));
    batonTelemetrySemaphoreStats ss{};
    call("batonTelemetryGetSemaphoreStats", batonTelemetryGetSemaphoreStats(sem, &ss));
    const std::string path = ::testing::TempDir() + "lost_trace.json";
    call("batonTraceStart", batonTraceStart(ctx, path.c_str()));
    batonChannelInfo chInfo{};
    call("batonChannelGetInfo", batonChannelGetInfo(ch, &chInfo));
    batonChannelFrame frame{};
    call("batonChannelAcquireFrame", batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &frame));
    batonChannel_t ch2 = nullptr;
    call("batonChannelCreate", batonChannelCreate(&ch2, &chi));
    batonMemoryDesc md{};
    md.kind = batonMemoryKindBuffer;
    md.size = 4096;
    md.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    batonMemory_t mem = nullptr;
    call("batonExportMemory", batonExportMemory(&fd, &mem, &md));
    for (const Call& c : calls)
        EXPECT_EQ(c.result, batonErrorLaunchFailure)
            << c.name << " on a lost context returned " << batonGetErrorName(c.result);

    // The message says so, and where the loss was seen.
    batonStreamQuery(s);
    EXPECT_NE(std::strstr(batonGetLastErrorMessage(), "test: injected loss"), nullptr) << batonGetLastErrorMessage();

    // Teardown completes (a watchdog turns a hang into a failure).
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
        for (int i = 0; i < 300 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!done.load()) {
            std::fprintf(stderr, "teardown of a lost context still blocked after 30 s\n");
            std::abort();
        }
    });
    EXPECT_EQ(batonChannelDestroy(ch), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(batonDestroyExternalSemaphore(sem), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(batonEventDestroy(ev), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(batonStreamDestroy(s), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(batonCtxSetCurrent(nullptr), batonSuccess);
    EXPECT_EQ(batonContextDestroy(ctx), batonSuccess) << batonGetLastErrorMessage();
    done = true;
    watchdog.join();
    EXPECT_EQ(g_errors.load(), 0);
}

// --- defect 16: telemetry calibration -----------------------------------------------------

std::atomic<int> g_calibrations{0};

// A driver whose calibrated timestamps work once, then fail (e.g. the domain went away):
// Telemetry then falls back to completion-bounded offsets, clearing hasCalibrated_.
VKAPI_ATTR VkResult VKAPI_CALL calibrateOnce(VkDevice, uint32_t count, const VkCalibratedTimestampInfoEXT*, uint64_t* ts,
                                             uint64_t* deviation) {
    for (uint32_t i = 0; i < count; ++i) ts[i] = 1000;
    *deviation = 0;
    return g_calibrations.fetch_add(1) == 0 ? VK_SUCCESS : VK_ERROR_OUT_OF_HOST_MEMORY;
}

TEST(TelemetryCalibration, FallbackWhileStreamThreadsObserveIsNotADataRace) {
    auto* ctx = new baton::Context;  // no device: only what Telemetry reads
    ctx->calibratedTimestamps = true;
    ctx->vkd.vkGetCalibratedTimestampsEXT = calibrateOnce;
    ctx->properties.limits.timestampPeriod = 1.0f;
    baton::Telemetry* t = baton::ensureTelemetry(ctx);
    ASSERT_NE(t, nullptr);
    // Stream threads observe completions; every call more than a second after the last
    // calibration recalibrates, which fails and clears hasCalibrated_.
    // Each thread its own clock: a shared atomic one would order the threads' accesses.
    auto observer = [t] {
        uint64_t now = 10'000'000'000ull;
        for (int i = 0; i < 2000; ++i, now += 1'500'000'000ull) t->observeCompletion(5000, now);
    };
    std::thread a(observer), b(observer);
    a.join();
    b.join();
    EXPECT_GE(g_calibrations.load(), 2) << "the fallback never happened";
    EXPECT_TRUE(t->calibrated());
    ctx->release();
}

}  // namespace
