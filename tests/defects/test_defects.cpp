// Failing-first tests for the defects of issue 10 in the sync core (streams, events,
// semaphores). Each test names its defect number. Real lavapipe with validation on; where a
// condition has to be forced, a real API sequence forces it (a gate on a stream, the GPU held
// by a submission of the test's own that waits on a timeline it signals later, a write into
// the shared page the test mapped itself). A hang fails the test through a watchdog instead
// of blocking CI.
#include <sys/mman.h>

#include <baton/baton_channel.h>
#include <baton/baton_telemetry.h>

#include "defect_support.h"
#include "host_buffer.h"

using namespace defects;


// ---------------------------------------------------------------------------------------
// Defect 1: a full retire ring published (and released) entries the GPU had not reached.
// 5,000 portable timeline signals on a stream whose GPU work is held: more than the retire
// ring holds. No value may become visible before the GPU ran the signal.
TEST_F(Defects, FullRetireRingPublishesNothingEarly) {
    if (!info_.queueShared)
        GTEST_SKIP() << "needs a device whose streams share the one queue the test can hold (lavapipe)";
    constexpr int kSems = 5, kSignals = 1000;
    std::vector<batonExternalSemaphore_t> sems;
    for (int i = 0; i < kSems; ++i) sems.push_back(timeline());
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    GpuHold hold;
    ASSERT_TRUE(hold.hold(info_, ctx_));
    std::atomic<bool> enqueued{false};
    std::thread producer([&] {
        for (int i = 0; i < kSems; ++i)
            for (int v = 1; v <= kSignals; ++v) EXPECT_EQ(signal(sems[i], v, s), batonSuccess);
        enqueued.store(true);
    });
    // Fixed: the stream thread waits for the GPU once the ring is full, so the calls block
    // here. Before the fix they all returned, the first semaphore's values already published.
    auto until = std::chrono::steady_clock::now() + 2s;
    while (!enqueued.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    for (int i = 0; i < kSems; ++i)
        EXPECT_EQ(current(sems[i]), 0u) << "semaphore " << i << " published while the GPU has not run its signal";
    hold.release();
    producer.join();
    syncBounded(s, "synchronize after the GPU was released");
    for (int i = 0; i < kSems; ++i) EXPECT_EQ(current(sems[i]), static_cast<uint64_t>(kSignals));
    hold.destroy();
}

// ---------------------------------------------------------------------------------------
// Defect 2: portable binary signals from two streams took their proxy values at the call, so
// the stream that submits second could signal a lower proxy value than the first had: the
// proxy timeline moved backwards (a validation error).
TEST_F(Defects, PortableBinarySignalsFromTwoStreamsKeepProxyOrder) {
    if (!info_.queueShared)
        GTEST_SKIP() << "needs a device whose streams share the one queue the test can hold (lavapipe)";
    batonExternalSemaphore_t b = exportSem(batonExternalSemaphoreHandleTypeOpaqueFd);
    batonStream_t s1 = stream(), s2 = stream(), s3 = stream();
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(s1);
    ASSERT_TRUE(g->waitEntered(5s));
    BATON_ASSERT_OK(signal(b, 0, s1));  // called first, submitted second
    BATON_ASSERT_OK(signal(b, 0, s2));
    syncBounded(s2, "synchronize of the second stream");
    BATON_ASSERT_OK(wait(b, 0, s3));  // consumes the second stream's signal
    syncBounded(s3, "a wait for the second stream's signal");
    GpuHold hold;
    ASSERT_TRUE(hold.hold(info_, ctx_));
    g->open();  // the first stream submits its signal, behind the held GPU work
    // Before the fix its proxy value (1) was below the one the GPU had reached (2): the
    // signal was published at once, before the GPU ran it.
    EXPECT_EQ(batonExternalSemaphoreHostWait(b, 0, 200'000'000ull), batonErrorTimeout)
        << "the first stream's signal took effect while the GPU was held";
    hold.release();
    syncBounded(s1, "synchronize of the first stream");
    EXPECT_EQ(batonExternalSemaphoreHostWait(b, 0, 2'000'000'000ull), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
    hold.destroy();
}

// ---------------------------------------------------------------------------------------
// Defect 4: a stream waiting for an event blocked its thread before submitting what came
// before the wait in the same batch, ignored cancel, and the event's generation was taken
// before its record was enqueued.

// A wait takes the recording of E made before it (generation G). When a later recording
// (G + 1, on another stream) resolves first, the wait took G + 1's stream and point: B ran
// on behind C while A's work before its record of E had not even been submitted. Found by
// the stress test on the H200 under load (seed 1000002: A's thread held by a host wait).
TEST_F(Defects, WaitEventTakesItsOwnRecordingNotALaterOne) {
    batontest::HostBuffer buf;
    ASSERT_EQ(buf.create(ctx_, 4), VK_SUCCESS);
    batonStream_t a = stream(), b = stream(), c = stream();
    batonEvent_t e = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&e));
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(a);  // A's fill and its record of E wait behind the gate
    BATON_ASSERT_OK(batontest::recordOn(a, [&](VkCommandBuffer cb) {
        batontest::cmdFill(cb, buf, 0, 1, 0xABCDu);
        batontest::cmdHostReadBarrier(cb);
    }));
    BATON_ASSERT_OK(batonEventRecord(e, a));  // G
    BATON_ASSERT_OK(batonStreamWaitEvent(b, e, 0));
    struct Seen {
        batontest::HostBuffer* buf;
        std::atomic<uint32_t> word{0};
        std::atomic<bool> ran{false};
    } seen{&buf};
    BATON_ASSERT_OK(batonLaunchHostFunc(b, [](void* u) {
        auto* s = static_cast<Seen*>(u);
        s->word = s->buf->words()[0];
        s->ran = true;
    }, &seen));
    BATON_ASSERT_OK(batonEventRecord(e, c));  // G + 1, resolved at once
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(seen.ran.load()) << "B's host function ran while A's recording of the event it waited for was held";
    g->open();
    syncBounded(a, "stream A");
    syncBounded(b, "stream B");
    syncBounded(c, "stream C");
    EXPECT_TRUE(seen.ran.load());
    EXPECT_EQ(seen.word.load(), 0xABCDu) << "B ran before A's fill";
    BATON_ASSERT_OK(batonEventDestroy(e));
}

// A destroyed stream that another object still holds (here an event it recorded) had its
// last submissions' GPU times resolved only when that reference went: a trace written before
// lacked them (the H200 sandbox trace: the last handoff without its flow arrow).
TEST_F(Defects, ClosedStreamResolvesItsTelemetryWhileAnEventHoldsIt) {
    if (!info_.queueShared)
        GTEST_SKIP() << "needs a device whose streams share the one queue the test can hold (lavapipe)";
    BATON_ASSERT_OK(batonTelemetryEnable(ctx_, 1));
    batonExternalSemaphore_t t = timeline();
    batonStream_t s = stream();
    batonEvent_t e = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&e));
    ASSERT_FALSE(HasFailure());
    GpuHold hold;  // the signal's batch waits behind it: no idle pass of the stream resolves it
    ASSERT_TRUE(hold.hold(info_, ctx_));
    BATON_ASSERT_OK(signal(t, 1, s));
    BATON_ASSERT_OK(batonEventRecord(e, s));
    std::thread releaser([&] {
        std::this_thread::sleep_for(200ms);
        hold.release();
    });
    BATON_ASSERT_OK(batonStreamDestroy(s));  // waits for its work (behind the hold)
    releaser.join();
    static batonTelemetryRecord recs[4096];
    unsigned n = 0;
    BATON_ASSERT_OK(batonTelemetryRead(ctx_, 0, recs, 4096, &n));
    const batonTelemetryRecord* sig = nullptr;
    for (unsigned i = 0; i < n; ++i)
        if (recs[i].kind == batonTelemetrySignal && recs[i].value == 1) sig = &recs[i];
    ASSERT_NE(sig, nullptr) << "no signal record among " << n;
    EXPECT_TRUE((sig->flags & 1) && sig->gpuEndNs) << "the closed stream's last signal has no GPU time";
    BATON_ASSERT_OK(batonEventDestroy(e));
    hold.destroy();
}

