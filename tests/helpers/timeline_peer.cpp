// timeline_peer: the other process of test_cross_process. Usage: timeline_peer <socket-fd>
// Receives a portable timeline over the socket, imports it, and answers every odd value the
// test signals with the next even one, waiting and signaling on a baton stream. See
// timeline_peer.h for the protocol. Exits 0 only if every step succeeded and the validation
// layer (BATON_VALIDATION=1, inherited from the test) reported nothing.
#include "timeline_peer.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include <baton/baton.h>

#include "fd_passing.h"

using namespace timeline_peer;

namespace {

int fail(int code, const char* what, batonError_t e = batonSuccess) {
    if (e != batonSuccess)
        std::fprintf(stderr, "timeline_peer: %s: %s: %s\n", what, batonGetErrorName(e), batonGetLastErrorMessage());
    else
        std::fprintf(stderr, "timeline_peer: %s\n", what);
    return code;
}

int run(int sock) {
    Hello hello{};
    int fd = -1, fdCount = 0;
    if (!batontest::recvWithFds(sock, &hello, sizeof hello, &fd, 1, &fdCount) || fdCount != 1 ||
        hello.magic != kMagic)
        return fail(kProtocol, "no Hello with one fd on the socket");

    batonExternalSemaphoreHandleDesc desc{};
    desc.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    desc.handle.fd = fd;
    batonExternalSemaphore_t sem = nullptr;
    batonError_t e = batonImportExternalSemaphore(&sem, &desc);
    if (e != batonSuccess) {
        close(fd);  // a failed import leaves the fd ours
        return fail(kImportFailed, "import", e);
    }
    batonStream_t stream = nullptr;
    if ((e = batonStreamCreate(&stream)) != batonSuccess) return fail(kBatonFailed, "stream", e);
    batonExternalSemaphoreInfo info{};
    batonExternalSemaphoreGetInfo(sem, &info);
    Status ready{kMagic, kOk, info.currentValue};
    if (!batontest::sendAll(sock, &ready, sizeof ready)) return fail(kProtocol, "cannot send Ready");

    for (uint32_t i = 0; i < hello.rounds; ++i) {
        batonExternalSemaphoreWaitParams wp{};
        wp.params.fence.value = 2ull * i + 1;
        if ((e = batonWaitExternalSemaphoresAsync(&sem, &wp, 1, stream)) != batonSuccess)
            return fail(kBatonFailed, "wait", e);
        if ((e = batonStreamSynchronize(stream)) != batonSuccess) return fail(kBatonFailed, "synchronize", e);
        if (i == hello.dieAtRound) kill(getpid(), SIGKILL);  // dies mid-handoff, as a crash would
        batonExternalSemaphoreSignalParams sp{};
        sp.params.fence.value = 2ull * i + 2;
        if ((e = batonSignalExternalSemaphoresAsync(&sem, &sp, 1, stream)) != batonSuccess)
            return fail(kBatonFailed, "signal", e);
    }
    if ((e = batonStreamSynchronize(stream)) != batonSuccess) return fail(kBatonFailed, "final synchronize", e);
    const uint64_t last = 2ull * hello.rounds;
    if ((e = batonExternalSemaphoreHostWait(sem, last, 10'000'000'000ull)) != batonSuccess)
        return fail(kWrongValue, "the last value was never published", e);
    batonExternalSemaphoreGetInfo(sem, &info);
    batonStreamDestroy(stream);
    batonDestroyExternalSemaphore(sem);

    int code = kOk;
    unsigned long long errors = 0;
    if (batonContextGetMessageCount(nullptr, batonMessageSeverityError, &errors) != batonSuccess || errors != 0)
        code = fail(kValidation, "validation errors were reported");
    Status done{kMagic, code, info.currentValue};
    if (!batontest::sendAll(sock, &done, sizeof done)) return fail(kProtocol, "cannot send Done");
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) return fail(kUsage, "usage: timeline_peer <socket-fd>");
    // If the test dies, do not linger: a peer stuck in a wait ends itself.
    std::signal(SIGALRM, [](int) { _exit(kWatchdog); });
    alarm(300);
    int sock = std::atoi(argv[1]);
    int code = run(sock);
    close(sock);
    return code;
}
