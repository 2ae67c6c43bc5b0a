// Hostile peers (issue 10, part 3; defect 8): another real process (page_writer) maps a
// portable semaphore's or keyed mutex's shared page, as any importer can, and writes what it
// likes. The victim (this process, through the public API) must never crash, never hang
// past the timeouts it gave (watchdog), leak no fd, report impossible values as the peer's
// error (batonErrorIllegalState) and stay usable.
#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <thread>
#include <unistd.h>

#include "baton_test.h"
#include "hostile_support.h"
#include "sync/shared_state.h"

namespace {

using namespace std::chrono_literals;
using baton::SharedLayout;
using hostile::Watchdog;

constexpr uint32_t kMagicAt = offsetof(SharedLayout, magic);
constexpr uint32_t kKindAt = offsetof(SharedLayout, kind);
constexpr uint32_t kWaitersAt = offsetof(SharedLayout, waiters);
constexpr uint32_t kValueAt = offsetof(SharedLayout, value);
constexpr uint32_t kConsumedAt = offsetof(SharedLayout, consumed);
constexpr uint32_t kPendingAt = offsetof(SharedLayout, pending);
constexpr uint32_t kWordAt = offsetof(SharedLayout, kmWord);
static_assert(offsetof(SharedLayout, seq) == 32, "page_writer bumps seq at offset 32");

constexpr uint64_t kMs = 1000000ull;

class HostilePages : public ::testing::Test {
protected:
    void SetUp() override {
        BATON_ASSERT_OK(batonStreamCreate(&stream_));
        ASSERT_TRUE(peer_.start()) << "cannot start page_writer";
    }
    void TearDown() override {
        for (auto s : sems_) {
            EXPECT_EQ(batonDestroyExternalSemaphore(s), batonSuccess);
        }
        for (int fd : fds_) close(fd);
        if (stream_) {
            EXPECT_EQ(batonStreamDestroy(stream_), batonSuccess);
        }
    }
    // A portable semaphore whose page the peer has mapped as *page.
    batonExternalSemaphore_t make(batonExternalSemaphoreHandleType type, uint64_t initial, uint32_t* page) {
        int fd = -1;
        batonExternalSemaphore_t s = nullptr;
        batonError_t e = hostile::exportPortable(type, initial, &fd, &s);
        EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        if (e != batonSuccess) return nullptr;
        sems_.push_back(s);
        fds_.push_back(fd);
        EXPECT_TRUE(peer_.map(fd, page));
        return s;
    }
    batonExternalSemaphore_t timeline(uint64_t initial, uint32_t* page) {
        return make(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, initial, page);
    }
    // Forget s (the test destroyed it itself).
    void forget(batonExternalSemaphore_t s) { std::erase(sems_, s); }

