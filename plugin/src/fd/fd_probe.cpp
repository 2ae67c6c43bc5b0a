#include "core/thread_safety.h"
#include "fd/fd_probe.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "fd/fd_message.h"

extern char** environ;

namespace baton {
namespace {

// baton-fdprobe lives beside libbaton.so in the build tree, in <libdir>/baton/ when installed.
std::string findProbe() {
    if (const char* p = std::getenv("BATON_FDPROBE")) return p;
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(&probeSemaphoreFd), &info) || !info.dli_fname) return {};
    std::string dir = info.dli_fname;
    dir = dir.substr(0, dir.find_last_of('/') + 1);
    for (const char* rel : {"baton-fdprobe", "baton/baton-fdprobe"}) {
        std::string p = dir + rel;
        if (access(p.c_str(), X_OK) == 0) return p;
    }
    return {};
}

// One probe server for the process (per device UUID: restarted when another is asked for).
// Holds one socket while it lives; started on the first check, restarted after a refusal.
struct ProbeServer {
    Mutex mutex;
    pid_t pid BATON_GUARDED_BY(mutex) = -1;
    int sock BATON_GUARDED_BY(mutex) = -1;
    uint8_t uuid[16] BATON_GUARDED_BY(mutex) = {};

    void stop() BATON_REQUIRES(mutex) {
        if (sock >= 0) close(sock);
        sock = -1;
        if (pid > 0) {
            // Closing the socket makes a healthy server leave; one that hangs is killed.
            int status = 0;
            for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; ++i) usleep(1000);
            if (waitpid(pid, &status, WNOHANG) == 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
            }
        }
        pid = -1;
    }

    batonError_t start(const uint8_t deviceUUID[16]) BATON_REQUIRES(mutex) {
        std::string probe = findProbe();
        if (probe.empty())
            return fail(batonErrorInvalidResourceHandle,
                        "cannot vouch for the fd: the baton-fdprobe helper was not found beside libbaton.so "
                        "(set BATON_FDPROBE, or BATON_TRUST_DRIVER_FDS=1 to import without the check)");
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
            return fail(batonErrorOperatingSystem, "socketpair failed: %s", strerror(errno));
        char hex[33];
        for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", deviceUUID[i]);
        char serve[] = "--serve";
        char* argv[] = {probe.data(), serve, hex, nullptr};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, sv[1], 3);  // dup2 clears close-on-exec
        posix_spawn_file_actions_addclosefrom_np(&fa, 4);  // nothing else of ours
        pid_t child = -1;
        int rc = posix_spawn(&child, probe.c_str(), &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(sv[1]);
        if (rc != 0) {
            close(sv[0]);
            return fail(batonErrorOperatingSystem, "cannot start %s: %s", probe.c_str(), strerror(rc));
        }
        pid = child;
        sock = sv[0];
        std::memcpy(uuid, deviceUUID, 16);
        return batonSuccess;
    }

    // Sends the fd, waits for the verdict. Returns 0 accepted, 1 refused, -1 server lost.
    int ask(int fd, char kind) BATON_REQUIRES(mutex) {
        char byte = kind;
        FdMessage m(&byte, 1, fd);
        if (sendmsg(sock, &m.msg, MSG_NOSIGNAL) != 1) return -1;
        pollfd p{sock, POLLIN, 0};
        // Device setup in a fresh server takes a fraction of a second; 30 s means it is stuck.
        if (poll(&p, 1, 30000) != 1) return -1;
        char reply = 0;
        if (recv(sock, &reply, 1, 0) != 1) return -1;
        return reply == '0' ? 0 : 1;
    }
};

ProbeServer& server() {
    static ProbeServer* s = new ProbeServer;  // lives as long as the process
    return *s;
}

}  // namespace

batonError_t probeSemaphoreFd(int fd, bool timeline, const uint8_t deviceUUID[16]) {
    const char* trust = std::getenv("BATON_TRUST_DRIVER_FDS");
    if (trust && std::strcmp(trust, "1") == 0) return batonSuccess;
    ProbeServer& s = server();
    MutexLock lock(s.mutex);
    if (s.sock >= 0 && std::memcmp(s.uuid, deviceUUID, 16) != 0) s.stop();
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (s.sock < 0) {
            batonError_t e = s.start(deviceUUID);
            if (e != batonSuccess) return e;
        }
        int verdict = s.ask(fd, timeline ? 't' : 'b');
        if (verdict == 0) return batonSuccess;
        if (verdict == 1) {
            s.stop();  // it leaves after a refusal; reap it
            return fail(batonErrorInvalidResourceHandle,
                        "fd %d is not a %s semaphore of this device (the driver refused it in baton's probe process)",
                        fd, timeline ? "timeline" : "binary");
        }
        s.stop();  // lost (crashed, or died in setup): one fresh try
    }
    return fail(batonErrorInvalidResourceHandle, "cannot vouch for fd %d: baton's probe process failed", fd);
}

}  // namespace baton