// Stream B waits for t >= 1 and then records E; stream A signals t = 1 and then waits for E.
// A's signal must reach the queue before A's thread waits for E.
TEST_F(Defects, WaitEventSubmitsTheSignalBeforeIt) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t a = stream(), b = stream();
    batonEvent_t e = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&e));
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(wait(t, 1, b));
    BATON_ASSERT_OK(batonEventRecord(e, b));
    Gate* g = gateStream(a);  // the signal and the event wait reach A's thread as one batch
    ASSERT_TRUE(g->waitEntered(5s));
    BATON_ASSERT_OK(signal(t, 1, a));
    BATON_ASSERT_OK(batonStreamWaitEvent(a, e, 0));
    g->open();
    syncBounded(a, "stream A (signal, then wait for B's event)");
    syncBounded(b, "stream B");
    BATON_ASSERT_OK(batonEventDestroy(e));
}

// A record of E on stream A is still being enqueued (the ring is full) when another thread
// makes A wait for E: the wait must not wait for a recording that comes after it on A.
TEST_F(Defects, WaitEventRacingItsRecordOnTheSameStream) {
    batonStream_t a = stream();
    batonEvent_t e = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&e));
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(a);
    ASSERT_TRUE(g->waitEntered(5s));
    // A's ring holds 1,024 ops; the gate is one. Leave room for one op: the event record
    // (a timestamp and its resolution: two ops) has to wait for room, the event wait (one) not.
    for (int i = 0; i < 1022; ++i) BATON_ASSERT_OK(batonLaunchHostFunc(a, noop, nullptr));
    std::thread recorder([&] { EXPECT_EQ(batonEventRecord(e, a), batonSuccess) << batonGetLastErrorMessage(); });
    // Before the fix the recording's generation was taken before it waited for room; give it
    // the chance to get there (an event with a generation is no longer "complete").
    auto until = std::chrono::steady_clock::now() + 500ms;
    while (batonEventQuery(e) == batonSuccess && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(1ms);
    BATON_ASSERT_OK(batonStreamWaitEvent(a, e, 0));
    g->open();
    mustFinish("the recording thread", 10s, [&] { recorder.join(); });
    syncBounded(a, "stream A");
    BATON_ASSERT_OK(batonEventDestroy(e));
}

