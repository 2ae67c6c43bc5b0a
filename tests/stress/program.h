// The seeded random program of the stress test and what a reference model says must be
// observable at each step. Both processes of the cross-process mode generate the same program
// from the same seed and each runs only its own operations, so the program (and everything
// here) is a pure function of Config: no wall clock, no result of a baton call.
//
// No deadlock by construction: every operation waits only for work enqueued earlier in
// program order (a timeline wait for v has a signal >= v before it, a binary wait a signal of
// its epoch, a keyed-mutex acquire the release before it, an event wait the record before
// it), so by induction over the program index every operation is enqueued and completes. A
// hang is therefore a defect, not the test's.
//
// What is "known" at a point is a vector clock (Clock): per stream the last position known
// complete, per semaphore the timeline value known reached. Each stream has one (what the
// stream's next operation may rely on), each process's host has one (what its synchronize
// calls established). Checks are generated from them: a host function sees every value its
// clock holds, a synchronize makes everything before it visible, a refused call changes nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stress {

constexpr int kProcs = 2;
constexpr int kStreamsP0 = 9;   // 8 created streams and the context's default stream (NULL, index 8)
constexpr int kStreamsP1 = 4;   // the helper process's streams (global indices 9..12)
constexpr int kDefaultStream = 8;
constexpr int kEventsPerProc = 4;
constexpr uint64_t kNoMax = UINT64_MAX;
constexpr uint64_t kNeverKey = 1ull << 62;  // a keyed-mutex key no release ever uses

struct Config {
    uint64_t seed = 1;
    uint32_t ops = 1000;   // operations before the closing phase
    bool cross = false;    // two processes
    bool native = false;   // the driver has semaphore fds: native semaphores too
    // Op classes that a known, not yet fixed defect of the core fails (README.md, "Known
    // defects"): all on by default, so that CI fails loudly until the fixes land; each can be
    // turned off (BATON_STRESS_<NAME>=0) to look for the next defect behind it.
    bool binaryFromSeveralStreams = true;  // defect 2: portable binary signals of one epoch from several streams
    bool binarySignaledTwice = true;       // defect 2 (same stream): a portable binary signaled again before its wait
    bool keyedTimeout = true;              // a keyed acquire that times out while an earlier acquire of the handle is pending
    bool keyedOnSeveralStreams = true;     // one keyed-mutex handle acquiring on several streams
    bool destroyWithPending = true;        // Destroy ops (a semaphore destroyed with work pending, a new one in its place)
    bool timelineTwiceInARow = true;       // two signals of one timeline back to back on one stream
    bool eventWait = true;                 // defect 4: batonStreamWaitEvent on an event recorded again
    bool keyedReleaseOrder = true;         // an acquire sees what the stream of the release it took had seen (the checks, not the ops)
};

enum class SemKind : uint8_t { Timeline, Binary, Keyed };

struct SemSpec {
    uint32_t id = 0;
    SemKind kind = SemKind::Timeline;
    bool native = false;
    bool shared = false;       // exported by process 0 and sent to process 1
    uint8_t owner = 0;         // the one process that signals it (timelines), or holds it (local)
    uint8_t procMask = 1;      // processes that have a handle (bit p)
    int32_t mutex = -1;        // keyed: the mutex it is a party of
    int32_t importOf = -1;     // keyed, local: a second handle, imported from the fd of this id
    bool initial = true;       // created at setup (else by a Destroy op, as the replacement)
};

struct ValueCheck {
    uint32_t sem;
    uint64_t min;  // currentValue must be >= min ...
    uint64_t max;  // ... and <= max (kNoMax: not checked)
};
struct RecordCheck {
    uint32_t word;
    uint32_t value;
    uint32_t op;   // the record operation that wrote it
};

enum class Kind : uint8_t {
    Signal,           // timeline signal of value on stream
    Wait,             // timeline wait for value on stream
    BinarySignal,
    BinaryWait,
    BinaryHostWait,   // host wait on a binary semaphore without consuming (expect: Success / NotSupported)
    BinaryObserve,    // GetInfo of a binary: binary expectation
    KeyedAcquire,     // wait with key = value, timeoutMs
    KeyedRelease,     // signal with key = value
    KeyedRefused,     // an acquire or release that must be refused (IllegalState), enqueuing nothing
    KeyedTimeout,     // an acquire for kNeverKey that must time out; the next op synchronizes the stream
    HostFn,           // host function: checks, and runs k-th (value) on its stream
    Record,           // vkCmdFillBuffer of word with fill
    EventRecord,
    EventWait,
    EventQuery,       // expect Success or "either"; checks apply on Success
    EventSync,
    HostWait,         // timeline host wait for value, must succeed
    HostWaitTimeout,  // timeline host wait for a value nobody signaled: must time out
    StreamSync,       // checks; value = host functions that must have run on it
    StreamQuery,      // expect Success or either; checks apply on Success
    DeviceSync,
    Destroy,          // destroy sem with pending work, create newSem in its place
    RefusedSignal,    // a signal that must be refused (value 0 / not above pending / bad flags / array)
    RefusedWait,      // a wait with flags != 0
    Final,            // after everything: exact values
};

// Binary expectations (Op::binary).
enum BinaryExpect : uint8_t { kBinNone = 0, kBinOne = 1, kBinZero = 2, kBinZeroOrOne = 3 };
constexpr int kEither = -1;  // Op::expect: Success or NotReady

struct Op {
    Kind kind = Kind::Signal;
    uint8_t proc = 0;
    int16_t stream = -1;   // global stream index
    int32_t sem = -1;      // semaphore id
    int32_t sem2 = -1;     // RefusedSignal with an array: the valid first element (sem is the bad second)
    int32_t event = -1;    // index within the process
    int32_t newSem = -1;   // Destroy: the replacement
    uint64_t value = 0;
    uint64_t value2 = 0;   // Refused*: sem's pending value, which must not change
    uint64_t value3 = 0;   // RefusedSignal array: sem2's (valid) value ...
    uint64_t value4 = 0;   // ... and its pending value, which must not change either
    bool acquire = false;  // KeyedRefused: an acquire (else a release)
    uint32_t word = 0, fill = 0;
    uint32_t timeoutMs = 0;
    uint32_t flags = 0;    // Refused*: flags to pass
    int32_t expect = 0;    // batonError_t, or kEither
    uint8_t binary = kBinNone;
    std::vector<ValueCheck> values;
    std::vector<RecordCheck> records;
};

struct Program {
    Config config;
    std::vector<SemSpec> sems;       // index == id
    std::vector<Op> ops;
    uint32_t words[kProcs] = {0, 0}; // record words per process
    uint32_t hostFns[kProcs] = {0, 0};
};

Program generate(const Config& c);

int streamsOf(int proc);
int firstStreamOf(int proc);
std::string describe(const Program& p, size_t index);
const char* kindName(Kind k);

}  // namespace stress
