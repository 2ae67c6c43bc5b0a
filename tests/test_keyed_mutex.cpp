// Keyed mutex in one process: two handles of one mutex (export + import), acquired and
// released on streams. Semantics, timeouts, misuse and abandonment. The cross-process
// cases are in test_handoff.cpp.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <unistd.h>

#include <baton/baton.h>
#include <gtest/gtest.h>

#include "baton_test.h"

namespace {

using namespace std::chrono_literals;

batonExternalSemaphoreWaitParams acquireParams(unsigned long long key, unsigned timeoutMs) {
    batonExternalSemaphoreWaitParams p{};
    p.params.keyedMutex.key = key;
    p.params.keyedMutex.timeoutMs = timeoutMs;
    return p;
}

batonExternalSemaphoreSignalParams releaseParams(unsigned long long key) {
    batonExternalSemaphoreSignalParams p{};
    p.params.keyedMutex.key = key;
    return p;
}

batonError_t acquire(batonExternalSemaphore_t m, unsigned long long key, unsigned timeoutMs, batonStream_t s) {
    auto p = acquireParams(key, timeoutMs);
    return batonWaitExternalSemaphoresAsync(&m, &p, 1, s);
}

batonError_t release(batonExternalSemaphore_t m, unsigned long long key, batonStream_t s) {
    auto p = releaseParams(key);
    return batonSignalExternalSemaphoresAsync(&m, &p, 1, s);
}

// Two handles of one keyed mutex and two streams, torn down (and checked for fd leaks) after.
class KeyedMutexTest : public ::testing::Test {
protected:
    void SetUp() override {
        batonContext_t ctx = nullptr;
        BATON_ASSERT_OK(batonCtxGetCurrent(&ctx));  // the default context's fds count as before
        fdsBefore_ = batontest::openFdCount();
        batonExternalSemaphoreExportDesc d{};
        d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
        d.initialKey = 0;
        int fd = -1;
        BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &a, &d));
        batonExternalSemaphoreHandleDesc h{};
        h.type = batonExternalSemaphoreHandleTypeKeyedMutex;
        h.handle.fd = fd;
        BATON_ASSERT_OK(batonImportExternalSemaphore(&b, &h));  // takes fd
        BATON_ASSERT_OK(batonStreamCreate(&s1));
        BATON_ASSERT_OK(batonStreamCreate(&s2));
    }
    void TearDown() override {
        EXPECT_EQ(batonStreamDestroy(s1), batonSuccess);
        EXPECT_EQ(batonStreamDestroy(s2), batonSuccess);
        EXPECT_EQ(batonDestroyExternalSemaphore(a), batonSuccess);
        EXPECT_EQ(batonDestroyExternalSemaphore(b), batonSuccess);
        // The default context and its threads stay; the handles' memfds and proxies must not.
        EXPECT_EQ(batontest::openFdCount(), fdsBefore_);
    }
    batonExternalSemaphore_t a = nullptr, b = nullptr;
    batonStream_t s1 = nullptr, s2 = nullptr;
    int fdsBefore_ = 0;
};

TEST_F(KeyedMutexTest, InfoShowsKindKeyAndHolder) {
    batonExternalSemaphoreInfo ia{}, ib{};
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(a, &ia));
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(b, &ib));
    EXPECT_EQ(ia.type, batonExternalSemaphoreHandleTypeKeyedMutex);
    EXPECT_EQ(ia.backend, batonSemaphoreBackendPortable);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(ia.id), 16), std::string(reinterpret_cast<char*>(ib.id), 16));
    EXPECT_EQ(ia.currentValue, 0u);  // the key it is released with
    EXPECT_EQ(ia.pendingValue, 0u);  // not held
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(b, &ib));
    EXPECT_EQ(ib.pendingValue, 1u);
    BATON_ASSERT_OK(release(a, 7, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    // The release is published by the publisher thread once the GPU passed it: wait for it.
    for (int i = 0; i < 1000 && ib.pendingValue != 0; ++i) {
        std::this_thread::sleep_for(1ms);
        BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(b, &ib));
    }
    EXPECT_EQ(ib.pendingValue, 0u);
    EXPECT_EQ(ib.currentValue, 7u);
}

