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
    std::atomic<uint32_t> waiters;   // threads of every process sleeping on seq (a hint only: a peer can zero it)
    std::atomic<uint64_t> value;     // timeline: value reached; binary: signals that took effect
    std::atomic<uint64_t> consumed;  // binary: waits that consumed a signal
    std::atomic<uint64_t> pending;   // timeline: highest value signaled or pending, any process
    std::atomic<uint64_t> submitted; // timeline: highest value whose signal reached a queue, any process
    // Keyed mutex state (see keyed_mutex.h for the protocol); zero for other kinds.
    std::atomic<uint64_t> kmWord;       // generation, abandoned and held bits, holder pid: one CAS claims it
    std::atomic<uint64_t> kmKey;        // key of the last release (written by the holder before it releases)
    std::atomic<uint64_t> kmOwnerGen;   // unused since the liveness locks (keyed_mutex.h); kept for the layout
    std::atomic<uint64_t> kmOwnerStart; // unused (was the holder's start time)
    std::atomic<uint64_t> kmOwnerPidNs; // unused (was the holder's pid namespace)
    uint64_t reserved[16];
};
static_assert(sizeof(SharedLayout) <= 4096, "shared state must fit one page");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "64-bit atomics must be lock free across processes");

inline constexpr uint32_t kSharedMagic = 0x4e544142u;  // "BATN"
inline constexpr uint32_t kSharedVersion = 1;
inline constexpr size_t kSharedSize = 4096;

// ---------------------------------------------------------------------------------------
// The page is untrusted (DESIGN.md): every process that imported the semaphore can write
// any byte of it. What follows defines which states are IMPOSSIBLE for honest baton
// processes, and the checked reader that refuses them. A state that is merely unexpected
// but possible (a huge `pending`, a value far ahead of ours, a word held by a live peer
// forever) is not a fault: it costs the victim a refused reservation or a timeout, never a
// hang past the timeout or a value that breaks a Vulkan rule.
//
// Error code: a fault is the peer's error and is reported as batonErrorIllegalState ("the
// object is not in a state that allows the call"), message "shared page of ... corrupted by
// a peer: <rule>". It is sticky: once a SharedState saw a fault, every checked read of it
// fails the same way (a peer that writes garbage and then restores it is not trusted again).
// The object stays destroyable; other semaphores are unaffected.
enum class PageFault : uint8_t {
    None = 0,
    Header,                   // magic, version, kind or id differ from what create()/open() saw
    TimelineBackwards,        // value below a value this process already read (never goes back)
    TimelineAbovePending,     // value above pending: a value is reached only after it was reserved
    TimelineStepTooLarge,     // value - local value > maxTimelineSemaphoreValueDifference (checkTimelineStep)
    BinaryBackwards,          // value or consumed below what this process already read
    BinaryConsumedAboveValue, // consumed > value: a wait consumed a signal that never took effect
    BinaryValueAhead,         // value > consumed + 1: a binary semaphore holds at most one signal
    KeyedWordInvalid,         // held without holder, holder without held, held and abandoned at once
    KeyedWordBackwards,       // keyed-mutex generation below one this process already read
};
const char* pageFaultText(PageFault f);

// What the page says, as the checked reader saw it (one consistent reading).
struct PageReading {
    uint64_t value = 0;
    uint64_t consumed = 0;
    uint64_t pending = 0;
    uint64_t submitted = 0;  // a hint (NotReady decisions), not checked
    uint64_t kmWord = 0;
};
// What a process expects of a page: its header as first seen, and the highest values this
// process has already read (readings must never go below them).
struct PageExpect {
    uint32_t kind = 0;       // SharedKind
    uint8_t id[16] = {};
    uint64_t value = 0;
    uint64_t consumed = 0;
    uint64_t kmGen = 0;
};

// THE checked reader, pure (no syscalls, no globals, no message): reads page in an order in
// which honest concurrent changes always give a consistent reading, checks it against the
// rules above and `expect`, and on success raises expect's floors to the reading. On a fault
// *out still holds what was read and expect is unchanged. The fuzz target calls this on
// arbitrary bytes (copy them into an aligned SharedLayout).
PageFault readSharedPage(const SharedLayout& page, PageExpect* expect, PageReading* out);

