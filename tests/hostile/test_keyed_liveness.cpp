// Defect 7 (issue 10): keyed-mutex liveness across pid namespaces, with real processes.
// The holder (km_ns_holder) runs baton's own KeyedMutex in a new pid namespace; the victim
// (this process) acquires through the public API with a timeout.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include "baton_test.h"
#include "fd_passing.h"
#include "hostile_support.h"
#include "km_ns_protocol.h"

namespace {

using namespace std::chrono_literals;

// A pid that names no process in our namespace (the holder takes it in its own).
pid_t freePid() {
    int pidMax = 32768;
    std::ifstream("/proc/sys/kernel/pid_max") >> pidMax;
    for (pid_t p = pidMax - 1000; p > 300; p -= 7)
        if (kill(p, 0) != 0 && errno == ESRCH) return p;
    return 0;
}

struct NsHolder {
    hostile::Helper helper;
    km_ns::Status status{};

    // Starts the holder as pid `pid` of a new namespace and waits for its first report.
    bool start(const char* mode, pid_t pid, int memfd) {
        if (!helper.start("km_ns_holder", {mode, std::to_string(pid)})) return false;
        km_ns::Hello hello{1};
        return batontest::sendWithFds(helper.sock, &hello, sizeof hello, &memfd, 1) &&
               batontest::recvAll(helper.sock, &status, sizeof status);
    }
};

class KeyedLiveness : public ::testing::Test {
protected:
    void SetUp() override {
        BATON_ASSERT_OK(batonStreamCreate(&stream_));
        BATON_ASSERT_OK(hostile::exportPortable(batonExternalSemaphoreHandleTypeKeyedMutex, 0, &fd_, &km_));
    }
    void TearDown() override {
        if (km_) {
            EXPECT_EQ(batonDestroyExternalSemaphore(km_), batonSuccess);
        }
        if (stream_) {
            EXPECT_EQ(batonStreamDestroy(stream_), batonSuccess);
        }
        if (fd_ >= 0) close(fd_);
    }
    // Acquires key 0 on the stream within timeoutMs; the stream's result.
    batonError_t acquire(uint32_t timeoutMs) {
        batonError_t e = hostile::acquireKey(km_, 0, timeoutMs, stream_);
        return e != batonSuccess ? e : batonStreamSynchronize(stream_);
    }
    void releaseHold() {
        EXPECT_EQ(hostile::releaseKey(km_, 0, stream_), batonSuccess);
        EXPECT_EQ(batonStreamSynchronize(stream_), batonSuccess) << batonGetLastErrorMessage();
    }

    batonStream_t stream_ = nullptr;
    batonExternalSemaphore_t km_ = nullptr;
    int fd_ = -1;
};

// A holder whose pid (in its own namespace) equals ours dies holding: the mutex must be
// reported abandoned. Before the fix a holding pid equal to ours was never looked at, so
// the acquire timed out (batonErrorTimeout) however long it waited.
TEST_F(KeyedLiveness, DeadHolderWithOurPidInAnotherNamespaceIsAbandoned) {
    hostile::Watchdog dog(20s, "KeyedLiveness.DeadHolderWithOurPid");
    NsHolder holder;
    ASSERT_TRUE(holder.start("exit", getpid(), fd_)) << "km_ns_holder did not answer";
    if (holder.status.code == km_ns::kSkip) GTEST_SKIP() << "cannot make a pid namespace here: " << holder.status.why;
    ASSERT_EQ(holder.status.code, km_ns::kHeld) << "holder result " << holder.status.result;
    ASSERT_EQ(holder.status.pid, getpid()) << "the holder did not get our pid in its namespace";
    const int st = holder.helper.reap();  // dead, holding
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "holder status " << st;

    dog.step("acquire of a mutex whose holder died");
    EXPECT_EQ(acquire(2000), batonErrorKeyedMutexAbandoned) << batonGetLastErrorMessage();
    releaseHold();
}

// A live holder in another namespace, caught between its claiming CAS and whatever follows
// it: a waiter must not take the hold (two holders). Before the fix the waiter, finding no
// owner record for that generation, asked kill() about a pid of the holder's namespace in
// its own, found none and took over: batonErrorKeyedMutexAbandoned instead of a timeout.
TEST_F(KeyedLiveness, LiveHolderInsideItsClaimIsNotTakenOver) {
    hostile::Watchdog dog(20s, "KeyedLiveness.LiveHolderInsideItsClaim");
    const pid_t pid = freePid();
    ASSERT_NE(pid, 0) << "no free pid found";
    NsHolder holder;
    ASSERT_TRUE(holder.start("stall", pid, fd_)) << "km_ns_holder did not answer";
    if (holder.status.code == km_ns::kSkip) GTEST_SKIP() << "cannot make a pid namespace here: " << holder.status.why;
    ASSERT_EQ(holder.status.code, km_ns::kClaimed) << "holder result " << holder.status.result;
    ASSERT_EQ(holder.status.pid, pid);

    dog.step("acquire while a live holder sits inside its claim");
    // 300 ms: several liveness periods (50 ms) and the look before giving up.
    EXPECT_EQ(acquire(300), batonErrorTimeout) << "a live hold was taken over: " << batonGetLastErrorMessage();

    // Once it really dies (the namespace goes with its top process), the hold is abandoned.
    holder.helper.kill();
    dog.step("acquire after the holder died");
    batonError_t e = acquire(2000);
    EXPECT_EQ(e, batonErrorKeyedMutexAbandoned) << batonGetLastErrorMessage();
    if (e == batonErrorKeyedMutexAbandoned || e == batonSuccess) releaseHold();
}

}  // namespace
