// Semantics of streams, timelines, binary semaphores, host functions, events and contexts,
// checked on a real Vulkan driver (lavapipe in CI) with the validation layer on. Work that
// must be "still pending" is held back by a Gate (a host function that blocks its stream),
// so that every ordering check is deterministic instead of racing the driver.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "baton_test.h"
#include "host_device.h"
#include "host_buffer.h"

using namespace std::chrono_literals;
using batontest::HostBuffer;
using batontest::recordOn;

namespace {

constexpr uint64_t kLong = 10'000'000'000ull;  // 10 s: a host wait that only a bug exhausts
constexpr auto kSettle = 50ms;                 // time given to wrong behaviour to show itself

// Blocks the stream it is launched on until opened.
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
    // Whether the stream has reached the gate (all earlier work on it done).
    bool waitEntered(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [this] { return entered_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false, entered_ = false;
};

// Host functions that append to a shared log, to check the order in which streams ran them.
struct Log {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<int> entries;
    struct Entry {
        Log* log;
        int value;
    };
    std::vector<std::unique_ptr<Entry>> owned;
    // The user data for a host function that appends value.
    Entry* entry(int value) {
        owned.push_back(std::make_unique<Entry>(Entry{this, value}));
        return owned.back().get();
    }
    static void hostFn(void* user) {
        auto* e = static_cast<Entry*>(user);
        std::lock_guard lock(e->log->mutex);
        e->log->entries.push_back(e->value);
        e->log->cv.notify_all();
    }
    std::vector<int> snapshot() {
        std::lock_guard lock(mutex);
        return entries;
    }
    bool waitSize(size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, timeout, [&] { return entries.size() >= n; });
    }
};

batonExternalSemaphoreSignalParams signalParams(uint64_t value) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = value;
    return p;
}
batonExternalSemaphoreWaitParams waitParams(uint64_t value) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = value;
    return p;
}
batonError_t signal(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    auto p = signalParams(value);
    return batonSignalExternalSemaphoresAsync(&s, &p, 1, stream);
}
batonError_t wait(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    auto p = waitParams(value);
    return batonWaitExternalSemaphoresAsync(&s, &p, 1, stream);
}
batonExternalSemaphoreInfo semInfo(batonExternalSemaphore_t s) {
    batonExternalSemaphoreInfo i{};
    EXPECT_EQ(batonExternalSemaphoreGetInfo(s, &i), batonSuccess) << batonGetLastErrorMessage();
    return i;
}

// Each test runs in its own explicit context, made current, and destroyed afterwards: a
// failing test cannot leave pending work behind for the next one.
class Semantics : public ::testing::Test {
protected:
    void SetUp() override {
        // Standalone, or attached to the test host device in attach mode (BATON_TEST_ATTACH=1).
        BATON_ASSERT_OK(batontest::createTestContext(&ctx_));
        BATON_ASSERT_OK(batonCtxSetCurrent(ctx_));
        BATON_ASSERT_OK(batonContextGetInfo(ctx_, &info_));
    }
    void TearDown() override {
        for (auto& g : gates_) g->open();
        if (!HasFailure()) {
            EXPECT_EQ(batonDeviceSynchronize(), batonSuccess) << batonGetLastErrorMessage();
            buffers_.clear();  // only once their work is known to be done
        } else {
            for (auto& b : buffers_) b.release();  // the GPU may still use them: leak rather than crash
        }
        for (int fd : fds_) close(fd);
        batonCtxSetCurrent(nullptr);
        if (ctx_) {
            EXPECT_EQ(batonContextDestroy(ctx_), batonSuccess);
        }
    }

    batonStream_t stream() {
        batonStream_t s = nullptr;
        EXPECT_EQ(batonStreamCreate(&s), batonSuccess) << batonGetLastErrorMessage();
        return s;
    }
    Gate* gate() {
        gates_.push_back(std::make_unique<Gate>());
        return gates_.back().get();
    }
    // Blocks stream until the returned gate is opened.
    Gate* gateStream(batonStream_t s) {
        Gate* g = gate();
        EXPECT_EQ(batonLaunchHostFunc(s, Gate::hostFn, g), batonSuccess) << batonGetLastErrorMessage();
        return g;
    }
    batonExternalSemaphore_t exportSem(batonExternalSemaphoreHandleType type, uint64_t initial = 0, unsigned flags = 0,
                                       int* fdOut = nullptr) {
        batonExternalSemaphoreExportDesc d{};
        d.type = type;
        d.initialValue = initial;
        d.flags = flags;
        int fd = -1;
        batonExternalSemaphore_t s = nullptr;
        EXPECT_EQ(batonExportExternalSemaphore(&fd, &s, &d), batonSuccess) << batonGetLastErrorMessage();
        if (fd >= 0) fds_.push_back(fd);
        if (fdOut) *fdOut = fd;
        return s;
    }
    batonExternalSemaphore_t timeline(uint64_t initial = 0, int* fdOut = nullptr) {
        return exportSem(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, initial, 0, fdOut);
    }
    // Binary semaphores here are portable on every driver: the checks below (wait before
    // signal, signal twice, host waits) are baton's semantics, which a native Vulkan binary
    // semaphore forbids (a wait must follow its signal's submission; no host wait).
    batonExternalSemaphore_t binary() {
        return exportSem(batonExternalSemaphoreHandleTypeOpaqueFd, 0, batonExportFlagPortable);
    }
    HostBuffer* buffer(size_t words) {
        buffers_.push_back(std::make_unique<HostBuffer>());
        EXPECT_EQ(buffers_.back()->create(ctx_, words), VK_SUCCESS);
        return buffers_.back().get();
    }
    bool portable(batonExternalSemaphore_t s) { return semInfo(s).backend == batonSemaphoreBackendPortable; }

