// Hostile transport peers: another real process (hostile_peer, fork+exec'd, no baton in it)
// sends one malformed or lying message over a Unix socket (stream and seqpacket) to baton's
// receive calls. For every scenario the receiver must return the documented error (or import,
// for the well-formed ones), within its timeout, with no fd left behind, and baton must work
// afterwards (a semaphore still goes through a socket and back).
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
#include "hostile_scenarios.h"

using hostile::Scenario;

namespace {

// The receive timeout where the expected answer is batonErrorTimeout; elsewhere a long one, so
// that a slow peer on a loaded machine (the split message) is not mistaken for a silent one.
constexpr int kTimeoutMs = 300;
constexpr int kPatientMs = 10000;

enum class Call { Timeline, Memory };

struct Expect {
    Scenario scenario;
    Call call;
    batonError_t stream;     // on SOCK_STREAM
    batonError_t seqpacket;  // on SOCK_SEQPACKET
};

constexpr batonError_t kOk = batonSuccess, kBad = batonErrorInvalidResourceHandle, kKind = batonErrorWrongKind,
                       kForeign = batonErrorForeignDevice;

// What the receiver must answer. A stream has no message boundaries: a short message waits
// for the rest (Timeout) or sees the peer leave (OperatingSystem); an oversized one reads as a
// good message followed by junk.
const Expect kExpect[] = {
    {Scenario::ShortNoFd, Call::Timeline, batonErrorTimeout, kBad},
    {Scenario::ShortWithFd, Call::Timeline, batonErrorTimeout, kBad},
    {Scenario::ShortThenClose, Call::Timeline, batonErrorOperatingSystem, kBad},
    {Scenario::EmptyWithFds, Call::Timeline, kBad, kBad},  // seqpacket only (see cases())
    {Scenario::Oversized, Call::Timeline, kOk, kBad},
    {Scenario::Junk, Call::Timeline, kBad, kBad},
    {Scenario::WrongMagic, Call::Timeline, kBad, kBad},
    {Scenario::WrongVersion, Call::Timeline, kBad, kBad},
    {Scenario::WrongSize, Call::Timeline, kBad, kBad},
    {Scenario::ReservedSet, Call::Timeline, kBad, kBad},
    {Scenario::NoFd, Call::Timeline, kBad, kBad},
    {Scenario::TwoFds, Call::Timeline, kBad, kBad},
    {Scenario::ManyFds, Call::Timeline, kBad, kBad},
    {Scenario::KindZero, Call::Timeline, kKind, kKind},
    {Scenario::KindHuge, Call::Timeline, kKind, kKind},
    {Scenario::KindNegative, Call::Timeline, kKind, kKind},
    {Scenario::KindMemory, Call::Timeline, kKind, kKind},
    {Scenario::KindBinary, Call::Timeline, kKind, kKind},
    {Scenario::BackendZero, Call::Timeline, kBad, kBad},
    {Scenario::BackendHuge, Call::Timeline, kBad, kBad},
    {Scenario::PortablePipe, Call::Timeline, kBad, kBad},
    {Scenario::PortableDevNull, Call::Timeline, kBad, kBad},
    {Scenario::PortableEventfd, Call::Timeline, kBad, kBad},
    {Scenario::PortableSocket, Call::Timeline, kBad, kBad},
    {Scenario::PortableFile, Call::Timeline, kBad, kBad},
    {Scenario::PortableForeignMemfd, Call::Timeline, kBad, kBad},
    {Scenario::PortableUnsealedBatonPage, Call::Timeline, kBad, kBad},
    {Scenario::PortableWriteSealedPage, Call::Timeline, kBad, kBad},
    {Scenario::PortablePageWrongKind, Call::Timeline, kKind, kKind},
    {Scenario::PortablePageBadKind, Call::Timeline, kBad, kBad},
    {Scenario::PortablePageBadVersion, Call::Timeline, kBad, kBad},
    {Scenario::PortablePageGarbage, Call::Timeline, kOk, kOk},  // or refused: see the test
    {Scenario::NativePipe, Call::Timeline, kBad, kBad},
    {Scenario::NativeEventfd, Call::Timeline, kBad, kBad},
    {Scenario::NativeForgedDevice, Call::Timeline, kForeign, kForeign},
    {Scenario::NativeForgedDriver, Call::Timeline, kForeign, kForeign},
    {Scenario::NativeBatonMemfd, Call::Timeline, kBad, kBad},
    {Scenario::MemoryPipe, Call::Memory, kBad, kBad},
    {Scenario::MemoryBadDesc, Call::Memory, batonErrorInvalidValue, batonErrorInvalidValue},
    {Scenario::MemoryNegativeFormat, Call::Memory, batonErrorInvalidValue, batonErrorInvalidValue},
    {Scenario::MemorySmallMemfd, Call::Memory, kBad, kBad},
    {Scenario::MemoryBackendPortable, Call::Memory, kBad, kBad},
    {Scenario::MemoryForgedDevice, Call::Memory, kForeign, kForeign},
    {Scenario::SplitMessage, Call::Timeline, kOk, kBad},
    {Scenario::Good, Call::Timeline, kOk, kOk},
};

std::string hex(const uint8_t* u) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < VK_UUID_SIZE; ++i) {
        s += d[u[i] >> 4];
        s += d[u[i] & 15];
    }
    return s;
}

