// The frame channel across two real processes: this test and channel_peer (fork+exec), the
// channel sent with batonChannelSend / batonChannelReceive over a socketpair.
// - 10,000 frames (BATON_CHANNEL_FRAMES) for {portable timelines, keyed mutex, native
//   timelines} x {FIFO, mailbox} x depth {2, 3}: every pixel of every frame carries its frame number, FIFO sees
//   every frame once and in order, mailbox only goes forward, the validation layer is quiet.
//   Native timelines (the driver's opaque fds) need a device with semaphore fds: skipped on
//   lavapipe, run on the H200.
// - SIGKILL of the producer at random points: the consumer's acquire says
//   batonErrorPeerLost within the documented bound and its last frame stays readable.
// - SIGKILL of the consumer: the producer's next produce says batonErrorPeerLost, its stream
//   synchronizes (nothing waits for the dead process), nothing leaks.
// - A hostile control page (the producer process scribbles it): a clear error, no hang.
// - Bad channel messages (a handle message, a foreign device, a truncated control page, an
//   extent the consumer refuses): the documented error, every fd received closed.
#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_telemetry.h>
#include <baton/baton_transport.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "baton_test.h"
#include "channel_harness.h"
#include "fd_passing.h"
#include "frames/channel_wire.h"

namespace {

using Clock = std::chrono::steady_clock;

// Synchronization validation, as test_channel (read when an instance is created).
const bool g_syncValidation = [] {
    setenv("VK_LAYER_ENABLES", "VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT", 0);
    return true;
}();

uint64_t framesFromEnv() {
    const char* v = std::getenv("BATON_CHANNEL_FRAMES");
    return v ? std::strtoull(v, nullptr, 10) : 10000;
}

// SIGKILL rounds: 25 producer kills per configuration (100 in all) and 5 consumer kills (20),
// fewer when BATON_CHANNEL_FRAMES cuts the run (sanitizers).
int killRounds(int full) { return framesFromEnv() >= 10000 ? full : 2; }

// The documented bound for noticing a dead peer: the kernel drops its lock as it exits, and
// the survivor looks whenever it has nothing new; the rest is the kernel tearing the killed
// process down (its lock goes with its last file). Noticing took 1.05-2.0 s for some kills
// under a load average of 13 on two cores:
// 4 s keeps "never noticed" failing without failing on a loaded CI machine.
constexpr auto kPeerLostBound = std::chrono::milliseconds(4000);

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

// A channel_peer child with one end of a socketpair.
struct Peer {
    pid_t pid = -1;
    int sock = -1;
    explicit Peer(std::vector<std::string> args) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
        const std::string path = batontest::helperPath("channel_peer");
        args.insert(args.begin() + 1, std::to_string(sv[1]));
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(path.c_str()));
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid = fork();
        if (pid == 0) {
            fcntl(sv[1], F_SETFD, 0);  // survives exec; every other fd is CLOEXEC
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(sv[1]);
        sock = sv[0];
    }
    int wait() {
        int status = 0;
        if (pid > 0 && waitpid(pid, &status, 0) == pid) {
            pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        return -1;
    }
    void kill9() {
        if (pid > 0) kill(pid, SIGKILL);
    }
    ~Peer() {
        kill9();
        wait();
        if (sock >= 0) close(sock);
    }
};

struct Config {
    bool keyed;
    bool mailbox;
    unsigned depth;
    bool native = false;  // native timelines (the driver's semaphore fds) instead of portable ones
};

const char* backendName(const Config& c) { return c.native ? "native" : c.keyed ? "keyed" : "portable"; }

std::string configName(const Config& c) {
    return std::string(c.native ? "Native" : c.keyed ? "Keyed" : "Portable") + (c.mailbox ? "Mailbox" : "Fifo") +
           std::to_string(c.depth);
}

// What CTest's names show for a case (gtest would print the struct's bytes, padding included).
void PrintTo(const Config& c, std::ostream* os) { *os << configName(c); }

// Native timelines cross processes only as the driver's semaphore fds (lavapipe has none).
#define SKIP_WITHOUT_SEMAPHORE_FDS(c, info)                                                                      \
    if ((c).native && !(info).nativeSemaphoreFd)                                                                 \
    GTEST_SKIP() << "the device has no semaphore fds: native timelines cannot cross processes here (H200 only)"

std::vector<std::string> producerArgs(const Config& c, uint64_t frames, uint64_t scribbleAfter = 0) {
    std::vector<std::string> a{"produce", std::to_string(frames), std::to_string(c.depth), backendName(c),
                               c.mailbox ? "1" : "0"};
    if (scribbleAfter) a.push_back(std::to_string(scribbleAfter));
    return a;
}

class ChannelXproc : public ::testing::TestWithParam<Config> {};

TEST_P(ChannelXproc, EveryPixelOfEveryFrameFromAnotherProcess) {
    const Config c = GetParam();
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    SKIP_WITHOUT_SEMAPHORE_FDS(c, tc.info);
    const uint64_t frames = framesFromEnv();
    Peer peer(producerArgs(c, frames));
    ASSERT_GT(peer.pid, 0);
    const int fdsBefore = batontest::openFdCount();
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelReceive(&ch, peer.sock, 30000, nullptr));
    batonChannelInfo info{};
    batonChannelGetInfo(ch, &info);
    EXPECT_EQ(info.backend, c.native ? batonSemaphoreBackendNative : batonSemaphoreBackendPortable);
    {
        batontest::ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
        ASSERT_TRUE(h.ok());
        batonError_t end = batonSuccess;
        batontest::HandoffResult r = h.consume(ch, frames, !c.mailbox, frames, 300000, &end);
        EXPECT_EQ(end, batonSuccess) << batonGetErrorName(end) << ": " << r.firstError;
        EXPECT_EQ(r.firstError, "");
        EXPECT_EQ(r.badPixels, 0u);
        EXPECT_EQ(r.orderErrors, 0u);
        EXPECT_EQ(r.droppedMismatch, 0u);
        EXPECT_EQ(r.lastFrame, frames);
        if (!c.mailbox) {
            EXPECT_EQ(r.consumed, frames);
        }
        h.idle();
    }
    char done = 1;
    ASSERT_TRUE(batontest::sendAll(peer.sock, &done, 1));
    EXPECT_EQ(peer.wait(), 0);
    // The producer is gone now, its frames all seen: the next acquire says so.
    batonChannelFrame f{};
    EXPECT_EQ(batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f), batonErrorPeerLost);
    BATON_ASSERT_OK(batonChannelDestroy(ch));
    EXPECT_EQ(batontest::openFdCount(), fdsBefore) << "the channel's fds must all be closed on destroy";
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChannelXproc,
                         ::testing::Values(Config{false, false, 2}, Config{false, false, 3}, Config{false, true, 2},
                                           Config{false, true, 3}, Config{true, false, 2}, Config{true, false, 3},
                                           Config{true, true, 2}, Config{true, true, 3}, Config{false, false, 2, true},
                                           Config{false, false, 3, true}, Config{false, true, 2, true},
                                           Config{false, true, 3, true}),
                         [](const ::testing::TestParamInfo<Config>& i) { return configName(i.param); });

