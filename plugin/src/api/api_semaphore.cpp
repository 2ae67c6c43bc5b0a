// The external-semaphore entry points: validate every argument before touching anything,
// then dispatch to the semaphore's backend or to a stream.
#include <algorithm>
#include <cstring>

#include "api/c_enum.h"
#include "core/ref.h"
#include "core/small_vector.h"
#include "exec/context.h"
#include "core/entry.h"
#include "core/error.h"
#include "fd/fd_check.h"
#include "sync/semaphore.h"
#include "exec/stream.h"
#include "telemetry/telemetry.h"

using namespace baton;

namespace {

// t is the raw int a caller passed (see c_enum.h).
const char* typeName(int t) {
    switch (t) {
        case batonExternalSemaphoreHandleTypeOpaqueFd: return "OpaqueFd";
        case batonExternalSemaphoreHandleTypeOpaqueWin32: return "OpaqueWin32";
        case batonExternalSemaphoreHandleTypeOpaqueWin32Kmt: return "OpaqueWin32Kmt";
        case batonExternalSemaphoreHandleTypeD3D12Fence: return "D3D12Fence";
        case batonExternalSemaphoreHandleTypeD3D11Fence: return "D3D11Fence";
        case batonExternalSemaphoreHandleTypeNvSciSync: return "NvSciSync";
        case batonExternalSemaphoreHandleTypeKeyedMutex: return "KeyedMutex";
        case batonExternalSemaphoreHandleTypeKeyedMutexKmt: return "KeyedMutexKmt";
        case batonExternalSemaphoreHandleTypeTimelineSemaphoreFd: return "TimelineSemaphoreFd";
        case batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32: return "TimelineSemaphoreWin32";
    }
    return "unknown";
}

// The seed's descriptor rules for the Windows types, then NotSupported: a descriptor that
// would be wrong on Windows is InvalidValue here too.
batonError_t checkWindowsDesc(const batonExternalSemaphoreHandleDesc& d, int type) {
    const bool kmt = type == batonExternalSemaphoreHandleTypeOpaqueWin32Kmt ||
                     type == batonExternalSemaphoreHandleTypeKeyedMutexKmt;
    const bool h = d.handle.win32.handle != nullptr, n = d.handle.win32.name != nullptr;
    if (kmt && (!h || n))
        return fail(batonErrorInvalidValue, "%s needs handle.win32.handle non-NULL and handle.win32.name NULL",
                    typeName(type));
    if (!kmt && h == n)
        return fail(batonErrorInvalidValue, "%s needs exactly one of handle.win32.handle and handle.win32.name non-NULL",
                    typeName(type));
    return fail(batonErrorNotSupported, "%s is a Windows handle type; on Linux baton imports OpaqueFd, "
                "TimelineSemaphoreFd and KeyedMutex fds", typeName(type));
}

// Refuses dead handles, handles inherited through fork() and semaphores of a lost context
// (exec/context.h): *out stays empty and the error says which.
batonError_t lookupSemaphore(batonExternalSemaphore_t h, Ref<Semaphore>* out) {
    Semaphore* s = nullptr;
    batonError_t e = resolveObject(h, ObjectType::Semaphore, "semaphore", &s);
    *out = Ref<Semaphore>::adopt(s);
    return e;
}

// The stream a call names (NULL: the current context's default stream).
batonError_t lookupStream(batonStream_t stream, Ref<Stream>* out) {
    Stream* st = nullptr;
    batonError_t e = resolveStream(stream, &st);
    *out = Ref<Stream>::adopt(st);
    return e;
}

void adopt(Context* ctx, Semaphore* s, batonExternalSemaphore_t* out) {
    *out = publishHandle<batonExternalSemaphore_t>(ctx, s);  // handles are ids (core/object.h)
}

// Holds references taken while validating an array, released however the call ends.
struct SemRefs {
    SmallVector<Ref<Semaphore>, 16> sems;
    explicit SemRefs(unsigned n) : sems(n) {}
};

batonError_t checkArrayArgs(const void* sems, const void* params, unsigned n, const char* fn) {
    if (!sems) return fail(batonErrorInvalidValue, "%s: extSemArray is NULL", fn);
    if (!params) return fail(batonErrorInvalidValue, "%s: paramsArray is NULL", fn);
    if (n == 0) return fail(batonErrorInvalidValue, "%s: numExtSems is 0", fn);
    // One call is enqueued as a whole or not at all (defect 6): at most what one enqueue takes.
    if (n > Stream::kMaxEnqueue)
        return fail(batonErrorInvalidValue, "%s: numExtSems is %u; at most %u per call", fn, n, Stream::kMaxEnqueue);
    return batonSuccess;
}

batonError_t lookupAll(const batonExternalSemaphore_t* arr, unsigned n, Stream* stream, SemRefs& refs, const char* fn) {
    for (unsigned i = 0; i < n; ++i) {
        const batonError_t le = lookupSemaphore(arr[i], &refs.sems[i]);
        Semaphore* s = refs.sems[i].get();
        if (le != batonSuccess && le != batonErrorInvalidResourceHandle) return le;  // fork(), device lost
        if (!s)
            return fail(batonErrorInvalidResourceHandle, "%s: extSemArray[%u] (%p) is not a live baton semaphore", fn, i,
                        static_cast<void*>(arr[i]));
        if (s->ctx != stream->ctx)
            return fail(batonErrorInvalidResourceHandle, "%s: extSemArray[%u] belongs to another context than the stream",
                        fn, i);
    }
    return batonSuccess;
}

// Each timeline value above what is signaled or pending, also earlier in the same array;
// current[i]: the native counter read for it (UINT64_MAX: not read).
batonError_t checkSignalValues(const SemRefs& refs, const batonExternalSemaphoreSignalParams* params, unsigned n,
                               SmallVector<uint64_t, 16>& current, const char* fn) {
    for (unsigned i = 0; i < n; ++i) {
        Semaphore* s = refs.sems[i].get();
        current[i] = UINT64_MAX;
        if (!s->has(kSemTimeline)) continue;
        uint64_t v = params[i].params.fence.value;
        uint64_t floor = s->signalFloor(&current[i]);
        for (unsigned j = 0; j < i; ++j)
            if (refs.sems[j].get() == s && params[j].params.fence.value > floor) floor = params[j].params.fence.value;
        if (v <= floor)
            return fail(batonErrorInvalidValue, "%s: paramsArray[%u].params.fence.value %llu is not above %llu, the "
                        "highest value signaled or pending", fn, i, static_cast<unsigned long long>(v),
                        static_cast<unsigned long long>(floor));
    }
    return batonSuccess;
}

// Keyed mutexes of one call: acquire and release must alternate per handle, so each takes a
// turn (keyed_mutex.h) before anything is enqueued, and gives it back if its op is not
// enqueued after all. Holds its own reference to each, so that giving back never touches a
// semaphore that a failed enqueue has already let go of.
class KeyedMutexTurns {
public:
    explicit KeyedMutexTurns(unsigned n) : tickets_(n), saved_(n), sems_(n) {}
    // Takes a turn for every keyed mutex in sems; on a refusal gives back those taken.
    batonError_t take(const SmallVector<Ref<Semaphore>, 16>& sems, unsigned n, const Stream* st, bool acquire) {
        for (unsigned i = 0; i < n; ++i) {
            count_ = i + 1;
            if (!sems[i]->has(kSemKeyedMutex)) continue;
            batonError_t e = sems[i]->beginTurn(st, acquire, &tickets_[i], &saved_[i]);
            if (e != batonSuccess) {
                giveBack(0);  // sems_[i] is not set: only the turns taken before it
                return e;
            }
            sems_[i] = sems[i];  // a reference of its own
        }
        return batonSuccess;
    }
    // Restores the turns of ops [from, count), latest first, so that a handle named twice
    // ends as it was before the call.
    void giveBack(unsigned from) {
        for (unsigned i = count_; i-- > from;)
            if (sems_[i]) sems_[i]->undoTurn(saved_[i]);
    }
    // The acquire that op i takes (wait) or releases (signal).
    uint32_t ticket(unsigned i) const { return tickets_[i]; }

private:
    SmallVector<uint32_t, 16> tickets_;
    SmallVector<KeyedMutex::EnqueueState, 16> saved_;
    SmallVector<Ref<Semaphore>, 16> sems_;
    unsigned count_ = 0;
};

// The renderer helpers: the VkSemaphoreSubmitInfo for the host's own vkQueueSubmit2, from the
// backend's rendererWait or rendererSignal (which also does that side's bookkeeping).
batonError_t rendererSubmitInfo(const char* fn, batonError_t (Semaphore::*pick)(uint64_t, VkSemaphore*),
                                batonExternalSemaphore_t extSem, uint64_t value, VkPipelineStageFlags2 stageMask,
                                VkSemaphoreSubmitInfo* info) {
    if (!info) return fail(batonErrorInvalidValue, "%s: info is NULL", fn);
    Ref<Semaphore> s;
    if (batonError_t le = lookupSemaphore(extSem, &s); le != batonSuccess) return le;
    VkSemaphore vk = VK_NULL_HANDLE;
    batonError_t e = (s.get()->*pick)(value, &vk);
    if (e != batonSuccess) return e;
    *info = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, vk, s->has(kSemTimeline) ? value : 0, stageMask, 0};
    return ok();
}

}  // namespace

