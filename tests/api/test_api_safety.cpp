// Entry-point safety through the public API (issue 10): handles stay refused forever
// (defect 15), batonDeviceSynchronize covers every stream (12), out-of-range C enums are
// refused (16), batonContextDestroy finishes enqueued work and is bounded (5), and a child
// forked without exec is refused while its parent carries on (17).
#include <baton/baton.h>
#include <baton/baton_cuda.h>
#include <baton/baton_telemetry.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "baton_test.h"

extern "C" batonError_t apiTestGetApiStatsWithInt(int api, batonTelemetryApiStats* stats);  // api_c_enum.c

namespace {

// --- defect 15 -------------------------------------------------------------------------

// The allocator hands a freed block of the same size straight back, so the object made right
// after a destroy usually sits at the destroyed one's address. Its handle must still differ,
// and the old handle must stay refused however many objects come and go.
TEST(ApiHandles, DestroyedStreamStaysRefusedWhenItsMemoryIsReused) {
    batonStream_t old = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&old));
    BATON_ASSERT_OK(batonStreamDestroy(old));
    for (int i = 0; i < 32; ++i) {
        batonStream_t s = nullptr;
        BATON_ASSERT_OK(batonStreamCreate(&s));
        EXPECT_NE(s, old) << "a new stream got the destroyed stream's handle (attempt " << i << ")";
        EXPECT_EQ(batonStreamQuery(old), batonErrorInvalidResourceHandle) << "attempt " << i;
        EXPECT_EQ(batonStreamDestroy(old), batonErrorInvalidResourceHandle) << "attempt " << i;
        BATON_ASSERT_OK(batonStreamDestroy(s));
    }
}

TEST(ApiHandles, DestroyedEventAndSemaphoreStayRefusedWhenTheirMemoryIsReused) {
    batonEvent_t oldEvent = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&oldEvent));
    BATON_ASSERT_OK(batonEventDestroy(oldEvent));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t oldSem = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &oldSem, &d));
    close(fd);
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(oldSem));
    for (int i = 0; i < 64; ++i) {
        batonEvent_t e = nullptr;
        BATON_ASSERT_OK(batonEventCreate(&e));
        EXPECT_NE(e, oldEvent) << "attempt " << i;
        EXPECT_EQ(batonEventQuery(oldEvent), batonErrorInvalidResourceHandle) << "attempt " << i;
        BATON_ASSERT_OK(batonEventDestroy(e));
        batonExternalSemaphore_t s = nullptr;
        BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &s, &d));
        close(fd);
        EXPECT_NE(s, oldSem) << "attempt " << i;
        batonExternalSemaphoreInfo info{};
        EXPECT_EQ(batonExternalSemaphoreGetInfo(oldSem, &info), batonErrorInvalidResourceHandle) << "attempt " << i;
        BATON_ASSERT_OK(batonDestroyExternalSemaphore(s));
    }
}

TEST(ApiHandles, DestroyedContextStaysRefusedAndIsNotCurrentAgain) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t old = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&old, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(old));
    BATON_ASSERT_OK(batonContextDestroy(old));
    for (int i = 0; i < 3; ++i) {
        batonContext_t c = nullptr;
        BATON_ASSERT_OK(batonContextCreate(&c, &ci));
        EXPECT_NE(c, old) << "attempt " << i;
        batonContextInfo info{};
        EXPECT_EQ(batonContextGetInfo(old, &info), batonErrorInvalidResourceHandle) << "attempt " << i;
        EXPECT_EQ(batonCtxSetCurrent(old), batonErrorInvalidResourceHandle) << "attempt " << i;
        // The thread's current context was destroyed: it falls back to the default one,
        // never to a new context that happens to live where the old one did.
        batonContext_t cur = nullptr;
        BATON_ASSERT_OK(batonCtxGetCurrent(&cur));
        EXPECT_NE(cur, c) << "attempt " << i;
        BATON_ASSERT_OK(batonContextDestroy(c));
    }
}

}  // namespace