    batonContext_t ctx_ = nullptr;
    batonContextInfo info_{};
    std::vector<std::unique_ptr<Gate>> gates_;
    std::vector<std::unique_ptr<HostBuffer>> buffers_;
    std::vector<int> fds_;
};

// ---------------------------------------------------------------------------------------
// Stream order across two streams and a renderer's own graphics submission
// ---------------------------------------------------------------------------------------

// Stream A fills the buffer and signals t1; the test's graphics submission waits for t1,
// copies and overwrites part of it, and signals t2; stream B waits for t2 and copies what the
// graphics work wrote. Each step's output depends on the previous step's, so the final
// contents prove the order. A is held back by a gate until everything is enqueued, so the
// waits really are enqueued before their signals.
TEST_F(Semantics, StreamOrderAcrossTwoStreamsAndAGraphicsSubmission) {
    if (!info_.graphicsQueue.queue) GTEST_SKIP() << "the context has no graphics queue";
    constexpr size_t N = 4096, Q = N / 4;
    HostBuffer* buf = buffer(N);
    ASSERT_FALSE(HasFailure());
    batonExternalSemaphore_t t1 = timeline(), t2 = timeline();
    batonStream_t a = stream(), b = stream();
    ASSERT_FALSE(HasFailure());

    Gate* gateA = gateStream(a);
    BATON_ASSERT_OK(recordOn(a, [&](VkCommandBuffer cb) { cmdFill(cb, *buf, 0, N, 0x11111111u); }));
    BATON_ASSERT_OK(signal(t1, 1, a));
    BATON_ASSERT_OK(wait(t2, 1, b));
    BATON_ASSERT_OK(recordOn(b, [&](VkCommandBuffer cb) {
        batontest::cmdBarrierAfterAnyWrite(cb);
        cmdCopy(cb, *buf, 0, 2 * Q, Q);
        cmdFill(cb, *buf, 3 * Q, Q, 0x33333333u);
        batontest::cmdHostReadBarrier(cb);
    }));

    VkSemaphoreSubmitInfo waitInfo{}, signalInfo{};
    const VkPipelineStageFlags2 stage = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    if (info_.queueShared && portable(t1)) {
        // One queue for everyone: a renderer wait submitted before its signal would stall the
        // queue that has to run the signal. baton must say "not yet".
        EXPECT_EQ(batonGetWaitSubmitInfo(t1, 1, stage, &waitInfo), batonErrorNotReady);
    }
    EXPECT_EQ(batonStreamQuery(b), batonErrorNotReady);
    gateA->open();
    // The portable path on a shared queue: retry until the signal has been submitted.
    batonError_t e;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while ((e = batonGetWaitSubmitInfo(t1, 1, stage, &waitInfo)) == batonErrorNotReady &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100us);
    BATON_ASSERT_OK(e);

    VkDevice dev = info_.device;
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr, 0, info_.graphicsQueue.familyIndex};
    VkCommandPool pool = VK_NULL_HANDLE;
    ASSERT_EQ(vkCreateCommandPool(dev, &pci, nullptr, &pool), VK_SUCCESS);
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool,
                                   VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
    VkCommandBuffer cb = VK_NULL_HANDLE;
    ASSERT_EQ(vkAllocateCommandBuffers(dev, &ai, &cb), VK_SUCCESS);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    ASSERT_EQ(vkBeginCommandBuffer(cb, &bi), VK_SUCCESS);
    batontest::cmdBarrierAfterAnyWrite(cb);
    cmdCopy(cb, *buf, 0, Q, Q);
    batontest::cmdTransferBarrier(cb);  // the copy reads [0,Q) before the fill overwrites it
    cmdFill(cb, *buf, 0, Q, 0x22222222u);
    ASSERT_EQ(vkEndCommandBuffer(cb), VK_SUCCESS);
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence = VK_NULL_HANDLE;
    ASSERT_EQ(vkCreateFence(dev, &fci, nullptr, &fence), VK_SUCCESS);

    BATON_ASSERT_OK(batonGetSignalSubmitInfo(t2, 1, stage, &signalInfo));
    VkCommandBufferSubmitInfo cbi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cb, 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = 1;
    si.pWaitSemaphoreInfos = &waitInfo;
    si.commandBufferInfoCount = 1;
    si.pCommandBufferInfos = &cbi;
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &signalInfo;
    BATON_ASSERT_OK(batonContextLockQueue(ctx_, info_.graphicsQueue.queue));
    VkResult r = vkQueueSubmit2(info_.graphicsQueue.queue, 1, &si, fence);
    BATON_ASSERT_OK(batonContextUnlockQueue(ctx_, info_.graphicsQueue.queue));
    ASSERT_EQ(r, VK_SUCCESS);

    BATON_ASSERT_OK(batonStreamSynchronize(b));
    EXPECT_EQ(vkWaitForFences(dev, 1, &fence, VK_TRUE, kLong), VK_SUCCESS);
    vkDestroyFence(dev, fence, nullptr);
    vkDestroyCommandPool(dev, pool, nullptr);

    EXPECT_EQ(buf->firstMismatch(0, Q, 0x22222222u), SIZE_MAX) << "graphics fill";
    EXPECT_EQ(buf->firstMismatch(Q, Q, 0x11111111u), SIZE_MAX) << "graphics copied before stream A's fill";
    EXPECT_EQ(buf->firstMismatch(2 * Q, Q, 0x22222222u), SIZE_MAX) << "stream B copied before the graphics fill";
    EXPECT_EQ(buf->firstMismatch(3 * Q, Q, 0x33333333u), SIZE_MAX) << "stream B's fill was overwritten";
    EXPECT_EQ(semInfo(t1).currentValue, 1u);
    EXPECT_EQ(semInfo(t2).currentValue, 1u);
}

