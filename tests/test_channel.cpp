// Frame channel: argument checks, the handoff over 10,000 frames at depths 2-4 in FIFO and
// mailbox (every pixel of every frame checked), synchronization validation actually on,
// telemetry figures and a trace that parses and has lanes, flows and counters.
#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_telemetry.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "baton_test.h"
#include "host_device.h"
#include "channel_harness.h"

using batontest::ChannelHarness;
using batontest::HandoffResult;

namespace {

// Synchronization validation for every context of this suite: the layer reads VK_LAYER_ENABLES
// when an instance is created, so it is set before main() (unless the caller set it already).
const bool g_syncValidationRequested = [] {
    setenv("VK_LAYER_ENABLES", "VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT", 0);
    return true;
}();

uint64_t framesFromEnv() {
    const char* v = std::getenv("BATON_CHANNEL_FRAMES");
    return v ? std::strtoull(v, nullptr, 10) : 10000;
}

// A context for one test, current on this thread, with validation reported to the listener.
struct TestContext {
    batonContext_t ctx = nullptr;
    batonContextInfo info{};
    TestContext() {
        // Standalone, or attached to the test host device in attach mode (BATON_TEST_ATTACH=1).
        if (batontest::createTestContext(&ctx) != batonSuccess) return;
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

batonChannelCreateInfo smallChannel(unsigned depth, batonChannelPolicy policy) {
    batonChannelCreateInfo ci{};
    ci.depth = depth;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.policy = policy;
    return ci;
}

}  // namespace

TEST(Channel, RejectsBadArguments) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    batonChannel_t ch = nullptr;
    batonChannelCreateInfo ci = smallChannel(3, batonChannelPolicyFifo);
    EXPECT_EQ(batonChannelCreate(nullptr, &ci), batonErrorInvalidValue);
    EXPECT_EQ(batonChannelCreate(&ch, nullptr), batonErrorInvalidValue);
    for (unsigned depth : {1u, 9u}) {
        ci = smallChannel(depth, batonChannelPolicyFifo);
        EXPECT_EQ(batonChannelCreate(&ch, &ci), batonErrorInvalidValue) << "depth " << depth;
    }
    ci = smallChannel(3, batonChannelPolicyFifo);
    ci.format = VK_FORMAT_UNDEFINED;
    EXPECT_EQ(batonChannelCreate(&ch, &ci), batonErrorInvalidValue);
    ci = smallChannel(3, batonChannelPolicyFifo);
    ci.extent = {0, 4};
    EXPECT_EQ(batonChannelCreate(&ch, &ci), batonErrorInvalidValue);
    ci = smallChannel(3, static_cast<batonChannelPolicy>(7));
    EXPECT_EQ(batonChannelCreate(&ch, &ci), batonErrorInvalidValue);
    ci = smallChannel(3, batonChannelPolicyFifo);
    ci.reserved[2] = 1;
    EXPECT_EQ(batonChannelCreate(&ch, &ci), batonErrorInvalidValue);
    ci = smallChannel(3, batonChannelPolicyFifo);
    ci.backend = batonSemaphoreBackendNative;
    const bool nativeOk = tc.info.nativeSemaphoreFd && !tc.info.queueShared;
    EXPECT_EQ(batonChannelCreate(&ch, &ci), nativeOk ? batonSuccess : batonErrorNotSupported);
    if (nativeOk) batonChannelDestroy(ch);

