// References a stream's submissions still need, kept until the GPU has passed the point they
// were submitted with (deferred release), and for a portable signal until it has taken effect
// (synchronize() drains up to its point, so that a signal is visible, and a destroyed handle
// released, once it returns). The queue never publishes or releases anything the GPU has not
// passed, and drops last references outside its lock (a semaphore's destructor joins threads).
#pragma once

#include <cstdint>
#include <mutex>

#include "core/thread_safety.h"

namespace baton {

class Object;
class Semaphore;

class RetireQueue {
public:
    struct Entry {
        uint64_t point;        // the stream timeline point the GPU must pass
        Object* obj;           // the reference to drop then
        Semaphore* publishOf;  // portable signal: the semaphore whose signal must take effect
        uint64_t ticket;       // binary / keyed mutex: its publisher ticket
        uint64_t value;        // timeline: the value, which the queue publishes itself
    };
    static constexpr uint32_t kCapacity = 4096;

    // Appends e. When the queue is full, first has waitGpu(point) wait until the GPU passed
    // the oldest entry's point (returning false if it never will: device lost) and retires it.
    template <class WaitGpu>
    void push(const Entry& e, WaitGpu&& waitGpu) BATON_EXCLUDES(mutex_) {
        for (;;) {
            uint64_t oldest = 0;
            {
                MutexLock lock(mutex_);
                if (tail_ - head_ < kCapacity) {
                    ring_[tail_++ % kCapacity] = e;
                    return;
                }
                oldest = ring_[head_ % kCapacity].point;
            }
            const bool reached = waitGpu(oldest);
            retireUpTo(oldest, reached, !reached);  // not reached: release, publish nothing
        }
    }
    // Retires the entries up to point, which the caller knows the GPU has passed, in order:
    // makes their portable signals take effect (unless lost), then drops their references.
    // Without block it stops at a binary signal the publisher has not made yet: false.
    bool retireUpTo(uint64_t point, bool block, bool lost = false) BATON_EXCLUDES(mutex_);
    // Drops every reference without publishing (the GPU is done, the stream is closing).
    void releaseAll() BATON_EXCLUDES(mutex_);
    bool empty() BATON_EXCLUDES(mutex_);

private:
    Mutex mutex_;  // the stream thread appends and retires; synchronize() retires too
    Entry ring_[kCapacity] BATON_GUARDED_BY(mutex_) = {};
    uint64_t head_ BATON_GUARDED_BY(mutex_) = 0;
    uint64_t tail_ BATON_GUARDED_BY(mutex_) = 0;
};

}  // namespace baton