// D3D11's pattern on two streams, all enqueued up front: host functions run while each side
// holds the mutex and must never overlap, and must alternate A B A B.
TEST_F(KeyedMutexTest, PingPongIsMutuallyExclusiveAndAlternates) {
    constexpr int kRounds = 200;
    struct Log {
        std::atomic<int> inside{0};
        std::atomic<int> overlaps{0};
        std::string order;
        std::mutex m;
    } log;
    struct Side {
        Log* log;
        char name;
    } sa{&log, 'A'}, sb{&log, 'B'};
    auto critical = [](void* u) {
        auto* s = static_cast<Side*>(u);
        if (s->log->inside.fetch_add(1) != 0) s->log->overlaps.fetch_add(1);
        {
            std::lock_guard l(s->log->m);
            s->log->order.push_back(s->name);
        }
        std::this_thread::yield();
        s->log->inside.fetch_sub(1);
    };
    std::thread tb([&] {
        for (int i = 0; i < kRounds; ++i) {
            ASSERT_EQ(acquire(b, 1, BATON_INFINITE, s2), batonSuccess) << batonGetLastErrorMessage();
            ASSERT_EQ(batonLaunchHostFunc(s2, critical, &sb), batonSuccess);
            ASSERT_EQ(release(b, 0, s2), batonSuccess) << batonGetLastErrorMessage();
        }
    });
    for (int i = 0; i < kRounds; ++i) {
        BATON_ASSERT_OK(acquire(a, 0, BATON_INFINITE, s1));
        BATON_ASSERT_OK(batonLaunchHostFunc(s1, critical, &sa));
        BATON_ASSERT_OK(release(a, 1, s1));
    }
    tb.join();
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
    EXPECT_EQ(log.overlaps.load(), 0);
    std::string expected;
    for (int i = 0; i < kRounds; ++i) expected += "AB";
    EXPECT_EQ(log.order, expected);
}

TEST_F(KeyedMutexTest, FiniteTimeoutIsReportedOnceAndTheStreamGoesOn) {
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));  // a holds it
    BATON_ASSERT_OK(acquire(b, 0, 30, s2));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(batonStreamSynchronize(s2), batonErrorTimeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);  // it did wait (lower bound only)
    EXPECT_EQ(batonStreamSynchronize(s2), batonSuccess);     // reported once
    // The failed acquire left b without a hold: it may acquire again; a still holds.
    BATON_ASSERT_OK(release(a, 0, s1));
    BATON_ASSERT_OK(acquire(b, 0, BATON_INFINITE, s2));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
    BATON_ASSERT_OK(release(b, 0, s2));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
}

