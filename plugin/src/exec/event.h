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
    // Whether recording gen is resolved; if so returns the stream (retained) and point.
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
};

}  // namespace baton
