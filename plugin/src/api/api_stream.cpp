// Stream, host-function and event entry points.
#include "exec/context.h"
#include "core/error.h"
#include "exec/event.h"
#include "exec/stream.h"

using namespace baton;

namespace {

Event* lookupEvent(batonEvent_t e) { return static_cast<Event*>(lookupHandle(e, ObjectType::Event)); }

batonError_t badEvent(batonEvent_t e) {
    return fail(batonErrorInvalidResourceHandle, "%p is not a live baton event", static_cast<void*>(e));
}

}  // namespace

extern "C" {

BATON_API batonError_t batonStreamCreate(batonStream_t* stream) {
    if (!stream) return fail(batonErrorInvalidValue, "batonStreamCreate: stream is NULL");
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e != batonSuccess) return e;
    Stream* s = nullptr;
    e = Stream::create(ctx, &s);
    if (e == batonSuccess) {
        registerHandle(s);
        ctx->addChild(s);
        *stream = reinterpret_cast<batonStream_t>(s);
    }
    ctx->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonStreamDestroy(batonStream_t stream) {
    if (!stream) return ok();
    auto* s = reinterpret_cast<Stream*>(stream);
    if (!unregisterHandle(s, ObjectType::Stream))
        return fail(batonErrorInvalidResourceHandle, "%p is not a live baton stream", static_cast<void*>(stream));
    s->ctx->removeChild(s);
    s->close(false);  // enqueued work completes first
    s->release();
    return ok();
}

BATON_API batonError_t batonStreamSynchronize(batonStream_t stream) {
    Stream* s = nullptr;
    batonError_t e = resolveStream(stream, &s);
    if (e != batonSuccess) return e;
    e = s->synchronize();
    s->release();
    return e;
}

BATON_API batonError_t batonStreamQuery(batonStream_t stream) {
    Stream* s = nullptr;
    batonError_t e = resolveStream(stream, &s);
    if (e != batonSuccess) return e;
    e = s->query();
    s->release();
    return e;
}

BATON_API batonError_t batonDeviceSynchronize(void) {
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e != batonSuccess) return e;
    // Collect the streams under the context's lock, synchronise outside it.
    struct Collect {
        Stream* streams[256];
        unsigned n = 0;
    } c;
    ctx->forEachStream(
        [](Stream* s, void* u) {
            auto* all = static_cast<Collect*>(u);
            if (all->n < 256) {
                s->retain();
                all->streams[all->n++] = s;
            }
        },
        &c);
    batonError_t first = batonSuccess;
    for (unsigned i = 0; i < c.n; ++i) {
        batonError_t r = c.streams[i]->synchronize();
        if (first == batonSuccess) first = r;
        c.streams[i]->release();
    }
    ctx->release();
    return first == batonSuccess ? ok() : first;
}