TEST_F(KeyedMutexTest, TimeoutIsReportedByTheNextCallWhichEnqueuesNothing) {
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    BATON_ASSERT_OK(acquire(b, 5, 200, s2));  // key 5 is never released: fails after 200 ms
    // Work behind a failed acquire still runs (a stream does not retract work); this host
    // function tells us the stream got past the failure without consuming the error.
    std::atomic<int> reached{0}, ran{0};
    auto bump = [](void* u) { static_cast<std::atomic<int>*>(u)->fetch_add(1); };
    BATON_ASSERT_OK(batonLaunchHostFunc(s2, bump, &reached));
    while (reached.load() == 0) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(batonLaunchHostFunc(s2, bump, &ran), batonErrorTimeout);
    BATON_ASSERT_OK(batonStreamSynchronize(s2));  // reported once, by that call
    EXPECT_EQ(ran.load(), 0);                     // and that call enqueued nothing
    BATON_ASSERT_OK(release(a, 0, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
}

TEST_F(KeyedMutexTest, ZeroTimeoutSucceedsWhenAvailable) {
    BATON_ASSERT_OK(acquire(a, 0, 0, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    BATON_ASSERT_OK(acquire(b, 0, 0, s2));  // held by a
    EXPECT_EQ(batonStreamSynchronize(s2), batonErrorTimeout);
    BATON_ASSERT_OK(release(a, 3, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    // Released with 3 once the publisher got there; then a zero-timeout acquire of 3 succeeds.
    batonError_t e = batonErrorTimeout;
    for (int i = 0; i < 1000 && e == batonErrorTimeout; ++i) {
        BATON_ASSERT_OK(acquire(b, 3, 0, s2));
        e = batonStreamSynchronize(s2);
        if (e == batonErrorTimeout) std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(e, batonSuccess);
    BATON_ASSERT_OK(release(b, 0, s2));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
}

TEST_F(KeyedMutexTest, InfiniteWaitsForALaterRelease) {
    BATON_ASSERT_OK(acquire(b, 1, BATON_INFINITE, s2));  // released with 0 now: waits
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(batonStreamQuery(s2), batonErrorNotReady);
    BATON_ASSERT_OK(acquire(a, 0, BATON_INFINITE, s1));
    BATON_ASSERT_OK(release(a, 1, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
    BATON_ASSERT_OK(release(b, 0, s2));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
}

TEST_F(KeyedMutexTest, AcquireTwiceIsRefusedAtEnqueue) {
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    EXPECT_EQ(acquire(a, 0, 1000, s1), batonErrorIllegalState);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("AcquireSync twice"), std::string::npos);
    EXPECT_EQ(acquire(a, 0, 1000, s2), batonErrorIllegalState);  // on any stream
    BATON_ASSERT_OK(batonStreamSynchronize(s1));  // the refused call enqueued nothing: no hang
    BATON_ASSERT_OK(release(a, 0, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
}

TEST_F(KeyedMutexTest, ReleaseWithoutAcquireIsRefusedAtEnqueue) {
    EXPECT_EQ(release(a, 0, s1), batonErrorIllegalState);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("no acquire"), std::string::npos);
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    BATON_ASSERT_OK(release(a, 0, s1));
    EXPECT_EQ(release(a, 0, s1), batonErrorIllegalState);  // released twice
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    // b never acquired: it may not release what a holds.
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    EXPECT_EQ(release(b, 0, s1), batonErrorIllegalState);
    BATON_ASSERT_OK(release(a, 0, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
}

TEST_F(KeyedMutexTest, ReleaseOnAnotherStreamIsRefused) {
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    EXPECT_EQ(release(a, 0, s2), batonErrorIllegalState);
    BATON_ASSERT_OK(release(a, 0, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
}

TEST_F(KeyedMutexTest, SameHandleTwiceInOneCallIsRefusedAndUndone) {
    batonExternalSemaphore_t two[2] = {a, a};
    batonExternalSemaphoreWaitParams p[2] = {acquireParams(0, 1000), acquireParams(0, 1000)};
    EXPECT_EQ(batonWaitExternalSemaphoresAsync(two, p, 2, s1), batonErrorIllegalState);
    // Nothing was taken: a single acquire and its release work.
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    BATON_ASSERT_OK(release(a, 0, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
}

TEST_F(KeyedMutexTest, ReleaseAfterAFailedAcquireIsANoOp) {
    BATON_ASSERT_OK(acquire(a, 0, 1000, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    BATON_ASSERT_OK(acquire(b, 0, 10, s2));
    BATON_ASSERT_OK(release(b, 9, s2));  // enqueued before the failure was known
    EXPECT_EQ(batonStreamSynchronize(s2), batonErrorTimeout);
    // b's release did nothing: a still holds it, and it is not released with 9.
    batonExternalSemaphoreInfo info{};
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(a, &info));
    EXPECT_EQ(info.pendingValue, 1u);
    EXPECT_EQ(info.currentValue, 0u);
    BATON_ASSERT_OK(release(a, 0, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
}

TEST_F(KeyedMutexTest, DestroyingTheHolderAbandonsTheMutex) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    d.initialKey = 4;
    int fd = -1;
    batonExternalSemaphore_t holder = nullptr, other = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &holder, &d));
    batonExternalSemaphoreHandleDesc h{};
    h.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    h.handle.fd = fd;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&other, &h));
    BATON_ASSERT_OK(acquire(holder, 4, 1000, s1));
    BATON_ASSERT_OK(batonStreamSynchronize(s1));
    BATON_ASSERT_OK(acquire(other, 8, 5000, s2));  // a key nobody will release with
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(holder));
    EXPECT_EQ(batonStreamSynchronize(s2), batonErrorKeyedMutexAbandoned);
    // The acquirer owns it now and goes on.
    batonExternalSemaphoreInfo info{};
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(other, &info));
    EXPECT_EQ(info.pendingValue, 1u);
    BATON_ASSERT_OK(release(other, 2, s2));
    BATON_ASSERT_OK(acquire(other, 2, 5000, s2));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
    BATON_ASSERT_OK(release(other, 2, s2));
    BATON_ASSERT_OK(batonStreamSynchronize(s2));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(other));
}

// A context destroyed while one of its streams waits forever on a keyed mutex: the wait is
// abandoned (cancelled), nothing hangs, and the destroyed handle holds nothing.
TEST(KeyedMutexContext, DestroyingTheContextCancelsAPendingAcquire) {
    alarm(60);  // a hang fails the test instead of the CTest run
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&ctx, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(ctx));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    int fd = -1;
    batonExternalSemaphore_t m = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &m, &d));
    batonStream_t st = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&st));
    BATON_ASSERT_OK(acquire(m, 9, BATON_INFINITE, st));  // nobody ever releases with 9
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(batonStreamQuery(st), batonErrorNotReady);
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonContextDestroy(ctx));
    alarm(0);
    // The mutex itself lives on in the fd: released with 0, held by nobody.
    batonExternalSemaphoreHandleDesc h{};
    h.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    h.handle.fd = fd;
    batonExternalSemaphore_t again = nullptr;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&again, &h));
    batonExternalSemaphoreInfo info{};
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(again, &info));
    EXPECT_EQ(info.pendingValue, 0u);
    EXPECT_EQ(info.currentValue, 0u);
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(again));
}

