#include "exec/event.h"

#include <chrono>

#include "exec/context.h"
#include "core/error.h"
#include "exec/stream.h"

namespace baton {

batonError_t Event::create(Context* ctx, Event** out) {
    auto* e = new Event(ctx);
    if (ctx->timestampValidBits) {
        VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, nullptr, 0, VK_QUERY_TYPE_TIMESTAMP, 1};
        VkResult r = ctx->vkd.vkCreateQueryPool(ctx->device, &qi, nullptr, &e->queries);
        if (r != VK_SUCCESS) {
            delete e;
            return failVk(r, "vkCreateQueryPool");
        }
    }
    *out = e;
    return batonSuccess;
}

Event::~Event() {
    if (stream_) stream_->release();
    for (Resolution& r : recent_)
        if (r.stream) r.stream->release();
    if (queries) ctx->vkd.vkDestroyQueryPool(ctx->device, queries, nullptr);
}

uint64_t Event::beginRecord() {
    MutexLock lock(mutex_);
    return ++recordGen_;
}

uint64_t Event::latestGeneration() {
    MutexLock lock(mutex_);
    return recordGen_;
}

void Event::resolve(uint64_t gen, Stream* stream, uint64_t point) {
    Stream* drop[2] = {};  // released outside the lock (a last reference ends a stream)
    {
        MutexLock lock(mutex_);
        Resolution& r = recent_[gen % kRecent];
        if (gen > r.gen) {
            stream->retain();
            drop[0] = r.stream;
            r = {gen, stream, point};
        }
        if (gen > resolvedGen_) {
            stream->retain();
            drop[1] = stream_;
            stream_ = stream;
            point_ = point;
            resolvedGen_ = gen;
        }
    }
    cv_.notify_all();
    for (Stream* s : drop)
        if (s) s->release();
}

void Event::takeLocked(uint64_t gen, Stream** stream, uint64_t* point) {
    const Resolution& r = recent_[gen % kRecent];
    Stream* s = r.gen == gen ? r.stream : stream_;  // overwritten (kRecent newer recordings): the latest
    s->retain();
    *stream = s;
    *point = r.gen == gen ? r.point : point_;
}

bool Event::resolved(uint64_t gen, Stream** stream, uint64_t* point, bool block) {
    MutexLock lock(mutex_);
    if (gen == 0) return false;
    if (block)
        waitHeld(cv_, mutex_, [&]() BATON_NO_THREAD_SAFETY_ANALYSIS { return isResolvedLocked(gen); });
    else if (!isResolvedLocked(gen))
        return false;
    takeLocked(gen, stream, point);
    return true;
}

bool Event::resolved(uint64_t gen, Stream** stream, uint64_t* point, const std::atomic<bool>* cancel) {
    if (!cancel) return resolved(gen, stream, point, false);
    MutexLock lock(mutex_);
    if (gen == 0) return false;
    while (!isResolvedLocked(gen)) {
        if (cancel->load()) return false;
        waitHeldFor(cv_, mutex_, std::chrono::milliseconds(5));
    }
    takeLocked(gen, stream, point);
    return true;
}

}  // namespace baton
