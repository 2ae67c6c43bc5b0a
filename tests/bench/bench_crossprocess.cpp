// bench_crossprocess: round trips of a handoff between two processes, in one run:
//   keyed mutex          A: release(1) -> B: acquire(1), release(0) -> A: acquire(0)
//   timeline (portable)  A: signal(ping, i) -> B: wait(ping, i), signal(pong, i) -> A: wait(pong, i)
//   timeline (native)    the same on the driver's exportable timelines (where it has fds)
// (Two timelines, one signaler each: baton refuses a signal not above every value signaled
// or pending, and B enqueues all its signals ahead.)
// A (this process) measures each round trip on the host: from enqueuing its release/signal
// to its stream having passed the acquire/wait (batonStreamSynchronize). B is this binary
// again (fork+exec, --peer), handed the handle through baton_transport.h, with everything
// enqueued up front so that it only ever waits on the handle. Prints median, p99, min.
//
// Then frames (crossprocess_frames.cpp): a frame channel handoff between two processes
// (tiny and 1080p) beside a raw-Vulkan two-process ping-pong doing the same submissions.
//
//   bench_crossprocess [--iterations N] [--frame-rounds M]
//     (N default 10000 plus 200 warm-up rounds; M default min(N, 2000))
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <baton/baton.h>
#include <baton/baton_transport.h>

namespace frames {
int channelPeer(int sock, uint32_t rounds);
int rawPeer(int sock, uint32_t width, uint32_t height, uint32_t rounds);
int run(uint32_t rounds);
}  // namespace frames

namespace rawxp {  // crossprocess_raw.cpp: the raw-Vulkan baseline of the same round trips
int peer(int sock, uint32_t rounds);
double measure(uint32_t rounds, uint32_t warmup, const char** how);
}  // namespace rawxp

namespace {

constexpr uint32_t kWarmup = 200;

enum class Primitive { KeyedMutex, PortableTimeline, NativeTimeline };

const char* name(Primitive p) {
    switch (p) {
        case Primitive::KeyedMutex: return "keyed mutex (portable)";
        case Primitive::PortableTimeline: return "timeline (portable)";
        case Primitive::NativeTimeline: return "timeline (native)";
    }
    return "?";
}

batonExternalSemaphoreHandleType typeOf(Primitive p) {
    return p == Primitive::KeyedMutex ? batonExternalSemaphoreHandleTypeKeyedMutex
                                      : batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
}

bool check(batonError_t e, const char* what) {
    if (e == batonSuccess) return true;
    std::fprintf(stderr, "bench_crossprocess: %s: %s: %s\n", what, batonGetErrorName(e), batonGetLastErrorMessage());
    return false;
}

batonError_t acquire(batonExternalSemaphore_t s, unsigned long long key, batonStream_t st) {
    batonExternalSemaphoreWaitParams p{};
    p.params.keyedMutex.key = key;
    p.params.keyedMutex.timeoutMs = 10000;
    return batonWaitExternalSemaphoresAsync(&s, &p, 1, st);
}
batonError_t release(batonExternalSemaphore_t s, unsigned long long key, batonStream_t st) {
    batonExternalSemaphoreSignalParams p{};
    p.params.keyedMutex.key = key;
    return batonSignalExternalSemaphoresAsync(&s, &p, 1, st);
}
batonError_t wait(batonExternalSemaphore_t s, unsigned long long v, batonStream_t st) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = v;
    return batonWaitExternalSemaphoresAsync(&s, &p, 1, st);
}
batonError_t signal(batonExternalSemaphore_t s, unsigned long long v, batonStream_t st) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = v;
    return batonSignalExternalSemaphoresAsync(&s, &p, 1, st);
}

// B: receives the handle(s) and answers every round, all enqueued up front.
int runPeer(int sock, Primitive p, uint32_t rounds) {
    batonExternalSemaphore_t ping = nullptr, pong = nullptr;
    batonStream_t st = nullptr;
    if (!check(batonReceiveExternalSemaphore(sock, typeOf(p), 10000, &ping, nullptr), "peer: receive") ||
        (p != Primitive::KeyedMutex &&
         !check(batonReceiveExternalSemaphore(sock, typeOf(p), 10000, &pong, nullptr), "peer: receive")) ||
        !check(batonStreamCreate(&st), "peer: stream"))
        return 1;
    for (uint32_t i = 1; i <= rounds; ++i) {
        batonError_t e = p == Primitive::KeyedMutex ? acquire(ping, 1, st) : wait(ping, i, st);
        if (e == batonSuccess) e = p == Primitive::KeyedMutex ? release(ping, 0, st) : signal(pong, i, st);
        if (!check(e, "peer: round")) return 1;
    }
    bool ok = check(batonStreamSynchronize(st), "peer: synchronize");
    batonStreamDestroy(st);
    batonDestroyExternalSemaphore(ping);
    batonDestroyExternalSemaphore(pong);
    return ok ? 0 : 1;
}

struct Stats {
    double median = 0, p99 = 0, min = 0;
    bool ok = false;
};