// A renderer takes the signal info for a value (which reserves it) and submits a little
// later; meanwhile a stream's signal of a lower value completes. Synchronizing that stream
// must not wait for the renderer's submission (the renderer's thread may be the one calling
// synchronize before it submits).
TEST_F(Semantics, RendererSignalReservedButNotSubmittedDoesNotBlockAStream) {
    if (!info_.graphicsQueue.queue) GTEST_SKIP() << "the context has no graphics queue";
    batonExternalSemaphore_t t = timeline();
    batonStream_t x = stream();
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(x);
    BATON_ASSERT_OK(signal(t, 3, x));
    VkSemaphoreSubmitInfo signalInfo{};
    BATON_ASSERT_OK(batonGetSignalSubmitInfo(t, 5, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &signalInfo));
    g->open();
    BATON_ASSERT_OK(batonStreamSynchronize(x));
    EXPECT_EQ(semInfo(t).currentValue, 3u);
    EXPECT_EQ(semInfo(t).pendingValue, 5u);

    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &signalInfo;
    BATON_ASSERT_OK(batonContextLockQueue(ctx_, info_.graphicsQueue.queue));
    VkResult r = vkQueueSubmit2(info_.graphicsQueue.queue, 1, &si, VK_NULL_HANDLE);
    BATON_ASSERT_OK(batonContextUnlockQueue(ctx_, info_.graphicsQueue.queue));
    ASSERT_EQ(r, VK_SUCCESS);
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 5, kLong), batonSuccess);
    EXPECT_EQ(semInfo(t).currentValue, 5u);
    // Our own submission uses the semaphore: it must be done before the fixture destroys it
    // (a renderer's obligation, as with any Vulkan object it submits).
    BATON_ASSERT_OK(batonContextLockQueue(ctx_, info_.graphicsQueue.queue));
    vkQueueWaitIdle(info_.graphicsQueue.queue);
    BATON_ASSERT_OK(batonContextUnlockQueue(ctx_, info_.graphicsQueue.queue));
}

// ---------------------------------------------------------------------------------------
// Timeline semantics
// ---------------------------------------------------------------------------------------

TEST_F(Semantics, TimelineWaitIsReleasedByAnyValueAtOrAbove) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t w = stream(), w8 = stream(), s = stream();
    ASSERT_FALSE(HasFailure());
    Log log;
    BATON_ASSERT_OK(wait(t, 5, w));
    BATON_ASSERT_OK(batonLaunchHostFunc(w, Log::hostFn, log.entry(5)));
    BATON_ASSERT_OK(wait(t, 8, w8));
    BATON_ASSERT_OK(batonLaunchHostFunc(w8, Log::hostFn, log.entry(8)));
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(batonStreamQuery(w), batonErrorNotReady);
    EXPECT_TRUE(log.snapshot().empty()) << "work behind a wait ran before any signal";

    BATON_ASSERT_OK(signal(t, 7, s));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    EXPECT_EQ(log.snapshot(), std::vector<int>{5}) << "a signal of 7 must release a wait for 5";
    EXPECT_EQ(semInfo(t).currentValue, 7u);
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(batonStreamQuery(w8), batonErrorNotReady) << "a signal of 7 released a wait for 8";
    EXPECT_EQ(log.snapshot(), std::vector<int>{5});

    BATON_ASSERT_OK(signal(t, 8, s));
    BATON_ASSERT_OK(batonStreamSynchronize(w8));
    EXPECT_EQ(log.snapshot(), (std::vector<int>{5, 8}));
}

// The wait is enqueued before the signal exists; the signaling stream is held back, and
// what each stream runs around the semaphore is logged: the waiter's work must come after
// the signaler's prior work.
TEST_F(Semantics, TimelineWaitEnqueuedBeforeItsSignal) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t w = stream(), s = stream();
    ASSERT_FALSE(HasFailure());
    Log log;
    BATON_ASSERT_OK(wait(t, 1, w));
    BATON_ASSERT_OK(batonLaunchHostFunc(w, Log::hostFn, log.entry(2)));
    EXPECT_EQ(semInfo(t).pendingValue, 0u) << "a wait must not reserve anything";

    Gate* g = gateStream(s);
    BATON_ASSERT_OK(batonLaunchHostFunc(s, Log::hostFn, log.entry(1)));
    BATON_ASSERT_OK(signal(t, 1, s));
    EXPECT_EQ(semInfo(t).pendingValue, 1u);
    ASSERT_TRUE(g->waitEntered(10s));
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(batonStreamQuery(w), batonErrorNotReady);
    EXPECT_EQ(batonStreamQuery(s), batonErrorNotReady);
    EXPECT_TRUE(log.snapshot().empty());
    g->open();
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    EXPECT_EQ(log.snapshot(), (std::vector<int>{1, 2}));
    EXPECT_EQ(semInfo(t).currentValue, 1u);
}

