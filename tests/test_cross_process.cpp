// A portable timeline shared between two real processes: the test exports it, fork+execs the
// helper timeline_peer, passes the fd over a Unix socket (SCM_RIGHTS), and the two hand
// values back and forth on baton streams. Also: a peer that dies mid-handoff leaves the test
// with a clean timeout, not a hang.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../helpers/timeline_peer.h"
#include "baton_test.h"
#include "fd_passing.h"

using namespace std::chrono_literals;

namespace {

constexpr uint64_t kLong = 10'000'000'000ull;

batonError_t signal(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = value;
    return batonSignalExternalSemaphoresAsync(&s, &p, 1, stream);
}
batonError_t wait(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = value;
    return batonWaitExternalSemaphoresAsync(&s, &p, 1, stream);
}

// The helper process, with our end of its socket.
struct Peer {
    pid_t pid = -1;
    int sock = -1;

    // fork + exec of timeline_peer with the other end of a socketpair as its only extra fd.
    bool start() {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
        std::string path = batontest::helperPath("timeline_peer");
        std::string fdArg = std::to_string(sv[1]);
        char* argv[] = {path.data(), fdArg.data(), nullptr};
        pid = fork();
        if (pid == 0) {
            // The child of a multithreaded process: async-signal-safe calls only until exec.
            fcntl(sv[1], F_SETFD, 0);  // the peer's end survives exec; every other fd is CLOEXEC
            execv(argv[0], argv);
            _exit(127);
        }
        close(sv[1]);
        if (pid < 0) {
            close(sv[0]);
            return false;
        }
        sock = sv[0];
        return true;
    }
    // Waits for the peer to exit; returns its wait status.
    int reap() {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
        return status;
    }
    ~Peer() {
        if (pid > 0) {
            kill(pid, SIGKILL);
            reap();
        }
        if (sock >= 0) close(sock);
    }
};

// Creates what the process keeps for its whole life (the default context, lavapipe's and the
// validation layer's fds, a stream's thread) so that fd counts before and after a test
// compare only what the test itself opened.
void warmUp(batonStream_t stream) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.flags = batonExportFlagPortable;
    int fd = -1;
    batonExternalSemaphore_t s = nullptr;
    ASSERT_EQ(batonExportExternalSemaphore(&fd, &s, &d), batonSuccess) << batonGetLastErrorMessage();
    ASSERT_EQ(signal(s, 1, stream), batonSuccess);
    ASSERT_EQ(wait(s, 1, stream), batonSuccess);
    ASSERT_EQ(batonStreamSynchronize(stream), batonSuccess);
    ASSERT_EQ(batonExternalSemaphoreHostWait(s, 1, kLong), batonSuccess);
    batonDestroyExternalSemaphore(s);
    close(fd);
}

// Exports a portable timeline, starts the peer and hands it the timeline. The fd is closed
// here once sent: from then on the peer holds its own.
void startPeer(Peer& peer, batonExternalSemaphore_t* sem, uint32_t rounds, uint32_t dieAtRound) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.flags = batonExportFlagPortable;
    int fd = -1;
    ASSERT_EQ(batonExportExternalSemaphore(&fd, sem, &d), batonSuccess) << batonGetLastErrorMessage();
    ASSERT_TRUE(peer.start()) << "cannot start " << batontest::helperPath("timeline_peer") << ": " << strerror(errno);
    timeline_peer::Hello hello{timeline_peer::kMagic, rounds, dieAtRound, 0};
    bool sent = batontest::sendWithFds(peer.sock, &hello, sizeof hello, &fd, 1);
    int sendErrno = errno;
    close(fd);
    ASSERT_TRUE(sent) << "sendmsg: " << strerror(sendErrno);
    timeline_peer::Status ready{};
    ASSERT_TRUE(batontest::recvAll(peer.sock, &ready, sizeof ready)) << "the peer did not answer (see its stderr)";
    ASSERT_EQ(ready.magic, timeline_peer::kMagic);
    ASSERT_EQ(ready.code, timeline_peer::kOk);
    EXPECT_EQ(ready.value, 0u) << "the peer sees another value than the one exported";
}

