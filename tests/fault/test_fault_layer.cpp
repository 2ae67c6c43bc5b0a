// The fault layer itself: it is in the chain, counts, fails exactly the Nth call with the
// result asked for, keeps an injected device loss sticky, and lets pass-through calls by.
#include <gtest/gtest.h>

#include <baton/baton.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

#include "baton_test.h"
#include "fault_control.h"

namespace {

class FaultLayer : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(batonfault::configure(""), 0);
        batonContextCreateInfo ci = batontest::contextCreateInfo();
        BATON_ASSERT_OK(batonContextCreate(&ctx_, &ci));
        BATON_ASSERT_OK(batonCtxSetCurrent(ctx_));
        BATON_ASSERT_OK(batonContextGetInfo(ctx_, &info_));
    }
    void TearDown() override {
        batonfault::configure("");
        EXPECT_EQ(batonContextDestroy(ctx_), batonSuccess);
        batonCtxSetCurrent(nullptr);
    }
    template <typename F>
    F device(const char* name) {
        return reinterpret_cast<F>(info_.getDeviceProcAddr(info_.device, name));
    }
    VkSemaphore timeline() {
        VkSemaphoreTypeCreateInfo ti{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
        VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &ti};
        VkSemaphore s = VK_NULL_HANDLE;
        EXPECT_EQ(device<PFN_vkCreateSemaphore>("vkCreateSemaphore")(info_.device, &ci, nullptr, &s), VK_SUCCESS);
        return s;
    }
    batonContext_t ctx_ = nullptr;
    batonContextInfo info_{};
};

TEST_F(FaultLayer, RejectsBadSpecs) {
    EXPECT_EQ(batonfault::configure("vkCreateSemaphore:2"), 1);
    EXPECT_EQ(batonfault::configure("vkNoSuchFunction:1"), -1);
    EXPECT_EQ(batonfault::configure("vkCreateSemaphore:0"), -1);
    EXPECT_EQ(batonfault::configure("vkCreateSemaphore:x"), -1);
    EXPECT_EQ(batonfault::configure("vkCreateSemaphore:1:VK_NOT_A_RESULT"), -1);
    EXPECT_EQ(batonfault::configure("vkCreateSemaphore:1:VK_ERROR_DEVICE_LOST,vkAllocateMemory:3"), 2);
}

TEST_F(FaultLayer, FailsExactlyTheNthCallAndCountsEveryCall) {
    auto create = device<PFN_vkCreateSemaphore>("vkCreateSemaphore");
    auto destroy = device<PFN_vkDestroySemaphore>("vkDestroySemaphore");
    ASSERT_EQ(batonfault::configure("vkCreateSemaphore:2:VK_ERROR_OUT_OF_DEVICE_MEMORY"), 1);
    VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkResult results[3];
    for (VkResult& r : results) {
        VkSemaphore s = VK_NULL_HANDLE;
        r = create(info_.device, &ci, nullptr, &s);
        if (s) destroy(info_.device, s, nullptr);
    }
    EXPECT_EQ(results[0], VK_SUCCESS);
    EXPECT_EQ(results[1], VK_ERROR_OUT_OF_DEVICE_MEMORY);
    EXPECT_EQ(results[2], VK_SUCCESS);
    EXPECT_EQ(batonfault::callCount("vkCreateSemaphore"), 3u);
    EXPECT_EQ(batonfault::injectedCount(), 1u);
    // Through baton: the failure comes back with the function's name.
    ASSERT_EQ(batonfault::configure("vkCreateSemaphore:1"), 1);
    batonExternalSemaphoreExportDesc ed{};
    ed.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    EXPECT_EQ(batonExportExternalSemaphore(&fd, &sem, &ed), batonErrorMemoryAllocation);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("vkCreateSemaphore"), std::string::npos)
        << batonGetLastErrorMessage();
}