// Four streams wait for 1..4 (two of them for 2); a signal of 2 releases exactly the waiters
// for 1 and 2, then a signal of 4 releases the rest.
TEST_F(Semantics, SeveralWaitersOnSeveralStreams) {
    batonExternalSemaphore_t t = timeline();
    const uint64_t values[] = {1, 2, 2, 3, 4};
    batonStream_t ws[5];
    for (auto& w : ws) w = stream();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    for (int i = 0; i < 5; ++i) BATON_ASSERT_OK(wait(t, values[i], ws[i]));

    BATON_ASSERT_OK(signal(t, 2, s));
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(t, 2, kLong));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(batonStreamSynchronize(ws[i]), batonSuccess) << "waiter for " << values[i];
    std::this_thread::sleep_for(kSettle);
    for (int i = 3; i < 5; ++i) EXPECT_EQ(batonStreamQuery(ws[i]), batonErrorNotReady) << "waiter for " << values[i];

    BATON_ASSERT_OK(signal(t, 4, s));
    for (int i = 3; i < 5; ++i) EXPECT_EQ(batonStreamSynchronize(ws[i]), batonSuccess) << "waiter for " << values[i];
    EXPECT_EQ(semInfo(t).currentValue, 4u);
}

TEST_F(Semantics, WaitForValueZeroNeedsNoSignal) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t w = stream();
    ASSERT_FALSE(HasFailure());
    Log log;
    BATON_ASSERT_OK(wait(t, 0, w));
    BATON_ASSERT_OK(batonLaunchHostFunc(w, Log::hostFn, log.entry(1)));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    EXPECT_EQ(log.snapshot(), std::vector<int>{1});
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 0, 0), batonSuccess);
    EXPECT_EQ(semInfo(t).currentValue, 0u);
    EXPECT_EQ(semInfo(t).pendingValue, 0u);
}

TEST_F(Semantics, TimelineInitialValueSatisfiesWaits) {
    batonExternalSemaphore_t t = timeline(9);
    batonStream_t w = stream();
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(wait(t, 9, w));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 9, 0), batonSuccess);
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 10, 0), batonErrorTimeout);
}

TEST_F(Semantics, HostWaitTimesOut) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 1, 0), batonErrorTimeout);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 1, 20'000'000ull), batonErrorTimeout);
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, 19ms) << "the host wait gave up before its timeout";

    // A signal that is pending but held back does not end a wait either.
    Gate* g = gateStream(s);
    BATON_ASSERT_OK(signal(t, 1, s));
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 1, 20'000'000ull), batonErrorTimeout);
    g->open();
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 1, UINT64_MAX), batonSuccess);
    EXPECT_EQ(batonExternalSemaphoreHostWait(t, 2, 1'000'000ull), batonErrorTimeout);
}

// baton is stricter than Vulkan and CUDA: a timeline never moves backwards, and a refused
// signal leaves the semaphore as it was and usable.
TEST_F(Semantics, BackwardsAndEqualTimelineSignalsAreRefused) {
    batonExternalSemaphore_t t = timeline(3);
    batonStream_t s = stream(), w = stream();
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(signal(t, 3, s), batonErrorInvalidValue) << "equal to the current value";
    EXPECT_EQ(signal(t, 2, s), batonErrorInvalidValue) << "below the current value";
    EXPECT_EQ(signal(t, 0, s), batonErrorInvalidValue) << "zero";
    EXPECT_EQ(semInfo(t).currentValue, 3u);
    EXPECT_EQ(semInfo(t).pendingValue, 3u);

    // Against a pending (not yet reached) value as well.
    Gate* g = gateStream(s);
    BATON_ASSERT_OK(signal(t, 5, s));
    EXPECT_EQ(signal(t, 4, w), batonErrorInvalidValue) << "below a pending value";
    EXPECT_EQ(signal(t, 5, w), batonErrorInvalidValue) << "equal to a pending value";
    EXPECT_EQ(semInfo(t).currentValue, 3u);
    EXPECT_EQ(semInfo(t).pendingValue, 5u);
    // Within one call: the second signal of the same semaphore must exceed the first; the
    // whole call is refused and nothing of it is enqueued or reserved.
    batonExternalSemaphore_t pair[2] = {t, t};
    batonExternalSemaphoreSignalParams pp[2] = {signalParams(9), signalParams(8)};
    EXPECT_EQ(batonSignalExternalSemaphoresAsync(pair, pp, 2, w), batonErrorInvalidValue);
    EXPECT_EQ(semInfo(t).pendingValue, 5u) << "a refused call reserved a value";
    g->open();
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(t, 5, kLong));
    EXPECT_EQ(signal(t, 5, s), batonErrorInvalidValue);

    // Still usable: a higher value is accepted and waited for.
    BATON_ASSERT_OK(signal(t, 6, s));
    BATON_ASSERT_OK(wait(t, 6, w));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    EXPECT_EQ(semInfo(t).currentValue, 6u);
    // And a valid pair in one call: the last value wins.
    pp[0] = signalParams(7);
    pp[1] = signalParams(8);
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(pair, pp, 2, s));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(t, 8, kLong));
}