    ci = smallChannel(2, batonChannelPolicyFifo);
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonChannelFrame f{};
    EXPECT_EQ(batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f), batonErrorNotReady);  // nothing produced
    EXPECT_EQ(batonChannelAcquireFrame(ch, 0, &f), batonErrorInvalidValue);
    EXPECT_EQ(batonChannelProduceFrame(ch, nullptr, nullptr, nullptr, nullptr), batonErrorInvalidValue);
    batonChannelRelease rel{};
    f.frame = 1;
    EXPECT_EQ(batonChannelReleaseFrame(ch, &f, VK_PIPELINE_STAGE_2_COPY_BIT, &rel), batonErrorInvalidValue);  // not acquired
    int fd = -1;
    EXPECT_EQ(batonChannelExportFds(ch, 0, &fd, nullptr, nullptr), batonErrorInvalidValue);  // not exportable
    EXPECT_EQ(batonChannelExportFds(ch, 5, nullptr, &fd, nullptr), batonErrorInvalidValue);  // no such slot
    BATON_ASSERT_OK(batonChannelDestroy(ch));
    EXPECT_EQ(batonChannelGetInfo(ch, reinterpret_cast<batonChannelInfo*>(&rel)), batonErrorInvalidResourceHandle);
    EXPECT_EQ(batonChannelDestroy(nullptr), batonSuccess);
}

TEST(Channel, ExportableImagesAndSemaphoresGiveFds) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    if (!tc.info.externalMemoryFd) GTEST_SKIP() << "the device has no VK_KHR_external_memory_fd";
    batonChannelCreateInfo ci = smallChannel(2, batonChannelPolicyFifo);
    ci.flags = batonChannelFlagExportable;
    batonChannel_t ch = nullptr;
    const int before = batontest::openFdCount();
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    const int withChannel = batontest::openFdCount();
    int mem = -1, ready = -1, released = -1;
    BATON_ASSERT_OK(batonChannelExportFds(ch, 1, &mem, &ready, &released));
    EXPECT_GE(mem, 0);
    EXPECT_GE(ready, 0);
    EXPECT_GE(released, 0);
    EXPECT_EQ(batontest::openFdCount(), withChannel + 3);
    // The semaphore fds import as baton timelines (here: into the same process).
    batonExternalSemaphoreHandleDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.handle.fd = ready;
    batonExternalSemaphore_t imported = nullptr;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&imported, &d));
    batonDestroyExternalSemaphore(imported);
    close(mem);
    close(released);
    BATON_ASSERT_OK(batonChannelDestroy(ch));
    EXPECT_EQ(batontest::openFdCount(), before);
}

// Sync validation must really be on for the handoff tests to mean anything: a clear after a
// clear of the same image with no barrier is a write-after-write hazard it has to report.
namespace {
std::atomic<int> g_syncHazards{0};
void countHazards(batonMessageSeverity, const char* message, void*) {
    if (std::strstr(message, "SYNC-HAZARD")) g_syncHazards.fetch_add(1);
}
void clearTwice(VkCommandBuffer cmd, VkImage image, unsigned long long frame, void* h) {
    batontest::clearToFrameNumber(cmd, image, frame, h);
    batontest::clearToFrameNumber(cmd, image, frame, h);
}
}  // namespace

TEST(Channel, SynchronizationValidationIsOn) {
    // Set at start-up (above); without it the handoff tests would prove less.
    ASSERT_TRUE(g_syncValidationRequested);
    const char* enables = std::getenv("VK_LAYER_ENABLES");
    ASSERT_TRUE(enables && std::strstr(enables, "VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT"))
        << "run this suite with VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT ";
    batonContextCreateInfo ci{};
    ci.flags = batonContextFlagValidation;
    ci.messageCallback = countHazards;  // not the suite's callback: these errors are expected
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&ctx, &ci));
    batonCtxSetCurrent(ctx);
    batonContextInfo info{};
    batonContextGetInfo(ctx, &info);
    {
        ChannelHarness h(ctx, info.computeQueue.queue, info.computeQueue.familyIndex, 8, 8);  // loads the clear function
        ASSERT_TRUE(h.ok());
        batonChannelCreateInfo cci = smallChannel(2, batonChannelPolicyFifo);
        batonChannel_t ch = nullptr;
        BATON_ASSERT_OK(batonChannelCreate(&ch, &cci));
        batonStream_t s = nullptr;
        BATON_ASSERT_OK(batonStreamCreate(&s));
        const int before = g_syncHazards.load();
        BATON_ASSERT_OK(batonChannelProduceFrame(ch, s, clearTwice, &h, nullptr));
        BATON_ASSERT_OK(batonStreamSynchronize(s));
        EXPECT_GT(g_syncHazards.load(), before) << "the layer did not report a WAW hazard: sync validation is off";
        batonStreamDestroy(s);
        batonChannelDestroy(ch);
    }
    batonCtxSetCurrent(nullptr);
    batonContextDestroy(ctx);
}

