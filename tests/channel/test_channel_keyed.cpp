// The keyed-mutex backend of the frame channel in one process: one keyed mutex per slot (the
// producer acquires key 0 and releases key 1, the consumer the reverse), FIFO and mailbox,
// depths 2..8, every pixel of every frame checked; argument checks of the new flags.
#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "baton_test.h"
#include "channel_harness.h"

namespace {

uint64_t framesFromEnv(uint64_t fallback) {
    const char* v = std::getenv("BATON_CHANNEL_FRAMES");
    return v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct TestContext {
    batonContext_t ctx = nullptr;
    batonContextInfo info{};
    TestContext() {
        batonContextCreateInfo ci = batontest::contextCreateInfo();
        if (batonContextCreate(&ctx, &ci) != batonSuccess) return;
        batonCtxSetCurrent(ctx);
        batonContextGetInfo(ctx, &info);
    }
    ~TestContext() {
        batonCtxSetCurrent(nullptr);
        batonContextDestroy(ctx);
    }
    VkQueue renderQueue() const { return info.graphicsQueue.queue ? info.graphicsQueue.queue : info.computeQueue.queue; }
    uint32_t renderFamily() const {
        return info.graphicsQueue.queue ? info.graphicsQueue.familyIndex : info.computeQueue.familyIndex;
    }
};

batonChannelCreateInfo keyedChannel(unsigned depth, batonChannelPolicy policy) {
    batonChannelCreateInfo ci{};
    ci.depth = depth;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.policy = policy;
    ci.flags = batonChannelFlagKeyedMutex;
    return ci;
}

}  // namespace

TEST(ChannelKeyed, RefusesTheNativeBackend) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    batonChannelCreateInfo ci = keyedChannel(3, batonChannelPolicyFifo);
    ci.backend = batonSemaphoreBackendNative;
    batonChannel_t ch = nullptr;
    const batonError_t e = batonChannelCreate(&ch, &ci);
    EXPECT_TRUE(e == batonErrorNotSupported) << batonGetErrorName(e);
    EXPECT_EQ(ch, nullptr);
}

TEST(ChannelKeyed, ConsumerCallsOnAProducersEndAreRefused) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    batonChannelCreateInfo ci = keyedChannel(2, batonChannelPolicyFifo);
    ci.flags |= batonChannelFlagShared;
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonChannelFrame f{};
    EXPECT_EQ(batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f), batonErrorInvalidValue);
    // Not sent yet: nothing may be produced (the consumer would not know of it).
    EXPECT_EQ(batonChannelProduceFrame(ch, nullptr, batontest::clearToFrameNumber, nullptr, nullptr),
              batonErrorIllegalState);
    batonChannelPeerInfo pi{};
    BATON_ASSERT_OK(batonChannelGetPeerInfo(ch, &pi));
    EXPECT_TRUE(pi.shared);
    EXPECT_FALSE(pi.peerAlive);
    BATON_ASSERT_OK(batonChannelDestroy(ch));
}

struct KeyedParam {
    unsigned depth;
    batonChannelPolicy policy;
};

class ChannelKeyedHandoff : public ::testing::TestWithParam<KeyedParam> {};

TEST_P(ChannelKeyedHandoff, EveryPixelOfEveryFrame) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    const KeyedParam p = GetParam();
    batonChannelCreateInfo ci = keyedChannel(p.depth, p.policy);
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonStream_t stream = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&stream));
    {
        batontest::ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
        ASSERT_TRUE(h.ok());
        const uint64_t frames = framesFromEnv(3000);
        const bool fifo = p.policy == batonChannelPolicyFifo;
        batontest::HandoffResult r = h.run(ch, stream, frames, fifo);
        EXPECT_EQ(r.firstError, "");
        EXPECT_EQ(r.badPixels, 0u);
        EXPECT_EQ(r.orderErrors, 0u);
        EXPECT_EQ(r.droppedMismatch, 0u);
        EXPECT_EQ(r.lastFrame, frames);
        if (fifo) {
            EXPECT_EQ(r.consumed, frames);
        }
        BATON_ASSERT_OK(batonStreamSynchronize(stream));
        h.idle();
    }
    batonChannelInfo info{};
    BATON_ASSERT_OK(batonChannelGetInfo(ch, &info));
    EXPECT_EQ(info.backend, batonSemaphoreBackendPortable);
    BATON_ASSERT_OK(batonStreamDestroy(stream));
    BATON_ASSERT_OK(batonChannelDestroy(ch));
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Depths, ChannelKeyedHandoff,
                         ::testing::Values(KeyedParam{2, batonChannelPolicyFifo}, KeyedParam{3, batonChannelPolicyFifo},
                                           KeyedParam{8, batonChannelPolicyFifo},
                                           KeyedParam{2, batonChannelPolicyMailbox},
                                           KeyedParam{3, batonChannelPolicyMailbox},
                                           KeyedParam{8, batonChannelPolicyMailbox}),
                         [](const ::testing::TestParamInfo<KeyedParam>& i) {
                             return std::string(i.param.policy == batonChannelPolicyFifo ? "Fifo" : "Mailbox") +
                                    std::to_string(i.param.depth);
                         });

// A renderer keeps showing its frame until the next one comes, and lets the previous one go in
// the submit that reads the new one. With mailbox skipping frames in between, that release
// must give back the skipped ones too, and mailbox must never run so far ahead that the
// producer cannot make one newer frame (else both wait for each other). Both backends.
class ChannelHoldingConsumer : public ::testing::TestWithParam<bool> {};

TEST_P(ChannelHoldingConsumer, MailboxNeverDeadlocks) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    for (unsigned depth : {2u, 3u}) {
        SCOPED_TRACE("depth " + std::to_string(depth));
        batonChannelCreateInfo ci = keyedChannel(depth, batonChannelPolicyMailbox);
        if (!GetParam()) ci.flags = 0;
        batonChannel_t ch = nullptr;
        BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
        batonStream_t stream = nullptr;
        BATON_ASSERT_OK(batonStreamCreate(&stream));
        {
            batontest::ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
            ASSERT_TRUE(h.ok());
            const uint64_t frames = framesFromEnv(3000) / 3;
            std::thread producer([&] {
                for (uint64_t i = 0; i < frames; ++i)
                    if (batonChannelProduceFrame(ch, stream, batontest::clearToFrameNumber, &h, nullptr) != batonSuccess)
                        return;
            });
            batonError_t end = batonSuccess;
            batontest::HandoffResult r = h.consume(ch, UINT64_MAX, false, frames, 60000, &end, 0, true);
            producer.join();
            EXPECT_EQ(end, batonSuccess) << batonGetErrorName(end) << " " << r.firstError;
            EXPECT_EQ(r.lastFrame, frames);
            EXPECT_EQ(r.badPixels, 0u);
            EXPECT_EQ(r.orderErrors, 0u);
            BATON_ASSERT_OK(batonStreamSynchronize(stream));
            h.idle();
        }
        BATON_ASSERT_OK(batonStreamDestroy(stream));
        BATON_ASSERT_OK(batonChannelDestroy(ch));
    }
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChannelHoldingConsumer, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Keyed" : "Timelines"; });
