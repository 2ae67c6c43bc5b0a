// Stream, host-function and event entry points. Every entry point runs through guarded()
// (core/entry.h) and resolves its handles through exec/context.h's resolvers.
#include <vector>

#include "core/entry.h"
#include "core/error.h"
#include "exec/context.h"
#include "exec/event.h"
#include "exec/stream.h"

using namespace baton;

namespace {

batonError_t resolveEvent(batonEvent_t e, Event** out) { return resolveObject(e, ObjectType::Event, "event", out); }

// Synchronises every stream of ctx: collected (retained) under the context's lock, waited
// for outside it. The first error wins; every stream is still waited for (defect 12: this
// used to stop collecting at 256 streams and return success for the rest).
batonError_t synchronizeAll(Context* ctx) {
    struct Held {
        std::vector<Stream*> streams;
        ~Held() {
            for (Stream* s : streams) s->release();
        }
    } held;
    ctx->forEachStream(
        [](Stream* s, void* u) {
            static_cast<std::vector<Stream*>*>(u)->push_back(s);  // may throw: retained once in
            s->retain();
        },
        &held.streams);
    batonError_t first = batonSuccess;
    for (Stream* s : held.streams) {
        batonError_t r = s->synchronize();
        if (first == batonSuccess) first = r;
    }
    return first;
}

batonError_t eventDone(batonEvent_t event, bool block) {
    Event* ev = nullptr;
    batonError_t e = resolveEvent(event, &ev);
    if (e != batonSuccess) return e;
    Stream* s = nullptr;
    uint64_t point = 0;
    // An event never recorded counts as complete, as in CUDA.
    if (ev->resolved(ev->latestGeneration(), &s, &point, block)) {
        Context* c = ev->ctx;
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &s->timeline, &point};
        VkResult r = c->vkd.vkWaitSemaphores(c->device, &wi, block ? UINT64_MAX : 0);
        if (r == VK_TIMEOUT) {
            e = batonErrorNotReady;
        } else if (r == VK_ERROR_DEVICE_LOST) {
            c->markLost("vkWaitSemaphores (event)");
            e = c->lostError();
        } else if (r != VK_SUCCESS) {
            e = failVk(r, "vkWaitSemaphores (event)");
        } else if (!s->publishedUpTo(point, block)) {
            e = batonErrorNotReady;  // the GPU is there, a portable signal before it is not yet published
        }
        s->release();
    } else if (ev->latestGeneration() != 0) {
        e = batonErrorNotReady;  // recorded, but its stream has not reached it yet
    }
    ev->release();
    return e == batonSuccess ? ok() : e;
}

batonError_t elapsed(Event* a, Event* b, float* ms) {
    uint64_t ta = 0, tb = 0;
    if (a->ctx != b->ctx) return fail(batonErrorInvalidResourceHandle, "the events belong to different contexts");
    if (a->timingDisabled || b->timingDisabled)  // CUDA's answer for cudaEventDisableTiming events
        return fail(batonErrorInvalidResourceHandle, "an event was created with batonEventDisableTiming");
    if (!a->queries || !b->queries) return fail(batonErrorNotSupported, "the stream's queue family has no timestamps");
    if (a->latestGeneration() == 0 || b->latestGeneration() == 0)
        return fail(batonErrorInvalidResourceHandle, "both events must have been recorded");
    batonError_t q = batonEventQuery(a->handle<batonEvent_t>());
    if (q == batonSuccess) q = batonEventQuery(b->handle<batonEvent_t>());
    // A query that failed (a lost device) says why, with its message; only "not yet" is ours.
    if (q == batonErrorNotReady) return fail(batonErrorNotReady, "the events have not completed yet");
    if (q != batonSuccess) return q;
    Context* c = a->ctx;
    VkResult r = c->vkd.vkGetQueryPoolResults(c->device, a->queries, 0, 1, sizeof ta, &ta, sizeof ta,
                                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS)
        r = c->vkd.vkGetQueryPoolResults(c->device, b->queries, 0, 1, sizeof tb, &tb, sizeof tb,
                                         VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_ERROR_DEVICE_LOST) c->markLost("vkGetQueryPoolResults");
    if (r != VK_SUCCESS) return c->lost() ? c->lostError() : failVk(r, "vkGetQueryPoolResults");
    *ms = static_cast<float>(static_cast<double>(static_cast<int64_t>(tb - ta)) * c->properties.limits.timestampPeriod / 1e6);
    return batonSuccess;
}