// Destroying the context while a stream waits for an event whose recording can never run
// (it sits behind a wait nobody signals): destroy abandons both waits and returns.
TEST_F(Defects, ContextDestroyCancelsAnEventWait) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t a = stream();
    batonEvent_t e = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&e));
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(wait(t, 1, nullptr));  // the default stream: closed last by destroy
    BATON_ASSERT_OK(batonEventRecord(e, nullptr));
    BATON_ASSERT_OK(batonStreamWaitEvent(a, e, 0));
    BATON_ASSERT_OK(batonLaunchHostFunc(a, noop, nullptr));
    std::this_thread::sleep_for(20ms);  // let A's thread reach the event wait
    batonContext_t c = ctx_;
    ctx_ = nullptr;
    batonCtxSetCurrent(nullptr);
    mustFinish("batonContextDestroy with a stream waiting for an event", 10s,
               [c] { EXPECT_EQ(batonContextDestroy(c), batonSuccess); });
}

// ---------------------------------------------------------------------------------------
// Defect 6: a signal whose enqueue failed kept its reservation: a retry with the same value
// was refused, and the shared `pending` rose.
TEST_F(Defects, FailedEnqueueGivesTheSignalReservationBack) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    ASSERT_NO_FATAL_FAILURE(givePendingError(s));
    EXPECT_EQ(signal(t, 5, s), batonErrorTimeout) << "the pending error is reported, nothing enqueued";
    EXPECT_EQ(pending(t), 0u) << "the refused signal still counts as pending";
    EXPECT_EQ(signal(t, 5, s), batonSuccess) << "a retry with the same value is refused: " << batonGetLastErrorMessage();
    syncBounded(s, "the retried signal");
    EXPECT_EQ(current(t), 5u);
}

