// Failing-first tests for defects of issue 10 that need a driver failure: the real Vulkan
// layer of tests/fault (VK_LAYER_BATON_fault, in every instance of this process through
// fault_env.cpp) fails the chosen call; the test's own Vulkan calls pass through it.
#include <cstdio>
#include <cstring>
#include <string>

#include "defect_support.h"
#include "fault_control.h"

using namespace defects;

namespace {

class DefectsFault : public Defects {
protected:
    // Validation errors still fail a test; baton's own report of the injected device loss
    // (an error-severity message) is what a lost device is expected to say.
    static void messages(batonMessageSeverity severity, const char* message, void* user) {
        if (std::strstr(message, "device was lost")) return;
        batontest::messageCallback(severity, message, user);
    }
    batonContextCreateInfo createInfo() override {
        batonContextCreateInfo ci = batontest::contextCreateInfo();
        ci.messageCallback = messages;
        return ci;
    }
    void SetUp() override {
        Defects::SetUp();
        batonfault::configure("");
    }
    void TearDown() override {
        batonfault::configure("");
        Defects::TearDown();
    }
    bool holdGpu(GpuHold& hold) {
        batonfault::PassThrough pt;  // the test's own submission is not one of baton's calls
        return hold.hold(info_, ctx_);
    }
};

}  // namespace

// Defect 11: a failed submit made the host signal the stream's timeline to the failed batch's
// point at once, while an earlier submission was still pending on the GPU: the earlier work
// counted as done (its portable signal published, its command buffers free to re-record) and
// the GPU's later signal would move the timeline backwards.
TEST_F(DefectsFault, FailedSubmitKeepsEarlierWorkPending) {
    if (!info_.queueShared)
        GTEST_SKIP() << "needs a device whose streams share the one queue the test can hold (lavapipe)";
    batonExternalSemaphore_t t = timeline(), u = timeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    GpuHold hold;
    ASSERT_TRUE(holdGpu(hold));
    BATON_ASSERT_OK(signal(t, 1, s));
    // Once that is submitted (pending behind the held GPU), the stream's next submit fails.
    mustFinish("the first submission", 10s, [] {
        while (batonfault::callCount("vkQueueSubmit2") == 0) std::this_thread::sleep_for(1ms);
    });
    ASSERT_GE(batonfault::configure("vkQueueSubmit2:1:VK_ERROR_OUT_OF_HOST_MEMORY"), 0);
    BATON_ASSERT_OK(signal(u, 1, s));
    mustFinish("the failing submission", 10s, [] {
        while (batonfault::injectedCount() == 0) std::this_thread::sleep_for(1ms);
    });
    // Before the fix the stream thread then counted point 1 done: idle, it published t.
    auto until = std::chrono::steady_clock::now() + 300ms;
    while (current(t) == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
    EXPECT_EQ(current(t), 0u) << "t published while its signal is still held on the GPU";
    hold.release();
    mustFinish("synchronize after the failed submit", 10s,
               [s] { EXPECT_NE(batonStreamSynchronize(s), batonSuccess) << "the failed submit is reported"; });
    EXPECT_EQ(current(t), 1u);
    EXPECT_EQ(batonStreamSynchronize(s), batonSuccess) << "the error is reported once";
    hold.destroy();
}

// Defect 8 (mirror part): an imported portable timeline's mirror thread copies the page's
// value into the local proxy that GPU waits use, with vkSignalSemaphore. It ended on the
// first signal that failed, so that proxy, and every GPU wait on it, stayed behind for good.
// Now a failed signal is retried after a slice.
TEST_F(DefectsFault, MirrorRetriesAFailedHostSignal) {
    int fd = -1;
    batonExternalSemaphore_t t = timeline(&fd);
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    batonExternalSemaphoreHandleDesc hd{};
    hd.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    hd.handle.fd = dup(fd);
    batonExternalSemaphore_t imp = nullptr;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&imp, &hd));
    BATON_ASSERT_OK(signal(t, 1, s));
    syncBounded(s, "the first signal");
    VkSemaphoreSubmitInfo wi{};
    BATON_ASSERT_OK(batonGetWaitSubmitInfo(imp, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &wi));  // starts the mirror
    auto counter = reinterpret_cast<PFN_vkGetSemaphoreCounterValue>(
        info_.getDeviceProcAddr(info_.device, "vkGetSemaphoreCounterValue"));
    auto proxyValue = [&] {
        batonfault::PassThrough pt;
        uint64_t v = 0;
        counter(info_.device, wi.semaphore, &v);
        return v;
    };
    ASSERT_EQ(batonfault::configure("vkSignalSemaphore:1:VK_ERROR_OUT_OF_HOST_MEMORY"), 1);
    BATON_ASSERT_OK(signal(t, 2, s));
    syncBounded(s, "the second signal");
    auto until = std::chrono::steady_clock::now() + 5s;
    while (proxyValue() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
    EXPECT_EQ(batonfault::injectedCount(), 1u) << "the mirror's host signal was not the one failed";
    EXPECT_EQ(proxyValue(), 2u) << "the importer's proxy stayed behind the page after one failed host signal";
    EXPECT_GE(batonfault::callCount("vkSignalSemaphore"), 2u) << "the failed host signal was never retried";
    batonfault::configure("");
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(imp));
}

