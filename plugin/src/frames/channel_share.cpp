// A channel across two processes: the producer's images as exportable memory, its control
// page, the one message that carries them (channel_wire.h), the consumer's end built from
// it, and the checks that keep every wait of either process bounded by the other's life.
#include <cerrno>
#include <string>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "exec/context.h"
#include "fd/fd_check.h"
#include "frames/channel.h"
#include "frames/channel_wire.h"
#include "frames/memory.h"
#include "sync/semaphore.h"

namespace baton {
namespace {

void closeAll(const int* fds, int n, const bool* taken) {
    for (int i = 0; i < n; ++i)
        if (fds[i] >= 0 && !(taken && taken[i])) close(fds[i]);
}

int remainingMs(uint64_t deadlineNs) {
    if (!deadlineNs) return -1;
    const uint64_t now = monotonicNs();
    return now >= deadlineNs ? 0 : static_cast<int>((deadlineNs - now + 999999) / 1000000);
}

uint64_t deadlineAfter(int timeoutMs) {
    return timeoutMs < 0 ? 0 : monotonicNs() + static_cast<uint64_t>(timeoutMs) * 1000000ull + 1;
}

batonError_t waitReadable(int sock, uint64_t deadline) {
    for (;;) {
        pollfd p{sock, POLLIN, 0};
        const int n = poll(&p, 1, remainingMs(deadline));
        if (n > 0) return batonSuccess;
        if (n == 0) return fail(batonErrorTimeout, "no message on socket %d within the timeout", sock);
        if (errno != EINTR) return fail(batonErrorOperatingSystem, "poll on socket %d failed: %s", sock, strerror(errno));
    }
}

batonError_t sendAll(int sock, const void* data, size_t len, const int* fds, int fdCount) {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kChannelMaxFds)] = {};
    size_t sent = 0;
    while (sent < len) {
        iovec iov{const_cast<char*>(static_cast<const char*>(data)) + sent, len - sent};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        if (sent == 0 && fdCount) {  // the fds go with the first byte
            m.msg_control = control;
            m.msg_controllen = CMSG_SPACE(sizeof(int) * fdCount);
            cmsghdr* c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * fdCount);
            std::memcpy(CMSG_DATA(c), fds, sizeof(int) * fdCount);
        }
        const ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(batonErrorOperatingSystem, "sendmsg on socket %d failed: %s", sock, strerror(errno));
        sent += static_cast<size_t>(n);
    }
    return batonSuccess;
}

// Reads exactly len bytes (a stream socket may deliver them in parts) and every fd that came
// with them (those beyond maxFds are closed at once). On failure every fd received is closed.
bool isStreamSocket(int sock) {
    int type = 0;
    socklen_t len = sizeof type;
    return getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

// A record socket (SOCK_SEQPACKET) delivers one whole message per call: *gotOut (when given)
// says how long it was, and a shorter one is not waited for.
batonError_t receiveAll(int sock, uint64_t deadline, void* data, size_t len, int* fds, int maxFds, int* fdCount,
                        bool* truncated, size_t* gotOut = nullptr) {
    const bool stream = isStreamSocket(sock);
    size_t got = 0;
    *fdCount = 0;
    *truncated = false;
    while (got < len) {
        batonError_t e = waitReadable(sock, deadline);
        if (e != batonSuccess) {
            closeAll(fds, *fdCount, nullptr);
            return e;
        }
        alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * (kChannelMaxFds + 4))] = {};
        iovec iov{static_cast<char*>(data) + got, len - got};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctrl;
        m.msg_controllen = sizeof ctrl;
        const ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        if (n < 0) {
            const int err = errno;
            closeAll(fds, *fdCount, nullptr);
            return fail(batonErrorOperatingSystem, "recvmsg on socket %d failed: %s", sock, strerror(err));
        }
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
            const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (*fdCount < maxFds) {
                    fds[(*fdCount)++] = fd;
                } else {
                    close(fd);
                    *truncated = true;
                }
            }
        }
        if (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) *truncated = true;
        if (n == 0) {
            closeAll(fds, *fdCount, nullptr);
            return fail(batonErrorOperatingSystem, got ? "socket %d ended in the middle of a channel message"
                                                       : "the peer closed socket %d", sock);
        }
        got += static_cast<size_t>(n);
        if (!stream) break;
    }
    if (gotOut) *gotOut = got;
    return batonSuccess;
}