// Defect 6, its third part: a call with more than 256 semaphores was enqueued in chunks of
// 256, so a failure after the first chunk left part of the call enqueued. Now one call is
// enqueued whole or not at all (up to Stream's kMaxEnqueue, 1024, per call; more is refused
// before anything is touched). 300 timelines, refused with the stream's pending error: none
// keeps a reservation, and the same call retried reaches every value.
TEST_F(Defects, ManySemaphoresInOneCallAreEnqueuedWholeOrNotAtAll) {
    constexpr unsigned kSems = 300;
    std::vector<batonExternalSemaphore_t> sems;
    for (unsigned i = 0; i < kSems; ++i) sems.push_back(timeline());
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    std::vector<batonExternalSemaphoreSignalParams> params(kSems);
    for (auto& p : params) p.params.fence.value = 4;
    // More than one call may take: refused at once, nothing reserved.
    std::vector<batonExternalSemaphore_t> tooMany(1025, sems[0]);
    std::vector<batonExternalSemaphoreSignalParams> tooManyParams(1025);
    for (unsigned i = 0; i < 1025; ++i) tooManyParams[i].params.fence.value = i + 1;
    EXPECT_EQ(batonSignalExternalSemaphoresAsync(tooMany.data(), tooManyParams.data(), 1025, s), batonErrorInvalidValue);
    EXPECT_EQ(pending(sems[0]), 0u);
    ASSERT_NO_FATAL_FAILURE(givePendingError(s));
    EXPECT_EQ(batonSignalExternalSemaphoresAsync(sems.data(), params.data(), kSems, s), batonErrorTimeout);
    for (unsigned i = 0; i < kSems; ++i) EXPECT_EQ(pending(sems[i]), 0u) << "semaphore " << i << " kept a reservation";
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(sems.data(), params.data(), kSems, s));
    syncBounded(s, "the retried call");
    for (unsigned i = 0; i < kSems; ++i) EXPECT_EQ(current(sems[i]), 4u) << "semaphore " << i;
}

// Defect 6, its channel part: a produce whose enqueue failed kept its "ready" reservation, so
// the frame number could not be produced again and the shared pending value stayed up. The
// stream's pending error (a keyed acquire that timed out) makes the produce's enqueue fail.
TEST_F(Defects, FailedProduceGivesTheFrameBack) {
    batonChannelCreateInfo ci{};
    ci.depth = 2;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.policy = batonChannelPolicyFifo;
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    ASSERT_NO_FATAL_FAILURE(givePendingError(s));
    auto nothing = [](VkCommandBuffer, VkImage, unsigned long long, void*) {};
    unsigned long long frame = 0;
    EXPECT_EQ(batonChannelProduceFrame(ch, s, nothing, nullptr, &frame), batonErrorTimeout)
        << "the stream's pending error is reported, nothing enqueued";
    BATON_ASSERT_OK(batonChannelProduceFrame(ch, s, nothing, nullptr, &frame));
    EXPECT_EQ(frame, 1u) << "the failed produce kept frame 1";
    syncBounded(s, "the produced frame");
    batonChannelFrame f{};
    BATON_ASSERT_OK(batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f));
    EXPECT_EQ(f.frame, 1u);
    BATON_ASSERT_OK(batonChannelDestroy(ch));
}