// SIGKILL of the producer at random points (recording, signalling, holding a slot's mutex):
// the consumer hears of it within the bound and can still read its last frame.
class ChannelXprocKill : public ::testing::TestWithParam<Config> {};
void consumerKilledOnce(const Config& c, int framesBeforeKill);

TEST_P(ChannelXprocKill, ProducerKilledAtRandomPoints) {
    const Config c = GetParam();
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    SKIP_WITHOUT_SEMAPHORE_FDS(c, tc.info);
    std::mt19937 rng(static_cast<unsigned>(c.native * 8 + c.keyed * 4 + c.mailbox * 2 + c.depth));
    for (int round = 0; round < killRounds(25); ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        Peer peer(producerArgs(c, 1000000));
        ASSERT_GT(peer.pid, 0);
        const std::string fdsBefore = batontest::openFdList();
        batonChannel_t ch = nullptr;
        BATON_ASSERT_OK(batonChannelReceive(&ch, peer.sock, 30000, nullptr));
        {
            batontest::ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
            ASSERT_TRUE(h.ok());
            batonError_t end = batonSuccess;
            batontest::HandoffResult r = h.consume(ch, 20 + rng() % 200, !c.mailbox, 0, 5000, &end, 0, true);
            if (end != batonSuccess) {
                batonChannelStats st{};
                batonChannelGetStats(ch, &st);
                batonChannelPeerInfo pi{};
                batonChannelGetPeerInfo(ch, &pi);
                ADD_FAILURE() << "consumed " << r.consumed << " last " << r.lastFrame << " ready " << st.readyValue
                              << " released " << st.releasedValue << " produced(hint) " << pi.producedHint;
            }
            ASSERT_EQ(end, batonSuccess) << r.firstError;
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
            peer.kill9();
            const auto killed = Clock::now();
            batontest::HandoffResult after = h.consume(ch, UINT64_MAX, !c.mailbox, 0, 10000, &end, r.lastFrame, true);
            const auto noticed = Clock::now();
            EXPECT_EQ(end, batonErrorPeerLost) << batonGetErrorName(end) << ": " << after.firstError;
            EXPECT_LT(noticed - killed, kPeerLostBound);
            EXPECT_EQ(r.badPixels + after.badPixels, 0u);
            EXPECT_EQ(r.orderErrors + after.orderErrors, 0u);
            // Sticky, and the frame still held (a renderer keeps showing it) is intact.
            batonChannelFrame f{};
            EXPECT_EQ(batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f), batonErrorPeerLost);
            const uint64_t last = after.consumed ? after.lastFrame : r.lastFrame;
            EXPECT_EQ(h.badPixelsOf(h.lastImage, h.lastLayout, static_cast<uint32_t>(last)), 0u);
            h.idle();
        }
        EXPECT_EQ(peer.wait(), 128 + SIGKILL);
        // No GPU wait of this process depends on the dead producer (native: one would never
        // complete, and the destroy would hang on it).
        const auto destroyStart = Clock::now();
        BATON_ASSERT_OK(batonChannelDestroy(ch));
        EXPECT_LT(Clock::now() - destroyStart, std::chrono::seconds(3));
        EXPECT_EQ(batontest::fdChanges(fdsBefore, batontest::openFdList()), "");
    }
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