bool knownConsumerLayout(uint32_t l) {
    return l == VK_IMAGE_LAYOUT_GENERAL || l == VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL ||
           l == VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL || l == VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
}

// The message's own consistency and what this process can use of it. Touches nothing.
batonError_t checkWire(Context* ctx, const ChannelWire& w, int fdCount, const batonChannelCreateInfo* want) {
    if (w.magic == 0x48544142u /* the handle transport's "BATH" */)
        return fail(batonErrorWrongKind, "a handle message (baton_transport.h) came where a channel was expected");
    if (w.magic != kChannelWireMagic || w.version != kChannelWireVersion || w.size != sizeof(ChannelWire))
        return fail(batonErrorInvalidResourceHandle, "not a baton channel message (magic 0x%x, version %u, size %u)",
                    w.magic, w.version, w.size);
    if (w.kind != kChannelWireKind) return fail(batonErrorWrongKind, "channel message of unknown kind %u", w.kind);
    if (w.depth < 2 || w.depth > kChannelMaxDepth || w.keyed > 1 || w.policy > batonChannelPolicyMailbox ||
        !w.width || !w.height || !w.usage || !w.format || !knownConsumerLayout(w.consumerLayout))
        return fail(batonErrorInvalidResourceHandle, "the channel message describes an impossible channel");
    if ((w.timelines != kChannelTimelinesPortable && w.timelines != kChannelTimelinesNative) ||
        (w.keyed && w.timelines != kChannelTimelinesPortable))
        return fail(batonErrorInvalidResourceHandle, "the channel message names timelines of unknown kind %u%s",
                    w.timelines, w.keyed ? " (a keyed channel's are portable)" : "");
    if (w.fdCount != channelFdCount(w.depth, w.keyed) || fdCount != static_cast<int>(w.fdCount))
        return fail(batonErrorInvalidResourceHandle, "the channel message came with %d fds, it needs %u", fdCount,
                    channelFdCount(w.depth, w.keyed));
    if (std::memcmp(w.deviceUUID, ctx->deviceUUID, VK_UUID_SIZE) || std::memcmp(w.driverUUID, ctx->driverUUID, VK_UUID_SIZE))
        return fail(batonErrorForeignDevice, "the channel's images come from another GPU or driver");
    if (w.timelines == kChannelTimelinesNative && !ctx->nativeSemaphoreFd)
        return fail(batonErrorNotSupported, "the channel's timelines are native semaphore fds and this device has no "
                    "semaphore fds: the producer must create it with the portable backend");
    if (want) {
        if (want->format && static_cast<uint32_t>(want->format) != w.format)
            return fail(batonErrorNotSupported, "the channel's format %u is not the expected %d", w.format, want->format);
        if ((want->extent.width && want->extent.width != w.width) || (want->extent.height && want->extent.height != w.height))
            return fail(batonErrorNotSupported, "the channel's extent %ux%u is not the expected %ux%u", w.width, w.height,
                        want->extent.width, want->extent.height);
        if (want->usage && (want->usage & ~w.usage))
            return fail(batonErrorNotSupported, "the channel's images lack usage bits 0x%x", want->usage & ~w.usage);
        if (want->depth && want->depth != w.depth)
            return fail(batonErrorNotSupported, "the channel's depth %u is not the expected %u", w.depth, want->depth);
    }
    VkPhysicalDeviceImageFormatInfo2 fi{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2, nullptr,
                                        static_cast<VkFormat>(w.format), VK_IMAGE_TYPE_2D, VK_IMAGE_TILING_OPTIMAL,
                                        w.usage, 0};
    VkImageFormatProperties2 fp{VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2};
    if (ctx->vki.vkGetPhysicalDeviceImageFormatProperties2(ctx->physicalDevice, &fi, &fp) != VK_SUCCESS ||
        fp.imageFormatProperties.maxExtent.width < w.width || fp.imageFormatProperties.maxExtent.height < w.height)
        return fail(batonErrorNotSupported, "this device cannot make %ux%u images of format %u with usage 0x%x", w.width,
                    w.height, w.format, w.usage);
    return batonSuccess;
}