namespace {

// --- defect 12 -------------------------------------------------------------------------

// Each round gives one stream an asynchronous error (a keyed-mutex acquire of a key nobody
// releases, timeout 1 ms); batonDeviceSynchronize must report it whichever stream it is.
// It used to look at the first 256 streams only and return success for the rest.
TEST(ApiDeviceSync, ReportsTheErrorOfEveryStreamBeyond256) {
    constexpr int kStreams = 300;
    std::vector<batonStream_t> streams(kStreams);
    for (auto& s : streams) BATON_ASSERT_OK(batonStreamCreate(&s));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    int fd = -1;
    batonExternalSemaphore_t km = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &km, &d));
    close(fd);
    int missed = 0;
    for (int i = 0; i < kStreams; ++i) {
        batonExternalSemaphoreWaitParams w{};
        w.params.keyedMutex.key = 1;  // released with key 0: never acquired
        w.params.keyedMutex.timeoutMs = 1;
        BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&km, &w, 1, streams[i]));
        batonError_t e = batonDeviceSynchronize();
        if (e != batonErrorTimeout) ++missed;
        // Whatever the device synchronisation did not report, the stream still holds.
        batonStreamSynchronize(streams[i]);
    }
    EXPECT_EQ(missed, 0) << missed << " of " << kStreams << " streams' errors were not reported by batonDeviceSynchronize";
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(km));
    for (auto s : streams) BATON_ASSERT_OK(batonStreamDestroy(s));
}

// --- defect 16 (api part) --------------------------------------------------------------

// A C caller can pass any int as an enum (the call is made from C: api_c_enum.c); out-of-range
// values are refused, not loaded as an enum (undefined behaviour in C++, which UBSan stops)
// or used as an index.
TEST(ApiEnums, OutOfRangeTelemetryApiIsRefused) {
    batonTelemetryApiStats stats{};
    for (int v : {-1, -2147483647 - 1, static_cast<int>(batonTelemetryApiCount), 1000})
        EXPECT_EQ(apiTestGetApiStatsWithInt(v, &stats), batonErrorInvalidValue) << v;
    BATON_ASSERT_OK(batonTelemetryGetApiStats(nullptr, static_cast<batonTelemetryApi>(0), &stats));
}

// --- defect 5 (context part) -----------------------------------------------------------

struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void wait() {
        std::unique_lock l(m);
        cv.wait(l, [&] { return open; });
    }
    void release() {
        {
            std::lock_guard l(m);
            open = true;
        }
        cv.notify_all();
    }
};

// A context destroyed while its stream still has enqueued work finishes that work: the host
// function behind a slow one runs, and a peer (another context holding the same portable
// timeline) sees the signal that followed. It used to drop everything not yet started.
TEST(ApiContextDestroy, FinishesEnqueuedWorkAndItsSignals) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t peer = nullptr, ctx = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&peer, &ci));
    BATON_ASSERT_OK(batonContextCreate(&ctx, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(ctx));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.flags = batonExportFlagPortable;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr, peerSem = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &sem, &d));
    BATON_ASSERT_OK(batonCtxSetCurrent(peer));
    batonExternalSemaphoreHandleDesc hd{};
    hd.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    hd.handle.fd = fd;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&peerSem, &hd));
    BATON_ASSERT_OK(batonCtxSetCurrent(ctx));

    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    Gate gate;
    std::atomic<bool> ran{false};
    BATON_ASSERT_OK(batonLaunchHostFunc(s, [](void* g) { static_cast<Gate*>(g)->wait(); }, &gate));
    BATON_ASSERT_OK(batonLaunchHostFunc(s, [](void* r) { static_cast<std::atomic<bool>*>(r)->store(true); }, &ran));
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 1;
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s));
    // The first host function is still blocked when the destroy starts (it opens later).
    std::thread opener([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        gate.release();
    });
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonContextDestroy(ctx));
    opener.join();
    EXPECT_TRUE(ran.load()) << "the host function enqueued before batonContextDestroy did not run";
    BATON_ASSERT_OK(batonCtxSetCurrent(peer));
    EXPECT_EQ(batonExternalSemaphoreHostWait(peerSem, 1, 5'000'000'000ull), batonSuccess)
        << "the peer never saw the signal enqueued before batonContextDestroy";
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(peerSem));
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonContextDestroy(peer));
}