// SIGKILL of the consumer: the producer's next produce says so, instead of blocking.
TEST_P(ChannelXprocKill, ConsumerKilled) {
    {
        TestContext tc;
        ASSERT_NE(tc.ctx, nullptr);
        SKIP_WITHOUT_SEMAPHORE_FDS(GetParam(), tc.info);
    }
    for (int round = 0; round < killRounds(5); ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        consumerKilledOnce(GetParam(), 20 + 37 * round);
        if (HasFatalFailure()) return;
    }
}

void consumerKilledOnce(const Config& c, int framesBeforeKill) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    Peer peer({"consume"});
    ASSERT_GT(peer.pid, 0);
    const std::string fdsBefore = batontest::openFdList();
    batonChannelCreateInfo ci{};
    ci.depth = c.depth;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.policy = c.mailbox ? batonChannelPolicyMailbox : batonChannelPolicyFifo;
    ci.flags = batonChannelFlagShared | (c.keyed ? batonChannelFlagKeyedMutex : 0);
    if (c.native) ci.backend = batonSemaphoreBackendNative;
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    BATON_ASSERT_OK(batonChannelSend(ch, peer.sock, 30000));
    batonStream_t stream = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&stream));
    batontest::ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);  // loads the clear
    auto produceOne = [&](uint64_t deadlineMs) {
        const auto end = Clock::now() + std::chrono::milliseconds(deadlineMs);
        for (;;) {
            batonError_t e = batonChannelProduceFrame(ch, stream, batontest::clearToFrameNumber, &h, nullptr);
            if (e != batonErrorNotReady || Clock::now() > end) return e;
            batonChannelWaitForSlot(ch, 5000000);
        }
    };
    for (int i = 0; i < framesBeforeKill; ++i) ASSERT_EQ(produceOne(10000), batonSuccess) << batonGetLastErrorMessage();
    peer.kill9();
    const auto killed = Clock::now();
    batonError_t e = batonSuccess;
    while ((e = produceOne(5000)) == batonSuccess) {
    }
    EXPECT_EQ(e, batonErrorPeerLost) << batonGetLastErrorMessage();
    EXPECT_LT(Clock::now() - killed, kPeerLostBound);
    EXPECT_EQ(batonChannelProduceFrame(ch, stream, batontest::clearToFrameNumber, &h, nullptr), batonErrorPeerLost);
    const auto syncStart = Clock::now();
    EXPECT_EQ(batonStreamSynchronize(stream), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_LT(Clock::now() - syncStart, std::chrono::seconds(3));
    EXPECT_EQ(peer.wait(), 128 + SIGKILL);
    BATON_ASSERT_OK(batonStreamDestroy(stream));
    BATON_ASSERT_OK(batonChannelDestroy(ch));
    h.idle();
    EXPECT_EQ(batontest::fdChanges(fdsBefore, batontest::openFdList()), "");
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChannelXprocKill,
                         ::testing::Values(Config{false, false, 2}, Config{false, true, 3}, Config{true, false, 2},
                                           Config{true, true, 3}, Config{false, false, 2, true},
                                           Config{false, true, 3, true}),
                         [](const ::testing::TestParamInfo<Config>& i) { return configName(i.param); });

