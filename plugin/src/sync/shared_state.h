// The portable backend's shared state: one sealed memfd page holding a semaphore's counter,
// mapped by every process that imported it, woken with futexes. This is what lets baton
// share timelines, binary semaphores and keyed mutexes on drivers without semaphore fds
// (lavapipe) and across processes.
#pragma once

#include <atomic>
#include <cstdint>

#include <baton/baton.h>

namespace baton {

enum class SharedKind : uint32_t { Binary = 1, Timeline = 2, KeyedMutex = 3 };

// Lives in the memfd; every field is accessed atomically since other processes write it.
struct SharedLayout {
    uint32_t magic;    // kSharedMagic: how import recognises baton's own memfds
    uint32_t version;  // kSharedVersion
    uint32_t kind;     // SharedKind
    uint32_t reserved0;
    uint8_t id[16];    // random identity of the object
    std::atomic<uint32_t> seq;       // futex word: bumped after every change of value/consumed
    std::atomic<uint32_t> waiters;   // processes/threads sleeping on seq (skip the wake syscall when 0)
    std::atomic<uint64_t> value;     // timeline: value reached; binary: signals that took effect
    std::atomic<uint64_t> consumed;  // binary: waits that consumed a signal
    std::atomic<uint64_t> pending;   // timeline: highest value signaled or pending, any process
    std::atomic<uint64_t> submitted; // timeline: highest value whose signal reached a queue, any process
    // Keyed mutex state (see keyed_mutex.h for the protocol); zero for other kinds.
    std::atomic<uint64_t> kmWord;       // generation, abandoned and held bits, holder pid: one CAS claims it
    std::atomic<uint64_t> kmKey;        // key of the last release (written by the holder before it releases)
    std::atomic<uint64_t> kmOwnerGen;   // generation whose holder the next two fields describe (0 while written)
    std::atomic<uint64_t> kmOwnerStart; // holder's process start time (/proc/<pid>/stat): guards against pid reuse
    std::atomic<uint64_t> kmOwnerPidNs; // holder's pid-namespace inode: pids only compare within one namespace
    uint64_t reserved[16];
};
static_assert(sizeof(SharedLayout) <= 4096, "shared state must fit one page");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "64-bit atomics must be lock free across processes");

inline constexpr uint32_t kSharedMagic = 0x4e544142u;  // "BATN"
inline constexpr uint32_t kSharedVersion = 1;
inline constexpr size_t kSharedSize = 4096;

// One mapping of a shared state. Owns the fd and the mapping.
class SharedState {
public:
    SharedState() = default;
    ~SharedState();
    SharedState(const SharedState&) = delete;
    SharedState& operator=(const SharedState&) = delete;

    // Creates a new sealed memfd of the given kind with the initial value (timeline) or key.
    batonError_t create(SharedKind kind, uint64_t initial);
    // Maps an fd that classifyFd() recognised as a baton memfd. Does not take the fd on failure.
    batonError_t open(int fd, SharedKind expected);
    // Gives the fd back (unmapped, not closed): an import that fails after open().
    void releaseFd();
    // A new fd for the same object (dup of the memfd), owned by the caller.
    int exportFd() const;

    SharedLayout& s() const { return *layout_; }
    int fd() const { return fd_; }

    // Publishes a timeline value (never moves backwards) and wakes waiters.
    void publish(uint64_t v);
    // Binary: sets signaled if not already, and wakes waiters.
    void signalBinary();
    // Binary: consumes a signal if one is there. Returns true if it did.
    bool tryConsumeBinary();
    // Reserves a timeline value for a signal: fails if v is not above every value signaled
    // or pending (any process). Returns the previous highest in *prev.
    bool reserve(uint64_t v, uint64_t* prev);
    // Records that the signal of v has been submitted to a queue.
    void markSubmitted(uint64_t v);
    // Wakes every waiter (after a change, or to make them recheck a cancel flag).
    void wakeAll();
    // Sleeps until seq differs from `seen` or the deadline passes. deadlineNs is CLOCK_MONOTONIC, 0 = forever.
    // Returns false on timeout.
    bool waitChange(uint32_t seen, uint64_t deadlineNs);

private:
    int fd_ = -1;
    SharedLayout* layout_ = nullptr;
};

uint64_t monotonicNs();

}  // namespace baton
