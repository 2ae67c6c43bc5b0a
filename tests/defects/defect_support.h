// Shared by the defect suites: a watchdog, a gate that holds a stream, the GPU held by a
// submission of the test's own, and the fixture (a fresh validated context per test).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "baton_test.h"

namespace defects {

using namespace std::chrono_literals;

// Runs f on a thread; if it does not return within `limit`, the test fails and the process
// exits (the hung call cannot be taken back; CTest sees the failure, nothing blocks CI).
inline void mustFinish(const char* what, std::chrono::milliseconds limit, std::function<void()> f) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread t([f, done] {
        f();
        done->store(true);
    });
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done->load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    if (!done->load()) {
        ADD_FAILURE() << what << " did not finish within " << limit.count() << " ms (hang)";
        std::fprintf(stderr, "[  FAILED  ] hang: %s\n", what);
        std::fflush(nullptr);
        std::_Exit(1);
    }
    t.join();
}

class Gate {
public:
    static void hostFn(void* self) {
        auto* g = static_cast<Gate*>(self);
        std::unique_lock lock(g->mutex_);
        g->entered_ = true;
        g->cv_.notify_all();
        g->cv_.wait(lock, [g] { return g->open_; });
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }
    bool waitEntered(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [this] { return entered_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false, entered_ = false;
};

inline void noop(void*) {}

inline batonError_t signal(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = value;
    return batonSignalExternalSemaphoresAsync(&s, &p, 1, stream);
}
inline batonError_t wait(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = value;
    return batonWaitExternalSemaphoresAsync(&s, &p, 1, stream);
}

class Defects : public ::testing::Test {
protected:
    virtual batonContextCreateInfo createInfo() { return batontest::contextCreateInfo(); }
    void SetUp() override {
        batonContextCreateInfo ci = createInfo();
        BATON_ASSERT_OK(batonContextCreate(&ctx_, &ci));
        BATON_ASSERT_OK(batonCtxSetCurrent(ctx_));
        BATON_ASSERT_OK(batonContextGetInfo(ctx_, &info_));
    }
    void TearDown() override {
        for (auto& g : gates_) g->open();
        if (ctx_) {
            batonContext_t c = ctx_;
            mustFinish("batonContextDestroy", 20s, [c] { EXPECT_EQ(batonContextDestroy(c), batonSuccess); });
        }
        batonCtxSetCurrent(nullptr);
        for (int fd : fds_) close(fd);
    }
    batonStream_t stream() {
        batonStream_t s = nullptr;
        EXPECT_EQ(batonStreamCreate(&s), batonSuccess) << batonGetLastErrorMessage();
        return s;
    }
    Gate* gateStream(batonStream_t s) {
        gates_.push_back(std::make_unique<Gate>());
        Gate* g = gates_.back().get();
        EXPECT_EQ(batonLaunchHostFunc(s, Gate::hostFn, g), batonSuccess) << batonGetLastErrorMessage();
        return g;
    }
    batonExternalSemaphore_t exportSem(batonExternalSemaphoreHandleType type, int* fdOut = nullptr) {
        batonExternalSemaphoreExportDesc d{};
        d.type = type;
        d.flags = batonExportFlagPortable;
        int fd = -1;
        batonExternalSemaphore_t s = nullptr;
        EXPECT_EQ(batonExportExternalSemaphore(&fd, &s, &d), batonSuccess) << batonGetLastErrorMessage();
        if (fd >= 0) fds_.push_back(fd);
        if (fdOut) *fdOut = fd;
        return s;
    }
    batonExternalSemaphore_t timeline(int* fdOut = nullptr) {
        return exportSem(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, fdOut);
    }
    uint64_t current(batonExternalSemaphore_t s) {
        batonExternalSemaphoreInfo i{};
        EXPECT_EQ(batonExternalSemaphoreGetInfo(s, &i), batonSuccess) << batonGetLastErrorMessage();
        return i.currentValue;
    }
    uint64_t pending(batonExternalSemaphore_t s) {
        batonExternalSemaphoreInfo i{};
        EXPECT_EQ(batonExternalSemaphoreGetInfo(s, &i), batonSuccess) << batonGetLastErrorMessage();
        return i.pendingValue;
    }
    // Leaves s with a pending error (batonErrorTimeout): a keyed-mutex acquire of a key nobody
    // releases times out, and the stream has moved past it. The stream's next call reports the
    // error and enqueues nothing.
    void givePendingError(batonStream_t s) {
        batonExternalSemaphoreExportDesc d{};
        d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
        int fd = -1;
        batonExternalSemaphore_t km = nullptr;
        BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &km, &d));
        fds_.push_back(fd);
        batonExternalSemaphoreWaitParams ap{};
        ap.params.keyedMutex.key = 7;
        ap.params.keyedMutex.timeoutMs = 1;
        BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&km, &ap, 1, s));
        std::atomic<int> reached{0};
        BATON_ASSERT_OK(batonLaunchHostFunc(s, [](void* u) { static_cast<std::atomic<int>*>(u)->store(1); }, &reached));
        mustFinish("the stream getting past the failed acquire", 10s, [&] {
            while (!reached.load()) std::this_thread::sleep_for(1ms);
        });
    }
    void syncBounded(batonStream_t s, const char* what, batonError_t expect = batonSuccess) {
        mustFinish(what, 10s, [s, expect] { EXPECT_EQ(batonStreamSynchronize(s), expect) << batonGetLastErrorMessage(); });
    }

    batonContext_t ctx_ = nullptr;
    batonContextInfo info_{};
    std::vector<std::unique_ptr<Gate>> gates_;
    std::vector<int> fds_;
};

