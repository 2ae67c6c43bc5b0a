// Stress KEYED_TIMEOUT (issue 10): one keyed-mutex handle's acquires complete on different
// streams' threads in any order; an earlier acquire that completes after a later one timed
// out must not erase that later failure (the handle's next acquire would be refused).
// Public API only; deterministic: host-function gates order the streams.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <unistd.h>

#include "baton_test.h"

namespace {

using namespace std::chrono_literals;

struct Gate {
    std::atomic<bool> open{false};
    std::atomic<bool> reached{false};
};

void gateFn(void* u) {
    auto* g = static_cast<Gate*>(u);
    g->reached.store(true);
    // Bounded: a test that never opens the gate fails instead of hanging the stream.
    for (int i = 0; i < 10000 && !g->open.load(); ++i) std::this_thread::sleep_for(1ms);
}

batonError_t acquire(batonExternalSemaphore_t m, unsigned long long key, unsigned timeoutMs, batonStream_t s) {
    batonExternalSemaphoreWaitParams p{};
    p.params.keyedMutex.key = key;
    p.params.keyedMutex.timeoutMs = timeoutMs;
    return batonWaitExternalSemaphoresAsync(&m, &p, 1, s);
}

batonError_t release(batonExternalSemaphore_t m, unsigned long long key, batonStream_t s) {
    batonExternalSemaphoreSignalParams p{};
    p.params.keyedMutex.key = key;
    return batonSignalExternalSemaphoresAsync(&m, &p, 1, s);
}

bool waitFor(const std::atomic<bool>& flag) {
    for (int i = 0; i < 10000 && !flag.load(); ++i) std::this_thread::sleep_for(1ms);
    return flag.load();
}

TEST(KeyedTickets, LateEarlierAcquireKeepsALaterTimeout) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    d.initialKey = 0;
    int fd = -1;
    batonExternalSemaphore_t m = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &m, &d));
    batonStream_t s1 = nullptr, s2 = nullptr, s3 = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s1));
    BATON_ASSERT_OK(batonStreamCreate(&s2));
    BATON_ASSERT_OK(batonStreamCreate(&s3));

    Gate first, second;
    // s1: acquire(0) held back behind a gate, its release(1) behind a second one.
    BATON_ASSERT_OK(batonLaunchHostFunc(s1, gateFn, &first));
    BATON_ASSERT_OK(acquire(m, 0, BATON_INFINITE, s1));
    BATON_ASSERT_OK(batonLaunchHostFunc(s1, gateFn, &second));
    BATON_ASSERT_OK(release(m, 1, s1));
    // s2: an acquire of a key nobody releases (it never could: nothing holds key 99).
    BATON_ASSERT_OK(acquire(m, 99, 2, s2));
    EXPECT_EQ(batonStreamSynchronize(s2), batonErrorTimeout);
    // s1's acquire completes now, after s2's timed out; its release is still held back.
    first.open.store(true);
    ASSERT_TRUE(waitFor(second.reached)) << "s1 never got past its acquire";
    // The timed-out acquire ended without a hold: the handle may acquire again (key 1,
    // which s1's release hands over once the second gate opens).
    EXPECT_EQ(acquire(m, 1, 5000, s3), batonSuccess);
    second.open.store(true);
    EXPECT_EQ(batonStreamSynchronize(s1), batonSuccess);
    EXPECT_EQ(batonStreamSynchronize(s3), batonSuccess);
    EXPECT_EQ(release(m, 0, s3), batonSuccess);
    EXPECT_EQ(batonStreamSynchronize(s3), batonSuccess);

    first.open.store(true);
    second.open.store(true);
    EXPECT_EQ(batonStreamDestroy(s1), batonSuccess);
    EXPECT_EQ(batonStreamDestroy(s2), batonSuccess);
    EXPECT_EQ(batonStreamDestroy(s3), batonSuccess);
    EXPECT_EQ(batonDestroyExternalSemaphore(m), batonSuccess);
    close(fd);
}

}  // namespace