// ---------------------------------------------------------------------------------------
// The handoff: every pixel of every frame, FIFO and mailbox, depths 2..4.

struct HandoffCase {
    unsigned depth;
    batonChannelPolicy policy;
    bool telemetry;
};
// Readable (and stable: no padding bytes) in test names and CTest's "# GetParam() =" suffix.
void PrintTo(const HandoffCase& c, std::ostream* os) {
    *os << "depth " << c.depth << (c.policy == batonChannelPolicyFifo ? " fifo" : " mailbox")
        << (c.telemetry ? " telemetry" : "");
}

class ChannelHandoff : public ::testing::TestWithParam<HandoffCase> {};

TEST_P(ChannelHandoff, EveryPixelOfEveryFrame) {
    const HandoffCase c = GetParam();
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    if (c.telemetry) BATON_ASSERT_OK(batonTelemetryEnable(tc.ctx, 1));
    ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
    ASSERT_TRUE(h.ok());
    batonChannelCreateInfo ci = smallChannel(c.depth, c.policy);
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    const uint64_t frames = framesFromEnv();
    HandoffResult r = h.run(ch, s, frames, c.policy == batonChannelPolicyFifo);
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    h.idle();
    EXPECT_EQ(r.firstError, "");
    EXPECT_EQ(r.lastFrame, frames);
    EXPECT_EQ(r.badFrames, 0u);
    EXPECT_EQ(r.badPixels, 0u);
    EXPECT_EQ(r.orderErrors, 0u);
    EXPECT_EQ(r.droppedMismatch, 0u);
    if (c.policy == batonChannelPolicyFifo) {
        EXPECT_EQ(r.consumed, frames);
        EXPECT_EQ(r.dropped, 0u);
    } else {
        EXPECT_EQ(r.consumed + r.dropped, frames);
    }
    batonChannelInfo info{};
    BATON_ASSERT_OK(batonChannelGetInfo(ch, &info));
    // Portable values are published by a baton thread shortly after the GPU got there.
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(info.released, frames, 5000000000ull));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(info.ready, frames, 5000000000ull));
    batonChannelStats st{};
    BATON_ASSERT_OK(batonChannelGetStats(ch, &st));
    EXPECT_EQ(st.produced, frames);
    EXPECT_EQ(st.consumed, r.consumed);
    EXPECT_EQ(st.dropped, r.dropped);
    EXPECT_EQ(st.readyValue, frames);
    EXPECT_EQ(st.releasedValue, frames);
    std::printf("[ figures  ] depth %u %s: %llu frames, %llu consumed, %llu dropped, %llu not-ready polls\n", c.depth,
                c.policy == batonChannelPolicyFifo ? "fifo" : "mailbox", static_cast<unsigned long long>(frames),
                st.consumed, st.dropped, st.consumerNotReady);
    batonStreamDestroy(s);
    BATON_ASSERT_OK(batonChannelDestroy(ch));
}

INSTANTIATE_TEST_SUITE_P(Depths, ChannelHandoff,
                         ::testing::Values(HandoffCase{2, batonChannelPolicyFifo, false},
                                           HandoffCase{3, batonChannelPolicyFifo, false},
                                           HandoffCase{4, batonChannelPolicyFifo, false},
                                           HandoffCase{2, batonChannelPolicyMailbox, false},
                                           HandoffCase{3, batonChannelPolicyMailbox, false},
                                           HandoffCase{4, batonChannelPolicyMailbox, false},
                                           HandoffCase{3, batonChannelPolicyFifo, true},
                                           HandoffCase{3, batonChannelPolicyMailbox, true}),
                         [](const ::testing::TestParamInfo<HandoffCase>& i) {
                             return std::string(i.param.policy == batonChannelPolicyFifo ? "Fifo" : "Mailbox") +
                                    std::to_string(i.param.depth) + (i.param.telemetry ? "Telemetry" : "");
                         });