// The GPU held: a submission of the test's own on the context's (only) queue that waits for
// a timeline the test signals from the host in release(). Everything submitted to that queue
// after it waits behind it.
class GpuHold {
public:
    GpuHold() = default;
    GpuHold(const GpuHold&) = delete;
    GpuHold& operator=(const GpuHold&) = delete;
    ~GpuHold() { release(); }  // a failed test must not leave the queue blocked
    bool hold(const batonContextInfo& info, batonContext_t ctx) {
        info_ = info;
        auto gdpa = info.getDeviceProcAddr;
        create_ = reinterpret_cast<PFN_vkCreateSemaphore>(gdpa(info.device, "vkCreateSemaphore"));
        destroy_ = reinterpret_cast<PFN_vkDestroySemaphore>(gdpa(info.device, "vkDestroySemaphore"));
        signal_ = reinterpret_cast<PFN_vkSignalSemaphore>(gdpa(info.device, "vkSignalSemaphore"));
        auto submit = reinterpret_cast<PFN_vkQueueSubmit2>(gdpa(info.device, "vkQueueSubmit2"));
        VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
        VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
        if (create_(info.device, &sci, nullptr, &sem_) != VK_SUCCESS) return false;
        VkSemaphoreSubmitInfo w{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, sem_, 1,
                                VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
        VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
        si.waitSemaphoreInfoCount = 1;
        si.pWaitSemaphoreInfos = &w;
        VkQueue q = info.computeQueue.queue;
        if (batonContextLockQueue(ctx, q) != batonSuccess) return false;
        VkResult r = submit(q, 1, &si, VK_NULL_HANDLE);
        batonContextUnlockQueue(ctx, q);
        return r == VK_SUCCESS;
    }
    void release() {
        if (!sem_ || released_) return;
        VkSemaphoreSignalInfo s{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, sem_, 1};
        signal_(info_.device, &s);
        released_ = true;
    }
    // Only once the context's work is done (after a synchronize).
    void destroy() {
        release();
        if (sem_) destroy_(info_.device, sem_, nullptr);
        sem_ = VK_NULL_HANDLE;
    }

private:
    batonContextInfo info_{};
    VkSemaphore sem_ = VK_NULL_HANDLE;
    bool released_ = false;
    PFN_vkCreateSemaphore create_ = nullptr;
    PFN_vkDestroySemaphore destroy_ = nullptr;
    PFN_vkSignalSemaphore signal_ = nullptr;
};

}  // namespace defects
