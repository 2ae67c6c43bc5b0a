#include "exec/retire_queue.h"

#include <iterator>

#include "core/object.h"
#include "sync/semaphore.h"

namespace baton {

// A timeline value is published right here (publishing is idempotent), so this never waits
// behind the publisher's queue, where a renderer's reserved but not yet submitted signal may
// sit. A binary signal is not idempotent: it is left to the publisher, which with block this
// waits for (Semaphore::publishRetired).
bool RetireQueue::retireUpTo(uint64_t point, bool block, bool lost) {
    Object* drop[64];
    for (;;) {
        uint32_t n = 0;
        bool done = true, more = false;
        {
            MutexLock lock(mutex_);
            while (head_ != tail_ && ring_[head_ % kCapacity].point <= point) {
                if (n == std::size(drop)) {
                    more = true;
                    break;
                }
                const Entry& r = ring_[head_ % kCapacity];
                if (r.publishOf && !lost && !r.publishOf->publishRetired(r.value, r.ticket, block)) {
                    done = false;
                    break;
                }
                ++head_;
                drop[n++] = r.obj;
            }
        }
        for (uint32_t i = 0; i < n; ++i) drop[i]->release();  // outside the lock
        if (!more) return done;
    }
}

void RetireQueue::releaseAll() {
    Object* drop[64];
    for (;;) {
        uint32_t n = 0;
        {
            MutexLock lock(mutex_);
            while (head_ != tail_ && n < std::size(drop)) drop[n++] = ring_[head_++ % kCapacity].obj;
        }
        if (n == 0) return;
        for (uint32_t i = 0; i < n; ++i) drop[i]->release();  // outside the lock
    }
}

bool RetireQueue::empty() {
    MutexLock lock(mutex_);
    return head_ == tail_;
}

}  // namespace baton