// Work that depends on a peer that will never act (a portable wait nobody satisfies) does
// not hold batonContextDestroy forever: it gives up after the documented bound. A watchdog
// turns a hang into a failure.
TEST(ApiContextDestroy, IsBoundedWhenWorkWaitsOnADeadPeer) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&ctx, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(ctx));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.flags = batonExportFlagPortable;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &sem, &d));
    close(fd);  // the only other party is gone: value 5 never comes
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    batonExternalSemaphoreWaitParams w{};
    w.params.fence.value = 5;
    BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&sem, &w, 1, s));
    std::atomic<bool> ran{false};
    BATON_ASSERT_OK(batonLaunchHostFunc(s, [](void* r) { static_cast<std::atomic<bool>*>(r)->store(true); }, &ran));
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
        for (int i = 0; i < 600 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!done.load()) {
            std::fprintf(stderr, "batonContextDestroy still blocked after 60 s\n");
            std::abort();
        }
    });
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    EXPECT_EQ(batonContextDestroy(ctx), batonSuccess) << batonGetLastErrorMessage();
    done = true;
    watchdog.join();
    EXPECT_FALSE(ran.load()) << "work behind a wait that was never satisfied ran anyway";
}

}  // namespace

namespace {

// --- defect 17 -------------------------------------------------------------------------

struct ChildCall {
    const char* name;
    int result;
    bool saysExec;  // the message tells to exec first
};

void noop(void*) {}

// The child runs these against the handles it inherited, then reports through the pipe.
void runChild(int out, batonContext_t ctx, batonStream_t s, batonExternalSemaphore_t sem) {
    std::vector<ChildCall> calls;
    auto note = [&](const char* name, batonError_t e) {
        const char* m = batonGetLastErrorMessage();
        calls.push_back({name, static_cast<int>(e), m && std::strstr(m, "exec") != nullptr});
        char line[256];  // at once, so that a call that hangs shows after the last line
        int n = std::snprintf(line, sizeof line, "%s %d %d\n", name, static_cast<int>(e), calls.back().saysExec ? 1 : 0);
        if (write(out, line, n) != n) _exit(3);
    };
    batonContextInfo info{};
    note("batonContextGetInfo", batonContextGetInfo(ctx, &info));
    note("batonStreamQuery", batonStreamQuery(s));
    note("batonStreamSynchronize", batonStreamSynchronize(s));
    note("batonStreamSynchronize(NULL)", batonStreamSynchronize(nullptr));
    note("batonLaunchHostFunc", batonLaunchHostFunc(s, noop, nullptr));
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 7;
    note("batonSignalExternalSemaphoresAsync", batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s));
    batonExternalSemaphoreInfo si{};
    note("batonExternalSemaphoreGetInfo", batonExternalSemaphoreGetInfo(sem, &si));
    note("batonDeviceSynchronize", batonDeviceSynchronize());
    batonStream_t ns = nullptr;
    note("batonStreamCreate", batonStreamCreate(&ns));
    batonEvent_t ev = nullptr;
    note("batonEventCreate", batonEventCreate(&ev));
    batonContext_t nc = nullptr;
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    note("batonContextCreate", batonContextCreate(&nc, &ci));
    note("batonCtxSetCurrent", batonCtxSetCurrent(ctx));
    note("batonTelemetryEnable", batonTelemetryEnable(ctx, 1));
    note("batonStreamDestroy", batonStreamDestroy(s));
    note("batonDestroyExternalSemaphore", batonDestroyExternalSemaphore(sem));
    note("batonContextDestroy", batonContextDestroy(ctx));
    // Pure calls still work.
    int version = 0;
    const bool pureOk = batonGetVersion(&version) == batonSuccess && version == BATON_VERSION &&
                        std::strcmp(batonGetErrorName(batonErrorTimeout), "batonErrorTimeout") == 0;
    const char pure[] = "pure calls (batonGetVersion, batonGetErrorName) ";
    std::string line = std::string(pure) + (pureOk ? "0" : "-1") + " 1\n";
    if (write(out, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
    close(out);
}

// Reads the child's report, for at most ~30 s (a child that hangs is killed and fails).
std::string readChild(int in, pid_t pid, bool* hung) {
    std::string text;
    *hung = false;
    for (int waited = 0;;) {
        pollfd p{in, POLLIN, 0};
        int r = poll(&p, 1, 100);
        if (r == 0) {
            if ((waited += 100) > 30000) {
                *hung = true;
                kill(pid, SIGKILL);
                break;
            }
            continue;
        }
        char buf[512];
        ssize_t n = read(in, buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

TEST(ApiFork, ChildWithoutExecIsRefusedAndTheParentCarriesOn) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&ctx, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(ctx));
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &sem, &d));
    close(fd);
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 1;
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s));
    BATON_ASSERT_OK(batonStreamSynchronize(s));

    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(pipefd[0]);
        runChild(pipefd[1], ctx, s, sem);
        _exit(0);
    }
    close(pipefd[1]);
    bool hung = false;
    std::string report = readChild(pipefd[0], pid, &hung);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_FALSE(hung) << "the child hung; it reported:\n" << report;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status << "; it reported:\n" << report;

    int lines = 0;
    size_t pos = 0;
    while (pos < report.size()) {
        size_t end = report.find('\n', pos);
        std::string line = report.substr(pos, end - pos);
        pos = end == std::string::npos ? report.size() : end + 1;
        size_t b = line.rfind(' '), a = line.rfind(' ', b - 1);
        const std::string name = line.substr(0, a);
        const int result = std::stoi(line.substr(a + 1, b - a - 1));
        const bool saysExec = line.substr(b + 1) == "1";
        ++lines;
        if (name.rfind("pure", 0) == 0) {
            EXPECT_EQ(result, 0) << name << " failed in the child";
            continue;
        }
        EXPECT_EQ(result, batonErrorInitializationError)
            << name << " in a forked child returned " << batonGetErrorName(static_cast<batonError_t>(result));
        EXPECT_TRUE(saysExec) << name << ": the message does not tell to exec first";
    }
    EXPECT_EQ(lines, 17) << "the child reported:\n" << report;

    // The parent is unaffected: the same handles still work.
    sp.params.fence.value = 2;
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s));
    BATON_ASSERT_OK(batonLaunchHostFunc(s, noop, nullptr));
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(sem, 2, 5'000'000'000ull));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(sem));
    BATON_ASSERT_OK(batonStreamDestroy(s));
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonContextDestroy(ctx));
    EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
}