batonError_t waitEvent(batonStream_t stream, batonEvent_t event) {
    Event* ev = nullptr;
    batonError_t e = resolveEvent(event, &ev);
    if (e != batonSuccess) return e;
    Stream* s = nullptr;
    if ((e = resolveStream(stream, &s)) != batonSuccess) {
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

}  // namespace

extern "C" {

BATON_API batonError_t batonStreamCreate(batonStream_t* stream) {
    return guarded("batonStreamCreate", [&] {
        if (!stream) return fail(batonErrorInvalidValue, "batonStreamCreate: stream is NULL");
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        Stream* s = nullptr;
        if ((e = Stream::create(ctx, &s)) != batonSuccess) return e;
        *stream = publishHandle<batonStream_t>(ctx, s);
        return ok();
    });
}

// Works on a lost context too: teardown always completes.
BATON_API batonError_t batonStreamDestroy(batonStream_t stream) {
    return guarded("batonStreamDestroy", [&] {
        if (!stream) return ok();
        Object* o = nullptr;
        batonError_t e = takeHandle(stream, ObjectType::Stream, "stream", &o);
        if (e != batonSuccess) return e;
        auto* s = static_cast<Stream*>(o);
        s->ctx->removeChild(s);
        s->close(false);  // enqueued work completes first
        s->release();
        return ok();
    });
}

BATON_API batonError_t batonStreamSynchronize(batonStream_t stream) {
    return guarded("batonStreamSynchronize", [&] {
        Stream* s = nullptr;
        batonError_t e = resolveStream(stream, &s);
        if (e != batonSuccess) return e;
        e = s->synchronize();
        s->release();
        return e;
    });
}

BATON_API batonError_t batonStreamQuery(batonStream_t stream) {
    return guarded("batonStreamQuery", [&] {
        Stream* s = nullptr;
        batonError_t e = resolveStream(stream, &s);
        if (e != batonSuccess) return e;
        e = s->query();
        s->release();
        return e;
    });
}

BATON_API batonError_t batonDeviceSynchronize(void) {
    return guarded("batonDeviceSynchronize", [&] {
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        e = synchronizeAll(ctx);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonStreamRecord(batonStream_t stream, batonRecordFn record, void* userData) {
    return guarded("batonStreamRecord", [&] {
        if (!record) return fail(batonErrorInvalidValue, "batonStreamRecord: record is NULL");
        Stream* s = nullptr;
        batonError_t e = resolveStream(stream, &s);
        if (e != batonSuccess) return e;
        e = s->record(record, userData);
        s->release();
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonLaunchHostFunc(batonStream_t stream, batonHostFn_t fn, void* userData) {
    return guarded("batonLaunchHostFunc", [&] {
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
    });
}

BATON_API batonError_t batonEventCreate(batonEvent_t* event) {
    return guarded("batonEventCreate", [&] {
        if (!event) return fail(batonErrorInvalidValue, "batonEventCreate: event is NULL");
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        Event* ev = nullptr;
        if ((e = Event::create(ctx, &ev)) != batonSuccess) return e;
        *event = publishHandle<batonEvent_t>(ctx, ev);
        return ok();
    });
}

BATON_API batonError_t batonEventDestroy(batonEvent_t event) {
    return guarded("batonEventDestroy", [&] {
        if (!event) return ok();
        Object* o = nullptr;
        batonError_t e = takeHandle(event, ObjectType::Event, "event", &o);
        if (e != batonSuccess) return e;
        auto* ev = static_cast<Event*>(o);
        ev->ctx->removeChild(ev);
        ev->release();
        return ok();
    });
}

BATON_API batonError_t batonEventRecord(batonEvent_t event, batonStream_t stream) {
    return guarded("batonEventRecord", [&] {
        Event* ev = nullptr;
        batonError_t e = resolveEvent(event, &ev);
        if (e != batonSuccess) return e;
        Stream* s = nullptr;
        e = resolveStream(stream, &s);
        if (e == batonSuccess) {
            e = ev->ctx == s->ctx ? s->recordEvent(ev)
                                  : fail(batonErrorInvalidResourceHandle, "the event and the stream belong to different contexts");
            s->release();
        }
        ev->release();
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonEventQuery(batonEvent_t event) {
    return guarded("batonEventQuery", [&] { return eventDone(event, false); });
}

BATON_API batonError_t batonEventSynchronize(batonEvent_t event) {
    return guarded("batonEventSynchronize", [&] { return eventDone(event, true); });
}

BATON_API batonError_t batonEventElapsedTime(float* ms, batonEvent_t start, batonEvent_t end) {
    return guarded("batonEventElapsedTime", [&] {
        if (!ms) return fail(batonErrorInvalidValue, "batonEventElapsedTime: ms is NULL");
        Event* a = nullptr;
        batonError_t e = resolveEvent(start, &a);
        if (e != batonSuccess) return e;
        Event* b = nullptr;
        if ((e = resolveEvent(end, &b)) != batonSuccess) {
            a->release();
            return e;
        }
        e = elapsed(a, b, ms);
        a->release();
        b->release();
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonStreamWaitEvent(batonStream_t stream, batonEvent_t event, unsigned int flags) {
    return guarded("batonStreamWaitEvent", [&] {
        if (flags) return fail(batonErrorInvalidValue, "batonStreamWaitEvent: flags must be 0");
        return waitEvent(stream, event);
    });
}

}  // extern "C"