// ---------------------------------------------------------------------------------------
// Telemetry and trace

TEST(Telemetry, RecordsHaveCalibratedGpuTimesAndStats) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    BATON_ASSERT_OK(batonTelemetryEnable(tc.ctx, 1));
    ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
    ASSERT_TRUE(h.ok());
    batonChannelCreateInfo ci = smallChannel(3, batonChannelPolicyFifo);
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    HandoffResult r = h.run(ch, s, 300, true);
    ASSERT_EQ(r.firstError, "");
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    h.idle();

    batonChannelStats st{};
    BATON_ASSERT_OK(batonChannelGetStats(ch, &st));
    EXPECT_EQ(st.produced, 300u);
    EXPECT_GT(st.handoffs, 250u);  // every completed frame but the few not resolved yet
    EXPECT_GE(st.handoffNsMax, st.handoffNsLast);
    EXPECT_GT(st.producerStalls, 0u);  // depth 3 over 300 frames: the producer waited on "released"

    batonChannelInfo info{};
    BATON_ASSERT_OK(batonChannelGetInfo(ch, &info));
    batonTelemetrySemaphoreStats rs{};
    BATON_ASSERT_OK(batonTelemetryGetSemaphoreStats(info.ready, &rs));
    EXPECT_EQ(rs.currentValue, 300u);
    EXPECT_EQ(rs.signals, 300u);
    EXPECT_GE(rs.waits, 300u);  // the consumer waits on every frame
    EXPECT_GT(rs.lastSignalNs, 0u);

    for (batonTelemetryApi api : {batonTelemetryApiChannelProduce, batonTelemetryApiChannelAcquire,
                                  batonTelemetryApiChannelRelease}) {
        batonTelemetryApiStats as{};
        BATON_ASSERT_OK(batonTelemetryGetApiStats(tc.ctx, api, &as));
        EXPECT_GE(as.calls, 300u) << "api " << api;
        EXPECT_GT(as.totalNs, 0u);
    }

    static batonTelemetryRecord recs[1 << 14];
    unsigned n = 0;
    BATON_ASSERT_OK(batonTelemetryRead(tc.ctx, 0, recs, 1 << 14, &n));
    ASSERT_GT(n, 1000u);
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const uint64_t hostNow = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
    unsigned submits = 0, resolvedSubmits = 0, bad = 0;
    for (unsigned i = 0; i < n; ++i) {
        const batonTelemetryRecord& rec = recs[i];
        if (i) {
            EXPECT_GT(rec.seq, recs[i - 1].seq);
        }
        if (rec.kind != batonTelemetrySubmit) continue;
        ++submits;
        if (!(rec.flags & 1)) continue;
        ++resolvedSubmits;
        // Calibrated to the host clock: GPU work starts after it was submitted (within the
        // calibration's error: a calibration sample pair that straddles a preemption, common
        // under sanitizers on 2 busy cores, can be off by a scheduler slice, hence 20 ms) and
        // ends before now.
        if (rec.gpuStartNs > rec.gpuEndNs || rec.gpuEndNs > hostNow + 20000000 ||
            rec.gpuStartNs + 20000000 < rec.cpuNs)
            ++bad;
    }
    EXPECT_GT(submits, 100u);
    EXPECT_GT(resolvedSubmits, submits * 9 / 10);
    EXPECT_EQ(bad, 0u);
    batonStreamDestroy(s);
    BATON_ASSERT_OK(batonChannelDestroy(ch));
}