// The CUDA device list (batonGetDeviceProperties and the calls beside it) opens the Vulkan driver
// the first time it is asked: a child forked without exec from a process with contexts must
// not (defect 17, its CUDA part). The fork happens in a fresh copy of this binary (exec'd), so
// that no earlier test in this process made the list: one made before the fork is plain data
// and readable in the child. Exit codes: 21 the child opened the driver and answered, 22 it
// answered another error, 23 without the word "exec", 30/31 a crash or hang, 40 the parent's
// own list failed afterwards.
int forkedDeviceListCheck() {
    alarm(60);
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t ctx = nullptr;
    if (batonContextCreate(&ctx, &ci) != batonSuccess) return 10;
    const pid_t pid = fork();
    if (pid < 0) return 11;
    if (pid == 0) {
        alarm(30);
        // batonGetDeviceCount refuses at its entry; this call reaches the list itself.
        batonDeviceProp prop{};
        const batonError_t e = batonGetDeviceProperties(&prop, 0);
        const char* m = batonGetLastErrorMessage();
        if (e == batonSuccess) _exit(21);
        if (e != batonErrorInitializationError) _exit(22);
        _exit(m && std::strstr(m, "exec") ? 0 : 23);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st)) return WTERMSIG(st) == SIGALRM ? 31 : 30;
    if (WEXITSTATUS(st) != 0) return WEXITSTATUS(st);
    int n = 0;
    if (batonGetDeviceCount(&n) != batonSuccess || n < 1) return 40;
    return batonContextDestroy(ctx) == batonSuccess ? 0 : 41;
}

TEST(ApiFork, ChildWithoutExecDoesNotOpenTheDriverForTheDeviceList) {
    if (std::getenv("BATON_FORK_DEVICE_LIST")) _exit(forkedDeviceListCheck());
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        setenv("BATON_FORK_DEVICE_LIST", "1", 1);
        execl("/proc/self/exe", "test_api_safety",
              "--gtest_filter=ApiFork.ChildWithoutExecDoesNotOpenTheDriverForTheDeviceList", nullptr);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    ASSERT_TRUE(WIFEXITED(st)) << "the fresh process died, status " << st;
    EXPECT_EQ(WEXITSTATUS(st), 0) << "21: the forked child opened the driver for the device list and answered; "
                                     "22: another error; 23: no word of exec; 30/31: crash/hang; 40: the parent's list";
}

}  // namespace