// The producer process scribbles the control page: the consumer gets a clear error, no hang.
void scribbledControlPage(const Config& c) {
    {
        TestContext tc;
        ASSERT_NE(tc.ctx, nullptr);
        Peer peer(producerArgs(c, 1000, 50));
        batonChannel_t ch = nullptr;
        BATON_ASSERT_OK(batonChannelReceive(&ch, peer.sock, 30000, nullptr));
        batontest::ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
        batonError_t end = batonSuccess;
        const auto start = Clock::now();
        batontest::HandoffResult r = h.consume(ch, UINT64_MAX, true, 0, 20000, &end);
        EXPECT_EQ(end, batonErrorIllegalState) << batonGetErrorName(end);
        EXPECT_NE(std::string(batonGetLastErrorMessage()).find("control page"), std::string::npos)
            << batonGetLastErrorMessage();
        EXPECT_LT(Clock::now() - start, std::chrono::seconds(15));
        EXPECT_LE(r.lastFrame, 50u);
        EXPECT_EQ(r.badPixels, 0u);
        h.idle();
        peer.kill9();
        peer.wait();
        BATON_ASSERT_OK(batonChannelDestroy(ch));
    }
}

TEST(ChannelXprocHostile, ScribbledControlPageIsAClearError) {
    for (bool keyed : {false, true}) {
        SCOPED_TRACE(keyed ? "keyed" : "timelines");
        scribbledControlPage(Config{keyed, false, 3});
    }
}

TEST(ChannelXprocHostile, ScribbledControlPageIsAClearErrorNative) {
    const Config c{false, false, 3, true};
    {
        TestContext tc;
        ASSERT_NE(tc.ctx, nullptr);
        SKIP_WITHOUT_SEMAPHORE_FDS(c, tc.info);
    }
    scribbledControlPage(c);
}

// Telemetry across processes: the producer's zones (produce, slot waits, GPU signals) reach
// the consumer's telemetry with the producer's pid, and one trace has both processes' lanes
// and flow arrows from the producer's signal to the consumer's wait.
class ChannelXprocTelemetry : public ::testing::TestWithParam<Config> {};

