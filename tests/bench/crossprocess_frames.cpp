// bench_crossprocess, frames: a frame handed from one process to another, per round trip
//   channel   A: batonChannelProduceFrame (one submit: clear the image)  -> B: acquire, one
//             submit (copy one pixel of the frame to a buffer) with the release -> A: sees "released"
//             (portable timelines, keyed mutexes, and native timelines where the device has
//             semaphore fds: the H200; elsewhere that row says why it is not there)
//   raw       A: vkQueueSubmit2 (clear an image, signal a local timeline), host wait, tell B
//             over the socket -> B: vkQueueSubmit2 (copy one pixel), host wait, tell A
// Both do the same submissions on the same device kind (each process has its own baton
// context and VkDevice); the raw one relays through the host, as any two-process handoff
// without shared semaphores must. Tiny (16x16) and 1080p (1920x1080) RGBA8 frames; A times
// each round trip on the host. Prints median/p99 per round trip and channel/raw ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_memory.h>

namespace frames {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kWarmup = 50;

bool ok(batonError_t e, const char* what) {
    if (e == batonSuccess) return true;
    std::fprintf(stderr, "bench_crossprocess: %s: %s: %s\n", what, batonGetErrorName(e), batonGetLastErrorMessage());
    return false;
}

// The Vulkan calls both sides make, from the current baton context's device.
struct Vk {
    batonContextInfo info{};
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkCommandPool pool = VK_NULL_HANDLE;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkSemaphore timeline = VK_NULL_HANDLE;
    uint64_t value = 0;
#define FN(name) PFN_##name name = nullptr;
    FN(vkCreateCommandPool) FN(vkAllocateCommandBuffers) FN(vkBeginCommandBuffer) FN(vkEndCommandBuffer)
    FN(vkCmdClearColorImage) FN(vkCmdCopyImageToBuffer) FN(vkCmdPipelineBarrier2) FN(vkQueueSubmit2)
    FN(vkCreateSemaphore) FN(vkWaitSemaphores) FN(vkDestroySemaphore) FN(vkDestroyCommandPool)
    FN(vkResetCommandBuffer)
#undef FN
    // consumer: the renderer's queue (graphics where there is one); producer: baton's compute queue.
    bool init(bool consumer) {
        if (!ok(batonContextGetInfo(nullptr, &info), "context")) return false;
        const batonQueueInfo& q = consumer && info.graphicsQueue.queue ? info.graphicsQueue : info.computeQueue;
        queue = q.queue;
        family = q.familyIndex;
#define FN(name) name = reinterpret_cast<PFN_##name>(info.getDeviceProcAddr(info.device, #name));
        FN(vkCreateCommandPool) FN(vkAllocateCommandBuffers) FN(vkBeginCommandBuffer) FN(vkEndCommandBuffer)
        FN(vkCmdClearColorImage) FN(vkCmdCopyImageToBuffer) FN(vkCmdPipelineBarrier2) FN(vkQueueSubmit2)
        FN(vkCreateSemaphore) FN(vkWaitSemaphores) FN(vkDestroySemaphore) FN(vkDestroyCommandPool)
        FN(vkResetCommandBuffer)
#undef FN
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr,
                                    VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, family};
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, VK_NULL_HANDLE,
                                       VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
        VkSemaphoreTypeCreateInfo tci{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
        VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &tci};
        if (vkCreateCommandPool(info.device, &pci, nullptr, &pool) != VK_SUCCESS) return false;
        ai.commandPool = pool;
        return vkAllocateCommandBuffers(info.device, &ai, &cmd) == VK_SUCCESS &&
               vkCreateSemaphore(info.device, &sci, nullptr, &timeline) == VK_SUCCESS;
    }
    ~Vk() {
        if (timeline) vkDestroySemaphore(info.device, timeline, nullptr);
        if (pool) vkDestroyCommandPool(info.device, pool, nullptr);
    }
    // Submits cmd (between the optional first/last), waiting/signaling what is given, plus
    // this side's timeline; returns its value.
    uint64_t submit(VkCommandBuffer first, VkCommandBuffer last, const VkSemaphoreSubmitInfo* wait,
                    const VkSemaphoreSubmitInfo* signal) {
        VkCommandBufferSubmitInfo c[3];
        uint32_t n = 0;
        if (first) c[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, first, 0};
        c[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
        if (last) c[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, last, 0};
        VkSemaphoreSubmitInfo s[2] = {{VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline, ++value,
                                       VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0}};
        if (signal) s[1] = *signal;
        VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
        si.waitSemaphoreInfoCount = wait ? 1 : 0;
        si.pWaitSemaphoreInfos = wait;
        si.commandBufferInfoCount = n;
        si.pCommandBufferInfos = c;
        si.signalSemaphoreInfoCount = signal ? 2 : 1;
        si.pSignalSemaphoreInfos = s;
        batonContextLockQueue(nullptr, queue);
        vkQueueSubmit2(queue, 1, &si, VK_NULL_HANDLE);
        batonContextUnlockQueue(nullptr, queue);
        return value;
    }
    void waitValue(uint64_t v) {
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &timeline, &v};
        vkWaitSemaphores(info.device, &wi, UINT64_MAX);
    }
};