extern "C" {

BATON_API batonError_t batonImportExternalSemaphore(batonExternalSemaphore_t* extSem_out,
                                                    const batonExternalSemaphoreHandleDesc* desc) {
    return guarded("batonImportExternalSemaphore", [&]() -> batonError_t {
        if (!extSem_out) return fail(batonErrorInvalidValue, "batonImportExternalSemaphore: extSem_out is NULL");
        if (!desc) return fail(batonErrorInvalidValue, "batonImportExternalSemaphore: semHandleDesc is NULL");
        if (desc->flags) return fail(batonErrorInvalidValue, "semHandleDesc->flags must be 0 (got 0x%x)", desc->flags);
        const int type = rawEnum(desc->type);
        switch (type) {
            case batonExternalSemaphoreHandleTypeOpaqueWin32:
            case batonExternalSemaphoreHandleTypeOpaqueWin32Kmt:
            case batonExternalSemaphoreHandleTypeD3D12Fence:
            case batonExternalSemaphoreHandleTypeD3D11Fence:
            case batonExternalSemaphoreHandleTypeKeyedMutexKmt:
            case batonExternalSemaphoreHandleTypeTimelineSemaphoreWin32:
                return checkWindowsDesc(*desc, type);
            case batonExternalSemaphoreHandleTypeNvSciSync:
                return fail(batonErrorNotSupported, "NvSciSync handles are not supported");
            default:
                break;
        }
        SemKind kind;
        if (!semKindOfHandleType(type, &kind))
            return fail(batonErrorInvalidValue, "semHandleDesc->type %d is not a handle type", type);
        const int fd = desc->handle.fd;
        if (fd < 0) return fail(batonErrorInvalidValue, "semHandleDesc->handle.fd is %d", fd);

        // Look before anything touches the fd: only baton's memfds and the driver's own kind of
        // semaphore fd go further. On failure the fd stays open and the caller's.
        FdClass cls = classifyFd(fd);
        if (cls == FdClass::Closed) return fail(batonErrorInvalidResourceHandle, "fd %d is not an open file descriptor", fd);
        Context* ctx = nullptr;
        batonError_t e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        Semaphore* s = nullptr;
        e = Semaphore::importClassified(ctx, kind, fd, cls, &s);
        if (e == batonSuccess) adopt(ctx, s, extSem_out);
        ctx->release();
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonExportExternalSemaphore(int* fdOut, batonExternalSemaphore_t* extSemOut,
                                                    const batonExternalSemaphoreExportDesc* desc) {
    return guarded("batonExportExternalSemaphore", [&]() -> batonError_t {
        if (!fdOut || !extSemOut || !desc)
            return fail(batonErrorInvalidValue, "batonExportExternalSemaphore: fdOut, extSemOut and desc must be non-NULL");
        if (desc->flags & ~static_cast<unsigned>(batonExportFlagPortable))
            return fail(batonErrorInvalidValue, "desc->flags has unknown bits 0x%x", desc->flags);
        for (unsigned r : desc->reserved)
            if (r) return fail(batonErrorInvalidValue, "desc->reserved must be zero");
        SemKind kind;
        const int type = rawEnum(desc->type);
        if (!semKindOfHandleType(type, &kind))
            return fail(type >= 1 && type <= 10 ? batonErrorNotSupported : batonErrorInvalidValue,
                        "baton exports OpaqueFd, TimelineSemaphoreFd and KeyedMutex, not %s (type %d)", typeName(type), type);
        batonError_t e = Semaphore::checkExportDesc(kind, *desc);
        if (e != batonSuccess) return e;
        Context* ctx = nullptr;
        e = currentContext(&ctx);
        if (e != batonSuccess) return e;
        Semaphore* s = nullptr;
        e = Semaphore::exportNew(ctx, *desc, fdOut, &s);
        if (e == batonSuccess) s->foreign.store(true);  // the caller has its fd
        if (e == batonSuccess) adopt(ctx, s, extSemOut);
        ctx->release();
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonDestroyExternalSemaphore(batonExternalSemaphore_t extSem) {
    return guarded("batonDestroyExternalSemaphore", [&]() -> batonError_t {
        if (!extSem) return ok();
        Object* o = nullptr;  // handles are ids (core/object.h); works on a lost context too
        if (batonError_t le = takeHandle(extSem, ObjectType::Semaphore, "semaphore", &o); le != batonSuccess) return le;
        auto* s = static_cast<Semaphore*>(o);
        s->ctx->removeChild(s);
        s->release();  // in-flight operations hold their own references
        return ok();
    });
}

BATON_API batonError_t batonSignalExternalSemaphoresAsync(const batonExternalSemaphore_t* extSemArray,
                                                          const batonExternalSemaphoreSignalParams* paramsArray,
                                                          unsigned int numExtSems, batonStream_t stream) {
    return guarded("batonSignalExternalSemaphoresAsync", [&]() -> batonError_t {
        static const char* fn = "batonSignalExternalSemaphoresAsync";
        const uint64_t t0 = apiClockStart();
        batonError_t e = checkArrayArgs(extSemArray, paramsArray, numExtSems, fn);
        if (e != batonSuccess) return e;
        Ref<Stream> st;
        if ((e = lookupStream(stream, &st)) != batonSuccess) return e;
        SemRefs refs(numExtSems);
        e = lookupAll(extSemArray, numExtSems, st.get(), refs, fn);
        for (unsigned i = 0; e == batonSuccess && i < numExtSems; ++i) {
            if (paramsArray[i].flags)
                e = fail(batonErrorInvalidValue, "%s: paramsArray[%u].flags must be 0", fn, i);
            else if (refs.sems[i]->has(kSemTimeline) && paramsArray[i].params.fence.value == 0)
                e = fail(batonErrorInvalidValue, "%s: paramsArray[%u]: a timeline cannot be signaled to 0", fn, i);
        }
        // Timeline values: every one must be above what is signaled or pending (also earlier in
        // this same array). Checked for all before any is reserved. The driver's counter is read
        // once per semaphore (it is the costly part of a native signal call).
        SmallVector<uint64_t, 16> current(numExtSems);
        if (e == batonSuccess) e = checkSignalValues(refs, paramsArray, numExtSems, current, fn);
        // Keyed mutexes: each release must follow an acquire of the same handle on this stream.
        KeyedMutexTurns turns(numExtSems);
        if (e == batonSuccess) e = turns.take(refs.sems, numExtSems, st.get(), false);
        SmallVector<Semaphore::Reservation, 16> reservations(numExtSems);
        for (unsigned i = 0; e == batonSuccess && i < numExtSems; ++i)
            if (refs.sems[i]->has(kSemTimeline))
                e = refs.sems[i]->reserveSignal(paramsArray[i].params.fence.value, current[i], false, &reservations[i]);
        if (e == batonSuccess) {
            SmallVector<Op, 16> ops(numExtSems);
            for (unsigned i = 0; i < numExtSems; ++i) {
                Semaphore* s = Ref<Semaphore>(refs.sems[i]).detach();  // the op's own reference
                ops[i] = Op{};
                ops[i].kind = OpKind::Signal;
                ops[i].sem = s;
                ops[i].value = paramsArray[i].params.fence.value;
                if (s->has(kSemKeyedMutex)) {
                    ops[i].value = paramsArray[i].params.keyedMutex.key;
                    ops[i].slot = turns.ticket(i);
                }
            }
            e = st->enqueue(ops.data(), numExtSems);  // all or none; takes the ops' references
        }
        if (e != batonSuccess) {
            // Nothing of this call was enqueued: every reservation and turn goes back (defect 6).
            for (unsigned i = numExtSems; i-- > 0;) {
                if (refs.sems[i] && reservations[i].held) refs.sems[i]->giveBack(reservations[i]);
            }
            turns.giveBack(0);
        }
        noteApiCost(st->ctx, batonTelemetryApiSignal, t0);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonWaitExternalSemaphoresAsync(const batonExternalSemaphore_t* extSemArray,
                                                        const batonExternalSemaphoreWaitParams* paramsArray,
                                                        unsigned int numExtSems, batonStream_t stream) {
    return guarded("batonWaitExternalSemaphoresAsync", [&]() -> batonError_t {
        static const char* fn = "batonWaitExternalSemaphoresAsync";
        const uint64_t t0 = apiClockStart();
        batonError_t e = checkArrayArgs(extSemArray, paramsArray, numExtSems, fn);
        if (e != batonSuccess) return e;
        Ref<Stream> st;
        if ((e = lookupStream(stream, &st)) != batonSuccess) return e;
        SemRefs refs(numExtSems);
        e = lookupAll(extSemArray, numExtSems, st.get(), refs, fn);
        for (unsigned i = 0; e == batonSuccess && i < numExtSems; ++i)
            if (paramsArray[i].flags) e = fail(batonErrorInvalidValue, "%s: paramsArray[%u].flags must be 0", fn, i);
        // Keyed mutexes: a handle acquires again only after its release (or a failed acquire).
        KeyedMutexTurns turns(numExtSems);
        if (e == batonSuccess) e = turns.take(refs.sems, numExtSems, st.get(), true);
        if (e != batonSuccess) return e;
        SmallVector<Op, 16> ops(numExtSems);
        for (unsigned i = 0; i < numExtSems; ++i) {
            Op& op = ops[i];
            op = Op{};
            op.kind = OpKind::Wait;
            op.sem = refs.sems[i].detach();  // the op owns the reference now
            op.value = paramsArray[i].params.fence.value;
            if (op.sem->has(kSemKeyedMutex)) {
                op.value = paramsArray[i].params.keyedMutex.key;
                op.proxyValue = paramsArray[i].params.keyedMutex.timeoutMs;
                op.slot = turns.ticket(i);
            }
        }
        e = st->enqueue(ops.data(), numExtSems);  // all or none
        if (e != batonSuccess) turns.giveBack(0);
        noteApiCost(st->ctx, batonTelemetryApiWait, t0);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonExternalSemaphoreGetInfo(batonExternalSemaphore_t extSem, batonExternalSemaphoreInfo* info) {
    return guarded("batonExternalSemaphoreGetInfo", [&]() -> batonError_t {
        if (!info) return fail(batonErrorInvalidValue, "batonExternalSemaphoreGetInfo: info is NULL");
        Ref<Semaphore> s;
        if (batonError_t le = lookupSemaphore(extSem, &s); le != batonSuccess) return le;
        std::memset(info, 0, sizeof *info);
        s->describe(info);
        return ok();
    });
}

BATON_API batonError_t batonExternalSemaphoreHostWait(batonExternalSemaphore_t extSem, unsigned long long value,
                                                      uint64_t timeoutNs) {
    return guarded("batonExternalSemaphoreHostWait", [&]() -> batonError_t {
        Ref<Semaphore> s;
        if (batonError_t le = lookupSemaphore(extSem, &s); le != batonSuccess) return le;
        batonError_t e = s->hostWait(value, timeoutNs);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonGetWaitSubmitInfo(batonExternalSemaphore_t extSem, unsigned long long value,
                                              VkPipelineStageFlags2 stageMask, VkSemaphoreSubmitInfo* info) {
    return guarded("batonGetWaitSubmitInfo", [&] {
        return rendererSubmitInfo("batonGetWaitSubmitInfo", &Semaphore::rendererWait, extSem, value, stageMask, info);
    });
}

BATON_API batonError_t batonGetSignalSubmitInfo(batonExternalSemaphore_t extSem, unsigned long long value,
                                                VkPipelineStageFlags2 stageMask, VkSemaphoreSubmitInfo* info) {
    return guarded("batonGetSignalSubmitInfo", [&] {
        return rendererSubmitInfo("batonGetSignalSubmitInfo", &Semaphore::rendererSignal, extSem, value, stageMask, info);
    });
}

}  // extern "C"
