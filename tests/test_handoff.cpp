// Keyed-mutex handoff between two real processes: this test is the producer, the baton_peer
// helper (fork+exec) the consumer. The mutex and a host-visible buffer go to the helper
// through baton_transport.h over a socketpair; each side writes its identity into the buffer
// on the GPU while it holds the mutex and checks the other's writes on the host.
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <baton/baton.h>
#include <baton/baton_memory.h>
#include <baton/baton_transport.h>
#include <gtest/gtest.h>

#include "baton_test.h"
#include "helpers/handoff_side.h"
#include "helpers/peer_protocol.h"

namespace {

using namespace std::chrono_literals;

struct Peer {
    pid_t pid = -1;
    int sock = -1;
};

// fork+exec of baton_peer with one end of a SOCK_SEQPACKET socketpair.
Peer spawnPeer(std::vector<std::string> args) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
    const std::string path = batontest::helperPath("baton_peer");
    args.insert(args.begin(), {path, "--socket", std::to_string(sv[1])});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(sv[1], F_SETFD, 0);  // the child's end survives exec
        execv(path.c_str(), argv.data());
        _exit(127);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return {};
    }
    return {pid, sv[0]};
}

bool readReport(const Peer& p, peer::Report* r, int timeoutMs = 300000) {
    pollfd pf{p.sock, POLLIN, 0};
    if (poll(&pf, 1, timeoutMs) != 1) return false;
    return recv(p.sock, r, sizeof *r, 0) == static_cast<ssize_t>(sizeof *r) && r->magic == peer::kReportMagic;
}

int reap(Peer& p) {
    int status = 0;
    if (p.pid > 0) waitpid(p.pid, &status, 0);
    if (p.sock >= 0) close(p.sock);
    p = {};
    return status;
}

// The producer's side: a keyed mutex released with 0 and a buffer holding the initial pattern.
class HandoffTest : public ::testing::Test {
protected:
    void SetUp() override {
        batonContext_t ctx = nullptr;
        BATON_ASSERT_OK(batonCtxGetCurrent(&ctx));  // the default context's fds count as before
        fdsBefore_ = batontest::openFdCount();
        batonExternalSemaphoreExportDesc d{};
        d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
        d.initialKey = 0;
        int fd = -1;
        BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &side.mutex, &d));
        close(fd);  // batonSendExternalSemaphore sends its own
        batonMemoryDesc md{};
        md.kind = batonMemoryKindBuffer;
        md.size = handoff::kBufferBytes;
        md.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        md.memoryProperties = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        BATON_ASSERT_OK(batonExportMemory(&fd, &side.buffer, &md));
        close(fd);
        batonMemoryInfo mi{};
        BATON_ASSERT_OK(batonMemoryGetInfo(side.buffer, &mi));
        ASSERT_NE(mi.hostPointer, nullptr);
        auto* w = static_cast<uint32_t*>(mi.hostPointer);
        for (uint64_t i = 0; i < handoff::kBufferBytes / 4; ++i) w[i] = handoff::kInitialPattern;
        BATON_ASSERT_OK(batonStreamCreate(&side.stream));
        side.acquireKey = 0;
        side.releaseKey = 1;
        side.myTag = handoff::kProducerTag;
        side.otherTag = handoff::kConsumerTag;
        side.lag = 1;
    }
    void TearDown() override {
        if (peer_.pid > 0) {
            kill(peer_.pid, SIGKILL);
            reap(peer_);
        }
        EXPECT_EQ(batonStreamDestroy(side.stream), batonSuccess);
        EXPECT_EQ(batonDestroyExternalSemaphore(side.mutex), batonSuccess);
        EXPECT_EQ(batonDestroyMemory(side.buffer), batonSuccess);
        EXPECT_EQ(batontest::openFdCount(), fdsBefore_);
    }
    // Starts a consumer and hands it the mutex and the buffer.
    void startConsumer(std::vector<std::string> args) {
        peer_ = spawnPeer(std::move(args));
        ASSERT_GT(peer_.pid, 0);
        BATON_ASSERT_OK(batonSendExternalSemaphore(peer_.sock, side.mutex, 0));
        BATON_ASSERT_OK(batonSendMemory(peer_.sock, side.buffer, 0));
    }
    void expectCleanReport(const peer::Report& r, uint32_t iterations) {
        EXPECT_EQ(r.status, peer::kDone) << r.message;
        EXPECT_EQ(r.done, iterations);
        EXPECT_EQ(r.mismatches, 0u);
        EXPECT_EQ(r.abandoned, 0u);
        EXPECT_EQ(r.validationErrors, 0u);
    }
    // The producer's last acquire: the consumer's final write must be there.
    void expectFinalWrite(uint32_t lastIteration) {
        BATON_ASSERT_OK(handoff::acquireNow(side));
        EXPECT_EQ(handoff::countMismatches(side, handoff::stamp(handoff::kConsumerTag, lastIteration)), 0u);
        batonExternalSemaphoreSignalParams r{};
        r.params.keyedMutex.key = 0;
        BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&side.mutex, &r, 1, side.stream));
        BATON_ASSERT_OK(batonStreamSynchronize(side.stream));
    }

    handoff::Side side;
    Peer peer_;
    int fdsBefore_ = 0;
};