TEST_F(Semantics, GetInfoReportsCurrentAndPendingValues) {
    batonExternalSemaphore_t t = timeline(10);
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    batonExternalSemaphoreInfo i = semInfo(t);
    EXPECT_EQ(i.type, batonExternalSemaphoreHandleTypeTimelineSemaphoreFd);
    EXPECT_EQ(i.backend, info_.nativeSemaphoreFd ? batonSemaphoreBackendNative : batonSemaphoreBackendPortable);
    EXPECT_EQ(i.currentValue, 10u);
    EXPECT_EQ(i.pendingValue, 10u);
    if (i.backend == batonSemaphoreBackendPortable) {
        static const uint8_t zero[16] = {};
        EXPECT_NE(std::memcmp(i.id, zero, sizeof zero), 0) << "a portable semaphore has an identity";
    }
    Gate* g = gateStream(s);
    BATON_ASSERT_OK(signal(t, 12, s));
    i = semInfo(t);
    EXPECT_EQ(i.currentValue, 10u);
    EXPECT_EQ(i.pendingValue, 12u);
    g->open();
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    // Once the stream is synchronised its signal has taken effect: a user who reads the
    // value right after batonStreamSynchronize must see it.
    i = semInfo(t);
    EXPECT_EQ(i.currentValue, 12u);
    EXPECT_EQ(i.pendingValue, 12u);

    batonExternalSemaphore_t b = binary();
    ASSERT_FALSE(HasFailure());
    i = semInfo(b);
    EXPECT_EQ(i.type, batonExternalSemaphoreHandleTypeOpaqueFd);
    EXPECT_EQ(i.currentValue, 0u);
    BATON_ASSERT_OK(signal(b, 0, s));
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    EXPECT_EQ(semInfo(b).currentValue, 1u) << "binary: signaled once the signaling stream is synchronised";
}

// Two streams signal the same timeline; the one with the lower value is held back, so the
// signals reach the GPU out of value order. The timeline must never move backwards and
// baton's own submissions must stay valid (the validation layer watches them).
TEST_F(Semantics, TimelineSignalsFromTwoStreamsCompletingOutOfOrder) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t x = stream(), y = stream(), w = stream();
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(x);
    BATON_ASSERT_OK(signal(t, 5, x));
    BATON_ASSERT_OK(signal(t, 6, y));
    BATON_ASSERT_OK(batonStreamSynchronize(y));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(t, 6, kLong));
    BATON_ASSERT_OK(wait(t, 5, w));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    g->open();
    BATON_ASSERT_OK(batonStreamSynchronize(x));
    EXPECT_EQ(semInfo(t).currentValue, 6u);
    BATON_ASSERT_OK(signal(t, 7, x));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(t, 7, kLong));
}

// ---------------------------------------------------------------------------------------
// Binary semaphore semantics
// ---------------------------------------------------------------------------------------

TEST_F(Semantics, BinaryWaitConsumesTheSignal) {
    batonExternalSemaphore_t b = binary();
    batonStream_t s = stream(), w = stream();
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(signal(b, 0, s));
    BATON_ASSERT_OK(wait(b, 0, w));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    EXPECT_EQ(semInfo(b).currentValue, 0u) << "the wait must consume the signal";
    EXPECT_EQ(batonExternalSemaphoreHostWait(b, 0, 1'000'000ull), batonErrorTimeout);

    // A second wait blocks until a second signal.
    Log log;
    BATON_ASSERT_OK(wait(b, 0, w));
    BATON_ASSERT_OK(batonLaunchHostFunc(w, Log::hostFn, log.entry(1)));
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(batonStreamQuery(w), batonErrorNotReady) << "a consumed signal released a second wait";
    EXPECT_TRUE(log.snapshot().empty());
    BATON_ASSERT_OK(signal(b, 0, s));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    EXPECT_EQ(log.snapshot(), std::vector<int>{1});
    EXPECT_EQ(semInfo(b).currentValue, 0u);
}

TEST_F(Semantics, BinarySignaledTwiceBeforeAnyWaitIsSignaledOnce) {
    batonExternalSemaphore_t b = binary();
    batonStream_t s = stream(), w = stream();
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(signal(b, 0, s));
    BATON_ASSERT_OK(signal(b, 0, s));
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    EXPECT_EQ(semInfo(b).currentValue, 1u);
    BATON_ASSERT_OK(wait(b, 0, w));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
    EXPECT_EQ(semInfo(b).currentValue, 0u);
    BATON_ASSERT_OK(wait(b, 0, w));
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(batonStreamQuery(w), batonErrorNotReady) << "two signals before a wait counted twice";
    BATON_ASSERT_OK(signal(b, 0, s));
    BATON_ASSERT_OK(batonStreamSynchronize(w));
}

// Two streams wait on one binary semaphore: each signal releases exactly one of them.
TEST_F(Semantics, BinaryOneSignalReleasesOneWaiter) {
    batonExternalSemaphore_t b = binary();
    batonStream_t s = stream(), w1 = stream(), w2 = stream();
    ASSERT_FALSE(HasFailure());
    Log log;
    BATON_ASSERT_OK(wait(b, 0, w1));
    BATON_ASSERT_OK(batonLaunchHostFunc(w1, Log::hostFn, log.entry(1)));
    BATON_ASSERT_OK(wait(b, 0, w2));
    BATON_ASSERT_OK(batonLaunchHostFunc(w2, Log::hostFn, log.entry(2)));
    BATON_ASSERT_OK(signal(b, 0, s));
    ASSERT_TRUE(log.waitSize(1, 10s));
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(log.snapshot().size(), 1u) << "one signal released two binary waits";
    BATON_ASSERT_OK(signal(b, 0, s));
    BATON_ASSERT_OK(batonStreamSynchronize(w1));
    BATON_ASSERT_OK(batonStreamSynchronize(w2));
    auto entries = log.snapshot();
    std::sort(entries.begin(), entries.end());
    EXPECT_EQ(entries, (std::vector<int>{1, 2}));
}

// ---------------------------------------------------------------------------------------
// Host functions, events, default stream, contexts
// ---------------------------------------------------------------------------------------

struct Probe {
    HostBuffer* buf;
    uint32_t seen = 0;
};

