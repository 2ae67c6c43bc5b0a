// The handoff with its producer in another process: this process (the renderer) fork+execs
// baton-sandbox-producer with one end of a SOCK_SEQPACKET socketpair and sends it the ring's
// configuration (remote_protocol.h); the child creates a shared frame channel (its images,
// timelines or keyed mutexes, and a control page) on its own baton context and sends it back
// with batonChannelSend; this side takes it with batonChannelReceive and consumes it through
// the same ChannelHandoff as in one process. The child runs the same Producer.
//
// The channel never hands this side a GPU wait that only the child could satisfy (a frame is
// handed out once complete), so a dead producer cannot hang the graphics queue: after the
// child dies (kill(), a crash), the channel reports it and the last frame stays on screen.
#pragma once

#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include <baton/baton_memory.h>

#include "gpu.h"
#include "handoff.h"
#include "handoff_channel.h"
#include "remote_protocol.h"
#include "telemetry.h"

namespace sandbox {

struct RemoteLaunch {
    std::string executable;  // baton-sandbox-producer
    bool preferCpu = false;
    uint8_t deviceUUID[VK_UUID_SIZE]{};
    RemoteControls controls;  // starting values
    PickMode pick = PickMode::Fifo;          // the channel's policy
    ChannelHandoff::SubmitRelease submitRelease;  // teardown releases (see ChannelHandoff)
};

class RemoteProducer final : public Handoff {
public:
    // Creates and exports images and semaphores, starts the child and sends them (setup time).
    RemoteProducer(Gpu& gpu, const HandoffConfig& config, const RemoteLaunch& launch);
    // Kills a child still running. The caller drained the renderer first (waitIdle).
    ~RemoteProducer() override;

    const HandoffConfig& config() const override { return config_; }  // as asked for
    VkImage image(uint32_t slot) const override { return channel_->image(slot); }
    VkImageView view(uint32_t slot) const override { return channel_->view(slot); }
    VkImageLayout sampledLayout() const override { return channel_->sampledLayout(); }
    // The producer side is in the child: batonErrorNotSupported here.
    batonError_t produceBegin(batonStream_t, uint64_t, uint32_t*) override { return batonErrorNotSupported; }
    batonError_t produceEnd(batonStream_t, uint64_t) override { return batonErrorNotSupported; }
    // Bounded host wait in 20 ms slices that stops as soon as the child is gone.
    bool waitReady(uint64_t sequence, uint64_t timeoutNs) override;
    bool acquire(PickMode mode, ConsumerFrame* out) override { return channel_->acquire(mode, out); }
    uint64_t nextWanted() const override { return channel_->nextWanted(); }
    bool releaseAll(uint64_t lastEnqueued, VkSemaphoreSubmitInfo* signal) override {
        return channel_->releaseAll(lastEnqueued, signal);
    }
    uint32_t semaphores(SemaphoreView* out, uint32_t max) const override { return channel_->semaphores(out, max); }
    PickMode mode() const { return channel_->mode(); }

    // The child: reads its status messages (feeding telemetry) and notices its death.
    void poll(Telemetry& telemetry);
    void sendControls(const RemoteControls& c);
    // SIGKILL and reap. No-op when already gone.
    void kill();
    // Asks the child to stop and returns the last sequence it enqueued (0: no answer, it
    // was killed). The caller then releases every slot (releaseAll) and calls reap().
    uint64_t stop(uint64_t timeoutNs);
    // Waits for the child to exit (SIGKILL after timeoutNs).
    void reap(uint64_t timeoutNs);

    bool alive() const { return pid_ > 0 && !exited_; }
    pid_t pid() const { return pidShown_; }
    const std::string& exitText() const { return exitText_; }  // "" while running
    bool killedByUs() const { return killedByUs_; }
    uint64_t readyAtExit() const { return readyAtExit_; }      // ready's value when it died
    // The highest sequence it may have produced (enqueued as reported, reached, shown): the
    // next ring's animation starts beyond it.
    uint64_t highestSequence() const;
    unsigned childValidationErrors() const { return childValidation_; }
    const std::string& childMessage() const { return childMessage_; }

private:
    void spawn(const RemoteLaunch& launch);
    bool checkExited(bool block);  // waitpid; true once the child is gone
    void noteExit(int status);
    uint64_t readyValue() const;

    Gpu& gpu_;
    HandoffConfig config_;
    std::unique_ptr<ChannelHandoff> channel_;

    pid_t pid_ = -1, pidShown_ = -1;
    int sock_ = -1;
    bool exited_ = false, killedByUs_ = false;
    std::string exitText_, childMessage_;
    uint64_t readyAtExit_ = 0;
    uint64_t lastEnqueued_ = 0, stoppedAt_ = 0;
    bool stopped_ = false;
    unsigned childValidation_ = 0;
};

// Open file descriptors of this process (entries of /proc/self/fd), for leak checks.
int countOpenFds();
// Where the device has semaphore fds, the first import of a driver fd (a producer process's
// channel with native timelines) starts baton's probe process, which keeps one socket of this
// process open for the rest of its life (deliberate: baton checks driver fds there). One
// checked import of a timeline made here starts it, so that it is in place before the fd
// baseline of the leak checks is taken. No-op on a device without semaphore fds.
void startDriverFdCheck();
// The directory of this executable ("" if unknown), to find baton-sandbox-producer beside it.
std::string executableDir();

}  // namespace sandbox
