// The profiler's data: copies of telemetry records and channel frames in rings indexed by
// their seq, refreshed incrementally by update(), and the inspector's view. Sized once.
#pragma once

#include <cstdint>
#include <vector>

#include <baton/baton_imgui.h>

#include "time_axis.h"

namespace baton {
namespace imgui {

struct Profiler::State {
    batonContext_t ctx = nullptr;
    ProfilerConfig config;

    // Records by seq % size (a slot holds the record whose seq it has). Records still without
    // their GPU times are read again until they resolve (or fall kResolveWindow behind).
    std::vector<batonTelemetryRecord> records;
    uint64_t newestRecord = 0, firstUnresolved = 1;
    std::vector<batonTelemetryRecord> scratch;  // one read's worth
    // Frames by seq % size; frames are final when telemetry writes them.
    std::vector<batonTelemetryFrame> frames;
    uint64_t newestFrame = 0;
    std::vector<batonTelemetryFrame> frameScratch;

    bool paused = false;
    unsigned long long selected = 0;
    TimeAxis axis;           // the timeline's view (live: follows the last frames)
    bool viewSet = false;    // the user zoomed/panned (or setView): do not follow
    float windowRect[4] = {}, timelineRect[4] = {}, pauseRect[4] = {};
    double lastCostUs = 0, costSumUs = 0;
    uint64_t costSamples = 0;

    // Draw-time scratch (sized once): signals sorted by (object, value) for the flows, the
    // lanes in view, the histogram's bins.
    std::vector<const batonTelemetryRecord*> signals;
    std::vector<uint64_t> lanes;  // (pid << 32) | lane
    std::vector<float> bins;
    std::vector<double> sortScratch;

    void read();
    const batonTelemetryRecord* record(uint64_t seq) const {
        const batonTelemetryRecord& r = records[seq % records.size()];
        return r.seq == seq ? &r : nullptr;
    }
    const batonTelemetryFrame* frameBySeq(uint64_t seq) const {
        const batonTelemetryFrame& f = frames[seq % frames.size()];
        return f.seq == seq ? &f : nullptr;
    }
    const batonTelemetryFrame* findFrame(unsigned long long frame) const;
    uint64_t oldestRecord() const { return newestRecord >= records.size() ? newestRecord - records.size() + 1 : 1; }
    uint64_t oldestFrame() const { return newestFrame >= frames.size() ? newestFrame - frames.size() + 1 : 1; }
    void followLive();  // the view over the last timelineFrames frames
};

}  // namespace imgui
}  // namespace baton