// A host function runs after all prior GPU work on its stream (it sees what the GPU wrote)
// and before later work (the GPU sees what it wrote).
TEST_F(Semantics, HostFunctionsRunInStreamOrder) {
    HostBuffer* buf = buffer(16);
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    Log log;
    Probe probe{buf};
    BATON_ASSERT_OK(batonLaunchHostFunc(s, Log::hostFn, log.entry(1)));
    BATON_ASSERT_OK(recordOn(s, [&](VkCommandBuffer cb) {
        cmdFill(cb, *buf, 0, 1, 0xC0FFEEu);
        batontest::cmdHostReadBarrier(cb);
    }));
    BATON_ASSERT_OK(batonLaunchHostFunc(
        s,
        [](void* u) {
            auto* p = static_cast<Probe*>(u);
            p->seen = p->buf->words()[0];
            p->buf->words()[1] = 42;  // host write, before the next submission
        },
        &probe));
    BATON_ASSERT_OK(batonLaunchHostFunc(s, Log::hostFn, log.entry(2)));
    BATON_ASSERT_OK(recordOn(s, [&](VkCommandBuffer cb) {
        cmdCopy(cb, *buf, 1, 2, 1);
        batontest::cmdHostReadBarrier(cb);
    }));
    BATON_ASSERT_OK(batonLaunchHostFunc(s, Log::hostFn, log.entry(3)));
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    EXPECT_EQ(probe.seen, 0xC0FFEEu) << "the host function ran before the GPU work before it";
    EXPECT_EQ(buf->words()[2], 42u) << "the GPU work after the host function ran before it";
    EXPECT_EQ(log.snapshot(), (std::vector<int>{1, 2, 3}));
}

TEST_F(Semantics, EventQueryAndSynchronize) {
    batonStream_t s = stream();
    batonEvent_t ev = nullptr, never = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&ev));
    BATON_ASSERT_OK(batonEventCreate(&never));
    EXPECT_EQ(batonEventQuery(never), batonSuccess) << "an event never recorded counts as complete";
    Gate* g = gateStream(s);
    BATON_ASSERT_OK(batonEventRecord(ev, s));
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(batonEventQuery(ev), batonErrorNotReady);
    g->open();
    BATON_ASSERT_OK(batonEventSynchronize(ev));
    EXPECT_EQ(batonEventQuery(ev), batonSuccess);
    // Re-recording makes it pending again.
    g = gateStream(s);
    BATON_ASSERT_OK(batonEventRecord(ev, s));
    EXPECT_EQ(batonEventQuery(ev), batonErrorNotReady);
    g->open();
    BATON_ASSERT_OK(batonEventSynchronize(ev));
    BATON_ASSERT_OK(batonEventDestroy(ev));
    BATON_ASSERT_OK(batonEventDestroy(never));
    EXPECT_EQ(batonEventQuery(ev), batonErrorInvalidResourceHandle);
}

TEST_F(Semantics, EventElapsedTimeAroundRealWork) {
    constexpr size_t kWords = 4u << 20;  // 16 MiB, filled 8 times: measurable on any device
    HostBuffer* buf = buffer(kWords);
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    batonEvent_t start = nullptr, end = nullptr, unrecorded = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&start));
    BATON_ASSERT_OK(batonEventCreate(&end));
    BATON_ASSERT_OK(batonEventCreate(&unrecorded));
    float ms = -1;
    EXPECT_EQ(batonEventElapsedTime(&ms, start, unrecorded), batonErrorInvalidResourceHandle);

    Gate* g = gateStream(s);
    auto t0 = std::chrono::steady_clock::now();
    BATON_ASSERT_OK(batonEventRecord(start, s));
    for (uint32_t i = 0; i < 8; ++i)
        BATON_ASSERT_OK(recordOn(s, [&](VkCommandBuffer cb) {
            if (i) batontest::cmdTransferBarrier(cb);
            cmdFill(cb, *buf, 0, kWords, i);
        }));
    BATON_ASSERT_OK(batonEventRecord(end, s));
    EXPECT_EQ(batonEventElapsedTime(&ms, start, end), batonErrorNotReady);
    g->open();
    BATON_ASSERT_OK(batonEventSynchronize(end));
    double hostMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    BATON_ASSERT_OK(batonEventElapsedTime(&ms, start, end));
    EXPECT_GT(ms, 0.0f) << "128 MiB of fills took no GPU time: timestamps were not written";
    EXPECT_LE(ms, hostMs * 1.5 + 5) << "GPU time longer than the host time around it: wrong units";
    std::printf("elapsed: %.3f ms on the GPU, %.3f ms on the host (incl. the gate)\n", ms, hostMs);
    for (batonEvent_t e : {start, end, unrecorded}) BATON_ASSERT_OK(batonEventDestroy(e));
}

TEST_F(Semantics, StreamWaitEventAcrossStreams) {
    HostBuffer* buf = buffer(64);
    batonStream_t a = stream(), b = stream();
    ASSERT_FALSE(HasFailure());
    batonEvent_t ev = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&ev));
    Gate* g = gateStream(a);
    BATON_ASSERT_OK(recordOn(a, [&](VkCommandBuffer cb) { cmdFill(cb, *buf, 0, 32, 0xABu); }));
    BATON_ASSERT_OK(batonEventRecord(ev, a));
    BATON_ASSERT_OK(batonStreamWaitEvent(b, ev, 0));
    BATON_ASSERT_OK(recordOn(b, [&](VkCommandBuffer cb) {
        batontest::cmdBarrierAfterAnyWrite(cb);
        cmdCopy(cb, *buf, 0, 32, 32);
        batontest::cmdHostReadBarrier(cb);
    }));
    EXPECT_EQ(batonStreamWaitEvent(b, ev, 1), batonErrorInvalidValue) << "flags must be 0";
    std::this_thread::sleep_for(kSettle);
    EXPECT_EQ(batonStreamQuery(b), batonErrorNotReady);
    g->open();
    BATON_ASSERT_OK(batonStreamSynchronize(b));
    EXPECT_EQ(buf->firstMismatch(32, 32, 0xABu), SIZE_MAX) << "stream B ran before the event it waited for";
    BATON_ASSERT_OK(batonEventDestroy(ev));
}

