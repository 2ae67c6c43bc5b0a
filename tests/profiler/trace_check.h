// Reads a Chrome trace-event JSON written by baton's trace writer (one event per line) and
// checks its handoffs: every consumer wait on a channel's "ready" semaphore has a flow arrow
// that starts inside the signal zone of the same semaphore and value and ends inside the wait.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace batontest {

struct TraceEvent {
    std::string ph, name, id;
    uint32_t pid = 0, tid = 0;
    double ts = 0, dur = 0;
    std::string line;  // the event as written
};

struct TraceFile {
    std::vector<TraceEvent> events;
    bool balanced = false;  // braces and brackets balance, outside strings
    bool read(const std::string& path, std::string* why);
};

struct HandoffFlows {
    uint64_t waits = 0;        // "wait 0x<sem> >= <v>" zones
    uint64_t withFlow = 0;     // of them, with an arrow from the matching signal zone
    uint64_t signals = 0;      // "signal 0x<sem> = <v>" zones
    uint64_t frames = 0;       // frame slices ("b")
    std::string firstMissing;  // the first wait without its arrow
    // The first wait that ended before the signal it waited for was made (more than 50 us,
    // the clocks' calibration): times that are not that handoff's (a stale query result).
    std::string firstBeforeItsSignal;
};

// The handoffs of semaphore `sem` ("0x34"), or of every semaphore when sem is empty.
HandoffFlows checkHandoffFlows(const TraceFile& trace, const std::string& sem);

// The first value a semaphore's waits skip ("0x34 >= 60"), between its lowest and highest
// waited value, or empty: for a FIFO channel, whose every frame is waited for.
std::string firstGapInWaits(const TraceFile& trace);

}  // namespace batontest
