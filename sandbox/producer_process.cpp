// baton-sandbox-producer: the sandbox's producer in a process of its own. The sandbox
// fork+execs it with `--socket FD`, one end of a SOCK_SEQPACKET socketpair, and sends it the
// ring's configuration (remote_protocol.h). It opens its own standalone baton context on the
// same GPU (its own VkDevice), creates a shared frame channel and sends it to the sandbox
// (batonChannelSend), and runs the same Producer as the in-process mode on that channel. No GLFW, no ImGui
// window, no X libraries.
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <baton/baton_channel.h>
#include <baton/baton_telemetry.h>

#include "gpu.h"
#include "gpu_clock.h"
#include "handoff_channel.h"
#include "producer.h"
#include "remote_protocol.h"
#include "telemetry.h"

namespace sandbox {
namespace {

constexpr int kSetupTimeoutMs = 60000;

std::atomic<unsigned> gValidationErrors{0};

void onMessage(batonMessageSeverity severity, const char* message, void*) {
    // The layer false positive the sandbox documents (docs/sandbox.md): not an error here either.
    if (std::strstr(message, "VUID-VkSemaphoreSignalInfo-value-03259")) return;
    if (severity == batonMessageSeverityError) gValidationErrors.fetch_add(1);
    if (severity >= batonMessageSeverityWarning)
        std::fprintf(stderr, "baton-sandbox-producer: %s\n", message);
}

[[noreturn]] void fail(int sock, const char* what, batonError_t e) {
    RemoteStatus st;
    st.failed = 1;
    std::snprintf(st.message, sizeof st.message, "%s: %s: %s", what, batonGetErrorName(e), batonGetLastErrorMessage());
    std::fprintf(stderr, "baton-sandbox-producer: %s\n", st.message);
    send(sock, &st, sizeof st, MSG_NOSIGNAL);
    std::exit(2);
}

void fillStatus(RemoteStatus* st, const Telemetry& t, const Producer& p, uint64_t* stallsSent) {
    st->produced = t.produced.load();
    st->lastEnqueued = t.enqueued.load();
    st->burnLoops = p.burnLoops();
    st->producerGpuMs = t.producerGpuMs.load();
    st->producerCostMs = t.producerCostMs.load();
    st->validationErrors = gValidationErrors.load();
    const StallStats s = t.producerStalls();
    uint64_t from = std::max(*stallsSent, s.count > RemoteStatus::kMaxStalls ? s.count - RemoteStatus::kMaxStalls : 0);
    for (uint64_t i = from; i < s.count; ++i) st->stalls[st->stallCount++] = s.recent[i % StallStats::kRecent];
    *stallsSent = s.count;
}

int run(int sock) {
    RemoteConfig cfg;
    pollfd pf{sock, POLLIN, 0};
    if (::poll(&pf, 1, kSetupTimeoutMs) != 1 || recv(sock, &cfg, sizeof cfg, 0) != static_cast<ssize_t>(sizeof cfg) ||
        cfg.magic != kRemoteConfigMagic || cfg.depth < 2 || cfg.depth > 8) {
        std::fprintf(stderr, "baton-sandbox-producer: no valid configuration on the socket\n");
        return 2;
    }
    batonContextCreateInfo ci{};
    bool haveUUID = false;
    for (uint8_t b : cfg.deviceUUID) haveUUID |= b != 0;
    ci.deviceUUID = haveUUID ? cfg.deviceUUID : nullptr;
    ci.flags = cfg.preferCpu ? batonContextFlagPreferSoftware : 0;
    ci.messageCallback = onMessage;
    batonContext_t ctx = nullptr;
    if (batonError_t e = batonContextCreate(&ctx, &ci)) fail(sock, "batonContextCreate", e);
    BATON_CHECK(batonCtxSetCurrent(ctx));
    // The producer's zones (produce, slot waits, GPU signals) travel in the channel's control
    // page to the sandbox's telemetry, panel and trace only while telemetry is on here too.
    BATON_CHECK(batonTelemetryEnable(ctx, 1));
    batonContextInfo info{};
    BATON_CHECK(batonContextGetInfo(ctx, &info));

    // The sandbox's Vulkan calls go through volk: point it at the context's device.
    if (volkInitialize() != VK_SUCCESS) fail(sock, "volkInitialize", batonErrorUnknown);
    volkLoadInstanceOnly(info.instance);
    volkLoadDevice(info.device);
    Gpu gpu;  // a view of baton's device, never destroyed through it (see the end)
    gpu.instance = info.instance;
    gpu.physicalDevice = info.physicalDevice;
    gpu.device = info.device;
    vkGetPhysicalDeviceProperties(info.physicalDevice, &gpu.properties);
    vkGetPhysicalDeviceMemoryProperties(info.physicalDevice, &gpu.memory);
    uint32_t nf = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(info.physicalDevice, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    vkGetPhysicalDeviceQueueFamilyProperties(info.physicalDevice, &nf, fams.data());
    gpu.computeFamily = gpu.graphicsFamily = info.computeQueue.familyIndex;
    gpu.computeTimestampBits = info.computeQueue.familyIndex < nf ? fams[info.computeQueue.familyIndex].timestampValidBits : 0;
    gpu.calibratedTimestamps = false;  // baton's own device: no VK_EXT_calibrated_timestamps promised

    HandoffConfig hc;
    hc.depth = cfg.depth;
    hc.extent = {cfg.width, cfg.height};
    hc.animBase = cfg.animBase;
    hc.backend = cfg.backend <= static_cast<uint32_t>(SemBackend::Keyed) ? static_cast<SemBackend>(cfg.backend)
                                                                          : SemBackend::Portable;
    const PickMode pick = cfg.pick ? PickMode::Mailbox : PickMode::Fifo;
    int rc = 0;
    {
        // The channel is made here, on this process's device, and handed to the sandbox whole.
        ChannelHandoff ring(gpu, hc, pick, ChannelHandoff::SharedProducer{});
        if (batonError_t e = ring.send(sock, kSetupTimeoutMs)) fail(sock, "batonChannelSend", e);

        GpuClock clock(gpu);
        Telemetry telemetry;
        ProducerControls controls;
        controls.costMs = cfg.costMs;
        controls.delayMs = cfg.delayMs;
        controls.jitterMs = cfg.jitterMs;
        controls.paused = cfg.paused != 0;
        Producer producer(gpu, ctx, clock, telemetry, controls);
        producer.start(ring);
        uint64_t stallsSent = 0;
        {
            RemoteStatus st;
            std::snprintf(st.message, sizeof st.message, "producer process %d on %.100s", static_cast<int>(getpid()),
                          info.deviceName);
            send(sock, &st, sizeof st, MSG_NOSIGNAL);
        }
        for (;;) {
            pf = {sock, POLLIN, 0};
            ::poll(&pf, 1, 50);
            bool stop = false;
            if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
                char buf[sizeof(RemoteStatus)];
                ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                    // The sandbox is gone: nobody will release a slot again, so the stream
                    // could never drain. Leave at once.
                    _exit(1);
                }
                uint32_t magic = 0;
                if (n >= 4) std::memcpy(&magic, buf, 4);
                if (magic == kRemoteControlsMagic && n == static_cast<ssize_t>(sizeof(RemoteControls))) {
                    RemoteControls c;
                    std::memcpy(&c, buf, sizeof c);
                    controls.costMs = c.costMs;
                    controls.delayMs = c.delayMs;
                    controls.jitterMs = c.jitterMs;
                    controls.paused = c.paused != 0;
                } else if (magic == kRemoteStopMagic) {
                    stop = true;
                }
            }
            RemoteStatus st;
            if (stop) {
                st.stopped = 1;
                const uint64_t last = producer.stop();
                fillStatus(&st, telemetry, producer, &stallsSent);
                st.lastEnqueued = last;
                send(sock, &st, sizeof st, MSG_NOSIGNAL);
                break;
            }
            fillStatus(&st, telemetry, producer, &stallsSent);
            send(sock, &st, sizeof st, MSG_NOSIGNAL);
        }
        // The parent releases every slot after our stopped status: then the stream drains.
        producer.synchronize();
    }
    BATON_CHECK(batonContextDestroy(ctx));
    gpu.device = VK_NULL_HANDLE;  // baton's: destroyed with the context
    gpu.instance = VK_NULL_HANDLE;
    rc = gValidationErrors.load() ? 3 : 0;
    return rc;
}

}  // namespace
}  // namespace sandbox

int main(int argc, char** argv) {
    int sock = -1;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--socket") == 0) sock = std::atoi(argv[i + 1]);
    if (sock < 0) {
        std::fprintf(stderr,
                     "Usage: %s --socket FD\nThe sandbox's producer process: baton-sandbox starts it with "
                     "--producer process; it is not meant to be run by hand.\n",
                     argv[0]);
        return 1;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the sandbox
    return sandbox::run(sock);
}