TEST_F(FaultLayer, InjectedDeviceLossIsSticky) {
    VkSemaphore s = timeline();
    auto counter = device<PFN_vkGetSemaphoreCounterValue>("vkGetSemaphoreCounterValue");
    auto wait = device<PFN_vkWaitSemaphores>("vkWaitSemaphores");
    auto submit = device<PFN_vkQueueSubmit2>("vkQueueSubmit2");
    uint64_t v = 0;
    ASSERT_EQ(counter(info_.device, s, &v), VK_SUCCESS);
    ASSERT_FALSE(batonfault::anyDeviceLost());
    ASSERT_EQ(batonfault::configure("vkGetSemaphoreCounterValue:1:VK_ERROR_DEVICE_LOST"), 1);
    EXPECT_EQ(counter(info_.device, s, &v), VK_ERROR_DEVICE_LOST);
    EXPECT_TRUE(batonfault::anyDeviceLost());
    // Every later call that can say so says so: counter, waits (at once), submits.
    EXPECT_EQ(counter(info_.device, s, &v), VK_ERROR_DEVICE_LOST);
    uint64_t one = 1;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s, &one};
    EXPECT_EQ(wait(info_.device, &wi, 5'000'000'000ull), VK_ERROR_DEVICE_LOST);
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    {
        batonfault::PassThrough own;  // a pass-through thread still sees the real device
        EXPECT_EQ(counter(info_.device, s, &v), VK_SUCCESS);
    }
    batonContextLockQueue(ctx_, info_.computeQueue.queue);
    EXPECT_EQ(submit(info_.computeQueue.queue, 1, &si, VK_NULL_HANDLE), VK_ERROR_DEVICE_LOST);
    batonContextUnlockQueue(ctx_, info_.computeQueue.queue);
    device<PFN_vkDestroySemaphore>("vkDestroySemaphore")(info_.device, s, nullptr);
}

// A real lost device ends every wait in finite time. The driver below the layer is not lost:
// a GPU wait it took before the loss, for a timeline value whose signal comes in a submission
// the lost device refuses, must still end, or the drain after a loss (vkDeviceWaitIdle) never
// returns. On the H200 that hung the sweep (vkQueueSubmit2_DEVICE_LOST call 5: a stream's wait
// on an imported timeline reached the driver, the signal's submission was refused).
TEST_F(FaultLayer, GpuWaitForASignalRefusedAfterTheLossEnds) {
    if (info_.graphicsQueue.queue == VK_NULL_HANDLE || info_.queueShared)
        GTEST_SKIP() << "needs a graphics queue apart from the compute queue (a wait ahead of its signal on one queue never ends)";
    VkSemaphore s = timeline();
    auto submit = device<PFN_vkQueueSubmit2>("vkQueueSubmit2");
    auto counter = device<PFN_vkGetSemaphoreCounterValue>("vkGetSemaphoreCounterValue");
    VkSemaphoreSubmitInfo one{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    const VkSubmitInfo2 waits{VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 1, &one, 0, nullptr, 0, nullptr};
    const VkSubmitInfo2 signals{VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 0, nullptr, 0, nullptr, 1, &one};
    batonContextLockQueue(ctx_, info_.computeQueue.queue);
    ASSERT_EQ(submit(info_.computeQueue.queue, 1, &waits, VK_NULL_HANDLE), VK_SUCCESS);  // before its signal
    batonContextUnlockQueue(ctx_, info_.computeQueue.queue);
    uint64_t v = 0;
    ASSERT_EQ(batonfault::configure("vkGetSemaphoreCounterValue:1:VK_ERROR_DEVICE_LOST"), 1);
    ASSERT_EQ(counter(info_.device, s, &v), VK_ERROR_DEVICE_LOST);
    batonContextLockQueue(ctx_, info_.graphicsQueue.queue);
    EXPECT_EQ(submit(info_.graphicsQueue.queue, 1, &signals, VK_NULL_HANDLE), VK_ERROR_DEVICE_LOST);
    batonContextUnlockQueue(ctx_, info_.graphicsQueue.queue);
    // The drain, watched: a driver thread stuck for good cannot be unwound, so a hang ends
    // the process with the failure.
    std::atomic<bool> drained{false};
    std::thread drain([&] {
        device<PFN_vkDeviceWaitIdle>("vkDeviceWaitIdle")(info_.device);
        drained = true;
    });
    for (int i = 0; i < 200 && !drained; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!drained) {
        ADD_FAILURE() << "vkDeviceWaitIdle after the loss did not return within 10 s: the GPU wait still waits for the refused signal";
        std::fflush(stdout);
        std::_Exit(1);
    }
    drain.join();
    device<PFN_vkDestroySemaphore>("vkDestroySemaphore")(info_.device, s, nullptr);
}

// The environment configures the layer at load (BATON_FAULT) and BATON_FAULT_COUNTS gets the
// counts at unload: this test runs itself as a child process with both set.
TEST(FaultLayerEnvironment, ConfiguresAChildProcess) {
    if (std::getenv("BATON_FAULT_CHILD")) {  // the child: the first semaphore creation fails
        batonContextCreateInfo ci = batontest::contextCreateInfo();
        batonContext_t ctx = nullptr;
        ASSERT_EQ(batonContextCreate(&ctx, &ci), batonSuccess) << batonGetLastErrorMessage();
        ASSERT_EQ(batonCtxSetCurrent(ctx), batonSuccess);
        batonExternalSemaphoreExportDesc ed{};
        ed.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        int fd = -1;
        batonExternalSemaphore_t sem = nullptr;
        EXPECT_EQ(batonExportExternalSemaphore(&fd, &sem, &ed), batonErrorMemoryAllocation);
        EXPECT_EQ(batonfault::injectedCount(), 1u);
        EXPECT_EQ(batonContextDestroy(ctx), batonSuccess);
        return;
    }
    char counts[] = "/tmp/baton_fault_counts_XXXXXX";
    int cfd = mkstemp(counts);
    ASSERT_GE(cfd, 0);
    close(cfd);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        setenv("BATON_FAULT_CHILD", "1", 1);
        setenv("BATON_FAULT", "vkCreateSemaphore:1:VK_ERROR_OUT_OF_DEVICE_MEMORY", 1);
        setenv("BATON_FAULT_COUNTS", counts, 1);
        execl("/proc/self/exe", "test_fault", "--gtest_filter=FaultLayerEnvironment.ConfiguresAChildProcess", nullptr);
        _exit(127);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child failed (its output is above)";
    std::ifstream in(counts);
    std::string name;
    unsigned long long n = 0, created = 0;
    while (in >> name >> n)
        if (name == "vkCreateSemaphore") created = n;
    unlink(counts);
    EXPECT_GE(created, 1u) << "BATON_FAULT_COUNTS has no vkCreateSemaphore count";
}

}  // namespace