// One case per socket type, every scenario in it (one process per scenario would be mostly
// process start-up under the sanitizers). Failures name the scenario.
class HostileTransport : public ::testing::TestWithParam<int> {  // the socket type
protected:
    void SetUp() override {
        BATON_ASSERT_OK(batonContextGetInfo(nullptr, &ctx_));  // the default context's fds count as before
    }
    void runScenario(const Expect& e, int sockType);
    // Starts the peer on one end of a new socketpair; returns the other end.
    int startPeer(Scenario s, int type) {
        int sv[2];
        EXPECT_EQ(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
        const std::string path = batontest::helperPath("hostile_peer"), fd = std::to_string(sv[1]),
                          dev = hex(ctx_.deviceUUID), drv = hex(ctx_.driverUUID);
        const char* argv[] = {path.c_str(), hostile::scenarioName(s), fd.c_str(), dev.c_str(), drv.c_str(), nullptr};
        pid_ = fork();
        if (pid_ == 0) {
            fcntl(sv[1], F_SETFD, 0);  // the peer's end survives exec
            execv(argv[0], const_cast<char* const*>(argv));
            _exit(127);
        }
        close(sv[1]);
        return sv[0];
    }
    void reapPeer() {
        int status = 0;
        ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "hostile_peer failed, status " << status;
    }
    // Receives with the call of the scenario. Success leaves the handle in sem_/mem_.
    batonError_t receive(Call call, int sock, batonHandleHeader* h, int timeoutMs) {
        // The peer's first bytes first (starting a process can take long on a loaded
        // machine): the receive's own timeout then measures baton, not exec.
        pollfd p{sock, POLLIN, 0};
        EXPECT_EQ(poll(&p, 1, 30000), 1) << "the peer sent nothing within 30 s";
        auto t0 = std::chrono::steady_clock::now();
        batonError_t e = call == Call::Timeline
                             ? batonReceiveExternalSemaphore(sock, batonExternalSemaphoreHandleTypeTimelineSemaphoreFd,
                                                             timeoutMs, &sem_, h)
                             : batonReceiveMemory(sock, timeoutMs, &mem_, h);
        // Not a speed check: a receive that outlives its timeout by seconds is a hang.
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(timeoutMs) + std::chrono::seconds(10));
        return e;
    }
    void destroyReceived() {
        EXPECT_EQ(batonDestroyExternalSemaphore(sem_), batonSuccess);
        EXPECT_EQ(batonDestroyMemory(mem_), batonSuccess);
        sem_ = nullptr;
        mem_ = nullptr;
    }
    // baton still works: a portable timeline goes through a socket and arrives usable.
    void checkBatonStillWorks() {
        int sv[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        batonExternalSemaphoreExportDesc d{};
        d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        d.initialValue = 3;
        d.flags = batonExportFlagPortable;
        int fd = -1;
        batonExternalSemaphore_t a = nullptr, b = nullptr;
        BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &a, &d));
        BATON_ASSERT_OK(batonSendExternalSemaphore(sv[0], a, 0));
        BATON_ASSERT_OK(batonReceiveExternalSemaphore(sv[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000,
                                                      &b, nullptr));
        BATON_ASSERT_OK(batonExternalSemaphoreHostWait(b, 3, 1000000000ull));
        BATON_ASSERT_OK(batonDestroyExternalSemaphore(b));
        BATON_ASSERT_OK(batonDestroyExternalSemaphore(a));
        close(fd);
        close(sv[0]);
        close(sv[1]);
    }
    batonContextInfo ctx_{};
    pid_t pid_ = -1;
    batonExternalSemaphore_t sem_ = nullptr;
    batonMemory_t mem_ = nullptr;
};