TEST(KeyedMutexDesc, ExportAndImportValidation) {
    int fd = -1;
    batonExternalSemaphore_t m = nullptr;
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    d.initialValue = 3;
    EXPECT_EQ(batonExportExternalSemaphore(&fd, &m, &d), batonErrorInvalidValue);
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.initialValue = 0;
    d.initialKey = 3;
    EXPECT_EQ(batonExportExternalSemaphore(&fd, &m, &d), batonErrorInvalidValue);
    d.type = batonExternalSemaphoreHandleTypeKeyedMutexKmt;
    d.initialKey = 0;
    EXPECT_EQ(batonExportExternalSemaphore(&fd, &m, &d), batonErrorNotSupported);

    // A keyed mutex fd is not a timeline, and a timeline fd is not a keyed mutex.
    d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &m, &d));
    batonExternalSemaphoreHandleDesc h{};
    h.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    h.handle.fd = fd;
    batonExternalSemaphore_t wrong = nullptr;
    EXPECT_EQ(batonImportExternalSemaphore(&wrong, &h), batonErrorWrongKind);
    EXPECT_TRUE(batontest::fdIsOpen(fd));
    h.type = batonExternalSemaphoreHandleTypeOpaqueFd;
    EXPECT_EQ(batonImportExternalSemaphore(&wrong, &h), batonErrorWrongKind);
    EXPECT_TRUE(batontest::fdIsOpen(fd));
    // Kmt is Windows-only whatever the descriptor.
    batonExternalSemaphoreHandleDesc kmt{};
    kmt.type = batonExternalSemaphoreHandleTypeKeyedMutexKmt;
    int dummy = 1;
    kmt.handle.win32.handle = &dummy;
    EXPECT_EQ(batonImportExternalSemaphore(&wrong, &kmt), batonErrorNotSupported);
    // Host waits and renderer submits are for timelines.
    EXPECT_EQ(batonExternalSemaphoreHostWait(m, 0, 0), batonErrorNotSupported);
    VkSemaphoreSubmitInfo si{};
    EXPECT_EQ(batonGetWaitSubmitInfo(m, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &si), batonErrorNotSupported);
    EXPECT_EQ(batonGetSignalSubmitInfo(m, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &si), batonErrorNotSupported);
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(m));
    close(fd);

    batonExternalSemaphoreExportDesc t{};
    t.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    t.flags = batonExportFlagPortable;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &m, &t));
    h.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    h.handle.fd = fd;
    EXPECT_EQ(batonImportExternalSemaphore(&wrong, &h), batonErrorWrongKind);
    EXPECT_TRUE(batontest::fdIsOpen(fd));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(m));
    close(fd);
}

}  // namespace