BATON_API batonError_t batonStreamRecord(batonStream_t stream, batonRecordFn record, void* userData) {
    if (!record) return fail(batonErrorInvalidValue, "batonStreamRecord: record is NULL");
    Stream* s = nullptr;
    batonError_t e = resolveStream(stream, &s);
    if (e != batonSuccess) return e;
    e = s->record(record, userData);
    s->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonLaunchHostFunc(batonStream_t stream, batonHostFn_t fn, void* userData) {
    if (!fn) return fail(batonErrorInvalidValue, "batonLaunchHostFunc: fn is NULL");
    Stream* s = nullptr;
    batonError_t e = resolveStream(stream, &s);
    if (e != batonSuccess) return e;
    Op op{};
    op.kind = OpKind::HostFn;
    op.fn = fn;
    op.user = userData;
    e = s->enqueue(&op, 1);
    s->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonEventCreate(batonEvent_t* event) {
    if (!event) return fail(batonErrorInvalidValue, "batonEventCreate: event is NULL");
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e != batonSuccess) return e;
    Event* ev = nullptr;
    e = Event::create(ctx, &ev);
    if (e == batonSuccess) {
        registerHandle(ev);
        ctx->addChild(ev);
        *event = reinterpret_cast<batonEvent_t>(ev);
    }
    ctx->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonEventDestroy(batonEvent_t event) {
    if (!event) return ok();
    auto* ev = reinterpret_cast<Event*>(event);
    if (!unregisterHandle(ev, ObjectType::Event)) return badEvent(event);
    ev->ctx->removeChild(ev);
    ev->release();
    return ok();
}

BATON_API batonError_t batonEventRecord(batonEvent_t event, batonStream_t stream) {
    Event* ev = lookupEvent(event);
    if (!ev) return badEvent(event);
    Stream* s = nullptr;
    batonError_t e = resolveStream(stream, &s);
    if (e == batonSuccess) {
        e = ev->ctx == s->ctx ? s->recordEvent(ev)
                              : fail(batonErrorInvalidResourceHandle, "the event and the stream belong to different contexts");
        s->release();
    }
    ev->release();
    return e == batonSuccess ? ok() : e;
}

static batonError_t eventDone(batonEvent_t event, bool block) {
    Event* ev = lookupEvent(event);
    if (!ev) return badEvent(event);
    Stream* s = nullptr;
    uint64_t point = 0;
    batonError_t e = batonSuccess;
    // An event never recorded counts as complete, as in CUDA.
    if (ev->resolved(ev->latestGeneration(), &s, &point, block)) {
        Context* c = ev->ctx;
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s->timeline, &point};
        VkResult r = c->vkd.vkWaitSemaphores(c->device, &wi, block ? UINT64_MAX : 0);
        if (r == VK_TIMEOUT)
            e = batonErrorNotReady;
        else if (r != VK_SUCCESS)
            e = failVk(r, "vkWaitSemaphores (event)");
        else if (!s->publishedUpTo(point, block))
            e = batonErrorNotReady;  // the GPU is there, a portable signal before it is not yet published
        s->release();
    } else if (ev->latestGeneration() != 0) {
        e = batonErrorNotReady;  // recorded, but its stream has not reached it yet
    }
    ev->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonEventQuery(batonEvent_t event) { return eventDone(event, false); }
BATON_API batonError_t batonEventSynchronize(batonEvent_t event) { return eventDone(event, true); }

BATON_API batonError_t batonEventElapsedTime(float* ms, batonEvent_t start, batonEvent_t end) {
    if (!ms) return fail(batonErrorInvalidValue, "batonEventElapsedTime: ms is NULL");
    Event* a = lookupEvent(start);
    if (!a) return badEvent(start);
    Event* b = lookupEvent(end);
    if (!b) {
        a->release();
        return badEvent(end);
    }
    batonError_t e = batonSuccess;
    uint64_t ta = 0, tb = 0;
    if (a->ctx != b->ctx) {
        e = fail(batonErrorInvalidResourceHandle, "the events belong to different contexts");
    } else if (!a->queries || !b->queries) {
        e = fail(batonErrorNotSupported, "the stream's queue family has no timestamps");
    } else if (a->latestGeneration() == 0 || b->latestGeneration() == 0) {
        e = fail(batonErrorInvalidResourceHandle, "both events must have been recorded");
    } else if (batonEventQuery(start) != batonSuccess || batonEventQuery(end) != batonSuccess) {
        e = fail(batonErrorNotReady, "the events have not completed yet");
    } else {
        Context* c = a->ctx;
        VkResult r = c->vkd.vkGetQueryPoolResults(c->device, a->queries, 0, 1, sizeof ta, &ta, sizeof ta,
                                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        if (r == VK_SUCCESS)
            r = c->vkd.vkGetQueryPoolResults(c->device, b->queries, 0, 1, sizeof tb, &tb, sizeof tb,
                                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        if (r != VK_SUCCESS)
            e = failVk(r, "vkGetQueryPoolResults");
        else
            *ms = static_cast<float>(static_cast<double>(static_cast<int64_t>(tb - ta)) *
                                     c->properties.limits.timestampPeriod / 1e6);
    }
    a->release();
    b->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonStreamWaitEvent(batonStream_t stream, batonEvent_t event, unsigned int flags) {
    if (flags) return fail(batonErrorInvalidValue, "batonStreamWaitEvent: flags must be 0");
    Event* ev = lookupEvent(event);
    if (!ev) return badEvent(event);
    Stream* s = nullptr;
    batonError_t e = resolveStream(stream, &s);
    if (e != batonSuccess) {
        ev->release();
        return e;
    }
    if (ev->ctx != s->ctx) {
        ev->release();
        s->release();
        return fail(batonErrorInvalidResourceHandle, "the event and the stream belong to different contexts");
    }
    uint64_t gen = ev->latestGeneration();
    if (gen == 0) {  // never recorded: nothing to wait for, as in CUDA
        ev->release();
        s->release();
        return ok();
    }
    Op op{};
    op.kind = OpKind::WaitEvent;
    op.event = ev;  // the op owns this reference
    op.value = gen;
    e = s->enqueue(&op, 1);
    s->release();
    return e == batonSuccess ? ok() : e;
}

}  // extern "C"
