// bench_crossprocess, raw: the baseline of the semaphore round trips (issue 13): raw Vulkan
// doing the same between two processes, with no baton on the path.
//   with semaphore fds   A: vkQueueSubmit2 signal(ping, i), vkWaitSemaphores(pong, i)
//                        B: vkWaitSemaphores(ping, i), vkQueueSubmit2 signal(pong, i)
//                        on two exported timelines (VK_KHR_external_semaphore_fd, opaque fds
//                        sent over the socket), the same submissions and host waits as baton's
//   without (lavapipe)   each side signals a local timeline, waits for it on the host and tells
//                        the other over the socket: what two processes without shared
//                        semaphores must do
// Each process has its own baton context, only for its VkDevice and queue. A times each round
// trip on the host and keeps the median (as measure() in bench_crossprocess.cpp does).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <baton/baton.h>

namespace rawxp {
namespace {

struct Vk {
    batonContextInfo info{};
    VkSemaphore ping = VK_NULL_HANDLE, pong = VK_NULL_HANDLE;
    bool fds = false;
#define FN(name) PFN_##name name = nullptr;
    FN(vkCreateSemaphore) FN(vkDestroySemaphore) FN(vkQueueSubmit2) FN(vkWaitSemaphores) FN(vkGetSemaphoreFdKHR)
    FN(vkImportSemaphoreFdKHR)
#undef FN
    bool init() {
        if (batonContextGetInfo(nullptr, &info) != batonSuccess) return false;
#define FN(name) name = reinterpret_cast<PFN_##name>(info.getDeviceProcAddr(info.device, #name));
        FN(vkCreateSemaphore) FN(vkDestroySemaphore) FN(vkQueueSubmit2) FN(vkWaitSemaphores) FN(vkGetSemaphoreFdKHR)
        FN(vkImportSemaphoreFdKHR)
#undef FN
        fds = info.nativeSemaphoreFd && vkGetSemaphoreFdKHR && vkImportSemaphoreFdKHR;
        return vkCreateSemaphore && vkQueueSubmit2 && vkWaitSemaphores;
    }
    VkSemaphore timeline(bool exportable) {
        VkExportSemaphoreCreateInfo ex{VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO, nullptr,
                                       VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
        VkSemaphoreTypeCreateInfo t{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, exportable ? &ex : nullptr,
                                    VK_SEMAPHORE_TYPE_TIMELINE, 0};
        VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &t, 0};
        VkSemaphore s = VK_NULL_HANDLE;
        return vkCreateSemaphore(info.device, &ci, nullptr, &s) == VK_SUCCESS ? s : VK_NULL_HANDLE;
    }
    int exportFd(VkSemaphore s) {
        VkSemaphoreGetFdInfoKHR gi{VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR, nullptr, s,
                                   VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
        int fd = -1;
        return vkGetSemaphoreFdKHR(info.device, &gi, &fd) == VK_SUCCESS ? fd : -1;
    }
    bool importFd(VkSemaphore s, int fd) {  // takes the fd on success
        VkImportSemaphoreFdInfoKHR ii{VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR, nullptr, s, 0,
                                      VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT, fd};
        return vkImportSemaphoreFdKHR(info.device, &ii) == VK_SUCCESS;
    }
    bool signal(VkSemaphore s, uint64_t v) {
        VkSemaphoreSubmitInfo sig{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, s, v, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
        VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 0, nullptr, 0, nullptr, 1, &sig};
        batonContextLockQueue(nullptr, info.computeQueue.queue);
        const VkResult r = vkQueueSubmit2(info.computeQueue.queue, 1, &si, VK_NULL_HANDLE);
        batonContextUnlockQueue(nullptr, info.computeQueue.queue);
        return r == VK_SUCCESS;
    }
    bool wait(VkSemaphore s, uint64_t v) {
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s, &v};
        return vkWaitSemaphores(info.device, &wi, 10'000'000'000ull) == VK_SUCCESS;
    }
    void destroy() {
        if (ping) vkDestroySemaphore(info.device, ping, nullptr);
        if (pong) vkDestroySemaphore(info.device, pong, nullptr);
    }
};

bool sendFds(int sock, const int* fds, int n) {
    char byte = 'f';
    iovec io{&byte, 1};
    alignas(cmsghdr) char buf[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = buf;
    m.msg_controllen = CMSG_SPACE(n * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    return sendmsg(sock, &m, 0) == 1;
}

bool receiveFds(int sock, int* fds, int n) {
    char byte = 0;
    iovec io{&byte, 1};
    alignas(cmsghdr) char buf[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = buf;
    m.msg_controllen = sizeof buf;
    if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1) return false;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(n * sizeof(int))) return false;
    std::memcpy(fds, CMSG_DATA(c), n * sizeof(int));
    return true;
}

bool relay(int sock) {  // one byte each way (no fds): "your turn"
    char b = 't';
    return write(sock, &b, 1) == 1;
}
bool awaitRelay(int sock) {
    char b = 0;
    return read(sock, &b, 1) == 1;
}

}  // namespace

// B: imports the two timelines (or makes its own local one) and answers every round.
int peer(int sock, uint32_t rounds) {
    Vk vk;
    if (!vk.init()) return 1;
    bool ok = true;
    if (vk.fds) {
        int fds[2] = {-1, -1};
        ok = receiveFds(sock, fds, 2) && (vk.ping = vk.timeline(false)) && (vk.pong = vk.timeline(false)) &&
             vk.importFd(vk.ping, fds[0]) && vk.importFd(vk.pong, fds[1]);
        for (uint32_t i = 1; ok && i <= rounds; ++i) ok = vk.wait(vk.ping, i) && vk.signal(vk.pong, i);
    } else {
        ok = (vk.pong = vk.timeline(false)) != VK_NULL_HANDLE;
        for (uint32_t i = 1; ok && i <= rounds; ++i)
            ok = awaitRelay(sock) && vk.signal(vk.pong, i) && vk.wait(vk.pong, i) && relay(sock);
    }
    vk.destroy();
    return ok ? 0 : 1;
}

// A: the median round trip in us against a fresh peer process (0 on failure); *how says which
// baseline it was.
double measure(uint32_t rounds, uint32_t warmup, const char** how) {
    Vk vk;
    if (!vk.init()) return 0;
    *how = vk.fds ? "raw Vulkan, shared timelines" : "raw Vulkan, host relay (no semaphore fds)";
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    const uint32_t total = rounds + warmup;
    std::string sockArg = std::to_string(sv[1]), roundsArg = std::to_string(total);
    char self[] = "/proc/self/exe", flag[] = "--raw-peer";
    char* argv[] = {self, flag, sockArg.data(), roundsArg.data(), nullptr};
    const pid_t pid = fork();
    if (pid == 0) {
        fcntl(sv[1], F_SETFD, 0);
        execv(self, argv);
        _exit(127);
    }
    close(sv[1]);
    bool ok = pid > 0 && (vk.ping = vk.timeline(vk.fds)) && (!vk.fds || (vk.pong = vk.timeline(true)));
    if (ok && vk.fds) {
        int fds[2] = {vk.exportFd(vk.ping), vk.exportFd(vk.pong)};
        ok = fds[0] >= 0 && fds[1] >= 0 && sendFds(sv[0], fds, 2);
        for (int fd : fds)
            if (fd >= 0) close(fd);
    }
    std::vector<double> us;
    us.reserve(total);
    for (uint32_t i = 1; ok && i <= total; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        if (vk.fds)
            ok = vk.signal(vk.ping, i) && vk.wait(vk.pong, i);
        else
            ok = vk.signal(vk.ping, i) && vk.wait(vk.ping, i) && relay(sv[0]) && awaitRelay(sv[0]);
        const auto t1 = std::chrono::steady_clock::now();
        if (i > warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    close(sv[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    vk.destroy();
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok || us.empty()) return 0;
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
}

}  // namespace rawxp
