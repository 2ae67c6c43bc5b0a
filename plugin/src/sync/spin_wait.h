// Spin-then-block host waits with a CPU budget (issue 13).
//
// A blocking wait costs a sleep and a wake-up (on NVIDIA, 31-47 us for a submit-to-host-wait
// that polling ends in 8 us); a polling wait costs a core for as long as it lasts. A host wait
// polls first, for at most the caller's current budget, then blocks. The budget adapts: a wait
// that ended while polling keeps (or doubles back to) the full budget; one that had to block
// halves it, down to a floor. So short waits keep finishing as fast as a polling wait, while a
// run of long waits soon spends no more than the floor per wait above a blocking one.
//
// The full budget is BATON_HOST_WAIT_SPIN_US (microseconds; 20 is the value meant for GPU
// machines). Off (0) by default for now: with it on, attached.Semantics.StreamWaitEventAcrossStreams
// crashed at process exit in about 1 run in 25 on lavapipe (issue 13 report), not yet explained.
// On two cores or fewer it stays a bad idea: the poller takes the core that the driver's own
// thread (lavapipe's queue) needs to get the work done.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "sync/shared_state.h"  // monotonicNs

namespace baton {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

inline uint64_t hostWaitSpinMaxNs() {
    static const uint64_t ns = [] {
        if (const char* v = std::getenv("BATON_HOST_WAIT_SPIN_US")) return std::strtoull(v, nullptr, 10) * 1000ull;
        return 0ull;
    }();
    return ns;
}

class SpinBudget {
public:
    // Polls done() until it returns true (true) or the budget is spent (false, and the
    // caller blocks).
    template <class Done>
    bool spin(Done&& done) {
        const uint64_t budget = budgetNs_.load(std::memory_order_relaxed);
        if (!budget) return false;  // not even one look: the blocking wait looks first anyway
        if (done()) return true;
        const uint64_t until = monotonicNs() + budget;
        do {
            for (int i = 0; i < 16; ++i) cpuRelax();
            if (done()) {
                grow();
                return true;
            }
        } while (monotonicNs() < until);
        shrink();
        return false;
    }

private:
    static constexpr uint64_t kFloorNs = 1000;
    void grow() {
        const uint64_t max = hostWaitSpinMaxNs();
        uint64_t b = budgetNs_.load(std::memory_order_relaxed);
        budgetNs_.store(b * 2 > max || b == 0 ? max : b * 2, std::memory_order_relaxed);
    }
    void shrink() {
        const uint64_t b = budgetNs_.load(std::memory_order_relaxed) / 2;
        budgetNs_.store(b < kFloorNs ? kFloorNs : b, std::memory_order_relaxed);
    }
    // Racy read-modify-write on purpose: it is a hint shared by the waiters of one object.
    std::atomic<uint64_t> budgetNs_{hostWaitSpinMaxNs()};
};

}  // namespace baton
