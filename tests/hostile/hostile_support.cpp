#include "hostile_support.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baton_test.h"
#include "fd_passing.h"

namespace hostile {

bool Helper::start(const char* name, const std::vector<std::string>& args) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
    std::string path = batontest::helperPath(name);
    std::string fdArg = std::to_string(sv[1]);
    std::vector<char*> argv{path.data(), fdArg.data()};
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid = fork();
    if (pid == 0) {
        // Child of a multithreaded process: async-signal-safe calls only until exec.
        fcntl(sv[1], F_SETFD, 0);
        execv(argv[0], argv.data());
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

int Helper::reap() {
    int status = 0;
    if (pid <= 0) return 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    return status;
}

void Helper::kill() {
    if (pid > 0) ::kill(pid, SIGKILL);
    reap();
}

Helper::~Helper() {
    kill();
    if (sock >= 0) close(sock);
}

bool PageWriter::map(int fd, uint32_t* page) {
    Command c{Op::Map, 0, 0, 0, 0, 0};
    Ack ack{};
    if (!batontest::sendWithFds(helper_.sock, &c, sizeof c, &fd, 1) || !batontest::recvAll(helper_.sock, &ack, sizeof ack) ||
        !ack.ok)
        return false;
    *page = ack.pages - 1;
    return true;
}

bool PageWriter::send(const Command& c) {
    Ack ack{};
    return batontest::sendAll(helper_.sock, &c, sizeof c) && batontest::recvAll(helper_.sock, &ack, sizeof ack) && ack.ok;
}

Watchdog::Watchdog(std::chrono::milliseconds limit, std::string what) : what_(std::move(what)) {
    thread_ = std::thread([this, limit] {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "WATCHDOG: hung for %lld ms in: %s\n", static_cast<long long>(limit.count()),
                         what_.c_str());
            std::fflush(stderr);
            std::_Exit(3);
        }
    });
}

Watchdog::~Watchdog() {
    {
        std::lock_guard lock(mutex_);
        done_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void Watchdog::step(std::string what) {
    std::lock_guard lock(mutex_);
    what_ = std::move(what);
}

batonError_t exportPortable(batonExternalSemaphoreHandleType type, uint64_t initial, int* fd,
                            batonExternalSemaphore_t* sem) {
    batonExternalSemaphoreExportDesc d{};
    d.type = type;
    d.flags = batonExportFlagPortable;
    if (type == batonExternalSemaphoreHandleTypeTimelineSemaphoreFd) d.initialValue = initial;
    if (type == batonExternalSemaphoreHandleTypeKeyedMutex) d.initialKey = initial;
    return batonExportExternalSemaphore(fd, sem, &d);
}

batonError_t signalValue(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    batonExternalSemaphoreSignalParams p{};
    p.params.fence.value = value;
    return batonSignalExternalSemaphoresAsync(&s, &p, 1, stream);
}

batonError_t waitValue(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream) {
    batonExternalSemaphoreWaitParams p{};
    p.params.fence.value = value;
    return batonWaitExternalSemaphoresAsync(&s, &p, 1, stream);
}

batonError_t acquireKey(batonExternalSemaphore_t s, uint64_t key, uint32_t timeoutMs, batonStream_t stream) {
    batonExternalSemaphoreWaitParams p{};
    p.params.keyedMutex.key = key;
    p.params.keyedMutex.timeoutMs = timeoutMs;
    return batonWaitExternalSemaphoresAsync(&s, &p, 1, stream);
}

batonError_t releaseKey(batonExternalSemaphore_t s, uint64_t key, batonStream_t stream) {
    batonExternalSemaphoreSignalParams p{};
    p.params.keyedMutex.key = key;
    return batonSignalExternalSemaphoresAsync(&s, &p, 1, stream);
}

}  // namespace hostile
