#include "handoff_remote.h"

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

#include <baton/baton_transport.h>

namespace sandbox {
namespace {

constexpr VkFormat kFormat = VK_FORMAT_R8G8B8A8_UNORM;
constexpr VkImageUsageFlags kUsage = VK_IMAGE_USAGE_STORAGE_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;

batonExternalSemaphore_t exportTimeline(SemBackend backend) {
    batonExternalSemaphoreExportDesc desc{};
    desc.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    desc.flags = backend == SemBackend::Portable ? batonExportFlagPortable : 0;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    BATON_CHECK(batonExportExternalSemaphore(&fd, &sem, &desc));
    close(fd);  // batonSendExternalSemaphore sends a duplicate of its own
    return sem;
}

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

std::string executableDir() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string p(buf, static_cast<size_t>(n));
    return p.substr(0, p.rfind('/'));
}

RemoteRing::RemoteRing(Gpu& gpu, const HandoffConfig& config, const RemoteLaunch& launch) : gpu_(gpu), config_(config) {
    if (config_.depth < 2) config_.depth = 2;
    slots_.resize(config_.depth);
    for (Slot& s : slots_) {
        batonMemoryDesc md{};
        md.kind = batonMemoryKindImage;
        md.format = kFormat;
        md.width = config_.extent.width;
        md.height = config_.extent.height;
        md.imageUsage = kUsage;
        md.tiling = VK_IMAGE_TILING_OPTIMAL;
        int fd = -1;
        BATON_CHECK(batonExportMemory(&fd, &s.memory, &md));
        close(fd);  // batonSendMemory exports a new one
        batonMemoryInfo mi{};
        BATON_CHECK(batonMemoryGetInfo(s.memory, &mi));
        s.image = mi.image;
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = s.image;
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = kFormat;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VK_CHECK(vkCreateImageView(gpu.device, &vci, nullptr, &s.view));
    }
    // This process's view of the images: GENERAL for their whole life (the child makes the
    // same transition on its own image objects before it writes).
    gpu.runOnce([&](VkCommandBuffer cmd) {
        std::vector<VkImageMemoryBarrier2> barriers;
        for (const Slot& s : slots_) {
            VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
            b.dstStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
            b.dstAccessMask = VK_ACCESS_2_MEMORY_READ_BIT;
            b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
            b.newLayout = VK_IMAGE_LAYOUT_GENERAL;
            b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
            b.image = s.image;
            b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
            barriers.push_back(b);
        }
        VkDependencyInfo dep{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
        dep.imageMemoryBarrierCount = static_cast<uint32_t>(barriers.size());
        dep.pImageMemoryBarriers = barriers.data();
        vkCmdPipelineBarrier2(cmd, &dep);
    });
    ready_ = exportTimeline(config_.backend);
    released_ = exportTimeline(config_.backend);
    spawn(launch);
}

void RemoteRing::spawn(const RemoteLaunch& launch) {
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
    cfg.format = kFormat;
    cfg.imageUsage = kUsage;
    cfg.animBase = config_.animBase;
    std::memcpy(cfg.deviceUUID, launch.deviceUUID, VK_UUID_SIZE);
    cfg.preferCpu = launch.preferCpu;
    cfg.costMs = launch.controls.costMs;
    cfg.delayMs = launch.controls.delayMs;
    cfg.jitterMs = launch.controls.jitterMs;
    cfg.paused = launch.controls.paused;
    // A child that fails before reading everything shows up as a send error here and as
    // its exit status in poll(); the ring stays usable (it repeats nothing: no frames).
    bool ok = send(sock_, &cfg, sizeof cfg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof cfg);
    for (uint32_t i = 0; ok && i < config_.depth; ++i) ok = batonSendMemory(sock_, slots_[i].memory, i) == batonSuccess;
    ok = ok && batonSendExternalSemaphore(sock_, ready_, 0) == batonSuccess;
    ok = ok && batonSendExternalSemaphore(sock_, released_, 0) == batonSuccess;
    if (!ok) std::fprintf(stderr, "baton-sandbox: could not hand the ring to the producer process: %s\n",
                          batonGetLastErrorMessage());
}

RemoteRing::~RemoteRing() {
    kill();
    if (sock_ >= 0) close(sock_);
    batonDestroyExternalSemaphore(ready_);
    batonDestroyExternalSemaphore(released_);
    for (Slot& s : slots_) {
        vkDestroyImageView(gpu_.device, s.view, nullptr);
        batonDestroyMemory(s.memory);
    }
}

void RemoteRing::noteExit(int status) {
    exited_ = true;
    char buf[64];
    if (WIFSIGNALED(status)) std::snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(status));
    else std::snprintf(buf, sizeof buf, "exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    exitText_ = buf;
    batonExternalSemaphoreInfo info{};
    batonExternalSemaphoreGetInfo(ready_, &info);
    readyAtExit_ = info.currentValue;
    if (sock_ >= 0) close(sock_);
    sock_ = -1;
}

bool RemoteRing::checkExited(bool block) {
    if (pid_ <= 0 || exited_) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
        noteExit(status);
        return true;
    }
    return false;
}

void RemoteRing::poll(Telemetry& t) {
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

uint64_t RemoteRing::highestSequence() const {
    batonExternalSemaphoreInfo info{};
    batonExternalSemaphoreGetInfo(ready_, &info);
    return std::max({lastEnqueued_, static_cast<uint64_t>(info.currentValue), shown_});
}

void RemoteRing::sendControls(const RemoteControls& c) {
    if (sock_ >= 0) send(sock_, &c, sizeof c, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void RemoteRing::kill() {
    if (!alive()) return;
    ::kill(pid_, SIGKILL);
    killedByUs_ = true;
    checkExited(true);
}

uint64_t RemoteRing::stop(uint64_t timeoutNs) {
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

void RemoteRing::reap(uint64_t timeoutNs) {
    const uint64_t end = nowNs() + timeoutNs;
    while (alive() && nowNs() < end) {
        if (checkExited(false)) break;
        usleep(5000);
    }
    if (alive()) kill();
}

bool RemoteRing::waitReady(uint64_t sequence, uint64_t timeoutNs) {
    const uint64_t end = nowNs() + timeoutNs;
    for (;;) {
        if (!alive() || checkExited(false)) {
            batonExternalSemaphoreInfo info{};
            batonExternalSemaphoreGetInfo(ready_, &info);
            return info.currentValue >= sequence;
        }
        const uint64_t now = nowNs();
        if (now >= end) return false;
        const uint64_t slice = std::min<uint64_t>(end - now, 20'000'000ull);
        if (batonExternalSemaphoreHostWait(ready_, sequence, slice) == batonSuccess) return true;
    }
}

bool RemoteRing::fill(uint64_t sequence, ConsumerFrame* out) {
    VkSemaphoreSubmitInfo wait{};
    // The value is already reached: this wait is satisfied when submitted; it is there for
    // the memory dependency on the child's writes.
    batonError_t e = batonGetWaitSubmitInfo(ready_, sequence, VK_PIPELINE_STAGE_2_FRAGMENT_SHADER_BIT, &wait);
    if (e == batonErrorNotReady) return false;
    BATON_CHECK(e);
    *out = ConsumerFrame{};
    out->sequence = sequence;
    out->animFrame = config_.animBase + sequence;
    out->slot = static_cast<uint32_t>((sequence - 1) % config_.depth);
    out->fresh = true;
    out->readyDone = true;
    out->dropped = sequence - shown_ - 1;
    out->waits[0] = wait;
    out->waitCount = 1;
    if (sequence - 1 > released_v_) {
        BATON_CHECK(batonGetSignalSubmitInfo(released_, sequence - 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT,
                                             &out->signals[0]));
        out->signalCount = 1;
        released_v_ = sequence - 1;
    }
    shown_ = sequence;
    return true;
}

bool RemoteRing::acquire(PickMode mode, ConsumerFrame* out) {
    batonExternalSemaphoreInfo info{};
    BATON_CHECK(batonExternalSemaphoreGetInfo(ready_, &info));
    // Only values the host already sees reached (see the header); after the child's death,
    // only what had completed by then.
    uint64_t reached = info.currentValue;
    if (exited_) reached = std::min(reached, readyAtExit_);
    if (reached > shown_ && fill(mode == PickMode::Fifo ? shown_ + 1 : reached, out)) return true;
    if (shown_ == 0) return false;
    *out = ConsumerFrame{};
    out->sequence = shown_;
    out->animFrame = config_.animBase + shown_;
    out->slot = static_cast<uint32_t>((shown_ - 1) % config_.depth);
    return true;
}

bool RemoteRing::releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) {
    if (lastEnqueued <= released_v_) return false;
    BATON_CHECK(batonGetSignalSubmitInfo(released_, lastEnqueued, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, signal));
    released_v_ = lastEnqueued;
    return true;
}

uint32_t RemoteRing::semaphores(SemaphoreView* out, uint32_t max) const {
    uint32_t n = 0;
    if (n < max) out[n++] = {"ready", ready_};
    if (n < max) out[n++] = {"released", released_};
    return n;
}

}  // namespace sandbox
