#include "producer_remote.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <baton/baton_channel.h>

namespace sandbox {
namespace {

constexpr int kChannelTimeoutMs = 60000;  // the child opens its device and creates the channel meanwhile

}  // namespace

int countOpenFds() {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n - 1;  // the directory's own fd
}

void startDriverFdCheck() {
    batonContextInfo info{};
    if (batonContextGetInfo(nullptr, &info) != batonSuccess || !info.nativeSemaphoreFd) return;
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t exported = nullptr, imported = nullptr;
    if (batonExportExternalSemaphore(&fd, &exported, &d) != batonSuccess) return;
    batonExternalSemaphoreHandleDesc h{};
    h.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    h.handle.fd = fd;
    if (batonImportExternalSemaphore(&imported, &h) != batonSuccess) close(fd);  // a failed import leaves it ours
    batonDestroyExternalSemaphore(imported);
    batonDestroyExternalSemaphore(exported);
}

std::string executableDir() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string p(buf, static_cast<size_t>(n));
    return p.substr(0, p.rfind('/'));
}

RemoteProducer::RemoteProducer(Gpu& gpu, const HandoffConfig& config, const RemoteLaunch& launch) : gpu_(gpu), config_(config) {
    if (config_.depth < 2) config_.depth = 2;
    spawn(launch);
    if (!channel_) {
        // The child could not hand a channel over (it failed at setup: poll() reports how).
        // An in-process channel nobody produces into keeps the renderer's bindings valid.
        HandoffConfig local = config_;
        if (local.backend == SemBackend::Native) local.backend = SemBackend::Portable;
        channel_ = std::make_unique<ChannelHandoff>(gpu_, local, launch.pick, launch.submitRelease);
    }
}

void RemoteProducer::spawn(const RemoteLaunch& launch) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        std::perror("baton-sandbox: socketpair");
        std::exit(2);
    }
    // Everything the child needs is built before fork: between fork and exec only
    // async-signal-safe calls (the parent has threads: baton's, the driver's).
    std::string fdArg = std::to_string(sv[1]);
    std::vector<char*> argv = {const_cast<char*>(launch.executable.c_str()), const_cast<char*>("--socket"), fdArg.data(),
                               nullptr};
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(sv[1], F_SETFD, 0);  // the child's end survives exec
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(sv[1]);
    if (pid < 0) {
        std::perror("baton-sandbox: fork");
        std::exit(2);
    }
    pid_ = pidShown_ = pid;
    sock_ = sv[0];

    RemoteConfig cfg;
    cfg.depth = config_.depth;
    cfg.width = config_.extent.width;
    cfg.height = config_.extent.height;
    cfg.format = VK_FORMAT_R8G8B8A8_UNORM;
    cfg.imageUsage = VK_IMAGE_USAGE_STORAGE_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
    cfg.animBase = config_.animBase;
    std::memcpy(cfg.deviceUUID, launch.deviceUUID, VK_UUID_SIZE);
    cfg.preferCpu = launch.preferCpu;
    cfg.costMs = launch.controls.costMs;
    cfg.delayMs = launch.controls.delayMs;
    cfg.jitterMs = launch.controls.jitterMs;
    cfg.paused = launch.controls.paused;
    cfg.backend = static_cast<uint32_t>(config_.backend);
    cfg.pick = static_cast<uint32_t>(launch.pick);
    // A child that fails before it sends the channel shows up as an error here and as its
    // exit status in poll(); the ring stays usable (it repeats nothing: no frames).
    if (send(sock_, &cfg, sizeof cfg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof cfg)) {
        std::fprintf(stderr, "baton-sandbox: could not configure the producer process\n");
        return;
    }
    batonChannelCreateInfo expected{};  // what this renderer can show: the size and depth it asked for
    expected.extent = config_.extent;
    expected.depth = config_.depth;
    expected.usage = VK_IMAGE_USAGE_SAMPLED_BIT;
    expected.flags = batonChannelFlagConsumerQueueFamily;  // baton's consumer command buffers: the renderer's family
    expected.consumerQueueFamily = gpu_.graphicsFamily;
    batonChannel_t ch = nullptr;
    if (batonError_t e = batonChannelReceive(&ch, sock_, kChannelTimeoutMs, &expected)) {
        std::fprintf(stderr, "baton-sandbox: no frame channel from the producer process: %s: %s\n", batonGetErrorName(e),
                     batonGetLastErrorMessage());
        return;
    }
    channel_ = std::make_unique<ChannelHandoff>(gpu_, ch, config_.animBase, launch.submitRelease);
}

