// The checked shared-page reader (sync/shared_state.h, readSharedPage), white-box: which
// states are possible for honest baton processes and which are the peer's error. The same
// function is what the fuzz target feeds arbitrary bytes.
#include <gtest/gtest.h>

#include <cstring>

#include "sync/shared_state.h"

namespace {

using baton::PageExpect;
using baton::PageFault;
using baton::PageReading;
using baton::SharedKind;
using baton::SharedLayout;

struct Page {
    alignas(64) unsigned char bytes[baton::kSharedSize] = {};
    SharedLayout& l() { return *reinterpret_cast<SharedLayout*>(bytes); }
    PageExpect expect;

    explicit Page(SharedKind kind) {
        l().magic = baton::kSharedMagic;
        l().version = baton::kSharedVersion;
        l().kind = static_cast<uint32_t>(kind);
        for (int i = 0; i < 16; ++i) l().id[i] = static_cast<uint8_t>(i * 7 + 1);
        expect.kind = l().kind;
        std::memcpy(expect.id, l().id, sizeof expect.id);
    }
    PageFault read() {
        PageReading r;
        return baton::readSharedPage(l(), &expect, &r);
    }
};

TEST(PageReader, HonestTimelineStatesPassAndRaiseTheFloor) {
    Page p(SharedKind::Timeline);
    p.l().value = 10;
    p.l().pending = 12;
    EXPECT_EQ(p.read(), PageFault::None);
    EXPECT_EQ(p.expect.value, 10u);
    p.l().pending = UINT64_MAX;  // a huge reservation is possible
    EXPECT_EQ(p.read(), PageFault::None);
    p.l().value = 12;
    EXPECT_EQ(p.read(), PageFault::None);
    EXPECT_EQ(p.expect.value, 12u);
}

TEST(PageReader, TimelineFaults) {
    Page p(SharedKind::Timeline);
    p.l().value = 10;
    p.l().pending = 10;
    ASSERT_EQ(p.read(), PageFault::None);
    p.l().value = 9;
    EXPECT_EQ(p.read(), PageFault::TimelineBackwards);
    EXPECT_EQ(p.expect.value, 10u) << "a faulted reading must not move the floor";
    p.l().value = 11;
    EXPECT_EQ(p.read(), PageFault::TimelineAbovePending);
    EXPECT_EQ(baton::checkTimelineStep(5, 5 + baton::kMinTimelineValueDifference, baton::kMinTimelineValueDifference),
              PageFault::None);
    EXPECT_EQ(baton::checkTimelineStep(5, 6 + baton::kMinTimelineValueDifference, baton::kMinTimelineValueDifference),
              PageFault::TimelineStepTooLarge);
    EXPECT_EQ(baton::checkTimelineStep(5, 1, 1), PageFault::None);  // below: the backwards rule's business
}

TEST(PageReader, HeaderFaults) {
    for (int field = 0; field < 4; ++field) {
        Page p(SharedKind::Timeline);
        if (field == 0) p.l().magic ^= 1;
        if (field == 1) p.l().version += 1;
        if (field == 2) p.l().kind = static_cast<uint32_t>(SharedKind::Binary);
        if (field == 3) p.l().id[15] ^= 0x80;
        EXPECT_EQ(p.read(), PageFault::Header) << "field " << field;
    }
}

TEST(PageReader, BinaryStatesAndFaults) {
    Page p(SharedKind::Binary);
    EXPECT_EQ(p.read(), PageFault::None);  // 0/0: not signaled
    p.l().value = 1;
    EXPECT_EQ(p.read(), PageFault::None);  // signaled once
    p.l().consumed = 1;
    EXPECT_EQ(p.read(), PageFault::None);  // consumed
    p.l().value = 3;
    EXPECT_EQ(p.read(), PageFault::BinaryValueAhead);
    p.l().value = 1;
    p.l().consumed = 2;
    EXPECT_EQ(p.read(), PageFault::BinaryConsumedAboveValue);
    p.l().value = 0;
    p.l().consumed = 0;
    EXPECT_EQ(p.read(), PageFault::BinaryBackwards);
}

TEST(PageReader, KeyedWordStatesAndFaults) {
    Page p(SharedKind::KeyedMutex);
    auto word = [](uint64_t gen, uint64_t flags, uint64_t holder) { return (gen << baton::kKmGenShift) | flags | holder; };
    p.l().kmWord = word(1, baton::kKmHeld, 77);
    EXPECT_EQ(p.read(), PageFault::None);  // held
    p.l().kmWord = word(2, 0, 0);
    EXPECT_EQ(p.read(), PageFault::None);  // released
    p.l().kmWord = word(3, baton::kKmAbandoned, 0);
    EXPECT_EQ(p.read(), PageFault::None);  // abandoned
    p.l().kmWord = word(4, baton::kKmHeld, 0);
    EXPECT_EQ(p.read(), PageFault::KeyedWordInvalid);  // held by nobody
    p.l().kmWord = word(4, 0, 5);
    EXPECT_EQ(p.read(), PageFault::KeyedWordInvalid);  // a holder without the held bit
    p.l().kmWord = word(4, baton::kKmHeld | baton::kKmAbandoned, 5);
    EXPECT_EQ(p.read(), PageFault::KeyedWordInvalid);
    p.l().kmWord = word(2, baton::kKmHeld, 5);
    EXPECT_EQ(p.read(), PageFault::KeyedWordBackwards);
    for (int f = 0; f <= static_cast<int>(PageFault::KeyedWordBackwards); ++f)
        EXPECT_NE(std::strlen(baton::pageFaultText(static_cast<PageFault>(f))), 0u);
}

}  // namespace

// --- KeyedMutex itself (white-box, no Vulkan) --------------------------------------------

#include "sync/keyed_mutex.h"

namespace {

// A handle acquires again while its previous hold's release is still pending (the publisher
// releases once the GPU finished the work under the hold; the stream thread may run the next
// acquire first). Its own token must not be judged dead: the acquire times out (or waits),
// never takes its own live hold over as abandoned. (With liveness locks, a token tested
// through its own description reads as unlocked; found by HandoffTest under load.)
TEST(KeyedMutexWhiteBox, OwnPendingHoldIsNotTakenOver) {
    baton::SharedState state;
    ASSERT_EQ(state.create(SharedKind::KeyedMutex, 0), batonSuccess);
    baton::KeyedMutex km(state);
    std::atomic<bool> cancel{false};
    ASSERT_EQ(km.acquire(0, 1000, 1, cancel), batonSuccess);
    EXPECT_EQ(km.acquire(0, 0, 2, cancel), batonErrorTimeout);    // one try: the holder is looked at at once
    EXPECT_EQ(km.acquire(0, 120, 3, cancel), batonErrorTimeout);  // two liveness periods
    km.release(0);
    EXPECT_EQ(km.acquire(0, 0, 4, cancel), batonSuccess);
    km.release(0);
}

}  // namespace
