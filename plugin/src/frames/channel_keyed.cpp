// The channel's per-frame ordering: the two timelines, or a keyed mutex per slot (the D3D11
// pattern). Producer: its stream acquires the slot with key 0, records, signals "ready" = k,
// then releases the slot with key 1 (published once the GPU finished the frame). Consumer:
// takes the slot with key 1 on the host, a zero-timeout try, so that acquiring a frame never
// blocks; gives it back with key 0 once the renderer's submit that read it completed.
#include <unistd.h>

#include "core/error.h"
#include "exec/stream.h"
#include "fd/fd_check.h"
#include "frames/channel.h"
#include "sync/semaphore.h"

namespace baton {
namespace {

constexpr uint64_t kProducerKey = 0;  // the slot is the producer's to write
constexpr uint64_t kConsumerKey = 1;  // the slot holds a frame for the consumer
// Across processes a slot is handed to the stream only once the host saw it free (slotFree),
// so its acquire succeeds at once; the bound is for a peer that lied on its page.
constexpr uint32_t kSharedAcquireTimeoutMs = 2000;

const std::atomic<bool> kNoCancel{false};

}  // namespace

batonError_t Channel::createKeyedSlots() {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    d.initialKey = kProducerKey;
    for (uint32_t i = 0; i < depth_; ++i) {
        int fd = -1;
        batonError_t e = Semaphore::exportNew(ctx, d, &fd, &producerKm_[i]);
        if (e != batonSuccess) return e;
        if (shared_) {  // the consumer's handle is made by the other process (batonChannelReceive)
            close(fd);
            continue;
        }
        // In one process, the consumer is a second handle of the same mutex, as a second D3D
        // device's IDXGIKeyedMutex would be.
        e = Semaphore::importClassified(ctx, SemKind::KeyedMutex, fd, classifyFd(fd), &consumerKm_[i]);
        if (e != batonSuccess) {
            close(fd);
            return e;
        }
    }
    return batonSuccess;
}

uint32_t Channel::producerWaitOps(const Stream* stream, uint64_t k, uint32_t slot, Op* ops, KeyedTurn* turn) {
    if (!keyed_) {
        if (k <= depth_) return 0;
        released->retain();
        ops[0].kind = OpKind::Wait;
        ops[0].sem = released;
        ops[0].value = k - depth_;
        return 1;
    }
    Semaphore* km = producerKm_[slot];
    uint32_t ticket = 0;
    if (km->beginTurn(stream, true, &ticket, &turn->saved) != batonSuccess) return UINT32_MAX;
    KeyedMutex::EnqueueState afterAcquire;
    uint32_t releaseTicket = 0;
    if (km->beginTurn(stream, false, &releaseTicket, &afterAcquire) != batonSuccess) {
        km->undoTurn(turn->saved);
        return UINT32_MAX;
    }
    turn->taken = true;
    turn->ticket = ticket;
    km->retain();
    ops[0].kind = OpKind::Wait;
    ops[0].sem = km;
    ops[0].value = kProducerKey;
    ops[0].proxyValue = shared_ ? kSharedAcquireTimeoutMs : BATON_INFINITE;
    ops[0].slot = ticket;
    return 1;
}

uint32_t Channel::producerSignalOps(uint64_t k, uint32_t slot, Op* ops, const KeyedTurn& turn) {
    // "ready" first: once the consumer sees the slot's release, ready's signal is on a queue.
    ready->retain();
    ops[0].kind = OpKind::Signal;
    ops[0].sem = ready;
    ops[0].value = k;
    if (!keyed_) return 1;
    Semaphore* km = producerKm_[slot];
    km->retain();
    ops[1].kind = OpKind::Signal;
    ops[1].sem = km;
    ops[1].value = kConsumerKey;
    ops[1].slot = turn.ticket;
    return 2;
}

batonError_t Channel::takeSlot(uint64_t k) {
    const uint32_t slot = static_cast<uint32_t>((k - 1) % depth_);
    KeyedMutex& km = *consumerKm_[slot]->keyedMutex;
    uint32_t ticket = 0;
    KeyedMutex::EnqueueState saved;
    batonError_t e = km.beginAcquire(this, &ticket, &saved);
    if (e != batonSuccess) return e;
    e = km.acquire(kConsumerKey, 0, ticket, kNoCancel);
    if (e == batonSuccess) {
        consumerHolds_[slot] = true;
        return batonSuccess;
    }
    if (e == batonErrorTimeout) return batonErrorNotReady;  // the producer has not released it yet
    if (e == batonErrorKeyedMutexAbandoned) {
        // Its holder died holding it: the producer's process, in the middle of this frame.
        // Ours now; the unfinished frame is never shown.
        consumerHolds_[slot] = true;
        if (shared_) return peerLost("producer");
        return fail(batonErrorIllegalState, "slot %u's keyed mutex was abandoned by the producer", slot);
    }
    return e;  // a corrupt page (IllegalState, message set) or no liveness lock (OperatingSystem)
}

void Channel::giveSlot(uint64_t k) {
    const uint32_t slot = static_cast<uint32_t>((k - 1) % depth_);
    if (!consumerHolds_[slot]) return;
    KeyedMutex& km = *consumerKm_[slot]->keyedMutex;
    uint32_t ticket = 0;
    KeyedMutex::EnqueueState saved;
    if (km.beginRelease(this, &ticket, &saved) != batonSuccess) return;
    km.release(kProducerKey);
    consumerHolds_[slot] = false;
    if (shared_) page_.page().slots[slot].returned.store(k, std::memory_order_release);
}

}  // namespace baton
