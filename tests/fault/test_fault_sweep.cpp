// The fault sweep (issue 10, part 3): for each function the layer can fail, run baton's
// operations once to count the calls they make to it, then once per call index N with the
// Nth call failing. Every failure must surface as a clear error from the call that hit it (or
// the stream's next call / synchronize), leak no fd, hang nothing (a watchdog ends the
// process), leave no validation error, and leave baton working: a fresh context's round trip
// succeeds; after a device loss every call on that context says so and teardown completes.
// Each case is one function (one CTest process); what a case finds is reported as one test
// failure per call index, naming the function, the index, the step and what happened.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "baton_test.h"
#include "fault_control.h"
#include "sweep_scenario.h"

namespace {

// Bounds the CI cost: call indices past this are not swept (the report says how many were).
constexpr unsigned long long kMaxIndices = 48;
// A case (scenario, teardown, a fresh context's round trip) takes well under a second alone;
// 10 s tripped on the H200 at ctest -j12, where 16 sweep processes create NVIDIA devices with
// the validation layer at once (each took >10 s). A hang still ends the process, a minute in.
constexpr auto kCaseDeadline = std::chrono::seconds(60);

struct Target {
    const char* function;
    const char* result;
};

const Target kTargets[] = {
    {"vkQueueSubmit2", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkQueueSubmit2", "VK_ERROR_DEVICE_LOST"},
    {"vkAllocateMemory", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkMapMemory", "VK_ERROR_MEMORY_MAP_FAILED"},
    {"vkBindBufferMemory", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkBindImageMemory", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkBindBufferMemory2", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkBindImageMemory2", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkCreateSemaphore", "VK_ERROR_OUT_OF_HOST_MEMORY"},
    {"vkGetSemaphoreFdKHR", "VK_ERROR_TOO_MANY_OBJECTS"},
    {"vkImportSemaphoreFdKHR", "VK_ERROR_INVALID_EXTERNAL_HANDLE"},
    {"vkWaitSemaphores", "VK_ERROR_DEVICE_LOST"},
    {"vkGetSemaphoreCounterValue", "VK_ERROR_DEVICE_LOST"},
    {"vkCreateCommandPool", "VK_ERROR_OUT_OF_HOST_MEMORY"},
    {"vkAllocateCommandBuffers", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkCreateImage", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkCreateBuffer", "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {"vkGetMemoryFdKHR", "VK_ERROR_TOO_MANY_OBJECTS"},
    {"vkCreateQueryPool", "VK_ERROR_OUT_OF_HOST_MEMORY"},
};

// Ends the process when a case runs past its deadline: a hang fails instead of blocking CI.
class Watchdog {
public:
    explicit Watchdog(std::string what) : what_(std::move(what)), thread_([this] { watch(); }) {}
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void at(std::string where) {
        std::lock_guard<std::mutex> lock(mutex_);
        where_ = std::move(where);
    }

private:
    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, kCaseDeadline, [this] { return done_; })) {
            std::fprintf(stderr, "HANG: %s did not finish within %llds (at: %s, step %s)\n", what_.c_str(),
                         static_cast<long long>(kCaseDeadline.count()), where_.c_str(),
                         batonfault::g_currentStep.load());
            std::fflush(stderr);
            std::_Exit(124);
        }
    }
    std::string what_, where_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

// A fresh context works: stream, timeline, signal, host wait, destroy.
std::string roundTrip() {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t ctx = nullptr;
    batonError_t e = batonContextCreate(&ctx, &ci);
    if (e != batonSuccess) return std::string("batonContextCreate: ") + batonGetLastErrorMessage();
    std::string why;
    batonStream_t s = nullptr;
    batonExternalSemaphore_t sem = nullptr;
    int fd = -1;
    batonExternalSemaphoreExportDesc ed{};
    ed.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 1;
    auto step = [&](const char* name, batonError_t r) {
        if (r != batonSuccess && why.empty()) why = std::string(name) + ": " + batonGetLastErrorMessage();
        return r == batonSuccess;
    };
    if (step("batonCtxSetCurrent", batonCtxSetCurrent(ctx)) && step("batonStreamCreate", batonStreamCreate(&s)) &&
        step("batonExportExternalSemaphore", batonExportExternalSemaphore(&fd, &sem, &ed)) &&
        step("batonSignalExternalSemaphoresAsync", batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s)))
        step("batonExternalSemaphoreHostWait", batonExternalSemaphoreHostWait(sem, 1, 2'000'000'000ull));
    if (fd >= 0) close(fd);
    if (sem) step("batonDestroyExternalSemaphore", batonDestroyExternalSemaphore(sem));
    if (s) step("batonStreamDestroy", batonStreamDestroy(s));
    step("batonContextDestroy", batonContextDestroy(ctx));
    batonCtxSetCurrent(nullptr);
    return why;
}

// After a device loss, calls on the lost context must say so (not succeed, not hang).
std::string lostContextAnswers(batonfault::Scenario& sc) {
    std::string bad;
    batonStream_t s = nullptr;
    batonError_t e = batonStreamCreate(&s);
    if (e == batonSuccess) {
        bad += "batonStreamCreate succeeded; ";
        batonStreamDestroy(s);
    }
    if (sc.s1 && (e = batonStreamSynchronize(sc.s1)) == batonSuccess) bad += "batonStreamSynchronize succeeded; ";
    if (sc.s1 && (e = batonStreamRecord(sc.s1, [](VkCommandBuffer, void*) {}, nullptr)) == batonSuccess &&
        batonStreamSynchronize(sc.s1) == batonSuccess)
        bad += "batonStreamRecord + synchronize succeeded; ";
    if (sc.timeline && batonExternalSemaphoreHostWait(sc.timeline, 1, 100'000'000ull) == batonSuccess)
        bad += "batonExternalSemaphoreHostWait succeeded; ";
    batonEvent_t ev = nullptr;
    if (batonEventCreate(&ev) == batonSuccess) {
        bad += "batonEventCreate succeeded; ";
        batonEventDestroy(ev);
    }
    batonExternalSemaphoreExportDesc ed{};
    ed.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    if (batonExportExternalSemaphore(&fd, &sem, &ed) == batonSuccess) {
        bad += "batonExportExternalSemaphore succeeded; ";
        close(fd);
        batonDestroyExternalSemaphore(sem);
    }
    batonMemoryDesc md{};
    md.kind = batonMemoryKindBuffer;
    md.size = 4096;
    md.bufferUsage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
    batonMemory_t mem = nullptr;
    if (batonExportMemory(&fd, &mem, &md) == batonSuccess) {
        bad += "batonExportMemory succeeded; ";
        close(fd);
        batonDestroyMemory(mem);
    }
    return bad;
}

bool mentions(const std::string& message, const char* function) {
    std::string f(function);
    if (message.find(f) != std::string::npos) return true;
    // vkQueueSubmit2 may be named with its KHR alias.
    return message.find(f + "KHR") != std::string::npos;
}

void PrintTo(const Target& t, std::ostream* os) { *os << t.function << ":" << t.result; }

class FaultSweep : public ::testing::TestWithParam<Target> {};

TEST_P(FaultSweep, EveryCallFailsCleanly) {
    const Target t = GetParam();
    ASSERT_EQ(batonfault::configure(""), 0);
    // Counting run (also the baseline: it must pass without faults).
    unsigned long long calls = 0;
    {
        Watchdog wd(std::string("counting run for ") + t.function);
        batonfault::Scenario sc;
        sc.run();
        ASSERT_EQ(sc.error, batonSuccess) << "without faults, " << sc.step << " failed: " << sc.message;
        sc.teardown();
        ASSERT_EQ(sc.teardownError, batonSuccess) << sc.teardownStep << ": " << sc.teardownMessage;
        calls = batonfault::callCount(t.function);
    }
    if (calls == 0) GTEST_SKIP() << "baton's operations never call " << t.function << " on this device";
    const unsigned long long swept = std::min(calls, kMaxIndices);
    std::printf("[sweep] %s (%s): %llu calls counted, sweeping %llu\n", t.function, t.result, calls, swept);
    unsigned long long notReached = 0;
    for (unsigned long long n = 1; n <= swept; ++n) {
        const std::string what = std::string(t.function) + " call " + std::to_string(n) + " -> " + t.result;
        Watchdog wd(what);
        const std::string fdsBefore = batontest::openFdList();
        const unsigned long long validationBefore = batontest::g_validationErrors.load();
        ASSERT_EQ(batonfault::configure((std::string(t.function) + ":" + std::to_string(n) + ":" + t.result).c_str()), 1);
        batonfault::Scenario sc;
        wd.at("the operations");
        sc.run();
        const bool hit = batonfault::injectedCount() > 0;
        const bool lost = batonfault::anyDeviceLost();
        std::string lostBad;
        if (lost && sc.ctx) {
            wd.at("calls on the lost context");
            lostBad = lostContextAnswers(sc);
        }
        wd.at("teardown");
        sc.teardown();
        batonfault::configure("");
        std::printf("[sweep] %s: %s%s; stopped at %s -> %s: %s%s\n", what.c_str(), hit ? "injected during " : "not reached",
                    sc.injectedDuring, sc.step, batonGetErrorName(sc.error), sc.message.c_str(), lost ? " (device lost)" : "");
        if (!hit) {
            ++notReached;  // the count varies with thread timing (stream and mirror threads poll)
        } else if (sc.error == batonSuccess) {
            ADD_FAILURE() << what << " (during " << sc.injectedDuring
                          << "): the failure was swallowed, every operation succeeded";
        } else if (!mentions(sc.message, t.function) && !(lost && sc.error == batonErrorLaunchFailure)) {
            ADD_FAILURE() << what << ": " << sc.step << " returned " << batonGetErrorName(sc.error)
                          << " with a message that does not name " << t.function << ": \"" << sc.message << "\"";
        }
        if (!lostBad.empty()) ADD_FAILURE() << what << ": after the device loss, on that context: " << lostBad;
        if (sc.teardownError != batonSuccess && !(lost && sc.teardownError == batonErrorLaunchFailure))
            ADD_FAILURE() << what << ": teardown: " << sc.teardownStep << " -> " << batonGetErrorName(sc.teardownError)
                          << ": " << sc.teardownMessage;
        const std::string fdDiff = batontest::fdChanges(fdsBefore, batontest::openFdList());
        if (!fdDiff.empty()) ADD_FAILURE() << what << ": fds changed: " << fdDiff;
        const unsigned long long validation = batontest::g_validationErrors.load() - validationBefore;
        if (validation) ADD_FAILURE() << what << ": " << validation << " validation error(s) (printed above)";
        wd.at("the round trip afterwards");
        const std::string after = roundTrip();
        if (!after.empty()) ADD_FAILURE() << what << ": baton does not work afterwards: " << after;
    }
    std::printf("[sweep] %s (%s): %llu of %llu indices not reached on this run\n", t.function, t.result, notReached,
                swept);
}

std::string targetName(const ::testing::TestParamInfo<Target>& info) {
    std::string r = info.param.result;
    r = r.substr(r.rfind("_ERROR_") == std::string::npos ? 3 : r.rfind("_ERROR_") + 7);
    std::string name = std::string(info.param.function) + "_" + r;
    for (char& c : name)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

INSTANTIATE_TEST_SUITE_P(Functions, FaultSweep, ::testing::ValuesIn(kTargets), targetName);

}  // namespace
