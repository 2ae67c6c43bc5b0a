// baton_peer: the other process of the cross-process tests. Started by fork+exec with one
// end of a socketpair; receives a keyed mutex and a buffer through baton_transport.h, plays
// the consumer of the D3D11 ping-pong (acquire 1 / release 0), and reports back.
//
//   baton_peer --socket FD --from I --count N [--timeout-ms T] [--hold-at H]
//
// --hold-at H: at iteration H, after acquiring, report kHolding and sleep until killed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <baton/baton.h>
#include <baton/baton_transport.h>

#include "handoff_side.h"
#include "peer_protocol.h"

namespace {

int g_socket = -1;

void report(peer::Report r) {
    r.magic = peer::kReportMagic;
    batonContext_t ctx = nullptr;
    if (batonCtxGetCurrent(&ctx) == batonSuccess) {
        unsigned long long n = 0;
        batonContextGetMessageCount(ctx, batonMessageSeverityError, &n);
        r.validationErrors = n;
    }
    if (send(g_socket, &r, sizeof r, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof r)) std::perror("baton_peer: send");
}

int failWith(batonError_t e, const char* what) {
    peer::Report r;
    r.status = peer::kFailed;
    r.error = e;
    std::snprintf(r.message, sizeof r.message, "%s: %s: %s", what, batonGetErrorName(e), batonGetLastErrorMessage());
    report(r);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t from = 0, count = 0;
    long holdAt = -1;
    unsigned timeoutMs = 10000;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        long v = std::strtol(argv[i + 1], nullptr, 10);
        if (a == "--socket") g_socket = static_cast<int>(v);
        else if (a == "--from") from = static_cast<uint32_t>(v);
        else if (a == "--count") count = static_cast<uint32_t>(v);
        else if (a == "--timeout-ms") timeoutMs = static_cast<unsigned>(v);
        else if (a == "--hold-at") holdAt = v;
    }
    if (g_socket < 0) {
        std::fprintf(stderr, "baton_peer: --socket is required\n");
        return 2;
    }
    handoff::Side s;
    batonError_t e = batonReceiveExternalSemaphore(g_socket, batonExternalSemaphoreHandleTypeKeyedMutex, 10000, &s.mutex,
                                                   nullptr);
    if (e != batonSuccess) return failWith(e, "receiving the keyed mutex");
    if ((e = batonReceiveMemory(g_socket, 10000, &s.buffer, nullptr)) != batonSuccess)
        return failWith(e, "receiving the buffer");
    if ((e = batonStreamCreate(&s.stream)) != batonSuccess) return failWith(e, "creating a stream");
    s.acquireKey = 1;
    s.releaseKey = 0;
    s.myTag = handoff::kConsumerTag;
    s.otherTag = handoff::kProducerTag;
    s.lag = 0;
    s.timeoutMs = timeoutMs;

    peer::Report r;
    uint32_t before = holdAt >= 0 ? static_cast<uint32_t>(holdAt) - from : count;
    handoff::Tally t = handoff::run(s, from, before);
    if (t.error == batonSuccess && holdAt >= 0) {
        e = handoff::acquireNow(s);
        if (e != batonSuccess) return failWith(e, "acquiring to hold");
        r.status = peer::kHolding;
        r.done = t.done;
        r.mismatches = t.mismatches;
        report(r);
        for (;;) pause();  // holds the mutex until SIGKILL
    }
    r.status = t.error == batonSuccess ? peer::kDone : peer::kFailed;
    r.done = t.done;
    r.mismatches = t.mismatches;
    r.abandoned = t.abandoned;
    r.timeouts = t.timeouts;
    r.error = t.error;
    std::snprintf(r.message, sizeof r.message, "%s", t.message.c_str());
    // Everything released before reporting: the report must not race the last release.
    batonStreamSynchronize(s.stream);
    batonStreamDestroy(s.stream);
    batonDestroyExternalSemaphore(s.mutex);
    batonDestroyMemory(s.buffer);
    report(r);
    return t.error == batonSuccess ? 0 : 1;
}
