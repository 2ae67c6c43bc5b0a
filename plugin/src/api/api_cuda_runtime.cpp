// Streams and events with CUDA's flags, and CUDA's last-error rules (baton_cuda.h).
#include <baton/baton_cuda.h>

#include "core/entry.h"
#include "core/error.h"
#include "exec/context.h"
#include "exec/event.h"

using namespace baton;

namespace {

constexpr unsigned kStreamFlags = batonStreamDefault | batonStreamNonBlocking;
constexpr unsigned kEventFlags = batonEventBlockingSync | batonEventDisableTiming | batonEventInterprocess;

batonError_t createStream(const char* entry, batonStream_t* stream, unsigned flags) {
    if (!stream) return fail(batonErrorInvalidValue, "%s: stream is NULL", entry);
    if (flags & ~kStreamFlags)
        return fail(batonErrorInvalidValue, "%s: flags 0x%x (only batonStreamDefault or batonStreamNonBlocking)", entry,
                    flags);
    return batonStreamCreate(stream);
}

// Sticky errors (CUDA's "the context is corrupted" class) are baton's lost devices: every
// call on that context keeps returning batonErrorLaunchFailure, and so does GetLastError.
bool stickyNow(batonError_t last) {
    if (last != batonErrorLaunchFailure) return false;
    try {
        Context* c = nullptr;
        if (currentContextEvenIfLost(&c) != batonSuccess) return false;
        const bool lost = c->lost();
        c->release();
        return lost;
    } catch (...) {
        return false;  // cannot tell: report it once, as a non-sticky error
    }
}

}  // namespace

extern "C" {

BATON_API batonError_t batonStreamCreateWithFlags(batonStream_t* stream, unsigned int flags) {
    return guarded("batonStreamCreateWithFlags", [&] { return createStream("batonStreamCreateWithFlags", stream, flags); });
}

BATON_API batonError_t batonStreamCreateWithPriority(batonStream_t* stream, unsigned int flags, int priority) {
    return guarded("batonStreamCreateWithPriority", [&] {
        // Clamped into [greatest, least] = [0, 0] (batonDeviceGetStreamPriorityRange), as CUDA
        // clamps: no priority is an error, none has an effect.
        (void)priority;
        return createStream("batonStreamCreateWithPriority", stream, flags);
    });
}

BATON_API batonError_t batonEventCreateWithFlags(batonEvent_t* event, unsigned int flags) {
    return guarded("batonEventCreateWithFlags", [&] {
        if (!event) return fail(batonErrorInvalidValue, "batonEventCreateWithFlags: event is NULL");
        if (flags & ~kEventFlags)
            return fail(batonErrorInvalidValue, "batonEventCreateWithFlags: unknown flags 0x%x", flags & ~kEventFlags);
        if (flags & batonEventInterprocess) {
            if (!(flags & batonEventDisableTiming))
                return fail(batonErrorInvalidValue,
                            "batonEventCreateWithFlags: batonEventInterprocess needs batonEventDisableTiming (as in CUDA)");
            return fail(batonErrorNotSupported, "batonEventCreateWithFlags: interprocess events are not supported; "
                                                "share a timeline semaphore instead");
        }
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        Event* ev = nullptr;
        if ((e = Event::create(ctx, &ev)) != batonSuccess) return e;
        if (flags & batonEventDisableTiming) {
            // No query pool: recording writes no timestamp (the point of the flag).
            if (ev->queries) ctx->vkd.vkDestroyQueryPool(ctx->device, ev->queries, nullptr);
            ev->queries = VK_NULL_HANDLE;
            ev->timingDisabled = true;
        }
        // BlockingSync: baton's event waits sleep in the driver already; nothing to change.
        *event = publishHandle<batonEvent_t>(ctx, ev);
        return ok();
    });
}

// Not guarded: guarded() notes results for this very function, which would undo the reset.
// Nothing below throws (stickyNow catches).
BATON_API batonError_t batonGetLastError(void) {
    const batonError_t last = lastResult(false);
    if (stickyNow(last)) return last;
    return lastResult(true);
}

BATON_API batonError_t batonPeekAtLastError(void) { return lastResult(false); }

}  // extern "C"
