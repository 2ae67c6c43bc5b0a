// An event: a position in a stream (the stream's timeline point once submitted) with a GPU
// timestamp, for batonEventSynchronize/Query/ElapsedTime and cross-stream waits.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include <baton/baton.h>

#include "core/thread_safety.h"
#include "core/object.h"

namespace baton {

class Context;
class Stream;

class Event final : public Object {
public:
    static batonError_t create(Context* ctx, Event** out);
    ~Event() override;

    // API thread: a new recording begins; returns its generation.
    uint64_t beginRecord();
    // Worker thread: the recording `gen` lies at `point` of stream's timeline.
    void resolve(uint64_t gen, Stream* stream, uint64_t point);
    // Whether recording gen is resolved; if so returns the stream (retained) and point of
    // that recording (not of a later one that may have resolved first, on another stream).
    // block: waits until it is; cancel (optional): stop waiting once it is set (checked every
    // few milliseconds), returning false.
    bool resolved(uint64_t gen, Stream** stream, uint64_t* point, bool block);
    bool resolved(uint64_t gen, Stream** stream, uint64_t* point, const std::atomic<bool>* cancel);
    uint64_t latestGeneration();

    Context* const ctx;
    VkQueryPool queries = VK_NULL_HANDLE;  // one timestamp
    bool timingDisabled = false;           // made with batonEventDisableTiming (no queries either)

private:
    explicit Event(Context* c) : Object(ObjectType::Event), ctx(c) {}
    Mutex mutex_;
    std::condition_variable cv_;
    uint64_t recordGen_ BATON_GUARDED_BY(mutex_) = 0;
    uint64_t resolvedGen_ BATON_GUARDED_BY(mutex_) = 0;
    Stream* stream_ BATON_GUARDED_BY(mutex_) = nullptr;  // retained
    uint64_t point_ BATON_GUARDED_BY(mutex_) = 0;
    // The recent recordings by generation (gen % kRecent), each with its stream retained, so
    // that a wait gets its own recording's position whatever resolved since. One overwritten
    // by a recording kRecent generations newer gives way to the latest.
    struct Resolution {
        uint64_t gen = 0;
        Stream* stream = nullptr;
        uint64_t point = 0;
    };
    static constexpr uint32_t kRecent = 64;
    Resolution recent_[kRecent] BATON_GUARDED_BY(mutex_) = {};
    bool isResolvedLocked(uint64_t gen) const BATON_REQUIRES(mutex_) { return recent_[gen % kRecent].gen >= gen; }
    void takeLocked(uint64_t gen, Stream** stream, uint64_t* point) BATON_REQUIRES(mutex_);
};

}  // namespace baton