batonMemoryDesc imageDesc(VkFormat format, VkExtent2D extent, VkImageUsageFlags usage) {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindImage;
    d.format = format;
    d.width = extent.width;
    d.height = extent.height;
    d.mipLevels = 1;
    d.arrayLayers = 1;
    d.imageUsage = usage;
    d.tiling = VK_IMAGE_TILING_OPTIMAL;
    return d;
}

}  // namespace

// Shared producer: the images as exportable memory (batonMemory's, so that the importer
// recreates them exactly) and the control page.
batonError_t Channel::createSharedImages() {
    for (uint32_t i = 0; i < depth_; ++i) {
        int fd = -1;
        batonError_t e = Memory::exportNew(ctx, imageDesc(format_, extent_, usage_), &fd, &mems_[i]);
        if (e != batonSuccess) return e;
        close(fd);  // batonChannelSend exports a new one
        images_[i] = mems_[i]->image;
        memory_[i] = mems_[i]->memory;
    }
    if (getrandom(id_, sizeof id_, 0) != static_cast<ssize_t>(sizeof id_)) {
        const uint64_t t = monotonicNs() ^ static_cast<uint64_t>(getpid());
        std::memcpy(id_, &t, sizeof t);
    }
    return page_.create(depth_, id_);
}

batonError_t Channel::peerLost(const char* side) {
    lost_.store(true);
    return fail(batonErrorPeerLost, "the channel's %s process died or left (its lock on the control page is gone); "
                "destroy the channel and hand over a new one", side);
}

batonError_t Channel::slotFree(uint64_t k) {
    if (lost_.load()) return peerLost("consumer");
    page_.page().producerBeatNs.store(monotonicNs(), std::memory_order_relaxed);
    if (!page_.peerAlive()) return peerLost("consumer");
    if (k <= depth_) return batonSuccess;
    const uint64_t prev = k - depth_;
    const uint32_t slot = static_cast<uint32_t>((k - 1) % depth_);
    if (keyed_) {
        // Hints (the page is the consumer's to write): a lie costs the stream's bounded acquire.
        const ChannelPageLayout::Slot& s = page_.page().slots[slot];
        if (s.returned.load(std::memory_order_acquire) >= prev && producerKm_[slot]->currentValue() == 0 &&
            producerKm_[slot]->pendingValue() == 0)
            return batonSuccess;
    } else {
        batonError_t e = released->hostWait(prev, 0);  // a checked read, no wait
        if (e == batonSuccess) return batonSuccess;
        if (e != batonErrorTimeout) return e;
    }
    return fail(batonErrorNotReady, "frame %llu's slot is still the consumer's (frame %llu not released yet)",
                static_cast<unsigned long long>(k), static_cast<unsigned long long>(prev));
}

batonError_t Channel::completeFrames(uint64_t* out) {
    *out = lastAcquired_;
    uint64_t hint = ready->currentValue();
    const uint64_t next = lastAcquired_ + 1;
    if (policy_ == batonChannelPolicyFifo || hint < next) hint = next;
    batonError_t e = ready->hostWait(hint, 0);  // checked: a made-up value is the peer's error
    if (e == batonSuccess) *out = hint;
    else if (hint > next && ready->hostWait(next, 0) == batonSuccess) *out = next;
    else if (e != batonErrorTimeout) return e;
    return batonSuccess;
}

void Channel::recordOwnership(VkCommandBuffer cmd, uint32_t slot, bool acquire, VkPipelineStageFlags2 stage) {
    VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
    b.srcStageMask = acquire ? VK_PIPELINE_STAGE_2_NONE : stage;
    b.dstStageMask = acquire ? stage : VK_PIPELINE_STAGE_2_NONE;
    b.dstAccessMask = acquire ? VK_ACCESS_2_MEMORY_READ_BIT : 0;
    b.oldLayout = acquire ? VK_IMAGE_LAYOUT_GENERAL : consumerLayout_;
    b.newLayout = consumerLayout_;
    b.srcQueueFamilyIndex = acquire ? VK_QUEUE_FAMILY_EXTERNAL : consumerFamily_;
    b.dstQueueFamilyIndex = acquire ? consumerFamily_ : VK_QUEUE_FAMILY_EXTERNAL;
    b.image = images_[slot];
    b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    di.imageMemoryBarrierCount = 1;
    di.pImageMemoryBarriers = &b;
    ctx->vkd.vkCmdPipelineBarrier2(cmd, &di);
}

