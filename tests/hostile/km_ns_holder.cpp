// A keyed-mutex holder in ANOTHER pid namespace (defect 7), using baton's own KeyedMutex
// (white-box: baton_core, no Vulkan needed), so the holder follows the protocol exactly.
//   km_ns_holder <socket fd> <exit|stall> <pid>
// Receives the mutex's memfd over the socket, enters a new pid namespace
// (unshare(CLONE_NEWPID), root only) and acquires there as the process with pid <pid>
// (clone3 set_tid) with key 0:
//   exit:  reports Held, then dies holding (no release, no destroy).
//   stall: stops inside the claim, right after its CAS (KeyedMutex::testAfterClaim), reports
//          Claimed and sleeps there until killed: a live holder caught in that window.
// Answers Skip with a reason when the kernel or the privileges do not allow the namespace.
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <linux/sched.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd_passing.h"
#include "km_ns_protocol.h"
#include "sync/keyed_mutex.h"
#include "sync/shared_state.h"

namespace {

int g_sock = -1;

void report(uint32_t code, int32_t result, const char* why) {
    km_ns::Status st{code, result, static_cast<int32_t>(getpid()), {}};
    std::snprintf(st.why, sizeof st.why, "%s", why);
    batontest::sendAll(g_sock, &st, sizeof st);
}

void stallInClaim() {
    report(km_ns::kClaimed, 0, "");
    for (;;) pause();
}

[[noreturn]] void holder(int memfd, bool stall) {
    baton::SharedState state;
    if (state.open(memfd, baton::SharedKind::KeyedMutex) != batonSuccess) {
        report(km_ns::kFail, 0, "SharedState::open failed");
        _exit(1);
    }
    baton::KeyedMutex km(state);
    if (stall) baton::KeyedMutex::testAfterClaim = stallInClaim;
    std::atomic<bool> cancel{false};
    batonError_t e = km.acquire(0, 2000, 1, cancel);
    report(e == batonSuccess ? km_ns::kHeld : km_ns::kFail, e, "");
    _exit(0);  // dies holding: no release, no destructor
}

bool writeFile(const char* path, const char* text) {
    FILE* f = std::fopen(path, "w");
    if (!f) return false;
    const bool ok = std::fputs(text, f) >= 0;
    return std::fclose(f) == 0 && ok;
}

// A new pid namespace for our children: directly as root (CAP_SYS_ADMIN), else inside a new
// user namespace (unprivileged where the kernel allows it), mapping our uid to root there so
// that clone3's set_tid is permitted. KM_NS_FORCE_USERNS=1 takes the second way (to test it).
bool enterPidNamespace() {
    if (!std::getenv("KM_NS_FORCE_USERNS") && unshare(CLONE_NEWPID) == 0) return true;
    const unsigned uid = getuid(), gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) return false;
    char map[64];
    std::snprintf(map, sizeof map, "0 %u 1\n", uid);
    if (!writeFile("/proc/self/uid_map", map)) return false;
    writeFile("/proc/self/setgroups", "deny\n");
    std::snprintf(map, sizeof map, "0 %u 1\n", gid);
    writeFile("/proc/self/gid_map", map);
    return true;
}

// Waits for a child and exits as it did.
[[noreturn]] void exitLike(pid_t child) {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: km_ns_holder <socket fd> <exit|stall> <pid>\n");
        return 2;
    }
    g_sock = std::atoi(argv[1]);
    const bool stall = std::strcmp(argv[2], "stall") == 0;
    const pid_t target = static_cast<pid_t>(std::atoi(argv[3]));
    km_ns::Hello hello{};
    int memfd = -1, n = 0;
    if (!batontest::recvWithFds(g_sock, &hello, sizeof hello, &memfd, 1, &n) || n != 1) return 1;
    if (!enterPidNamespace()) {
        char why[100];
        std::snprintf(why, sizeof why, "unshare(CLONE_NEWPID), also with CLONE_NEWUSER: %s", std::strerror(errno));
        report(km_ns::kSkip, 0, why);
        return 0;
    }
    pid_t init = fork();  // pid 1 of the new namespace
    if (init < 0) return 1;
    if (init > 0) exitLike(init);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the test kills the top process: the namespace goes with it
    clone_args args{};
    args.exit_signal = SIGCHLD;
    uint64_t tid = static_cast<uint64_t>(target);
    args.set_tid = reinterpret_cast<uint64_t>(&tid);
    args.set_tid_size = 1;
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child < 0) {
        char why[96];
        std::snprintf(why, sizeof why, "clone3(set_tid=%d): %s", static_cast<int>(target), std::strerror(errno));
        report(km_ns::kSkip, 0, why);
        _exit(0);
    }
    if (child == 0) holder(memfd, stall);
    close(memfd);
    exitLike(static_cast<pid_t>(child));
}