// Objects deleted with work still pending on them: the calls succeed, nothing crashes, and
// the pending work still completes (deferred release).
TEST_F(Semantics, DestroyingASemaphoreAndAStreamWithPendingWork) {
    HostBuffer* buf = buffer(64);
    int fd = -1;
    batonExternalSemaphore_t t = timeline(0, &fd);
    batonExternalSemaphore_t gateSem = timeline();
    batonStream_t x = stream(), z = stream(), y = stream();
    ASSERT_FALSE(HasFailure());
    // A second handle on the same semaphore, to watch it after the first is destroyed.
    batonExternalSemaphoreHandleDesc hd{};
    hd.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    hd.handle.fd = dup(fd);
    batonExternalSemaphore_t watch = nullptr;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&watch, &hd));

    BATON_ASSERT_OK(wait(gateSem, 1, x));
    BATON_ASSERT_OK(recordOn(x, [&](VkCommandBuffer cb) {
        cmdFill(cb, *buf, 0, 64, 0x5Au);
        batontest::cmdHostReadBarrier(cb);
    }));
    BATON_ASSERT_OK(signal(t, 1, x));
    Log log;
    BATON_ASSERT_OK(wait(t, 1, z));
    BATON_ASSERT_OK(batonLaunchHostFunc(z, Log::hostFn, log.entry(1)));

    BATON_ASSERT_OK(batonDestroyExternalSemaphore(t));
    EXPECT_EQ(signal(t, 2, y), batonErrorInvalidResourceHandle) << "a destroyed semaphore was accepted";
    EXPECT_EQ(batonDestroyExternalSemaphore(t), batonErrorInvalidResourceHandle);

    // Release x from another thread a little later, while x is being destroyed.
    std::thread releaser([&] {
        std::this_thread::sleep_for(100ms);
        EXPECT_EQ(signal(gateSem, 1, y), batonSuccess) << batonGetLastErrorMessage();
    });
    EXPECT_EQ(batonStreamDestroy(x), batonSuccess);
    releaser.join();
    EXPECT_EQ(batonStreamQuery(x), batonErrorInvalidResourceHandle) << "a destroyed stream was accepted";
    EXPECT_EQ(batonExternalSemaphoreHostWait(watch, 1, kLong), batonSuccess) << "the destroyed stream's signal was lost";
    BATON_ASSERT_OK(batonStreamSynchronize(z));
    EXPECT_EQ(log.snapshot(), std::vector<int>{1}) << "the wait on the destroyed semaphore never completed";
    EXPECT_EQ(buf->firstMismatch(0, 64, 0x5Au), SIZE_MAX) << "the destroyed stream's work did not run";
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(watch));
}

// A stream destroyed while its work waits on a semaphore that is destroyed too: the last
// references go with the work, and nothing is left blocked.
TEST_F(Semantics, DestroyingEverythingWhileAWaitIsPending) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t x = stream(), y = stream();
    ASSERT_FALSE(HasFailure());
    Log log;
    BATON_ASSERT_OK(wait(t, 1, x));
    BATON_ASSERT_OK(batonLaunchHostFunc(x, Log::hostFn, log.entry(1)));
    BATON_ASSERT_OK(signal(t, 1, y));  // enqueued, then its handle goes away
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(t));
    BATON_ASSERT_OK(batonStreamDestroy(x));
    BATON_ASSERT_OK(batonStreamDestroy(y));
    EXPECT_EQ(log.snapshot(), std::vector<int>{1});
}

TEST_F(Semantics, DeviceSynchronizeWaitsForEveryStream) {
    batonExternalSemaphore_t g = timeline();
    batonStream_t ws[3];
    for (auto& w : ws) w = stream();
    batonStream_t releaserStream = stream();
    ASSERT_FALSE(HasFailure());
    Log log;
    for (int i = 0; i < 3; ++i) {
        BATON_ASSERT_OK(wait(g, 1, ws[i]));
        BATON_ASSERT_OK(batonLaunchHostFunc(ws[i], Log::hostFn, log.entry(i)));
    }
    BATON_ASSERT_OK(wait(g, 1, nullptr));  // the default stream counts too
    BATON_ASSERT_OK(batonLaunchHostFunc(nullptr, Log::hostFn, log.entry(3)));
    std::thread releaser([&] {
        std::this_thread::sleep_for(100ms);
        EXPECT_EQ(signal(g, 1, releaserStream), batonSuccess) << batonGetLastErrorMessage();
    });
    EXPECT_EQ(batonDeviceSynchronize(), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(log.snapshot().size(), 4u) << "batonDeviceSynchronize returned before every stream finished";
    releaser.join();
}

// The default stream (NULL) of the default context: no setup at all, as in CUDA.
TEST(DefaultStream, WorksWithNoSetup) {
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    HostBuffer buf;
    ASSERT_EQ(buf.create(nullptr, 16), VK_SUCCESS);
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t t = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &t, &d));
    Log log;
    BATON_ASSERT_OK(recordOn(nullptr, [&](VkCommandBuffer cb) {
        cmdFill(cb, buf, 0, 16, 7u);
        batontest::cmdHostReadBarrier(cb);
    }));
    BATON_ASSERT_OK(signal(t, 1, nullptr));
    BATON_ASSERT_OK(wait(t, 1, nullptr));
    BATON_ASSERT_OK(batonLaunchHostFunc(nullptr, Log::hostFn, log.entry(1)));
    BATON_ASSERT_OK(batonStreamSynchronize(nullptr));
    EXPECT_EQ(buf.firstMismatch(0, 16, 7u), SIZE_MAX);
    EXPECT_EQ(log.snapshot(), std::vector<int>{1});
    EXPECT_EQ(batonStreamQuery(nullptr), batonSuccess);
    EXPECT_EQ(batonStreamDestroy(nullptr), batonSuccess) << "destroying the default stream is a no-op";
    BATON_ASSERT_OK(batonStreamSynchronize(nullptr));
    BATON_ASSERT_OK(batonDeviceSynchronize());
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(t));
    close(fd);
}