    batonStream_t stream_ = nullptr;
    hostile::PageWriter peer_;
    std::vector<batonExternalSemaphore_t> sems_;
    std::vector<int> fds_;
};

// --- Defect 8: a peer can stop our wake-ups -------------------------------------------------

// The peer keeps the shared waiter count at 0 while this process's mirror thread sleeps on
// the page. Before the fix wakeAll skipped FUTEX_WAKE on a count of 0 and the mirror slept
// without a timeout, so destroying the semaphore (which joins the mirror) hung forever.
TEST_F(HostilePages, ZeroedWaiterCountCannotHangDestroy) {
    Watchdog dog(10s, "HostilePages.ZeroedWaiterCountCannotHangDestroy: setup");
    uint32_t page = 0;
    batonExternalSemaphore_t s = timeline(5, &page);
    ASSERT_TRUE(s);
    VkSemaphoreSubmitInfo info{};
    BATON_ASSERT_OK(batonGetWaitSubmitInfo(s, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &info));  // starts the mirror
    std::this_thread::sleep_for(50ms);  // the mirror is asleep on the page now
    ASSERT_TRUE(peer_.hammer(page, kWaitersAt, 0));
    dog.step("batonDestroyExternalSemaphore while the peer zeroes the waiter count");
    EXPECT_EQ(batonDestroyExternalSemaphore(s), batonSuccess);
    forget(s);
    ASSERT_TRUE(peer_.stop());
}

// A host wait of this process sleeps on the page; a stream of this process signals. The
// peer zeroes the waiter count: before the fix the signal's wake-up was skipped and the wait
// (without a timeout, as the caller may ask) never returned.
TEST_F(HostilePages, ZeroedWaiterCountCannotStopALocalWake) {
    Watchdog dog(10s, "HostilePages.ZeroedWaiterCountCannotStopALocalWake");
    uint32_t page = 0;
    batonExternalSemaphore_t s = timeline(0, &page);
    ASSERT_TRUE(s);
    batonError_t waited = batonErrorUnknown;
    std::thread waiter([&] { waited = batonExternalSemaphoreHostWait(s, 1, UINT64_MAX); });
    std::this_thread::sleep_for(50ms);  // the waiter sleeps on the futex
    ASSERT_TRUE(peer_.hammer(page, kWaitersAt, 0));
    std::this_thread::sleep_for(10ms);
    EXPECT_EQ(hostile::signalValue(s, 1, stream_), batonSuccess);
    EXPECT_EQ(batonStreamSynchronize(stream_), batonSuccess) << batonGetLastErrorMessage();
    dog.step("a host wait (no timeout) whose wake-up the peer tried to suppress");
    waiter.join();
    EXPECT_EQ(waited, batonSuccess) << "the wait missed a signal of its own process: " << batonGetErrorName(waited);
    ASSERT_TRUE(peer_.stop());
}

// Context destroy with a hostile peer on its pages: the mirror sleeps on a page whose waiter
// count the peer keeps at 0, a keyed mutex is held; destroy joins the mirror, abandons the
// hold and returns.
TEST_F(HostilePages, ContextDestroyWithAHostilePeerCompletes) {
    Watchdog dog(15s, "HostilePages.ContextDestroyWithAHostilePeer: setup");
    batonContext_t ctx = nullptr;
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    BATON_ASSERT_OK(batonContextCreate(&ctx, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(ctx));
    int tfd = -1, kfd = -1;
    batonExternalSemaphore_t t = nullptr, k = nullptr;
    batonStream_t s = nullptr;
    uint32_t tpage = 0, kpage = 0;
    BATON_ASSERT_OK(hostile::exportPortable(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 5, &tfd, &t));
    BATON_ASSERT_OK(hostile::exportPortable(batonExternalSemaphoreHandleTypeKeyedMutex, 0, &kfd, &k));
    ASSERT_TRUE(peer_.map(tfd, &tpage) && peer_.map(kfd, &kpage));
    close(tfd);
    close(kfd);
    VkSemaphoreSubmitInfo info{};
    BATON_ASSERT_OK(batonGetWaitSubmitInfo(t, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &info));  // starts the mirror
    BATON_ASSERT_OK(batonStreamCreate(&s));
    BATON_ASSERT_OK(hostile::signalValue(t, 6, s));
    BATON_ASSERT_OK(hostile::waitValue(t, 6, s));
    BATON_ASSERT_OK(hostile::acquireKey(k, 0, 1000, s));
    BATON_ASSERT_OK(batonStreamSynchronize(s));  // holds the keyed mutex now
    ASSERT_TRUE(peer_.hammer(tpage, kWaitersAt, 0));
    std::this_thread::sleep_for(20ms);
    dog.step("batonContextDestroy while the peer zeroes the waiter count");
    EXPECT_EQ(batonContextDestroy(ctx), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(batonCtxSetCurrent(nullptr), batonSuccess);
    ASSERT_TRUE(peer_.stop());
}

// --- Defect 8: values read from the page are checked ------------------------------------------

// The timeline value goes below one this process already saw: impossible (a timeline never
// goes back). Before the fix a host wait just waited (batonErrorTimeout), as if nothing was wrong.
TEST_F(HostilePages, TimelineGoingBackwardsIsThePeersError) {
    Watchdog dog(10s, "HostilePages.TimelineGoingBackwards");
    uint32_t page = 0;
    batonExternalSemaphore_t s = timeline(0, &page);
    ASSERT_TRUE(s);
    BATON_ASSERT_OK(hostile::signalValue(s, 10, stream_));
    BATON_ASSERT_OK(batonStreamSynchronize(stream_));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(s, 10, 1000 * kMs));  // this process saw 10
    ASSERT_TRUE(peer_.store64(page, kValueAt, 3));
    EXPECT_EQ(batonExternalSemaphoreHostWait(s, 5, 100 * kMs), batonErrorIllegalState) << batonGetLastErrorMessage();
    // Sticky: restoring the value does not make the page trusted again.
    ASSERT_TRUE(peer_.store64(page, kValueAt, 10));
    EXPECT_EQ(batonExternalSemaphoreHostWait(s, 10, 100 * kMs), batonErrorIllegalState);
}

// A value above every value signaled or pending: nobody can have reached it. Before the fix
// a host wait for it returned batonSuccess, trusting the peer's number.
TEST_F(HostilePages, TimelineAbovePendingIsThePeersError) {
    Watchdog dog(10s, "HostilePages.TimelineAbovePending");
    uint32_t page = 0;
    batonExternalSemaphore_t s = timeline(0, &page);
    ASSERT_TRUE(s);
    ASSERT_TRUE(peer_.store64(page, kValueAt, 1ull << 40));
    EXPECT_EQ(batonExternalSemaphoreHostWait(s, 100, 1000 * kMs), batonErrorIllegalState) << batonGetLastErrorMessage();
}

// A huge pending is possible (a peer reserved a high value): it only refuses our lower
// signals, with batonErrorInvalidValue, and a host wait times out as it was told to.
TEST_F(HostilePages, HugePendingRefusesSignalsButHangsNothing) {
    Watchdog dog(10s, "HostilePages.HugePending");
    uint32_t page = 0;
    batonExternalSemaphore_t s = timeline(0, &page);
    ASSERT_TRUE(s);
    ASSERT_TRUE(peer_.store64(page, kPendingAt, UINT64_MAX));
    EXPECT_EQ(hostile::signalValue(s, 1, stream_), batonErrorInvalidValue);
    EXPECT_EQ(batonExternalSemaphoreHostWait(s, 1, 50 * kMs), batonErrorTimeout);
    EXPECT_EQ(batonStreamSynchronize(stream_), batonSuccess);
}

// Binary: consumed above value (a wait consumed a signal that never took effect), or more
// than one signal held. Before the fix the first made a host wait time out and the second
// made it succeed.
TEST_F(HostilePages, BinaryImpossibleCountsAreThePeersError) {
    Watchdog dog(10s, "HostilePages.BinaryImpossibleCounts");
    uint32_t pageA = 0, pageB = 0;
    batonExternalSemaphore_t a = make(batonExternalSemaphoreHandleTypeOpaqueFd, 0, &pageA);
    batonExternalSemaphore_t b = make(batonExternalSemaphoreHandleTypeOpaqueFd, 0, &pageB);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(peer_.store64(pageA, kConsumedAt, 5));
    EXPECT_EQ(batonExternalSemaphoreHostWait(a, 0, 100 * kMs), batonErrorIllegalState) << batonGetLastErrorMessage();
    ASSERT_TRUE(peer_.store64(pageB, kValueAt, 7));
    EXPECT_EQ(batonExternalSemaphoreHostWait(b, 0, 100 * kMs), batonErrorIllegalState) << batonGetLastErrorMessage();
}

// The header changes under us (magic, kind): the page is no longer the object we opened.
TEST_F(HostilePages, HeaderChangeAfterOpenIsThePeersError) {
    Watchdog dog(10s, "HostilePages.HeaderChange");
    uint32_t pageA = 0, pageB = 0;
    batonExternalSemaphore_t a = timeline(0, &pageA);
    batonExternalSemaphore_t b = timeline(0, &pageB);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(peer_.store32(pageA, kKindAt, 1));  // says binary now
    ASSERT_TRUE(peer_.store64(pageA, kValueAt, 1));
    EXPECT_EQ(batonExternalSemaphoreHostWait(a, 1, 100 * kMs), batonErrorIllegalState) << batonGetLastErrorMessage();
    ASSERT_TRUE(peer_.store32(pageB, kMagicAt, 0xdeadbeef));
    ASSERT_TRUE(peer_.store64(pageB, kValueAt, 1));
    EXPECT_EQ(batonExternalSemaphoreHostWait(b, 1, 100 * kMs), batonErrorIllegalState) << batonGetLastErrorMessage();
}

// A stream wait on a value the peer pretends to have reached (above pending): the stream
// reports the peer's error instead of running work behind a signal that never happened.
TEST_F(HostilePages, StreamWaitOnAMadeUpValueFails) {
    Watchdog dog(10s, "HostilePages.StreamWaitOnAMadeUpValue");
    uint32_t page = 0;
    batonExternalSemaphore_t s = timeline(0, &page);
    ASSERT_TRUE(s);
    ASSERT_TRUE(peer_.store64(page, kValueAt, 1000));
    BATON_ASSERT_OK(hostile::waitValue(s, 500, stream_));
    EXPECT_EQ(batonStreamSynchronize(stream_), batonErrorIllegalState) << batonGetLastErrorMessage();
}

// Keyed-mutex word: held without a holder is no state the protocol reaches. Before the fix
// the acquire took it over as if its holder had died (batonErrorKeyedMutexAbandoned).
TEST_F(HostilePages, KeyedWordWithoutHolderIsThePeersError) {
    Watchdog dog(10s, "HostilePages.KeyedWordWithoutHolder");
    uint32_t page = 0;
    batonExternalSemaphore_t k = make(batonExternalSemaphoreHandleTypeKeyedMutex, 0, &page);
    ASSERT_TRUE(k);
    ASSERT_TRUE(peer_.store64(page, kWordAt, (5ull << 25) | (1ull << 23)  /* generation 5, held, holder 0 */));
    BATON_ASSERT_OK(hostile::acquireKey(k, 0, 200, stream_));
    EXPECT_EQ(batonStreamSynchronize(stream_), batonErrorIllegalState) << batonGetLastErrorMessage();
}

// --- Seeded random and targeted writes ---------------------------------------------------------

bool oneOf(batonError_t e, std::initializer_list<batonError_t> ok) {
    for (batonError_t o : ok)
        if (e == o) return true;
    return false;
}

// One round of everything the victim does with the three semaphores, every wait bounded.
void exerciseVictim(batonExternalSemaphore_t t, batonExternalSemaphore_t b, batonExternalSemaphore_t k,
                    batonStream_t stream, uint64_t* next, Watchdog& dog) {
    const auto ms = kMs;
    batonExternalSemaphoreInfo info{};
    for (auto s : {t, b, k}) {
        EXPECT_EQ(batonExternalSemaphoreGetInfo(s, &info), batonSuccess);
    }
    dog.step("timeline host wait");
    EXPECT_TRUE(oneOf(batonExternalSemaphoreHostWait(t, *next, 5 * ms), {batonSuccess, batonErrorTimeout, batonErrorIllegalState}));
    dog.step("binary host wait");
    EXPECT_TRUE(oneOf(batonExternalSemaphoreHostWait(b, 0, 5 * ms), {batonSuccess, batonErrorTimeout, batonErrorIllegalState}));
    dog.step("renderer wait info");
    VkSemaphoreSubmitInfo si{};
    EXPECT_TRUE(oneOf(batonGetWaitSubmitInfo(t, *next, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &si),
                      {batonSuccess, batonErrorNotReady, batonErrorIllegalState}));
    // Signal a value of our own, then wait for it on the stream: it is reached, or the page
    // is found corrupt (the stream's error); never a hang.
    dog.step("timeline signal + stream wait + synchronize");
    const uint64_t v = ++*next;
    if (hostile::signalValue(t, v, stream) == batonSuccess) {
        EXPECT_EQ(hostile::waitValue(t, v, stream), batonSuccess);
    }
    EXPECT_TRUE(oneOf(batonStreamSynchronize(stream), {batonSuccess, batonErrorIllegalState}));
    dog.step("keyed mutex acquire (timeout 20 ms)");
    if (hostile::acquireKey(k, 0, 20, stream) == batonSuccess) {
        batonError_t e = batonStreamSynchronize(stream);
        EXPECT_TRUE(oneOf(e, {batonSuccess, batonErrorKeyedMutexAbandoned, batonErrorTimeout, batonErrorIllegalState}))
            << batonGetErrorName(e);
        if (e == batonSuccess || e == batonErrorKeyedMutexAbandoned) {
            EXPECT_EQ(hostile::releaseKey(k, 0, stream), batonSuccess);
            EXPECT_TRUE(oneOf(batonStreamSynchronize(stream), {batonSuccess, batonErrorIllegalState}));
        }
    }
}

// 24 seeds: fresh semaphores, then rounds of seeded random writes (random bytes and the
// values readers mishandle: 0, all ones, +-1, +2^40, powers of two; seq bumps) alternating
// with everything the victim does. Seeds 0..3 also write the header; the others keep it.
TEST_F(HostilePages, SeededRandomWritesNeverCrashHangOrLeak) {
    Watchdog dog(25s, "HostilePages.SeededRandomWrites: warm-up");
    {  // what the process keeps for its life (context, stream thread) before counting fds
        uint32_t page = 0;
        batonExternalSemaphore_t w = timeline(0, &page);
        ASSERT_TRUE(w);
        BATON_ASSERT_OK(hostile::signalValue(w, 1, stream_));
        BATON_ASSERT_OK(batonStreamSynchronize(stream_));
    }
    const int fdsBefore = batontest::openFdCount();
    for (uint64_t seed = 0; seed < 24; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        int fds[3] = {-1, -1, -1};
        batonExternalSemaphore_t t = nullptr, b = nullptr, k = nullptr;
        ASSERT_EQ(hostile::exportPortable(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 0, &fds[0], &t), batonSuccess);
        ASSERT_EQ(hostile::exportPortable(batonExternalSemaphoreHandleTypeOpaqueFd, 0, &fds[1], &b), batonSuccess);
        ASSERT_EQ(hostile::exportPortable(batonExternalSemaphoreHandleTypeKeyedMutex, 0, &fds[2], &k), batonSuccess);
        uint32_t pages[3] = {};
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(peer_.map(fds[i], &pages[i]));
        for (int fd : fds) close(fd);
        uint64_t next = 0;
        std::mt19937_64 rng(seed);
        for (int round = 0; round < 6; ++round) {
            for (uint32_t p : pages) ASSERT_TRUE(peer_.random(p, rng(), 24, seed < 4 ? 0 : 32));
            const bool storm = round == 3;  // wake-up storm with a zeroed waiter count
            if (storm) {
                ASSERT_TRUE(peer_.churn(pages[rng() % 3], kWaitersAt, 0));
            }
            dog.step("seed " + std::to_string(seed) + " round " + std::to_string(round));
            exerciseVictim(t, b, k, stream_, &next, dog);
            if (storm) {
                ASSERT_TRUE(peer_.stop());
            }
        }
        dog.step("destroying the semaphores of seed " + std::to_string(seed));
        EXPECT_EQ(batonDestroyExternalSemaphore(t), batonSuccess);
        EXPECT_EQ(batonDestroyExternalSemaphore(b), batonSuccess);
        EXPECT_EQ(batonDestroyExternalSemaphore(k), batonSuccess);
    }
    dog.step("synchronize after the seeds");
    EXPECT_TRUE(oneOf(batonStreamSynchronize(stream_), {batonSuccess, batonErrorIllegalState}));
    // Still usable: a fresh semaphore's round trip works.
    dog.step("fresh round trip");
    {
        int fd = -1;
        batonExternalSemaphore_t s = nullptr;
        BATON_ASSERT_OK(hostile::exportPortable(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 0, &fd, &s));
        BATON_ASSERT_OK(hostile::signalValue(s, 1, stream_));
        BATON_ASSERT_OK(hostile::waitValue(s, 1, stream_));
        BATON_ASSERT_OK(batonStreamSynchronize(stream_));
        BATON_ASSERT_OK(batonExternalSemaphoreHostWait(s, 1, 1000 * kMs));
        EXPECT_EQ(batonDestroyExternalSemaphore(s), batonSuccess);
        close(fd);
    }
    // Deferred releases finish once the stream is idle; no fd of ours may be left open.
    BATON_ASSERT_OK(batonStreamSynchronize(stream_));
    EXPECT_EQ(batontest::openFdCount(), fdsBefore) << batontest::openFdList();
}

}  // namespace