// Vulkan's rule for vkSignalSemaphore / a submitted signal: the new value may not differ
// from the semaphore's current value by more than maxTimelineSemaphoreValueDifference.
// `local` is the local VkSemaphore's current value, `target` what the page asks for. Every
// device guarantees at least kMinTimelineValueDifference; pass the device's limit if known.
inline constexpr uint64_t kMinTimelineValueDifference = (1ull << 31) - 1;
PageFault checkTimelineStep(uint64_t local, uint64_t target, uint64_t maxDifference);

// Keyed-mutex word layout (keyed_mutex.h): shared here so that the checked reader knows it.
inline constexpr uint64_t kKmHolderMask = (1ull << 23) - 1;
inline constexpr uint64_t kKmHeld = 1ull << 23;
inline constexpr uint64_t kKmAbandoned = 1ull << 24;
inline constexpr int kKmGenShift = 25;

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

    // Raw access: for writes of this process's own transitions, and for reads whose value
    // cannot hurt (hints). Anything that decides a wait, goes to the driver or to the user
    // goes through read() instead.
    SharedLayout& s() const { return *layout_; }

    // --- Checked reads (thread-safe). Callers: host waits, stream waits, the mirror thread,
    // planWait, GetInfo. batonSuccess, or batonErrorIllegalState with the message set (see
    // PageFault above; sticky). ---
    batonError_t read(PageReading* out);
    // Timeline: the value reached, checked (read() and the value only).
    batonError_t readValue(uint64_t* value);
    // read(), then checkTimelineStep(local, value, maxDifference): what the mirror thread
    // calls before vkSignalSemaphore(waitProxy, value). *value is set even on failure.
    batonError_t readValueForSignal(uint64_t local, uint64_t maxDifference, uint64_t* value);
    // Whether a fault was seen (then every read() fails): stop trusting the page.
    bool faulted() const { return fault_.load(std::memory_order_acquire) != PageFault::None; }
    // The sticky fault as an error (batonSuccess when none), message set.
    batonError_t faultError() const;
    int fd() const { return fd_; }

    // Publishes a timeline value (never moves backwards) and wakes waiters.
    void publish(uint64_t v);
    // Binary: sets signaled if not already, and wakes waiters.
    void signalBinary();
    // Binary: consumes a signal if one is there. Returns true if it did. Never consumes from
    // a page whose reading is faulted (returns false; faulted() then says why).
    bool tryConsumeBinary();
    // Reserves a timeline value for a signal: fails if v is not above every value signaled
    // or pending (any process). Returns the previous highest in *prev.
    bool reserve(uint64_t v, uint64_t* prev);
    // Records that the signal of v has been submitted to a queue.
    void markSubmitted(uint64_t v);
    // Wakes every waiter (after a change, or to make them recheck a cancel flag). The shared
    // waiter count is a hint a peer can zero: the wake syscall is skipped only when it AND
    // this process's own count are 0, so this process's threads (mirror, stream waits,
    // destroy) are always woken; other processes' sleepers are bounded by kMaxSleepNs.
    void wakeAll();
    // Sleeps while seq equals `seen`, at most kMaxSleepNs and never past the deadline
    // (CLOCK_MONOTONIC; 0 = none). Returns false once the deadline has passed, else true:
    // after a wake-up, a change of seq, or the period, so it MAY RETURN WITHOUT A CHANGE and
    // callers re-check their condition in a loop. Bounded because the page is untrusted: a
    // peer that zeroes `waiters` (no wake syscall) or writes seq back to `seen` (ABA) costs a
    // waiter at most one period, never a hang.
    bool waitChange(uint32_t seen, uint64_t deadlineNs);
    static constexpr uint64_t kMaxSleepNs = 50'000'000;

private:
    void recordFault(PageFault f);

    int fd_ = -1;
    SharedLayout* layout_ = nullptr;
    // Header as create()/open() saw it, and this process's floors (atomics: many threads read).
    uint32_t kind_ = 0;
    uint8_t id_[16] = {};
    std::atomic<uint64_t> seenValue_{0}, seenConsumed_{0}, seenKmGen_{0};
    std::atomic<PageFault> fault_{PageFault::None};
    std::atomic<uint32_t> localWaiters_{0};  // this process's sleepers on this mapping (not on the page)
};

uint64_t monotonicNs();

}  // namespace baton
