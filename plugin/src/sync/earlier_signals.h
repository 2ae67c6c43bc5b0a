// Portable timeline signals that a stream submitted before (or with) a portable binary or
// keyed-mutex signal and that may not be published yet. Each semaphore publishes on its own
// thread, so without this a keyed release could reach the shared page before the timeline
// value the same stream signaled earlier: a peer that took the key would not yet see it
// (issue 10, stress cause 3, KEYED_RELEASE_ORDER). The binary/keyed publisher publishes these
// first; a timeline publish is idempotent (the value only goes up), so the timeline's own
// publisher publishing it again later changes nothing. Each entry holds a reference.
#pragma once

#include <cstdint>

namespace baton {

class Semaphore;

struct EarlierSignals {
    static constexpr uint32_t kMax = 8;
    Semaphore* sems[kMax] = {};
    uint64_t values[kMax] = {};
    uint32_t count = 0;

    // Publishes each value (the GPU has passed it: it came before the signal now published
    // on the same stream, or in its batch), then drops the references.
    void publishAndRelease();
    // Drops the references (the later signal never reached the GPU, or the semaphore goes).
    void releaseAll();
};

}  // namespace baton