batonError_t Channel::send(int socket, int timeoutMs) {
    if (!shared_) return fail(batonErrorInvalidValue, "only a channel created with batonChannelFlagShared can be sent");
    if (role_ != Role::Producer) return fail(batonErrorInvalidValue, "this end of the channel cannot be sent");
    std::lock_guard lock(producerMutex_);
    if (sent_) return fail(batonErrorIllegalState, "the channel was sent already (one consumer per channel)");
    ready->foreign.store(true);  // the consumer's process signals "released" (and may "ready")
    released->foreign.store(true);
    ChannelWire w{};
    w.magic = kChannelWireMagic;
    w.version = kChannelWireVersion;
    w.size = sizeof w;
    w.kind = kChannelWireKind;
    w.depth = depth_;
    w.format = format_;
    w.width = extent_.width;
    w.height = extent_.height;
    w.usage = usage_;
    w.policy = policy_;
    w.keyed = keyed_;
    w.consumerLayout = consumerLayout_;
    w.fdCount = channelFdCount(depth_, keyed_);
    w.timelines = ready->has(kSemNative) ? kChannelTimelinesNative : kChannelTimelinesPortable;
    std::memcpy(w.deviceUUID, ctx->deviceUUID, VK_UUID_SIZE);
    std::memcpy(w.driverUUID, ctx->driverUUID, VK_UUID_SIZE);
    std::memcpy(w.id, id_, sizeof id_);
    int fds[kChannelMaxFds];
    bool owned[kChannelMaxFds] = {};
    int n = 0;
    fds[n++] = page_.fd();
    batonError_t e = batonSuccess;
    for (uint32_t i = 0; i < depth_ && e == batonSuccess; ++i) {
        w.allocationSize[i] = mems_[i]->allocationSize;
        w.memoryTypeIndex[i] = mems_[i]->memoryTypeIndex;
        w.dedicated[i] = mems_[i]->dedicated;
        if ((e = mems_[i]->exportFd(&fds[n])) == batonSuccess) owned[n++] = true;
    }
    Semaphore* sems[2 + kMaxDepth] = {ready, released};
    uint32_t semCount = 2;
    for (uint32_t i = 0; keyed_ && i < depth_; ++i) sems[semCount++] = producerKm_[i];
    for (uint32_t i = 0; i < semCount && e == batonSuccess; ++i)
        if ((e = sems[i]->shareableFd(&fds[n], &owned[n])) == batonSuccess) ++n;
    if (e == batonSuccess) e = sendAll(socket, &w, sizeof w, fds, n);
    for (int i = 0; i < n; ++i)
        if (owned[i]) close(fds[i]);
    if (e != batonSuccess) return e;
    // The answer: the receiver's result once it has checked everything and holds its lock.
    ChannelAck ack{};
    int got = 0;
    bool truncated = false;
    e = receiveAll(socket, deadlineAfter(timeoutMs), &ack, sizeof ack, fds, 0, &got, &truncated);
    if (e != batonSuccess) return e;
    if (ack.magic != kChannelAckMagic) return fail(batonErrorOperatingSystem, "the receiver's answer is not baton's");
    if (ack.result != batonSuccess)
        return fail(static_cast<batonError_t>(ack.result), "the receiving process refused the channel: %s",
                    batonGetErrorName(static_cast<batonError_t>(ack.result)));
    sent_ = true;
    return batonSuccess;
}

batonError_t Channel::sendAck(int socket, batonError_t result) const {
    const ChannelAck ack{kChannelAckMagic, static_cast<int32_t>(result)};
    return sendAll(socket, &ack, sizeof ack, nullptr, 0);
}