// Defect 14 (publisher part): a portable semaphore's publisher thread waits for the GPU to
// reach its lowest pending signal in 10 ms slices of vkWaitSemaphores. A wait that failed at
// once (a lost device, out of memory) sent it straight into the next: a core spinning on the
// driver. Every vkWaitSemaphores of the next 2,000 fails at once here; over half a second an
// idle process makes at most a few dozen (one per slice per waiting thread), a spinning one
// burns through all 2,000.
TEST_F(DefectsFault, PublisherDoesNotSpinOnAWaitThatFailsAtOnce) {
    if (!info_.queueShared)
        GTEST_SKIP() << "needs a device whose streams share the one queue the test can hold (lavapipe)";
    batonExternalSemaphore_t t = timeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    GpuHold hold;
    ASSERT_TRUE(holdGpu(hold));
    BATON_ASSERT_OK(signal(t, 1, s));  // submitted, held on the GPU: the publisher waits for it
    mustFinish("the signal's submission", 10s, [] {
        while (batonfault::callCount("vkQueueSubmit2") == 0) std::this_thread::sleep_for(1ms);
    });
    std::this_thread::sleep_for(50ms);  // the publisher is in its slices now
    std::string spec;
    constexpr int kFailing = 2000;
    for (int n = 1; n <= kFailing; ++n)
        spec += (n > 1 ? "," : "") + std::string("vkWaitSemaphores:") + std::to_string(n) + ":VK_ERROR_OUT_OF_HOST_MEMORY";
    ASSERT_EQ(batonfault::configure(spec.c_str()), kFailing);
    std::this_thread::sleep_for(500ms);
    const unsigned long long calls = batonfault::callCount("vkWaitSemaphores");
    batonfault::configure("");
    std::printf("vkWaitSemaphores calls in 500 ms, each failing at once: %llu\n", calls);
    EXPECT_LT(calls, 200u) << "vkWaitSemaphores calls in 500 ms while every one failed at once: a thread spins";
    hold.release();
    mustFinish("synchronize after the failed waits", 10s, [s] { batonStreamSynchronize(s); });
    hold.destroy();
}

// Defect 14 (stream part): batonStreamQuery ignored vkGetSemaphoreCounterValue's result, so a
// lost device read as NotReady forever; once lost, every stream call says so.
TEST_F(DefectsFault, StreamQueryReportsALostDevice) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(signal(t, 1, s));
    syncBounded(s, "the first signal");
    ASSERT_GE(batonfault::configure("vkGetSemaphoreCounterValue:1:VK_ERROR_DEVICE_LOST"), 0);
    batonError_t q = batonStreamQuery(s);
    EXPECT_NE(q, batonErrorNotReady) << "a lost device is not 'not ready'";
    EXPECT_NE(q, batonSuccess);
    EXPECT_EQ(batonStreamQuery(s), q) << "the loss is sticky";
    EXPECT_EQ(signal(t, 2, s), q) << "stream calls refuse on a lost device";
    mustFinish("synchronize on a lost device", 10s, [s, q] { EXPECT_EQ(batonStreamSynchronize(s), q); });
}

// The validation layer's settle (Context::settleForValidation: a zero-timeout
// vkWaitSemaphores before a command-buffer slot is re-recorded) ignored the wait's result: a
// device loss that it was the first to see was swallowed, and the record answered success.
// (The H200-free half of FaultSweep's vkWaitSemaphores call 15 failure: the same settle in
// batonChannelAcquireFrame.) The stream has no portable semaphore and telemetry is off, so no
// other baton thread calls vkWaitSemaphores: the first call after configure is the settle.
TEST_F(DefectsFault, SlotReuseSettleReportsADeviceLoss) {
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    auto nothing = [](VkCommandBuffer, void*) {};
    for (int i = 0; i < 64; ++i) BATON_ASSERT_OK(batonStreamRecord(s, nothing, nullptr));  // every slot used once
    syncBounded(s, "64 records");  // the timeline is now known past every slot
    ASSERT_GE(batonfault::configure("vkWaitSemaphores:1:VK_ERROR_DEVICE_LOST"), 0);
    const batonError_t e = batonStreamRecord(s, nothing, nullptr);  // slot 0 again: settled first
    ASSERT_EQ(batonfault::injectedCount(), 1u) << "the record made no vkWaitSemaphores (the settle is gone?)";
    EXPECT_EQ(e, batonErrorLaunchFailure) << "the record that met the loss answered " << batonGetErrorName(e);
    mustFinish("synchronize on a lost device", 10s, [s] { EXPECT_EQ(batonStreamSynchronize(s), batonErrorLaunchFailure); });
}
