// Between test_stress (process 0) and stress_peer (process 1), over a Unix stream socket:
// Hello (0 -> 1), then the shared semaphores as baton transport messages in id order, then
// Ready (1 -> 0) once the peer holds them; both run the program; the peer ends with Report.
#pragma once

#include <cstdint>

#include "program.h"

namespace stress {

constexpr uint32_t kPeerMagic = 0x53545253u;  // "STRS"

struct Hello {
    uint32_t magic;
    uint32_t ops;
    uint64_t seed;
    uint32_t native;
    uint32_t switches;   // Config's op-class switches: see packSwitches
    uint32_t reserved;
};

inline uint32_t packSwitches(const Config& c) {
    return (c.binaryFromSeveralStreams ? 1u : 0u) | (c.binarySignaledTwice ? 2u : 0u) | (c.keyedTimeout ? 4u : 0u) |
           (c.keyedOnSeveralStreams ? 8u : 0u) | (c.destroyWithPending ? 16u : 0u) | (c.timelineTwiceInARow ? 32u : 0u) |
           (c.keyedReleaseOrder ? 64u : 0u) | (c.eventWait ? 128u : 0u);
}
inline void unpackSwitches(uint32_t bits, Config* c) {
    c->binaryFromSeveralStreams = bits & 1u;
    c->binarySignaledTwice = bits & 2u;
    c->keyedTimeout = bits & 4u;
    c->keyedOnSeveralStreams = bits & 8u;
    c->destroyWithPending = bits & 16u;
    c->timelineTwiceInARow = bits & 32u;
    c->keyedReleaseOrder = bits & 64u;
    c->eventWait = bits & 128u;
}

struct Report {
    uint32_t magic;
    int32_t code;      // 0: every operation ran as the model says (a divergence ends the peer with a message on stderr)
    uint64_t opsRun;
    uint64_t knownValidation;  // validation messages of known defects counted apart (switch off)
};

}  // namespace stress