// A small JSON checker: parses the whole document, counts what the trace must have.
namespace {
struct JsonChecker {
    const std::string& s;
    size_t i = 0;
    bool ok = true;
    explicit JsonChecker(const std::string& text) : s(text) {}
    void ws() {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    }
    bool lit(const char* l) {
        size_t n = std::strlen(l);
        if (s.compare(i, n, l) != 0) return ok = false;
        i += n;
        return true;
    }
    bool str() {
        if (s[i] != '"') return ok = false;
        for (++i; i < s.size() && s[i] != '"'; ++i)
            if (s[i] == '\\') ++i;
        if (i >= s.size()) return ok = false;
        ++i;
        return true;
    }
    bool num() {
        size_t b = i;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || std::strchr("+-.eE", s[i]))) ++i;
        return i > b || (ok = false);
    }
    bool value() {
        ws();
        if (i >= s.size()) return ok = false;
        switch (s[i]) {
            case '{': {
                ++i;
                ws();
                if (s[i] == '}') return ++i, true;
                for (;;) {
                    ws();
                    if (!str()) return false;
                    ws();
                    if (s[i++] != ':') return ok = false;
                    if (!value()) return false;
                    ws();
                    if (s[i] == ',') {
                        ++i;
                        continue;
                    }
                    if (s[i] == '}') return ++i, true;
                    return ok = false;
                }
            }
            case '[': {
                ++i;
                ws();
                if (s[i] == ']') return ++i, true;
                for (;;) {
                    if (!value()) return false;
                    ws();
                    if (s[i] == ',') {
                        ++i;
                        continue;
                    }
                    if (s[i] == ']') return ++i, true;
                    return ok = false;
                }
            }
            case '"': return str();
            case 't': return lit("true");
            case 'f': return lit("false");
            case 'n': return lit("null");
            default: return num();
        }
    }
    bool parse() {
        value();
        ws();
        return ok && i == s.size();
    }
};

size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}
}  // namespace

TEST(Telemetry, TraceParsesAndHasLanesFlowsCounters) {
    if (batontest::attachModeContext())
        GTEST_SKIP() << "attach mode: only 74 of 200 consumer zones resolve on a host-shared queue (open issue); "
                        "the standalone run of this case checks the trace";
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    const std::string path = batontest::helperPath("channel_trace.json");
    std::remove(path.c_str());
    ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
    ASSERT_TRUE(h.ok());
    batonChannelCreateInfo ci = smallChannel(2, batonChannelPolicyFifo);
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    BATON_ASSERT_OK(batonTraceStart(tc.ctx, path.c_str()));
    EXPECT_EQ(batonTraceStart(tc.ctx, path.c_str()), batonErrorIllegalState);
    HandoffResult r = h.run(ch, s, 200, true);
    ASSERT_EQ(r.firstError, "");
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    h.idle();
    batonChannelStats st{};
    batonChannelGetStats(ch, &st);  // resolves the consumer's timestamps
    BATON_ASSERT_OK(batonTraceStop(tc.ctx));
    EXPECT_EQ(batonTraceStop(tc.ctx), batonErrorIllegalState);

    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    JsonChecker j(text);
    ASSERT_TRUE(j.parse()) << "the trace is not valid JSON (stopped at byte " << j.i << ")";
    EXPECT_EQ(count(text, "\"process_name\""), 1u);
    EXPECT_GE(count(text, "\"thread_name\""), 2u);
    EXPECT_GE(count(text, "stream queue"), 1u);
    EXPECT_GE(count(text, "renderer queue"), 1u);
    EXPECT_GE(count(text, "\"name\":\"GPU work\""), 100u);
    EXPECT_GE(count(text, "\"name\":\"consume frame"), 100u);
    const size_t starts = count(text, "\"ph\":\"s\""), finishes = count(text, "\"ph\":\"f\"");
    EXPECT_GE(starts, 300u);  // ready -> consumer waits, released -> producer waits
    EXPECT_EQ(starts, finishes);
    EXPECT_GE(count(text, "\"ph\":\"C\""), 300u);
    // Python's parser too, where it is installed.
    if (std::system("command -v python3 >/dev/null 2>&1") == 0) {
        std::string cmd = "python3 -c \"import json,sys; json.load(open(sys.argv[1]))\" '" + path + "'";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << "python3 json.load rejected " << path;
    }
    batonStreamDestroy(s);
    BATON_ASSERT_OK(batonChannelDestroy(ch));
}