TEST_P(ChannelXprocTelemetry, ProducerZonesInTheConsumersTelemetryAndTrace) {
    const Config c = GetParam();
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    SKIP_WITHOUT_SEMAPHORE_FDS(c, tc.info);
    BATON_ASSERT_OK(batonTelemetryEnable(tc.ctx, 1));
    const std::string trace = testing::TempDir() + "channel_xproc_trace.json";
    BATON_ASSERT_OK(batonTraceStart(tc.ctx, trace.c_str()));
    setenv("BATON_PEER_TELEMETRY", "1", 1);
    const uint64_t frames = 300;
    Peer peer(producerArgs(c, frames));
    unsetenv("BATON_PEER_TELEMETRY");
    batonChannel_t ch = nullptr;
    BATON_ASSERT_OK(batonChannelReceive(&ch, peer.sock, 30000, nullptr));
    {
        batontest::ChannelHarness h(tc.ctx, tc.renderQueue(), tc.renderFamily(), 8, 8);
        batonError_t end = batonSuccess;
        batontest::HandoffResult r = h.consume(ch, frames, true, frames, 60000, &end);
        EXPECT_EQ(r.lastFrame, frames) << r.firstError;
        h.idle();
    }
    char done = 1;
    ASSERT_TRUE(batontest::sendAll(peer.sock, &done, 1));
    const pid_t producerPid = peer.pid;
    EXPECT_EQ(peer.wait(), 0);
    batonChannelFrame f{};
    batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f);  // reads the last zones
    std::vector<batonTelemetryRecord> recs(1 << 16);
    unsigned n = 0;
    BATON_ASSERT_OK(batonTelemetryRead(tc.ctx, 0, recs.data(), static_cast<unsigned>(recs.size()), &n));
    uint64_t produce = 0, signal = 0, mine = 0;
    for (unsigned i = 0; i < n; ++i) {
        const batonTelemetryRecord& rec = recs[i];
        if (rec.pid != static_cast<uint32_t>(producerPid)) {
            ++mine;
            continue;
        }
        EXPECT_LE(rec.gpuStartNs, rec.gpuEndNs);
        produce += rec.kind == batonTelemetryProduce;
        signal += rec.kind == batonTelemetrySignal;
    }
    // The ring holds the last 48 zones whenever the consumer looks: it looks every acquire.
    EXPECT_GE(produce, frames * 9 / 10) << "producer zones missing from the consumer's telemetry";
    EXPECT_GT(signal, frames / 2) << "the producer's GPU signals did not come across";
    EXPECT_GT(mine, 0u);
    // The handoff latency across processes: the producer's GPU end (its zone, on the host
    // clock) to the consumer's first command, per frame, in the frame ring and the stats.
    std::vector<batonTelemetryFrame> fr(frames + 64);
    unsigned nf = 0;
    BATON_ASSERT_OK(batonTelemetryReadFrames(tc.ctx, 0, fr.data(), static_cast<unsigned>(fr.size()), &nf));
    unsigned timed = 0, fromPeer = 0;
    for (unsigned i = 0; i < nf; ++i) {
        fromPeer += fr[i].producerPid == static_cast<uint32_t>(producerPid);
        if (!(fr[i].flags & BATON_TELEMETRY_FRAME_TIMED)) continue;
        ++timed;
        EXPECT_GT(fr[i].consumeStartNs, fr[i].readyNs) << "frame " << fr[i].frame;
        EXPECT_EQ(fr[i].handoffNs, fr[i].consumeStartNs - fr[i].readyNs) << "frame " << fr[i].frame;
    }
    EXPECT_EQ(fromPeer, nf) << "frames not marked as the producer process's";
    EXPECT_GT(timed, frames / 2) << "of " << nf << " frames, " << timed << " have a handoff latency";
    batonChannelStats st{};
    BATON_ASSERT_OK(batonChannelGetStats(ch, &st));
    EXPECT_GT(st.handoffs, frames / 2);
    BATON_ASSERT_OK(batonTraceStop(tc.ctx));
    std::ifstream in(trace);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string json = ss.str();
    EXPECT_NE(json.find("\"baton pid " + std::to_string(producerPid) + "\""), std::string::npos) << "no producer lane";
    EXPECT_NE(json.find("\"baton pid " + std::to_string(getpid()) + "\""), std::string::npos) << "no consumer lane";
    const std::string flowFromProducer = "\"ph\":\"s\",\"id\":";
    size_t flows = 0;
    for (size_t at = json.find(flowFromProducer); at != std::string::npos; at = json.find(flowFromProducer, at + 1))
        if (json.compare(json.find("\"pid\":", at) + 6, std::to_string(producerPid).size(), std::to_string(producerPid)) == 0)
            ++flows;
    EXPECT_GT(flows, 0u) << "no flow arrow from the producer's signal to the consumer's wait";
    BATON_ASSERT_OK(batonChannelDestroy(ch));
    std::remove(trace.c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, ChannelXprocTelemetry,
                         ::testing::Values(Config{false, false, 2}, Config{false, false, 2, true}),
                         [](const ::testing::TestParamInfo<Config>& i) { return configName(i.param); });

