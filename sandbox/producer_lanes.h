// Process mode: the producer process's lanes. Its shared frame channel carries the
// producer's zones (each produce call, each wait for a free slot, each frame's GPU work) in
// the control page, and the consumer's baton telemetry holds them with the producer's pid
// (batonTelemetryRead). This turns the new ones into the panel's "producer host" and
// "compute queue" spans, as the thread-mode producer reports its own.
#pragma once

#include <cstdint>

#include <baton/baton_telemetry.h>

#include "telemetry.h"

namespace sandbox {

class ProducerLanes {
public:
    // Adds the spans of the records another process made since the last call (a fixed
    // buffer, no allocation). animBase: the animation frame of the channel's frame 0.
    void pull(batonContext_t ctx, uint64_t animBase, Telemetry& out);
    // A new channel (a new producer): start from the records made from now on.
    void restart(batonContext_t ctx);

private:
    static constexpr unsigned kBatch = 256;
    unsigned long long cursor_ = 0;
    batonTelemetryRecord recs_[kBatch] = {};
};

}  // namespace sandbox