// Ends a hung handoff: kills the peer and pushes the timeline past every wait, so that the
// test fails with a message instead of hanging in a stream wait.
class Watchdog {
public:
    Watchdog(std::chrono::seconds limit, pid_t peer, batonExternalSemaphore_t sem, batonStream_t rescue)
        : thread_([=, this] {
              std::unique_lock lock(mutex_);
              if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
              fired_ = true;
              kill(peer, SIGKILL);
              signal(sem, 1ull << 40, rescue);
          }) {}
    ~Watchdog() { stop(); }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    bool fired() const { return fired_; }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::atomic<bool> fired_{false};
    std::thread thread_;
};

std::string describeStatus(int status) {
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

TEST(CrossProcess, PortableTimelinePingPong10000) {
    constexpr uint32_t kRounds = 10000;
    batonStream_t stream = nullptr, rescue = nullptr;
    ASSERT_EQ(batonStreamCreate(&stream), batonSuccess) << batonGetLastErrorMessage();
    ASSERT_EQ(batonStreamCreate(&rescue), batonSuccess) << batonGetLastErrorMessage();
    warmUp(stream);
    ASSERT_FALSE(HasFailure());
    const int fdsBefore = batontest::openFdCount();

    {
        Peer peer;
        batonExternalSemaphore_t sem = nullptr;
        startPeer(peer, &sem, kRounds, timeline_peer::kNever);
        ASSERT_FALSE(HasFailure());

        Watchdog watchdog(120s, peer.pid, sem, rescue);
        auto t0 = std::chrono::steady_clock::now();
        uint32_t done = 0;
        for (; done < kRounds; ++done) {
            batonError_t e = signal(sem, 2ull * done + 1, stream);
            if (e == batonSuccess) e = wait(sem, 2ull * done + 2, stream);
            if (e == batonSuccess) e = batonStreamSynchronize(stream);
            if (e != batonSuccess) {
                ADD_FAILURE() << "round " << done << ": " << batonGetErrorName(e) << ": " << batonGetLastErrorMessage();
                break;
            }
        }
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        watchdog.stop();
        EXPECT_FALSE(watchdog.fired()) << "the handoff hung after " << done << " rounds";
        ASSERT_EQ(done, kRounds);
        std::printf("ping-pong: %u round trips between two processes in %.3f s: %.1f us per round trip\n", kRounds,
                    seconds, seconds * 1e6 / kRounds);
        ::testing::Test::RecordProperty("us_per_round_trip", std::to_string(seconds * 1e6 / kRounds));

        timeline_peer::Status finished{};
        ASSERT_TRUE(batontest::recvAll(peer.sock, &finished, sizeof finished)) << "the peer did not report its end";
        EXPECT_EQ(finished.code, timeline_peer::kOk);
        EXPECT_EQ(finished.value, 2ull * kRounds) << "the peer's final value";
        batonExternalSemaphoreInfo info{};
        ASSERT_EQ(batonExternalSemaphoreGetInfo(sem, &info), batonSuccess);
        EXPECT_EQ(info.currentValue, 2ull * kRounds);
        EXPECT_EQ(info.pendingValue, 2ull * kRounds);
        int status = peer.reap();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the peer " << describeStatus(status);
        EXPECT_EQ(batonDestroyExternalSemaphore(sem), batonSuccess);
    }
    EXPECT_EQ(batontest::openFdCount(), fdsBefore) << "fds leaked in the test process";
    EXPECT_EQ(batonStreamDestroy(stream), batonSuccess);
    EXPECT_EQ(batonStreamDestroy(rescue), batonSuccess);
}

// The peer SIGKILLs itself after receiving a value and before answering it. The test's host
// wait for the answer must end with batonErrorTimeout, and the timeline must stay usable.
TEST(CrossProcess, PeerKilledMidHandoffTimesOutCleanly) {
    constexpr uint32_t kRounds = 100, kDieAt = 50;
    batonStream_t stream = nullptr, rescue = nullptr;
    ASSERT_EQ(batonStreamCreate(&stream), batonSuccess) << batonGetLastErrorMessage();
    ASSERT_EQ(batonStreamCreate(&rescue), batonSuccess) << batonGetLastErrorMessage();
    warmUp(stream);
    ASSERT_FALSE(HasFailure());
    const int fdsBefore = batontest::openFdCount();

    {
        Peer peer;
        batonExternalSemaphore_t sem = nullptr;
        startPeer(peer, &sem, kRounds, kDieAt);
        ASSERT_FALSE(HasFailure());
        Watchdog watchdog(120s, peer.pid, sem, rescue);
        for (uint32_t i = 0; i < kDieAt; ++i) {
            ASSERT_EQ(signal(sem, 2ull * i + 1, stream), batonSuccess) << batonGetLastErrorMessage();
            ASSERT_EQ(wait(sem, 2ull * i + 2, stream), batonSuccess) << batonGetLastErrorMessage();
            ASSERT_EQ(batonStreamSynchronize(stream), batonSuccess) << batonGetLastErrorMessage();
        }
        const uint64_t sent = 2ull * kDieAt + 1;
        ASSERT_EQ(signal(sem, sent, stream), batonSuccess) << batonGetLastErrorMessage();
        ASSERT_EQ(batonStreamSynchronize(stream), batonSuccess);
        ASSERT_EQ(batonExternalSemaphoreHostWait(sem, sent, kLong), batonSuccess);

        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(batonExternalSemaphoreHostWait(sem, sent + 1, 500'000'000ull), batonErrorTimeout);
        EXPECT_GE(std::chrono::steady_clock::now() - t0, 499ms) << "the host wait gave up early";
        int status = peer.reap();
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the peer " << describeStatus(status);
        char byte;
        EXPECT_EQ(recv(peer.sock, &byte, 1, 0), 0) << "the dead peer's socket should read end-of-file";
        watchdog.stop();
        EXPECT_FALSE(watchdog.fired());

        // The survivor's timeline still works: it can answer itself.
        batonExternalSemaphoreInfo info{};
        ASSERT_EQ(batonExternalSemaphoreGetInfo(sem, &info), batonSuccess);
        EXPECT_EQ(info.currentValue, sent);
        EXPECT_EQ(info.pendingValue, sent) << "the dead peer left a reservation behind";
        ASSERT_EQ(signal(sem, sent + 1, stream), batonSuccess) << batonGetLastErrorMessage();
        ASSERT_EQ(wait(sem, sent + 1, stream), batonSuccess);
        ASSERT_EQ(batonStreamSynchronize(stream), batonSuccess);
        EXPECT_EQ(batonExternalSemaphoreHostWait(sem, sent + 1, 0), batonSuccess);
        EXPECT_EQ(batonDestroyExternalSemaphore(sem), batonSuccess);
    }
    EXPECT_EQ(batontest::openFdCount(), fdsBefore) << "fds leaked in the test process";
    EXPECT_EQ(batonStreamDestroy(stream), batonSuccess);
    EXPECT_EQ(batonStreamDestroy(rescue), batonSuccess);
}

// The fd-passing helpers themselves: fds arrive as new, working descriptors; a message with
// more fds than asked for is refused without leaking any.
TEST(FdPassing, SendsAndRefusesFds) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    const int before = batontest::openFdCount();
    uint32_t msg = 0xfeed, got = 0;
    ASSERT_TRUE(batontest::sendWithFds(sv[0], &msg, sizeof msg, &p[1], 1));
    int fd = -1, n = 0;
    ASSERT_TRUE(batontest::recvWithFds(sv[1], &got, sizeof got, &fd, 1, &n));
    EXPECT_EQ(got, msg);
    ASSERT_EQ(n, 1);
    EXPECT_NE(fd, p[1]);
    EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    char c = 'x', r = 0;
    ASSERT_EQ(write(fd, &c, 1), 1);
    ASSERT_EQ(read(p[0], &r, 1), 1);
    EXPECT_EQ(r, 'x') << "the received fd is not the pipe that was sent";
    close(fd);

    int two[2] = {p[0], p[1]};
    ASSERT_TRUE(batontest::sendWithFds(sv[0], &msg, sizeof msg, two, 2));
    EXPECT_FALSE(batontest::recvWithFds(sv[1], &got, sizeof got, &fd, 1, &n)) << "two fds accepted where one was asked";
    EXPECT_EQ(n, 0);
    EXPECT_EQ(batontest::openFdCount(), before) << "a refused message leaked its fds";
    for (int f : {sv[0], sv[1], p[0], p[1]}) close(f);
}

}  // namespace