// ---- Bad channel messages (one process: the sender is the test) ----

struct SocketPair {
    int a = -1, b = -1;
    SocketPair() {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
            a = sv[0];
            b = sv[1];
        }
    }
    ~SocketPair() {
        close(a);
        close(b);
    }
};

baton::ChannelWire forgedWire(const batonContextInfo& info, unsigned depth) {
    baton::ChannelWire w{};
    w.magic = baton::kChannelWireMagic;
    w.version = baton::kChannelWireVersion;
    w.size = sizeof w;
    w.kind = baton::kChannelWireKind;
    w.depth = depth;
    w.format = VK_FORMAT_R32_UINT;
    w.width = w.height = 8;
    w.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    w.consumerLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    w.fdCount = baton::channelFdCount(depth, false);
    w.timelines = baton::kChannelTimelinesPortable;
    std::memcpy(w.deviceUUID, info.deviceUUID, VK_UUID_SIZE);
    std::memcpy(w.driverUUID, info.driverUUID, VK_UUID_SIZE);
    return w;
}

// Sends w with fdCount fds: memfds of pageSize bytes (unsealed), the caller keeps nothing.
bool sendForged(int sock, const baton::ChannelWire& w, int fdCount, off_t pageSize) {
    int fds[baton::kChannelMaxFds];
    for (int i = 0; i < fdCount; ++i) {
        fds[i] = memfd_create("forged", MFD_CLOEXEC);
        if (ftruncate(fds[i], pageSize) != 0) return false;
    }
    const bool ok = batontest::sendWithFds(sock, &w, sizeof w, fds, fdCount);
    for (int i = 0; i < fdCount; ++i) close(fds[i]);
    return ok;
}

TEST(ChannelXprocBadInput, RefusedMessagesLeakNothing) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    const int fdsBefore = batontest::openFdCount();
    batonChannel_t ch = nullptr;
    {  // a handle message where a channel was expected
        SocketPair sp;
        batonExternalSemaphoreExportDesc d{};
        d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        d.flags = batonExportFlagPortable;
        int fd = -1;
        batonExternalSemaphore_t sem = nullptr;
        BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &sem, &d));
        close(fd);
        BATON_ASSERT_OK(batonSendExternalSemaphore(sp.a, sem, 0));
        EXPECT_EQ(batonChannelReceive(&ch, sp.b, 1000, nullptr), batonErrorWrongKind);
        BATON_ASSERT_OK(batonDestroyExternalSemaphore(sem));
    }
    {  // another GPU's channel
        SocketPair sp;
        baton::ChannelWire w = forgedWire(tc.info, 2);
        w.deviceUUID[0] ^= 0xff;
        ASSERT_TRUE(sendForged(sp.a, w, static_cast<int>(w.fdCount), 4096));
        EXPECT_EQ(batonChannelReceive(&ch, sp.b, 1000, nullptr), batonErrorForeignDevice);
    }
    {  // a truncated (and unsealed) control page
        SocketPair sp;
        baton::ChannelWire w = forgedWire(tc.info, 2);
        ASSERT_TRUE(sendForged(sp.a, w, static_cast<int>(w.fdCount), 100));
        EXPECT_EQ(batonChannelReceive(&ch, sp.b, 1000, nullptr), batonErrorInvalidResourceHandle);
        EXPECT_NE(std::string(batonGetLastErrorMessage()).find("control page"), std::string::npos);
    }
    {  // fewer fds than the channel needs
        SocketPair sp;
        baton::ChannelWire w = forgedWire(tc.info, 3);
        ASSERT_TRUE(sendForged(sp.a, w, 2, 4096));
        EXPECT_EQ(batonChannelReceive(&ch, sp.b, 1000, nullptr), batonErrorInvalidResourceHandle);
    }
    {  // nothing comes
        SocketPair sp;
        EXPECT_EQ(batonChannelReceive(&ch, sp.b, 50, nullptr), batonErrorTimeout);
    }
    EXPECT_EQ(ch, nullptr);
    EXPECT_EQ(batontest::openFdCount(), fdsBefore) << "every fd received must be closed";
}

