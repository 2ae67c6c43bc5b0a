// One side of the D3D11 keyed-mutex ping-pong across processes, shared by the test (the
// producer) and the baton_peer helper (the consumer): acquire, check on the host that the
// shared buffer holds the other side's last write, write this side's identity on the GPU,
// release to the other side.
#pragma once

#include <cstdint>
#include <string>

#include <baton/baton.h>
#include <baton/baton_memory.h>

namespace handoff {

// What a side writes: its tag in the top byte, the iteration below.
constexpr uint32_t kProducerTag = 0xA1000000u;
constexpr uint32_t kConsumerTag = 0xC2000000u;
constexpr uint32_t kInitialPattern = 0x5EED5EEDu;  // the producer fills it before the first round
constexpr uint64_t kBufferBytes = 64 * 1024;
inline uint32_t stamp(uint32_t tag, uint32_t iteration) { return tag | (iteration & 0x00FFFFFFu); }

struct Side {
    batonExternalSemaphore_t mutex = nullptr;
    batonMemory_t buffer = nullptr;
    batonStream_t stream = nullptr;
    unsigned long long acquireKey = 0, releaseKey = 0;
    uint32_t myTag = 0, otherTag = 0;
    uint32_t lag = 0;                // the other side's iteration seen at iteration i is i - lag
    unsigned timeoutMs = 10000;
};

struct Tally {
    uint32_t done = 0;        // iterations completed
    uint64_t mismatches = 0;  // words that were not what the other side wrote
    uint32_t abandoned = 0;   // acquires that reported batonErrorKeyedMutexAbandoned
    uint32_t timeouts = 0;
    batonError_t error = batonSuccess;  // the failure that stopped the loop, if any
    std::string message;
};

// Acquires and waits for it on the host. Returns batonSuccess or batonErrorKeyedMutexAbandoned
// (both: held now), or the failure.
batonError_t acquireNow(const Side& s);
// Writes this side's stamp for iteration i on the GPU and releases (stream-ordered).
batonError_t writeAndRelease(const Side& s, uint32_t iteration);
// Counts the words of the buffer that differ from expected.
uint64_t countMismatches(const Side& s, uint32_t expected);

// Runs iterations [from, from + count): acquire, check (skipped after an abandoned acquire:
// the dead holder may have written half), write, release. `expectAtFrom` overrides what the
// first check expects (0: the other side's stamp for from - lag).
Tally run(const Side& s, uint32_t from, uint32_t count, uint32_t expectAtFrom = 0);

}  // namespace handoff