TEST_F(HandoffTest, TenThousandRoundsOfD3D11PingPongWithoutAMismatch) {
    constexpr uint32_t kRounds = 10000;
    startConsumer({"--from", "0", "--count", std::to_string(kRounds)});
    auto t0 = std::chrono::steady_clock::now();
    handoff::Tally t = handoff::run(side, 0, kRounds, handoff::kInitialPattern);
    ASSERT_EQ(t.error, batonSuccess) << t.message;
    expectFinalWrite(kRounds - 1);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    peer::Report r;
    ASSERT_TRUE(readReport(peer_, &r));
    EXPECT_EQ(t.done, kRounds);
    EXPECT_EQ(t.mismatches, 0u);
    expectCleanReport(r, kRounds);
    int status = reap(peer_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::printf("[ info ] %u rounds in %lld ms (%.1f us per round trip)\n", kRounds, static_cast<long long>(ms),
                1000.0 * static_cast<double>(ms) / kRounds);
}

TEST_F(HandoffTest, KilledHolderIsAbandonedAndTheHandoffGoesOn) {
    // The consumer does rounds 0..4, acquires for round 5 and stays there holding the mutex.
    startConsumer({"--from", "0", "--count", "100", "--hold-at", "5"});
    handoff::Tally t = handoff::run(side, 0, 6, handoff::kInitialPattern);
    ASSERT_EQ(t.error, batonSuccess) << t.message;
    peer::Report r;
    ASSERT_TRUE(readReport(peer_, &r));
    ASSERT_EQ(r.status, peer::kHolding) << r.message;
    EXPECT_EQ(r.mismatches, 0u);

    ASSERT_EQ(kill(peer_.pid, SIGKILL), 0);
    // Not reaped yet: a zombie still answers kill(pid, 0), so this also shows that baton
    // looks at the process state, not only at whether the pid exists.
    side.timeoutMs = 5000;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(handoff::acquireNow(side), batonErrorKeyedMutexAbandoned) << batonGetLastErrorMessage();
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(waited, 5000ms);  // abandoned, not timed out
    batonExternalSemaphoreInfo info{};
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(side.mutex, &info));
    EXPECT_EQ(info.pendingValue, 1u);  // we hold it now
    int status = reap(peer_);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    // The handoff goes on with a new consumer: round 6 onwards.
    constexpr uint32_t kMore = 200;
    startConsumer({"--from", "6", "--count", std::to_string(kMore)});
    side.timeoutMs = 10000;
    BATON_ASSERT_OK(handoff::writeAndRelease(side, 6));
    t = handoff::run(side, 7, kMore - 1);
    ASSERT_EQ(t.error, batonSuccess) << t.message;
    EXPECT_EQ(t.mismatches, 0u);
    expectFinalWrite(6 + kMore - 1);
    ASSERT_TRUE(readReport(peer_, &r));
    expectCleanReport(r, kMore);
    std::printf("[ info ] abandonment seen %.1f ms after SIGKILL\n",
                std::chrono::duration<double, std::milli>(waited).count());
}

TEST_F(HandoffTest, ZeroTimeoutPollReportsADeadHolderAsAbandoned) {
    startConsumer({"--from", "0", "--count", "1", "--hold-at", "0"});
    BATON_ASSERT_OK(handoff::acquireNow(side));
    BATON_ASSERT_OK(handoff::writeAndRelease(side, 0));  // hand it over: the consumer takes it and stays
    peer::Report r;
    ASSERT_TRUE(readReport(peer_, &r));
    ASSERT_EQ(r.status, peer::kHolding) << r.message;
    side.timeoutMs = 0;
    EXPECT_EQ(handoff::acquireNow(side), batonErrorTimeout);  // alive: a poll finds it taken
    ASSERT_EQ(kill(peer_.pid, SIGKILL), 0);
    int status = reap(peer_);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(handoff::acquireNow(side), batonErrorKeyedMutexAbandoned);  // dead: the poll takes it over
    batonExternalSemaphoreSignalParams rel{};
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&side.mutex, &rel, 1, side.stream));
    BATON_ASSERT_OK(batonStreamSynchronize(side.stream));
}

TEST_F(HandoffTest, AcquireInAnotherProcessTimesOutWhileHeld) {
    BATON_ASSERT_OK(handoff::acquireNow(side));  // the producer holds it and never releases
    startConsumer({"--from", "0", "--count", "1", "--timeout-ms", "100"});
    peer::Report r;
    ASSERT_TRUE(readReport(peer_, &r));
    EXPECT_EQ(r.status, peer::kFailed);
    EXPECT_EQ(r.error, batonErrorTimeout) << r.message;
    EXPECT_EQ(r.timeouts, 1u);
    EXPECT_EQ(r.done, 0u);
    EXPECT_EQ(r.validationErrors, 0u);
    reap(peer_);
    batonExternalSemaphoreSignalParams rel{};
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&side.mutex, &rel, 1, side.stream));
    BATON_ASSERT_OK(batonStreamSynchronize(side.stream));
}

}  // namespace