Vk* g_vk = nullptr;  // the clear callback's (one producer per process)

VkImageSubresourceRange colour() { return {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}; }

void clearFrame(VkCommandBuffer cmd, VkImage image, unsigned long long frame, void*) {
    VkClearColorValue c{};
    c.uint32[0] = static_cast<uint32_t>(frame);
    const VkImageSubresourceRange r = colour();
    g_vk->vkCmdClearColorImage(cmd, image, VK_IMAGE_LAYOUT_GENERAL, &c, 1, &r);
}

// B's command buffer: copies one pixel of image (in layout) to buffer (a raw image first
// goes from UNDEFINED to that layout).
void recordCopy(Vk& vk, VkImage image, VkImageLayout layout, VkBuffer buffer, bool transition) {
    vk.vkResetCommandBuffer(vk.cmd, 0);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vk.vkBeginCommandBuffer(vk.cmd, &bi);
    if (transition) {
        VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
        b.dstStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
        b.dstAccessMask = VK_ACCESS_2_TRANSFER_READ_BIT;
        b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
        b.newLayout = layout;
        b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        b.image = image;
        b.subresourceRange = colour();
        VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
        di.imageMemoryBarrierCount = 1;
        di.pImageMemoryBarriers = &b;
        vk.vkCmdPipelineBarrier2(vk.cmd, &di);
    }
    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {1, 1, 1};
    vk.vkCmdCopyImageToBuffer(vk.cmd, image, layout, buffer, 1, &copy);
    vk.vkEndCommandBuffer(vk.cmd);
}

// A's raw command buffer: the same as the channel records (to GENERAL, clear).
void recordClear(Vk& vk, VkImage image, uint64_t frame) {
    vk.vkResetCommandBuffer(vk.cmd, 0);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vk.vkBeginCommandBuffer(vk.cmd, &bi);
    VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
    b.srcStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    b.dstStageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    b.dstAccessMask = VK_ACCESS_2_MEMORY_WRITE_BIT;
    b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    b.newLayout = VK_IMAGE_LAYOUT_GENERAL;
    b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    b.image = image;
    b.subresourceRange = colour();
    VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    di.imageMemoryBarrierCount = 1;
    di.pImageMemoryBarriers = &b;
    vk.vkCmdPipelineBarrier2(vk.cmd, &di);
    clearFrame(vk.cmd, image, frame, nullptr);
    vk.vkEndCommandBuffer(vk.cmd);
}

batonMemory_t makeImage(uint32_t w, uint32_t h, VkImage* image) {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindImage;
    d.format = VK_FORMAT_R8G8B8A8_UNORM;
    d.width = w;
    d.height = h;
    d.imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    int fd = -1;
    batonMemory_t m = nullptr;
    if (!ok(batonExportMemory(&fd, &m, &d), "image")) return nullptr;
    close(fd);
    batonMemoryInfo mi{};
    batonMemoryGetInfo(m, &mi);
    *image = mi.image;
    return m;
}

batonMemory_t makeBuffer(VkBuffer* buffer) {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindBuffer;
    d.size = 256;
    d.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    int fd = -1;
    batonMemory_t m = nullptr;
    if (!ok(batonExportMemory(&fd, &m, &d), "buffer")) return nullptr;
    close(fd);
    batonMemoryInfo mi{};
    batonMemoryGetInfo(m, &mi);
    *buffer = mi.buffer;
    return m;
}