// Builds the consumer's end over the message's fds; taken[i] says which fds it took.
batonError_t Channel::importShared(const ChannelWire& w, const int* fds, bool* taken) {
    batonError_t e = page_.open(fds[0], depth_, w.id);
    if (e != batonSuccess) return e;
    taken[0] = true;
    if (!page_.peerAlive()) return peerLost("producer");
    int f = 1;
    for (uint32_t i = 0; i < depth_; ++i, ++f) {
        batonMemoryImportDesc d{};
        d.desc = imageDesc(format_, extent_, usage_);
        d.fd = fds[f];
        d.allocationSize = w.allocationSize[i];
        d.memoryTypeIndex = w.memoryTypeIndex[i];
        d.dedicated = w.dedicated[i] != 0;
        if ((e = Memory::importFd(ctx, d, &mems_[i])) != batonSuccess) return e;
        taken[f] = true;
        images_[i] = mems_[i]->image;
        memory_[i] = mems_[i]->memory;
    }
    // Semaphores of the kind the message names: baton's own memfds (portable timelines, keyed
    // mutexes; the page kind is checked on map), or the driver's timeline fds (native), which
    // importClassified checks (and probes in a separate process) before the driver sees them.
    Semaphore** sems[2 + kMaxDepth] = {&ready, &released};
    uint32_t semCount = 2;
    for (uint32_t i = 0; keyed_ && i < depth_; ++i) sems[semCount++] = &consumerKm_[i];
    for (uint32_t i = 0; i < semCount; ++i, ++f) {
        const FdClass cls = classifyFd(fds[f]);
        const bool native = i < 2 && w.timelines == kChannelTimelinesNative;
        const char* what = i < 2 ? (i ? "released" : "ready") : "keyed mutex";
        if (!native && cls != FdClass::BatonMemfd)
            return fail(batonErrorInvalidResourceHandle, "the channel's %s fd is a %s, not a baton semaphore memfd", what,
                        fdClassName(cls));
        if (native && cls == FdClass::BatonMemfd)
            return fail(batonErrorInvalidResourceHandle, "the channel's %s fd is a baton memfd, but the message says "
                        "its timelines are native semaphore fds", what);
        if ((e = Semaphore::importClassified(ctx, i < 2 ? SemKind::Timeline : SemKind::KeyedMutex, fds[f], cls, sems[i])) !=
            batonSuccess)
            return e;
        taken[f] = true;
    }
    return createConsumerSide();
}

batonError_t Channel::receive(Context* ctx, int socket, int timeoutMs, const batonChannelCreateInfo* expected,
                              Channel** out) {
    ChannelWire w{};
    int fds[kChannelMaxFds];
    int fdCount = 0;
    bool truncated = false;
    // The head first (the fds come with it): a shorter message of another kind must not
    // leave this call waiting for bytes that never come.
    // (A record socket delivers the whole record at once, whatever its length.)
    const bool stream = isStreamSocket(socket);
    constexpr size_t kHead = 8;
    const uint64_t deadline = deadlineAfter(timeoutMs);
    size_t got = 0;
    batonError_t e = receiveAll(socket, deadline, &w, stream ? kHead : sizeof w, fds, kChannelMaxFds, &fdCount,
                                &truncated, &got);
    if (e != batonSuccess) return e;  // nothing to answer: no message came
    if (got < kHead || w.magic != kChannelWireMagic || w.version != kChannelWireVersion || w.size != sizeof w) {
        closeAll(fds, fdCount, nullptr);
        return checkWire(ctx, w, fdCount, expected);  // the error that says what it is
    }
    if (stream) {
        int more[1];
        int moreCount = 0;
        bool moreTruncated = false;
        e = receiveAll(socket, deadline, reinterpret_cast<char*>(&w) + kHead, sizeof w - kHead, more, 0, &moreCount,
                       &moreTruncated);
        if (e != batonSuccess) {
            closeAll(fds, fdCount, nullptr);
            return e;
        }
        truncated = truncated || moreTruncated;
    } else if (got != sizeof w) {
        closeAll(fds, fdCount, nullptr);
        return fail(batonErrorInvalidResourceHandle, "a channel message of %zu bytes (expected %zu)", got, sizeof w);
    }
    bool taken[kChannelMaxFds] = {};
    Channel* ch = nullptr;
    e = truncated ? fail(batonErrorInvalidResourceHandle, "the channel message came with more fds than a channel has")
                  : checkWire(ctx, w, fdCount, expected);
    if (e == batonSuccess) {
        ch = new Channel(ctx);
        ch->role_ = Role::Consumer;
        ch->shared_ = true;
        ch->keyed_ = w.keyed;
        ch->depth_ = w.depth;
        ch->format_ = static_cast<VkFormat>(w.format);
        ch->extent_ = {w.width, w.height};
        ch->usage_ = w.usage;
        ch->policy_ = static_cast<batonChannelPolicy>(w.policy);
        ch->consumerLayout_ = static_cast<VkImageLayout>(w.consumerLayout);
        ch->exportable_ = true;
        ch->producerFamily_ = ctx->computeQueues.front()->family;
        ch->consumerFamily_ = expected && (expected->flags & batonChannelFlagConsumerQueueFamily)
                                  ? expected->consumerQueueFamily
                              : ctx->graphicsQueue ? ctx->graphicsQueue->family
                                                   : ch->producerFamily_;
        e = ch->importShared(w, fds, taken);
    }
    closeAll(fds, fdCount, taken);  // what was not taken is refused: closed, never leaked
    // The sender learns the outcome (a sender that is gone already makes this fail: ignored,
    // the result below says what happened here).
    const ChannelAck ack{kChannelAckMagic, static_cast<int32_t>(e)};
    const char* saved = e == batonSuccess ? nullptr : batonGetLastErrorMessage();
    std::string message = saved ? saved : "";
    sendAll(socket, &ack, sizeof ack, nullptr, 0);
    if (e != batonSuccess) {
        if (ch) ch->release();
        return fail(e, "%s", message.c_str());
    }
    *out = ch;
    return batonSuccess;
}