// A real channel whose extent the consumer refuses: both ends say so.
TEST(ChannelXprocBadInput, ExtentTheConsumerRefuses) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    const int fdsBefore = batontest::openFdCount();
    const std::string listBefore = batontest::openFdList();
    batonChannelCreateInfo ci{};
    ci.depth = 2;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.flags = batonChannelFlagShared;
    batonChannel_t producer = nullptr;
    BATON_ASSERT_OK(batonChannelCreate(&producer, &ci));
    const int fdsAfterCreate = batontest::openFdCount();
    SocketPair sp;
    batonError_t sent = batonSuccess;
    std::thread sender([&] {
        batonCtxSetCurrent(tc.ctx);
        sent = batonChannelSend(producer, sp.a, 10000);
    });
    batonChannelCreateInfo want{};
    want.extent = {1920, 1080};
    batonChannel_t consumer = nullptr;
    EXPECT_EQ(batonChannelReceive(&consumer, sp.b, 10000, &want), batonErrorNotSupported);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("extent"), std::string::npos);
    sender.join();
    EXPECT_EQ(sent, batonErrorNotSupported);
    EXPECT_EQ(consumer, nullptr);
    EXPECT_EQ(batontest::openFdCount(), fdsAfterCreate + 2) << "only the socket pair: every fd received was closed";
    BATON_ASSERT_OK(batonChannelDestroy(producer));
    EXPECT_EQ(batontest::openFdCount(), fdsBefore + 2) << batontest::fdChanges(listBefore, batontest::openFdList());
}


// A shared channel with native timelines: made where the device has semaphore fds (its
// info says native), refused with NotSupported where it has none (lavapipe), nothing leaked.
TEST(ChannelXprocBadInput, NativeSharedChannelNeedsSemaphoreFds) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    const int fdsBefore = batontest::openFdCount();
    batonChannelCreateInfo ci{};
    ci.depth = 2;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.flags = batonChannelFlagShared;
    ci.backend = batonSemaphoreBackendNative;
    batonChannel_t ch = nullptr;
    const batonError_t e = batonChannelCreate(&ch, &ci);
    if (tc.info.nativeSemaphoreFd) {
        ASSERT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        batonChannelInfo info{};
        batonChannelGetInfo(ch, &info);
        EXPECT_EQ(info.backend, batonSemaphoreBackendNative);
        BATON_ASSERT_OK(batonChannelDestroy(ch));
    } else {
        EXPECT_EQ(e, batonErrorNotSupported);
        EXPECT_NE(std::string(batonGetLastErrorMessage()).find("semaphore fds"), std::string::npos)
            << batonGetLastErrorMessage();
        EXPECT_EQ(ch, nullptr);
    }
    // Keyed slots stay portable whatever the device.
    ci.flags |= batonChannelFlagKeyedMutex;
    EXPECT_EQ(batonChannelCreate(&ch, &ci), batonErrorNotSupported);
    EXPECT_EQ(batontest::openFdCount(), fdsBefore);
}