bool readAll(int fd, void* p, size_t n) {
    return recv(fd, p, n, MSG_WAITALL) == static_cast<ssize_t>(n);
}

}  // namespace

// B of the channel bench: receives the channel and consumes `rounds` frames.
int channelPeer(int sock, uint32_t rounds) {
    Vk vk;
    if (!vk.init(true)) return 1;
    batonChannel_t ch = nullptr;
    if (!ok(batonChannelReceive(&ch, sock, 20000, nullptr), "peer: receive")) return 1;
    VkBuffer buffer = VK_NULL_HANDLE;
    batonMemory_t bm = makeBuffer(&buffer);
    for (uint32_t i = 0; i < rounds; ++i) {
        batonChannelFrame f{};
        batonError_t e;
        while ((e = batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_COPY_BIT, &f)) == batonErrorNotReady)
            batonChannelWaitForFrame(ch, 1000000000ull);
        if (!ok(e, "peer: acquire")) return 1;
        recordCopy(vk, f.image, f.layout, buffer, false);
        batonChannelRelease rel{};
        if (!ok(batonChannelReleaseFrame(ch, &f, VK_PIPELINE_STAGE_2_COPY_BIT, &rel), "peer: release")) return 1;
        vk.submit(f.acquireCommands, rel.releaseCommands, &f.wait, &rel.signal);
    }
    vk.waitValue(vk.value);
    batonChannelDestroy(ch);
    batonDestroyMemory(bm);
    return 0;
}

// B of the raw bench: answers every frame A announces with its own submit.
int rawPeer(int sock, uint32_t width, uint32_t height, uint32_t rounds) {
    Vk vk;
    if (!vk.init(true)) return 1;
    VkImage image = VK_NULL_HANDLE;
    VkBuffer buffer = VK_NULL_HANDLE;
    batonMemory_t im = makeImage(width, height, &image), bm = makeBuffer(&buffer);
    if (!im || !bm) return 1;
    recordCopy(vk, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, buffer, true);
    for (uint32_t i = 0; i < rounds; ++i) {
        uint64_t frame = 0;
        if (!readAll(sock, &frame, sizeof frame)) return 1;
        vk.waitValue(vk.submit(VK_NULL_HANDLE, VK_NULL_HANDLE, nullptr, nullptr));
        if (send(sock, &frame, sizeof frame, MSG_NOSIGNAL) != sizeof frame) return 1;
    }
    batonDestroyMemory(im);
    batonDestroyMemory(bm);
    return 0;
}

namespace {

struct Result {
    double median = 0, p99 = 0;
    bool ok = false;
    const char* skipped = nullptr;  // why the row was not measured
};

Result summarize(std::vector<double>& us, bool good) {
    Result r;
    if (!good || us.empty()) return r;
    std::sort(us.begin(), us.end());
    r.median = us[us.size() / 2];
    r.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    r.ok = true;
    return r;
}

pid_t spawn(std::vector<std::string> args, int* sockOut) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    args.insert(args.begin() + 1, std::to_string(sv[1]));
    std::vector<char*> argv;
    static char self[] = "/proc/self/exe";
    argv.push_back(self);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(sv[1], F_SETFD, 0);
        execv(self, argv.data());
        _exit(127);
    }
    close(sv[1]);
    *sockOut = sv[0];
    return pid;
}