// A: one primitive against a fresh peer process.
Stats measure(Primitive p, uint32_t rounds) {
    Stats out;
    batonExternalSemaphoreExportDesc d{};
    d.type = typeOf(p);
    d.flags = p == Primitive::NativeTimeline ? 0 : batonExportFlagPortable;
    int fd = -1;
    batonExternalSemaphore_t s = nullptr, pong = nullptr;  // keyed mutex: s only; timelines: ping (s) and pong
    if (!check(batonExportExternalSemaphore(&fd, &s, &d), "export")) return out;
    close(fd);
    if (p != Primitive::KeyedMutex) {
        if (!check(batonExportExternalSemaphore(&fd, &pong, &d), "export")) return out;
        close(fd);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return out;
    const uint32_t total = rounds + kWarmup;
    std::string sockArg = std::to_string(sv[1]), primArg = std::to_string(static_cast<int>(p)),
                roundsArg = std::to_string(total);
    char self[] = "/proc/self/exe";
    char peerFlag[] = "--peer";
    char* argv[] = {self, peerFlag, sockArg.data(), primArg.data(), roundsArg.data(), nullptr};
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(sv[1], F_SETFD, 0);
        execv(self, argv);
        _exit(127);
    }
    close(sv[1]);
    batonStream_t st = nullptr;
    std::vector<double> us;
    us.reserve(total);
    bool ok = pid > 0 && check(batonSendExternalSemaphore(sv[0], s, 0), "send") &&
              (!pong || check(batonSendExternalSemaphore(sv[0], pong, 0), "send")) && check(batonStreamCreate(&st), "stream");
    if (ok && p == Primitive::KeyedMutex) ok = check(acquire(s, 0, st), "first acquire") && check(batonStreamSynchronize(st), "sync");
    for (uint32_t i = 1; ok && i <= total; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        batonError_t e = p == Primitive::KeyedMutex ? release(s, 1, st) : signal(s, i, st);
        if (e == batonSuccess) e = p == Primitive::KeyedMutex ? acquire(s, 0, st) : wait(pong, i, st);
        if (e == batonSuccess) e = batonStreamSynchronize(st);
        auto t1 = std::chrono::steady_clock::now();
        ok = check(e, "round");
        if (i > kWarmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    if (ok && p == Primitive::KeyedMutex) ok = check(release(s, 1, st), "last release");
    if (st) batonStreamDestroy(st);
    batonDestroyExternalSemaphore(s);
    batonDestroyExternalSemaphore(pong);
    close(sv[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok || us.empty()) return out;
    std::sort(us.begin(), us.end());
    out.median = us[us.size() / 2];
    out.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    out.min = us.front();
    out.ok = true;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::strcmp(argv[1], "--raw-peer") == 0)
        return rawxp::peer(std::atoi(argv[2]), static_cast<uint32_t>(std::atoi(argv[3])));

    if (argc == 5 && std::strcmp(argv[1], "--peer") == 0)
        return runPeer(std::atoi(argv[2]), static_cast<Primitive>(std::atoi(argv[3])),
                       static_cast<uint32_t>(std::atoi(argv[4])));
    if (argc >= 5 && std::strcmp(argv[1], "--frames-peer") == 0) {
        const int sock = std::atoi(argv[2]);
        const uint32_t n = static_cast<uint32_t>(std::atoi(argv[4]));
        if (std::strcmp(argv[3], "channel") == 0) return frames::channelPeer(sock, n);
        if (argc == 7) return frames::rawPeer(sock, std::atoi(argv[5]), std::atoi(argv[6]), n);
        return 2;
    }
    uint32_t rounds = 10000, frameRounds = 0;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--iterations") == 0) rounds = static_cast<uint32_t>(std::atoi(argv[i + 1]));
        if (std::strcmp(argv[i], "--frame-rounds") == 0) frameRounds = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    }
    if (!frameRounds) frameRounds = std::min<uint32_t>(rounds, 2000);
    batonContextInfo ci{};
    if (!check(batonContextGetInfo(nullptr, &ci), "context")) return 1;
    std::printf("bench_crossprocess: %s, %u round trips between two processes (after %u warm-up)\n", ci.deviceName, rounds,
                kWarmup);
    std::printf("%-26s %12s %12s %12s\n", "primitive", "median us", "p99 us", "min us");
    // Issue 13's baseline: raw Vulkan doing the same round trip between two processes, and
    // the target ratio for each primitive against it.
    const char* rawHow = "raw Vulkan";
    const double raw = rawxp::measure(rounds, kWarmup, &rawHow);
    if (raw > 0) std::printf("%-26s %12.1f   (%s: the baseline of the ratios below)\n", "raw Vulkan", raw, rawHow);
    else std::printf("%-26s %12s\n", "raw Vulkan", "FAILED");
    auto target = [](Primitive p) { return p == Primitive::NativeTimeline ? 1.05 : 1.10; };
    bool allOk = true;
    for (Primitive p : {Primitive::KeyedMutex, Primitive::PortableTimeline, Primitive::NativeTimeline}) {
        if (p == Primitive::NativeTimeline && !ci.nativeSemaphoreFd) {
            std::printf("%-26s %12s   (the device has no semaphore fds)\n", name(p), "n/a");
            continue;
        }
        Stats s = measure(p, rounds);
        if (!s.ok) {
            std::printf("%-26s %12s\n", name(p), "FAILED");
            allOk = false;
            continue;
        }
        std::printf("%-26s %12.1f %12.1f %12.1f\n", name(p), s.median, s.p99, s.min);
        if (raw <= 0) allOk = false;  // the smoke run notices a broken baseline too
        if (raw > 0)
            std::printf("%-26s %12.2fx  vs raw Vulkan (median), target <= %.2fx: %s\n", "", s.median / raw, target(p),
                        s.median / raw <= target(p) ? "met" : "MISSED");
        std::fflush(stdout);
    }
    if (frames::run(frameRounds) != 0) allOk = false;
    return allOk ? 0 : 1;
}