void HostileTransport::runScenario(const Expect& c, int sockType) {
    const batonError_t want = sockType == SOCK_STREAM ? c.stream : c.seqpacket;
    const int sock = startPeer(c.scenario, sockType);
    batonHandleHeader h{};
    batonError_t got = receive(c.call, sock, &h, want == batonErrorTimeout ? kTimeoutMs : kPatientMs);
    if (c.scenario == Scenario::PortablePageGarbage && got == kBad) {
        // A reader that checks the page may refuse it up front; accepting it is fine too, as
        // long as what is read from it cannot hurt (below).
        std::printf("note: the garbage page was refused at import: %s\n", batonGetLastErrorMessage());
    } else {
        EXPECT_EQ(got, want) << batonGetErrorName(got) << ": " << batonGetLastErrorMessage();
    }
    if (got != batonSuccess) {
        EXPECT_STRNE(batonGetLastErrorMessage(), "") << "a refusal says why";
        EXPECT_EQ(sem_, nullptr);
        EXPECT_EQ(mem_, nullptr);
    } else if (sem_) {
        EXPECT_EQ(h.value, 5u);
        batonExternalSemaphoreInfo info{};
        EXPECT_EQ(batonExternalSemaphoreGetInfo(sem_, &info), batonSuccess);
        batonError_t w = batonExternalSemaphoreHostWait(sem_, 1000, 20000000ull);  // nobody signals it
        EXPECT_TRUE(w == batonErrorTimeout || w == batonSuccess || w == kBad) << batonGetErrorName(w);
    }
    if (got == batonSuccess && c.scenario == Scenario::Oversized) {
        // The 4 KiB after the message read as the next one: junk, refused.
        batonHandleHeader h2{};
        batonExternalSemaphore_t second = nullptr;
        EXPECT_EQ(batonReceiveExternalSemaphore(sock, batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, kTimeoutMs,
                                                &second, &h2),
                  kBad);
        EXPECT_EQ(second, nullptr);
    }
    destroyReceived();
    close(sock);
    reapPeer();
    checkBatonStillWorks();
}

TEST_P(HostileTransport, EveryScenarioIsRefusedCleanlyAndBatonKeepsWorking) {
    for (const Expect& e : kExpect) {
        if (e.scenario == Scenario::EmptyWithFds && GetParam() == SOCK_STREAM) continue;  // a stream cannot carry 0 bytes
        SCOPED_TRACE(std::string("scenario ") + hostile::scenarioName(e.scenario));
        const std::string fdsBefore = batontest::openFdList();
        runScenario(e, GetParam());
        EXPECT_EQ(batontest::fdChanges(fdsBefore, batontest::openFdList()), "") << "fds left behind";
        if (HasFatalFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(Peers, HostileTransport, ::testing::Values(SOCK_STREAM, SOCK_SEQPACKET),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return std::string(i.param == SOCK_STREAM ? "Stream" : "SeqPacket");
                         });

}  // namespace