// The message says what its timelines are, and the receiver holds the fds to it: a real
// channel's message relabeled on its way (a relay in the middle rewrites `timelines`) is
// refused with the documented error, both ends say so, and every fd received is closed.
batonError_t relabeledOnTheWay(const Config& c, uint32_t timelines, batonError_t* sentOut, bool* fdsBack) {
    const int fdsBefore = batontest::openFdCount();
    batonChannelCreateInfo ci{};
    ci.depth = 2;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.flags = batonChannelFlagShared | (c.keyed ? batonChannelFlagKeyedMutex : 0);
    if (c.native) ci.backend = batonSemaphoreBackendNative;
    batonChannel_t producer = nullptr;
    if (batonChannelCreate(&producer, &ci) != batonSuccess) return batonErrorUnknown;
    const int fdsAfterCreate = batontest::openFdCount();
    batonError_t got = batonErrorUnknown;
    {
        SocketPair in, out;  // producer -> relay, relay -> receiver
        batonContext_t ctx = nullptr;
        batonCtxGetCurrent(&ctx);
        std::thread sender([&] {
            batonCtxSetCurrent(ctx);
            *sentOut = batonChannelSend(producer, in.a, 10000);
        });
        baton::ChannelWire w{};
        int fds[16];  // fd_passing's most; a depth-2 channel sends 5 (7 keyed)
        int n = 0;
        if (batontest::recvWithFds(in.b, &w, sizeof w, fds, 16, &n)) {
            w.timelines = timelines;
            const bool forwarded = batontest::sendWithFds(out.a, &w, sizeof w, fds, n);
            for (int i = 0; i < n; ++i) close(fds[i]);
            batonChannel_t consumer = nullptr;
            if (forwarded) got = batonChannelReceive(&consumer, out.b, 10000, nullptr);
            if (consumer) batonChannelDestroy(consumer);
            baton::ChannelAck ack{};
            if (batontest::recvAll(out.a, &ack, sizeof ack)) batontest::sendAll(in.b, &ack, sizeof ack);
        }
        sender.join();
        *fdsBack = batontest::openFdCount() == fdsAfterCreate + 4;  // only the two socket pairs
    }
    batonChannelDestroy(producer);
    *fdsBack = *fdsBack && batontest::openFdCount() == fdsBefore;
    return got;
}

TEST(ChannelXprocBadInput, TimelinesOfAnotherKindThanTheMessageSays) {
    TestContext tc;
    ASSERT_NE(tc.ctx, nullptr);
    struct Case {
        const char* what;
        Config c;
        uint32_t timelines;
        batonError_t want;
    };
    const bool fds = tc.info.nativeSemaphoreFd;
    std::vector<Case> cases = {
        {"unknown kind", Config{false, false, 2}, 7, batonErrorInvalidResourceHandle},
        {"keyed channel named native", Config{true, false, 2}, baton::kChannelTimelinesNative,
         batonErrorInvalidResourceHandle},
        // Without semaphore fds the receiver refuses native timelines before it looks at an fd.
        {"portable memfds named native", Config{false, false, 2}, baton::kChannelTimelinesNative,
         fds ? batonErrorInvalidResourceHandle : batonErrorNotSupported},
    };
    if (fds)  // the driver's fds only exist where the device has semaphore fds (H200)
        cases.push_back({"native fds named portable", Config{false, false, 2, true}, baton::kChannelTimelinesPortable,
                         batonErrorInvalidResourceHandle});
    for (const Case& k : cases) {
        SCOPED_TRACE(k.what);
        batonError_t sent = batonSuccess;
        bool fdsBack = false;
        EXPECT_EQ(relabeledOnTheWay(k.c, k.timelines, &sent, &fdsBack), k.want) << batonGetLastErrorMessage();
        EXPECT_EQ(sent, k.want);
        EXPECT_TRUE(fdsBack) << "every fd received must be closed";
    }
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

}  // namespace