batonError_t Channel::waitForFrame(uint64_t timeoutNs) {
    if (role_ == Role::Producer) return fail(batonErrorInvalidValue, "this is the producer's end of the channel");
    const uint64_t deadline = monotonicNs() + timeoutNs;
    for (;;) {
        uint64_t want = 0;
        bool returning = false;
        {
            std::lock_guard lock(consumerMutex_);
            if (lost_.load()) return peerLost("producer");
            want = lastAcquired_ + 1;
            resolveConsumer();  // keyed: slots whose reads completed go back to the producer now
            returning = keyed_ && ringResolved_ != ringNext_;
        }
        // While keyed slots wait to be given back, look again soon: the producer waits for them.
        const uint64_t maxSlice = returning ? 200000 : 2000000;
        const uint64_t now = monotonicNs();
        const uint64_t slice = deadline > now ? (deadline - now < maxSlice ? deadline - now : maxSlice) : 0;
        batonError_t e = ready->hostWait(want, slice);
        if (e == batonSuccess) return batonSuccess;
        if (e != batonErrorTimeout) return e;
        if (shared_ && !page_.peerAlive()) return peerLost("producer");
        if (monotonicNs() >= deadline) return fail(batonErrorTimeout, "no new frame within the timeout");
    }
}

batonError_t Channel::waitForSlot(uint64_t timeoutNs) {
    if (role_ == Role::Consumer) return fail(batonErrorInvalidValue, "this is the consumer's end of the channel");
    if (!shared_) return batonSuccess;  // in one process a frame is always enqueued (its stream waits)
    const uint64_t deadline = monotonicNs() + timeoutNs;
    for (;;) {
        uint64_t k = 0;
        {
            std::lock_guard lock(producerMutex_);
            k = produced_ + 1;
            batonError_t e = slotFree(k);
            if (e != batonErrorNotReady) return e;
        }
        if (monotonicNs() >= deadline) return fail(batonErrorTimeout, "frame %llu's slot was not released in time",
                                                   static_cast<unsigned long long>(k));
        if (keyed_ || k <= depth_) {
            usleep(100);
        } else {
            released->hostWait(k - depth_, 1000000);  // sleeps on the page until released or 1 ms
        }
    }
}

void Channel::getPeerInfo(batonChannelPeerInfo* out) const {
    std::memset(out, 0, sizeof *out);
    out->shared = shared_;
    if (!shared_) return;
    const ChannelPageLayout& pg = page_.page();
    out->peerAlive = !lost_.load() && (role_ == Role::Producer && !sent_ ? VK_FALSE : page_.peerAlive());
    out->peerHeartbeatNs = role_ == Role::Consumer ? pg.producerBeatNs.load() : pg.consumerBeatNs.load();
    out->producedHint = pg.produced.load();
}

}  // namespace baton