// ---------------------------------------------------------------------------------------
// Defect 9 (renderer part): a renderer's signal from batonGetSignalSubmitInfo was not known
// to the streams, so a stream's lower value reached the proxy after the renderer's higher
// one: the proxy timeline moved backwards (a validation error) and the value went back.
TEST_F(Defects, StreamSignalAfterAHigherRendererSignal) {
    if (!info_.queueShared)
        GTEST_SKIP() << "needs a device whose streams share the one queue the test submits to (lavapipe)";
    batonExternalSemaphore_t t = timeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(s);
    ASSERT_TRUE(g->waitEntered(5s));
    BATON_ASSERT_OK(signal(t, 3, s));  // reserved first, submitted last
    VkSemaphoreSubmitInfo sig{};
    BATON_ASSERT_OK(batonGetSignalSubmitInfo(t, 5, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &sig));
    auto submit = reinterpret_cast<PFN_vkQueueSubmit2>(info_.getDeviceProcAddr(info_.device, "vkQueueSubmit2"));
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &sig;
    VkQueue q = info_.computeQueue.queue;
    BATON_ASSERT_OK(batonContextLockQueue(ctx_, q));
    ASSERT_EQ(submit(q, 1, &si, VK_NULL_HANDLE), VK_SUCCESS);
    BATON_ASSERT_OK(batonContextUnlockQueue(ctx_, q));
    mustFinish("the renderer's signal", 10s, [&] {
        EXPECT_EQ(batonExternalSemaphoreHostWait(t, 5, 5'000'000'000ull), batonSuccess) << batonGetLastErrorMessage();
    });
    g->open();
    syncBounded(s, "the stream's lower signal");
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
    EXPECT_EQ(current(t), 5u);
    // The renderer's signal went to the proxy timeline; it must not have moved back to 3.
    auto counter = reinterpret_cast<PFN_vkGetSemaphoreCounterValue>(
        info_.getDeviceProcAddr(info_.device, "vkGetSemaphoreCounterValue"));
    uint64_t proxy = 0;
    ASSERT_EQ(counter(info_.device, sig.semaphore, &proxy), VK_SUCCESS);
    EXPECT_GE(proxy, 5u) << "the proxy timeline moved backwards";
}

// ---------------------------------------------------------------------------------------
// Defect 9 (main part): a stream's lower timeline signal was dropped once a higher one had
// merely been submitted. Stream 2 reserves 3 first but submits it last; stream 1 waits for
// 3 and then signals 5. Where the wait goes to the GPU (a native timeline on a queue of the
// stream's own: the H200), 5 was submitted before 3, 3 was dropped, and stream 1 waited for
// it forever; and even before that, stream 2's synchronize returned with the timeline below
// the 3 it had signaled (the H200 stress divergence "read 6, the model required 9"). On the
// portable backend a stream waits on the host for a value nobody submitted yet, so there
// this runs the same sequence as a check that ordering the signals by value does not hang.
class DefectsLowerSignal : public Defects, public ::testing::WithParamInterface<bool> {
protected:
    // A timeline of the backend under test (the parameter: native).
    batonExternalSemaphore_t backendTimeline() {
        batonExternalSemaphoreExportDesc d{};
        d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        d.flags = GetParam() ? 0u : static_cast<unsigned>(batonExportFlagPortable);
        int fd = -1;
        batonExternalSemaphore_t t = nullptr;
        EXPECT_EQ(batonExportExternalSemaphore(&fd, &t, &d), batonSuccess) << batonGetLastErrorMessage();
        if (fd >= 0) fds_.push_back(fd);
        batonExternalSemaphoreInfo si{};
        EXPECT_EQ(batonExternalSemaphoreGetInfo(t, &si), batonSuccess);
        EXPECT_EQ(si.backend, GetParam() ? batonSemaphoreBackendNative : batonSemaphoreBackendPortable);
        return t;
    }
    bool skipNativeWithoutFds() {
        return GetParam() && !info_.nativeSemaphoreFd;
    }
};
#define SKIP_NATIVE_WITHOUT_FDS()                                                                         \
    if (skipNativeWithoutFds())                                                                         \
    GTEST_SKIP() << "native timelines need a driver that exports semaphore fds (the H200; lavapipe has none)"

TEST_P(DefectsLowerSignal, LowerSignalSubmittedAfterAHigherOneThatWaitsForIt) {
    SKIP_NATIVE_WITHOUT_FDS();
    batonExternalSemaphore_t t = backendTimeline();
    batonStream_t s1 = stream(), s2 = stream();
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(s2);
    ASSERT_TRUE(g->waitEntered(5s));
    BATON_ASSERT_OK(signal(t, 3, s2));  // reserved first, submitted last
    BATON_ASSERT_OK(wait(t, 3, s1));
    BATON_ASSERT_OK(signal(t, 5, s1));
    std::this_thread::sleep_for(100ms);  // stream 1 submits what it can meanwhile
    g->open();
    syncBounded(s2, "the stream that signals 3");
    EXPECT_GE(current(t), 3u) << "stream 2 is done, but its signal of 3 has not taken effect";
    syncBounded(s1, "the stream that waits for 3, then signals 5");
    EXPECT_EQ(current(t), 5u);
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

// Defect 9 (order on the GPU): stream A's signal of 6 waits on the GPU for x, which no stream
// here has signaled yet; stream B then signals 9. On queues of their own (the H200) 9 ran at
// once, and 6 after it when x came: the timeline went back to 6. The H200 stress run
// (CrossProcess seed 1000001) diverged so: "read 6, the model required 9" after
// batonDeviceSynchronize. lavapipe runs every stream on its one queue, in submission order,
// and a portable wait for an unsignaled value waits on the host: there this is a check only.
TEST_P(DefectsLowerSignal, HigherSignalOnAnotherQueueWaitsForTheLowerOne) {
    SKIP_NATIVE_WITHOUT_FDS();
    batonExternalSemaphore_t t = backendTimeline(), x = backendTimeline();
    batonStream_t a = stream(), b = stream(), c = stream();
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(wait(x, 1, a));
    BATON_ASSERT_OK(signal(t, 6, a));
    std::this_thread::sleep_for(100ms);  // stream A submits its wait and its signal
    BATON_ASSERT_OK(signal(t, 9, b));
    std::this_thread::sleep_for(100ms);  // before the fix, 9 had run by now
    BATON_ASSERT_OK(signal(x, 1, c));
    syncBounded(c, "the stream that signals x");
    syncBounded(a, "the stream that waits for x, then signals 6");
    syncBounded(b, "the stream that signals 9");
    EXPECT_EQ(current(t), 9u) << "the timeline went backwards";
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

// Defect 9 (one submission): two signals of one timeline back to back on a stream went into
// one vkQueueSubmit2, whose signal operations are unordered: the lower one could land last
// (the stress's TIMELINE_TWICE_IN_A_ROW and SUBMIT_SIGNAL_ORDER switches). lavapipe signals
// in array order, so this can only fail on another driver (the H200 is where to look).
TEST_P(DefectsLowerSignal, TwoSignalsOfOneTimelineInOneSubmission) {
    SKIP_NATIVE_WITHOUT_FDS();
    batonExternalSemaphore_t t = backendTimeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    for (uint64_t round = 0; round < 20; ++round) {
        Gate* g = gateStream(s);  // both signals reach the stream thread as one batch
        ASSERT_TRUE(g->waitEntered(5s));
        BATON_ASSERT_OK(signal(t, 10 * round + 6, s));
        BATON_ASSERT_OK(signal(t, 10 * round + 9, s));
        g->open();
        syncBounded(s, "two signals of one timeline");
        ASSERT_EQ(current(t), 10 * round + 9) << "round " << round << ": the lower signal landed last";
    }
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DefectsLowerSignal, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Native" : "Portable"; });

// Defect 9 on the portable backend: the dropped lower value still counted as submitted, so
// a later GPU wait for it waited on the local proxy, which only the renderer's higher signal
// (handed out, not yet submitted) would move: on lavapipe's single queue the wait held up
// the queue for good, though the timeline had reached the value.
TEST_F(Defects, WaitForALowerValueDroppedBehindARendererSignal) {
    if (!info_.queueShared)
        GTEST_SKIP() << "needs a device whose streams share the one queue the test submits to (lavapipe)";
    batonExternalSemaphore_t t = timeline();
    batonStream_t s1 = stream(), s2 = stream();
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(s2);
    ASSERT_TRUE(g->waitEntered(5s));
    BATON_ASSERT_OK(signal(t, 3, s2));  // reserved first, submitted after the renderer took 5
    VkSemaphoreSubmitInfo sig{};
    BATON_ASSERT_OK(batonGetSignalSubmitInfo(t, 5, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &sig));
    g->open();
    syncBounded(s2, "the stream that signals 3");
    EXPECT_EQ(current(t), 3u);
    BATON_ASSERT_OK(wait(t, 3, s1));  // 3 is reached: nothing to wait for
    syncBounded(s1, "a wait for the value the timeline has reached");
    // The renderer submits its signal of 5 now.
    auto submit = reinterpret_cast<PFN_vkQueueSubmit2>(info_.getDeviceProcAddr(info_.device, "vkQueueSubmit2"));
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &sig;
    VkQueue q = info_.computeQueue.queue;
    BATON_ASSERT_OK(batonContextLockQueue(ctx_, q));
    ASSERT_EQ(submit(q, 1, &si, VK_NULL_HANDLE), VK_SUCCESS);
    BATON_ASSERT_OK(batonContextUnlockQueue(ctx_, q));
    mustFinish("the renderer's signal", 10s, [&] {
        EXPECT_EQ(batonExternalSemaphoreHostWait(t, 5, 5'000'000'000ull), batonSuccess) << batonGetLastErrorMessage();
    });
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

// ---------------------------------------------------------------------------------------
// Defect 8 (semaphore part): the mirror thread slept on the shared page without a timeout,
// so a peer that zeroed the waiter count (no FUTEX_WAKE then) made destroy hang.
TEST_F(Defects, DestroyEndsTheMirrorWhenAPeerZeroesTheWaiterCount) {
    int fd = -1;
    batonExternalSemaphore_t t = timeline(&fd);
    batonStream_t s = stream();
    ASSERT_GE(fd, 0);
    ASSERT_FALSE(HasFailure());
    BATON_ASSERT_OK(signal(t, 1, s));
    syncBounded(s, "signal 1");
    // A second handle of the same semaphore knows no stream signal of 1: a renderer's wait on
    // it goes through the mirror thread, which then sleeps on the shared page.
    batonExternalSemaphoreHandleDesc h{};
    h.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    h.handle.fd = dup(fd);
    batonExternalSemaphore_t imported = nullptr;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&imported, &h));
    VkSemaphoreSubmitInfo wi{};
    BATON_ASSERT_OK(batonGetWaitSubmitInfo(imported, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &wi));
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(p, MAP_FAILED);
    // The waiter count sits after magic, version, kind, reserved (4 x 4 bytes), id (16), seq (4).
    auto* waiters = reinterpret_cast<std::atomic<uint32_t>*>(static_cast<char*>(p) + 36);
    std::atomic<bool> stop{false};
    std::thread peer([&] {
        while (!stop.load()) {
            waiters->store(0);  // the hostile peer
            std::this_thread::sleep_for(100us);
        }
    });
    std::this_thread::sleep_for(20ms);  // the mirror is asleep by now
    mustFinish("batonDestroyExternalSemaphore with a peer zeroing the waiter count", 10s,
               [imported] { EXPECT_EQ(batonDestroyExternalSemaphore(imported), batonSuccess); });
    stop.store(true);
    peer.join();
    munmap(p, 4096);
}

// ---------------------------------------------------------------------------------------
// Defect 16 (host-wait part): a host wait with a timeout near UINT64_MAX overflowed its
// deadline and timed out at once.
TEST_F(Defects, HostWaitWithAHugeTimeoutWaits) {
    batonExternalSemaphore_t t = timeline();
    batonStream_t s = stream();
    ASSERT_FALSE(HasFailure());
    Gate* g = gateStream(s);
    BATON_ASSERT_OK(signal(t, 1, s));
    std::atomic<int> result{-1};
    std::thread waiter([&] { result.store(batonExternalSemaphoreHostWait(t, 1, UINT64_MAX - 1)); });
    // The value cannot be reached before the gate opens: a wait that ended already timed out.
    auto until = std::chrono::steady_clock::now() + 200ms;
    while (result.load() == -1 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    g->open();
    mustFinish("the host wait", 10s, [&] { waiter.join(); });
    EXPECT_EQ(result.load(), batonSuccess);
    syncBounded(s, "the stream");
}
