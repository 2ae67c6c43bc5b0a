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
    {
        MutexLock lock(mutex_);
        if (gen > resolvedGen_) {
            stream->retain();
            if (stream_) stream_->release();
            stream_ = stream;
            point_ = point;
            resolvedGen_ = gen;
        }
    }
    cv_.notify_all();
}

bool Event::resolved(uint64_t gen, Stream** stream, uint64_t* point, bool block) {
    MutexLock lock(mutex_);
    if (gen == 0) return false;
    if (block)
        waitHeld(cv_, mutex_, [&]() BATON_NO_THREAD_SAFETY_ANALYSIS { return resolvedGen_ >= gen; });
    else if (resolvedGen_ < gen)
        return false;
    stream_->retain();
    *stream = stream_;
    *point = point_;
    return true;
}

bool Event::resolved(uint64_t gen, Stream** stream, uint64_t* point, const std::atomic<bool>* cancel) {
    if (!cancel) return resolved(gen, stream, point, false);
    MutexLock lock(mutex_);
    if (gen == 0) return false;
    while (resolvedGen_ < gen) {
        if (cancel->load()) return false;
        waitHeldFor(cv_, mutex_, std::chrono::milliseconds(5));
    }
    stream_->retain();
    *stream = stream_;
    *point = point_;
    return true;
}

}  // namespace baton