// Explicit contexts: the current context decides where new objects live; objects of one
// context are refused with the streams of another; a semaphore exported in one context and
// imported in another (same process) connects them; destroying a context invalidates its
// handles only.
TEST(ExplicitContexts, CurrentContextAndCrossContextUse) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t a = nullptr, b = nullptr, cur = nullptr, def = nullptr;
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonCtxGetCurrent(&def));
    BATON_ASSERT_OK(batonContextCreate(&a, &ci));
    BATON_ASSERT_OK(batonContextCreate(&b, &ci));
    EXPECT_NE(a, b);
    BATON_ASSERT_OK(batonCtxGetCurrent(&cur));
    EXPECT_EQ(cur, def) << "creating a context must not make it current";
    batonContextInfo ia{}, ib{};
    BATON_ASSERT_OK(batonContextGetInfo(a, &ia));
    BATON_ASSERT_OK(batonContextGetInfo(b, &ib));
    EXPECT_NE(ia.device, ib.device);

    BATON_ASSERT_OK(batonCtxSetCurrent(a));
    BATON_ASSERT_OK(batonCtxGetCurrent(&cur));
    EXPECT_EQ(cur, a);
    batonStream_t sa = nullptr;
    batonEvent_t ea = nullptr;
    batonExternalSemaphore_t ta = nullptr;
    int fd = -1;
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    BATON_ASSERT_OK(batonStreamCreate(&sa));
    BATON_ASSERT_OK(batonEventCreate(&ea));
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &ta, &d));

    BATON_ASSERT_OK(batonCtxSetCurrent(b));
    batonStream_t sb = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&sb));
    EXPECT_EQ(signal(ta, 1, sb), batonErrorInvalidResourceHandle) << "a semaphore of A on a stream of B";
    EXPECT_EQ(wait(ta, 1, sb), batonErrorInvalidResourceHandle) << "a semaphore of A on a stream of B";
    EXPECT_EQ(signal(ta, 1, nullptr), batonErrorInvalidResourceHandle) << "a semaphore of A on B's default stream";
    EXPECT_EQ(batonEventRecord(ea, sb), batonErrorInvalidResourceHandle) << "an event of A on a stream of B";
    EXPECT_EQ(batonStreamWaitEvent(sb, ea, 0), batonErrorInvalidResourceHandle);
    EXPECT_EQ(semInfo(ta).pendingValue, 0u) << "a refused signal reserved a value";

    // The same semaphore imported into B: A signals, B waits.
    batonExternalSemaphoreHandleDesc hd{};
    hd.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    hd.handle.fd = fd;
    batonExternalSemaphore_t tb = nullptr;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&tb, &hd));  // takes fd
    if (semInfo(ta).backend == batonSemaphoreBackendPortable) {
        EXPECT_EQ(std::memcmp(semInfo(ta).id, semInfo(tb).id, 16), 0) << "one shared object, one identity";
    }
    BATON_ASSERT_OK(wait(tb, 1, sb));
    BATON_ASSERT_OK(signal(ta, 1, sa));
    BATON_ASSERT_OK(batonStreamSynchronize(sb));
    EXPECT_EQ(semInfo(tb).currentValue, 1u);

    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonCtxGetCurrent(&cur));
    EXPECT_EQ(cur, def) << "NULL makes the default context current again";

    BATON_ASSERT_OK(batonContextDestroy(a));
    EXPECT_EQ(batonStreamQuery(sa), batonErrorInvalidResourceHandle) << "a stream of a destroyed context";
    EXPECT_EQ(batonEventQuery(ea), batonErrorInvalidResourceHandle) << "an event of a destroyed context";
    EXPECT_EQ(batonDestroyExternalSemaphore(ta), batonErrorInvalidResourceHandle);
    EXPECT_EQ(batonCtxSetCurrent(a), batonErrorInvalidResourceHandle);
    EXPECT_EQ(batonContextDestroy(a), batonErrorInvalidResourceHandle);
    // B's handle on the shared semaphore outlives A.
    BATON_ASSERT_OK(signal(tb, 2, sb));
    BATON_ASSERT_OK(batonStreamSynchronize(sb));
    EXPECT_EQ(batonExternalSemaphoreHostWait(tb, 2, kLong), batonSuccess);
    BATON_ASSERT_OK(batonContextDestroy(b));
}

}  // namespace