RemoteProducer::~RemoteProducer() {
    kill();
    if (sock_ >= 0) close(sock_);
    channel_.reset();
}

uint64_t RemoteProducer::readyValue() const {
    SemaphoreView sems[2];
    if (channel_->semaphores(sems, 2) < 1) return 0;
    batonExternalSemaphoreInfo info{};
    batonExternalSemaphoreGetInfo(sems[0].sem, &info);
    return info.currentValue;
}

void RemoteProducer::noteExit(int status) {
    exited_ = true;
    char buf[64];
    if (WIFSIGNALED(status)) std::snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(status));
    else std::snprintf(buf, sizeof buf, "exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    exitText_ = buf;
    readyAtExit_ = readyValue();
    if (sock_ >= 0) close(sock_);
    sock_ = -1;
}

bool RemoteProducer::checkExited(bool block) {
    if (pid_ <= 0 || exited_) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
        noteExit(status);
        return true;
    }
    return false;
}

void RemoteProducer::poll(Telemetry& t) {
    while (sock_ >= 0) {
        RemoteStatus st;
        ssize_t n = recv(sock_, &st, sizeof st, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {  // hangup: the child is gone (or going): reap it
            checkExited(true);
            break;
        }
        if (n != static_cast<ssize_t>(sizeof st) || st.magic != kRemoteStatusMagic) continue;
        if (st.lastEnqueued > lastEnqueued_) t.enqueued.fetch_add(st.lastEnqueued - lastEnqueued_);
        lastEnqueued_ = std::max(lastEnqueued_, st.lastEnqueued);
        t.produced = st.produced;
        t.producerGpuMs = st.producerGpuMs;
        t.producerCostMs = st.producerCostMs;
        for (uint32_t i = 0; i < std::min(st.stallCount, RemoteStatus::kMaxStalls); ++i) t.addProducerStall(st.stalls[i]);
        childValidation_ = std::max(childValidation_, st.validationErrors);
        if (st.message[0]) childMessage_.assign(st.message, strnlen(st.message, sizeof st.message));
        if (st.stopped) {
            stopped_ = true;
            stoppedAt_ = st.lastEnqueued;
        }
    }
    checkExited(false);
}

uint64_t RemoteProducer::highestSequence() const {
    return std::max({lastEnqueued_, readyValue(), channel_->nextWanted() - 1});
}

void RemoteProducer::sendControls(const RemoteControls& c) {
    if (sock_ >= 0) send(sock_, &c, sizeof c, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void RemoteProducer::kill() {
    if (!alive()) return;
    ::kill(pid_, SIGKILL);
    killedByUs_ = true;
    checkExited(true);
}

uint64_t RemoteProducer::stop(uint64_t timeoutNs) {
    if (!alive()) return 0;
    RemoteStop s;
    send(sock_, &s, sizeof s, MSG_NOSIGNAL);
    Telemetry scratch;  // status counters after a stop do not matter
    const uint64_t end = nowNs() + timeoutNs;
    while (!stopped_ && alive() && nowNs() < end) {
        pollfd pf{sock_, POLLIN, 0};
        ::poll(&pf, 1, 20);
        poll(scratch);
    }
    return stopped_ ? stoppedAt_ : 0;
}

void RemoteProducer::reap(uint64_t timeoutNs) {
    const uint64_t end = nowNs() + timeoutNs;
    while (alive() && nowNs() < end) {
        if (checkExited(false)) break;
        usleep(5000);
    }
    if (alive()) kill();
}

bool RemoteProducer::waitReady(uint64_t sequence, uint64_t timeoutNs) {
    const uint64_t end = nowNs() + timeoutNs;
    for (;;) {
        if (!alive() || checkExited(false)) return readyValue() >= sequence;
        const uint64_t now = nowNs();
        if (now >= end) return false;
        if (channel_->waitReady(sequence, std::min<uint64_t>(end - now, 20'000'000ull))) return true;
    }
}

}  // namespace sandbox