bool reaped(pid_t pid) {
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

enum class Timelines { Portable, Keyed, Native };

Result measureChannel(uint32_t width, uint32_t height, Timelines kind, uint32_t rounds) {
    std::vector<double> us;
    int sock = -1;
    const uint32_t total = rounds + kWarmup;
    const bool keyed = kind == Timelines::Keyed;
    if (kind == Timelines::Native) {
        batonContextInfo ci{};
        if (batonContextGetInfo(nullptr, &ci) != batonSuccess || !ci.nativeSemaphoreFd) {
            Result r;
            r.skipped = "skipped: the device has no semaphore fds";
            return r;
        }
    }
    pid_t pid = spawn({"--frames-peer", "channel", std::to_string(total)}, &sock);
    Vk vk;
    bool good = pid > 0 && vk.init(false);
    g_vk = &vk;
    batonChannelCreateInfo ci{};
    ci.depth = 2;
    ci.format = VK_FORMAT_R8G8B8A8_UNORM;
    ci.extent = {width, height};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.flags = batonChannelFlagShared | (keyed ? batonChannelFlagKeyedMutex : 0);
    if (kind == Timelines::Native) ci.backend = batonSemaphoreBackendNative;
    batonChannel_t ch = nullptr;
    batonStream_t st = nullptr;
    good = good && ok(batonChannelCreate(&ch, &ci), "channel");
    batonChannelInfo info{};
    if (good) batonChannelGetInfo(ch, &info);
    if (good && kind == Timelines::Native && info.backend != batonSemaphoreBackendNative) {
        std::fprintf(stderr, "bench_crossprocess: the channel's timelines are not native\n");
        good = false;  // not sent: the peer's receive times out and it leaves
    }
    good = good && ok(batonChannelSend(ch, sock, 20000), "send") && ok(batonStreamCreate(&st), "stream");
    for (uint32_t i = 1; good && i <= total; ++i) {
        const auto t0 = Clock::now();
        batonError_t e;
        while ((e = batonChannelProduceFrame(ch, st, clearFrame, nullptr, nullptr)) == batonErrorNotReady)
            batonChannelWaitForSlot(ch, 1000000000ull);
        good = ok(e, "produce") && ok(batonExternalSemaphoreHostWait(info.released, i, 5000000000ull), "released");
        if (i > kWarmup) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    if (st) {
        batonStreamSynchronize(st);
        batonStreamDestroy(st);
    }
    good = reaped(pid) && good;
    batonChannelDestroy(ch);
    close(sock);
    return summarize(us, good);
}

Result measureRaw(uint32_t width, uint32_t height, uint32_t rounds) {
    std::vector<double> us;
    int sock = -1;
    const uint32_t total = rounds + kWarmup;
    pid_t pid = spawn({"--frames-peer", "raw", std::to_string(total), std::to_string(width), std::to_string(height)},
                      &sock);
    Vk vk;
    bool good = pid > 0 && vk.init(false);
    g_vk = &vk;
    VkImage image = VK_NULL_HANDLE;
    batonMemory_t im = good ? makeImage(width, height, &image) : nullptr;
    good = good && im;
    for (uint64_t i = 1; good && i <= total; ++i) {
        const auto t0 = Clock::now();
        recordClear(vk, image, i);
        vk.waitValue(vk.submit(VK_NULL_HANDLE, VK_NULL_HANDLE, nullptr, nullptr));
        uint64_t back = 0;
        good = send(sock, &i, sizeof i, MSG_NOSIGNAL) == sizeof i && readAll(sock, &back, sizeof back) && back == i;
        if (i > kWarmup) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    good = reaped(pid) && good;
    batonDestroyMemory(im);
    close(sock);
    return summarize(us, good);
}

}  // namespace

int run(uint32_t rounds) {
    std::printf("\nframes between two processes: %u round trips each (after %u warm-up); A produces, B reads one pixel\n",
                rounds, kWarmup);
    std::printf("%-12s %-30s %12s %12s %14s\n", "frame", "handoff", "median us", "p99 us", "vs raw (median)");
    bool allOk = true;
    const struct {
        const char* name;
        uint32_t w, h;
    } sizes[] = {{"16x16", 16, 16}, {"1920x1080", 1920, 1080}};
    for (const auto& sz : sizes) {
        const Result raw = measureRaw(sz.w, sz.h, rounds);
        const Result portable = measureChannel(sz.w, sz.h, Timelines::Portable, rounds);
        const Result keyed = measureChannel(sz.w, sz.h, Timelines::Keyed, rounds);
        const Result native = measureChannel(sz.w, sz.h, Timelines::Native, rounds);
        auto row = [&](const char* what, const Result& r) {
            if (r.skipped) {
                std::printf("%-12s %-30s %12s\n", sz.name, what, r.skipped);
                return;
            }
            if (!r.ok) {
                std::printf("%-12s %-30s %12s\n", sz.name, what, "FAILED");
                allOk = false;
                return;
            }
            std::printf("%-12s %-30s %12.1f %12.1f", sz.name, what, r.median, r.p99);
            if (raw.ok && &r != &raw) std::printf(" %13.2fx", r.median / raw.median);
            std::printf("\n");
        };
        row("raw Vulkan, host relay", raw);
        row("channel, portable timelines", portable);
        row("channel, keyed mutex", keyed);
        row("channel, native timelines", native);
        std::fflush(stdout);
    }
    return allOk ? 0 : 1;
}

}  // namespace frames
