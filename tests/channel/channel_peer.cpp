// channel_peer: the other process of the cross-process channel tests (test_channel_xproc).
//   channel_peer produce <socket-fd> <frames> <depth> <portable|keyed|native> <mailbox 0|1> [scribble-after]
//     creates a shared channel (portable timelines, keyed mutexes or native timelines), sends it, produces <frames> frames (every pixel = the frame
//     number), then waits for one byte from the consumer and exits. With scribble-after N it
//     stops after N frames, overwrites the channel's control page with garbage (a hostile
//     writer: it finds the page among its own fds, as any process holding it could) and sleeps.
//   channel_peer consume <socket-fd>
//     receives a channel and consumes it, checking every pixel, until its producer is lost.
// Exit: 0 success; 2 usage; 3 baton failure; 4 bad pixels/order; 5 validation errors;
// 6 peer lost (produce: the consumer died). BATON_PEER_TELEMETRY=1: telemetry on (its zones
// then reach the consumer through the control page).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <poll.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_telemetry.h>

#include "channel_harness.h"

namespace {

PFN_vkCmdClearColorImage g_clear = nullptr;

void clearToFrame(VkCommandBuffer cmd, VkImage image, unsigned long long frame, void*) {
    VkClearColorValue c{};
    c.uint32[0] = static_cast<uint32_t>(frame);
    VkImageSubresourceRange r{VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    g_clear(cmd, image, VK_IMAGE_LAYOUT_GENERAL, &c, 1, &r);
}

int failed(const char* what, batonError_t e) {
    std::fprintf(stderr, "channel_peer: %s: %s: %s\n", what, batonGetErrorName(e), batonGetLastErrorMessage());
    return e == batonErrorPeerLost ? 6 : 3;
}

// The hostile part: this process's own fd of the control page, found by its memfd name.
void scribbleControlPage() {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return;
    while (dirent* e = readdir(d)) {
        char path[64], target[256] = {};
        std::snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        if (readlink(path, target, sizeof target - 1) <= 0 || !std::strstr(target, "baton-channel")) continue;
        void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, std::atoi(e->d_name), 0);
        if (p == MAP_FAILED) continue;
        unsigned seed = 12345;
        for (int i = 0; i < 4096; ++i) static_cast<unsigned char*>(p)[i] = static_cast<unsigned char>(rand_r(&seed));
        munmap(p, 4096);
    }
    closedir(d);
}

int produce(int sock, uint64_t frames, unsigned depth, const char* backend, bool mailbox, uint64_t scribbleAfter) {
    const bool keyed = std::strcmp(backend, "keyed") == 0, native = std::strcmp(backend, "native") == 0;
    if (!keyed && !native && std::strcmp(backend, "portable") != 0) return 2;
    batonChannelCreateInfo ci{};
    ci.depth = depth;
    ci.format = VK_FORMAT_R32_UINT;
    ci.extent = {8, 8};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    ci.policy = mailbox ? batonChannelPolicyMailbox : batonChannelPolicyFifo;
    ci.flags = batonChannelFlagShared | (keyed ? batonChannelFlagKeyedMutex : 0);
    ci.backend = native ? batonSemaphoreBackendNative : static_cast<batonSemaphoreBackend>(0);
    batonChannel_t ch = nullptr;
    batonError_t e = batonChannelCreate(&ch, &ci);
    if (e != batonSuccess) return failed("create", e);
    batonChannelInfo info{};
    batonChannelGetInfo(ch, &info);
    if ((info.backend == batonSemaphoreBackendNative) != native) {
        std::fprintf(stderr, "channel_peer: the channel's timelines are not the backend asked for (%s)\n", backend);
        return 3;
    }
    if ((e = batonChannelSend(ch, sock, 20000)) != batonSuccess) return failed("send", e);
    batonStream_t stream = nullptr;
    if ((e = batonStreamCreate(&stream)) != batonSuccess) return failed("stream", e);
    for (uint64_t i = 0; i < frames; ++i) {
        if (scribbleAfter && i == scribbleAfter) {
            batonStreamSynchronize(stream);
            scribbleControlPage();
            for (;;) pause();  // stays alive: the consumer must tell garbage from death
        }
        unsigned long long f = 0;
        while ((e = batonChannelProduceFrame(ch, stream, clearToFrame, nullptr, &f)) == batonErrorNotReady) {
            e = batonChannelWaitForSlot(ch, 2000000000ull);
            if (e != batonSuccess && e != batonErrorTimeout) return failed("wait for slot", e);
        }
        if (e != batonSuccess) return failed("produce", e);
        if (f != i + 1) return 4;
    }
    if ((e = batonStreamSynchronize(stream)) != batonSuccess) return failed("synchronize", e);
    char done = 0;
    pollfd p{sock, POLLIN, 0};
    if (poll(&p, 1, 60000) == 1) (void)!read(sock, &done, 1);  // the consumer saw every frame
    batonStreamDestroy(stream);
    batonChannelDestroy(ch);
    return 0;
}

int consume(int sock, batonContext_t ctx, const batonContextInfo& info) {
    batonChannel_t ch = nullptr;
    batonError_t e = batonChannelReceive(&ch, sock, 20000, nullptr);
    if (e != batonSuccess) return failed("receive", e);
    batonChannelInfo ci{};
    batonChannelGetInfo(ch, &ci);
    VkQueue q = info.graphicsQueue.queue ? info.graphicsQueue.queue : info.computeQueue.queue;
    uint32_t fam = info.graphicsQueue.queue ? info.graphicsQueue.familyIndex : info.computeQueue.familyIndex;
    batontest::ChannelHarness h(ctx, q, fam, ci.extent.width, ci.extent.height);
    if (!h.ok()) return 3;
    batonError_t end = batonSuccess;
    // Until the producer is lost (the test kills this process before, or the producer).
    batontest::HandoffResult r = h.consume(ch, UINT64_MAX, ci.policy == batonChannelPolicyFifo, 0, 600000, &end);
    h.idle();
    if (r.badPixels || r.orderErrors) {
        std::fprintf(stderr, "channel_peer: %s\n", r.firstError.c_str());
        return 4;
    }
    batonChannelDestroy(ch);
    return end == batonErrorPeerLost ? 0 : failed("consume", end);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    const int sock = std::atoi(argv[2]);
    // The default context (BATON_VALIDATION=1 from the test turns the layer on), never
    // destroyed: the driver stack stays loaded to the end, so a sanitizer's leak report names it.
    batonContext_t ctx = nullptr;
    if (batonCtxGetCurrent(&ctx) != batonSuccess || !ctx) return 3;
    // The producer's zones travel in the control page only while its telemetry is on.
    if (const char* t = std::getenv("BATON_PEER_TELEMETRY"); t && std::strcmp(t, "1") == 0) batonTelemetryEnable(ctx, 1);
    batonContextInfo info{};
    batonContextGetInfo(ctx, &info);
    g_clear = reinterpret_cast<PFN_vkCmdClearColorImage>(info.getDeviceProcAddr(info.device, "vkCmdClearColorImage"));
    int rc = 2;
    if (std::strcmp(argv[1], "produce") == 0 && argc >= 7)
        rc = produce(sock, std::strtoull(argv[3], nullptr, 10), std::atoi(argv[4]), argv[5],
                     std::atoi(argv[6]) != 0, argc >= 8 ? std::strtoull(argv[7], nullptr, 10) : 0);
    else if (std::strcmp(argv[1], "consume") == 0)
        rc = consume(sock, ctx, info);
    unsigned long long errors = 0;
    batonContextGetMessageCount(ctx, batonMessageSeverityError, &errors);
    if (rc == 0 && errors) rc = 5;
    return rc;
}
