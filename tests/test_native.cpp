// The native backend: driver opaque-fd semaphores shared between two VkDevices. Runs where
// the driver exports semaphore fds (the NVIDIA GPU machine); skipped, saying why, on lavapipe.
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "baton_test.h"

namespace {

struct TwoDevices : ::testing::Test {
    batonContext_t a = nullptr, b = nullptr;
    batonStream_t sa = nullptr, sb = nullptr;
    void SetUp() override {
        batonContextCreateInfo ci = batontest::contextCreateInfo();
        BATON_ASSERT_OK(batonContextCreate(&a, &ci));
        batonContextInfo info{};
        BATON_ASSERT_OK(batonContextGetInfo(a, &info));
        if (!info.nativeSemaphoreFd)
            GTEST_SKIP() << info.deviceName << " exports no semaphore fds (lavapipe): the native backend needs a GPU driver";
        BATON_ASSERT_OK(batonContextCreate(&b, &ci));
        BATON_ASSERT_OK(batonCtxSetCurrent(a));
        BATON_ASSERT_OK(batonStreamCreate(&sa));
        BATON_ASSERT_OK(batonCtxSetCurrent(b));
        BATON_ASSERT_OK(batonStreamCreate(&sb));
    }
    void TearDown() override {
        batonCtxSetCurrent(nullptr);
        batonContextDestroy(a);
        batonContextDestroy(b);
    }
    // Exports a semaphore in `from`, imports it into `to`.
    void share(batonContext_t from, batonContext_t to, batonExternalSemaphoreHandleType type,
               batonExternalSemaphore_t* exported, batonExternalSemaphore_t* imported) {
        batonExternalSemaphoreExportDesc d{};
        d.type = type;
        int fd = -1;
        BATON_ASSERT_OK(batonCtxSetCurrent(from));
        auto t0 = std::chrono::steady_clock::now();
        BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, exported, &d));
        auto t1 = std::chrono::steady_clock::now();
        batonExternalSemaphoreInfo info{};
        BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(*exported, &info));
        EXPECT_EQ(info.backend, batonSemaphoreBackendNative);
        BATON_ASSERT_OK(batonCtxSetCurrent(to));
        batonExternalSemaphoreHandleDesc h{};
        h.type = type;
        h.handle.fd = fd;
        BATON_ASSERT_OK(batonImportExternalSemaphore(imported, &h));
        auto t2 = std::chrono::steady_clock::now();
        std::printf("figure: native %s export %.0f us, checked import %.0f us\n",
                    type == batonExternalSemaphoreHandleTypeOpaqueFd ? "binary" : "timeline",
                    std::chrono::duration<double, std::micro>(t1 - t0).count(),
                    std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
};

batonExternalSemaphoreSignalParams signalOf(unsigned long long v) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = v;
    return p;
}
batonExternalSemaphoreWaitParams waitOf(unsigned long long v) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = v;
    return p;
}

TEST_F(TwoDevices, TimelinePingPong) {
    batonExternalSemaphore_t ta = nullptr, tb = nullptr;
    share(a, b, batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, &ta, &tb);
    constexpr unsigned long long kRounds = 1000;
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned long long i = 0; i < kRounds; ++i) {
        auto s1 = signalOf(2 * i + 1), s2 = signalOf(2 * i + 2);
        auto w1 = waitOf(2 * i + 1), w2 = waitOf(2 * i + 2);
        BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&ta, &s1, 1, sa));
        BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&tb, &w1, 1, sb));
        BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&tb, &s2, 1, sb));
        BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&ta, &w2, 1, sa));
    }
    BATON_ASSERT_OK(batonStreamSynchronize(sa));
    BATON_ASSERT_OK(batonStreamSynchronize(sb));
    auto t1 = std::chrono::steady_clock::now();
    batonExternalSemaphoreInfo ia{}, ib{};
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(ta, &ia));
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(tb, &ib));
    EXPECT_EQ(ia.currentValue, 2 * kRounds);
    EXPECT_EQ(ib.currentValue, 2 * kRounds);
    std::printf("figure: native timeline ping-pong between two VkDevices: %.1f us per round trip\n",
                std::chrono::duration<double, std::micro>(t1 - t0).count() / kRounds);
    // Stricter than the driver: a value at or below the current one is refused on both sides.
    auto back = signalOf(2 * kRounds);
    EXPECT_EQ(batonSignalExternalSemaphoresAsync(&tb, &back, 1, sb), batonErrorInvalidValue);
    EXPECT_EQ(batonSignalExternalSemaphoresAsync(&ta, &back, 1, sa), batonErrorInvalidValue);
}

TEST_F(TwoDevices, BinaryHandoff) {
    batonExternalSemaphore_t ba = nullptr, bb = nullptr, ca = nullptr, cb = nullptr;
    share(a, b, batonExternalSemaphoreHandleTypeOpaqueFd, &ba, &bb);  // a -> b
    share(b, a, batonExternalSemaphoreHandleTypeOpaqueFd, &cb, &ca);  // b -> a
    batonExternalSemaphoreSignalParams s{};
    batonExternalSemaphoreWaitParams w{};
    for (int i = 0; i < 200; ++i) {
        // Vulkan requires a binary wait to be submitted after its signal: synchronise first.
        BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&ba, &s, 1, sa));
        BATON_ASSERT_OK(batonStreamSynchronize(sa));
        BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&bb, &w, 1, sb));
        BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&cb, &s, 1, sb));
        BATON_ASSERT_OK(batonStreamSynchronize(sb));
        BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&ca, &w, 1, sa));
    }
    BATON_ASSERT_OK(batonStreamSynchronize(sa));
    BATON_ASSERT_OK(batonStreamSynchronize(sb));
}

// NVIDIA's semaphore fds are opens of /dev/nvidiactl. A plain open of that device passes every
// fstat check, so baton must find out out-of-process; the driver in this process never sees it,
// which is proven by exporting and importing successfully afterwards.
TEST_F(TwoDevices, NvidiaControlFdThatIsNotASemaphoreIsRefused) {
    batonContextInfo info{};
    BATON_ASSERT_OK(batonContextGetInfo(a, &info));
    if (info.vendorID != 0x10de) GTEST_SKIP() << "only NVIDIA's semaphore fds are /dev/nvidiactl opens";
    int fd = open("/dev/nvidiactl", O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    BATON_ASSERT_OK(batonCtxSetCurrent(a));
    for (auto type : {batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, batonExternalSemaphoreHandleTypeOpaqueFd}) {
        batonExternalSemaphoreHandleDesc h{};
        h.type = type;
        h.handle.fd = fd;
        batonExternalSemaphore_t sem = nullptr;
        EXPECT_EQ(batonImportExternalSemaphore(&sem, &h), batonErrorInvalidResourceHandle) << batonGetLastErrorMessage();
        EXPECT_TRUE(batontest::fdIsOpen(fd));
    }
    close(fd);
    batonExternalSemaphore_t x = nullptr, y = nullptr;
    share(a, b, batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, &x, &y);
    auto s1 = signalOf(1);
    auto w1 = waitOf(1);
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&x, &s1, 1, sa));
    BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&y, &w1, 1, sb));
    BATON_ASSERT_OK(batonStreamSynchronize(sb));
}

}  // namespace
