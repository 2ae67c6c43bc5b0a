// Frame-memory entry points (baton_memory.h): validate, then dispatch to Memory. Every entry
// point runs through guarded() (core/entry.h).
#include <baton/baton_memory.h>

#include "core/entry.h"
#include "core/error.h"
#include "exec/context.h"
#include "frames/memory.h"

using namespace baton;

namespace {

batonError_t checkImportDesc(const batonMemoryImportDesc& desc) {
    for (unsigned r : desc.reserved)
        if (r) return fail(batonErrorInvalidValue, "batonMemoryImportDesc::reserved must be zero");
    if (desc.fd < 0) return fail(batonErrorInvalidValue, "batonMemoryImportDesc::fd is %d", desc.fd);
    if (!desc.allocationSize) return fail(batonErrorInvalidValue, "batonMemoryImportDesc::allocationSize is 0");
    return Memory::validate(desc.desc);
}

}  // namespace

extern "C" {

BATON_API batonError_t batonExportMemory(int* fdOut, batonMemory_t* memOut, const batonMemoryDesc* desc) {
    return guarded("batonExportMemory", [&] {
        if (!fdOut || !memOut || !desc)
            return fail(batonErrorInvalidValue, "batonExportMemory: fdOut, memOut and desc must be non-NULL");
        batonError_t e = Memory::validate(*desc);
        if (e != batonSuccess) return e;
        Context* ctx = nullptr;
        if ((e = currentContext(&ctx)) != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        Memory* m = nullptr;
        if ((e = Memory::exportNew(ctx, *desc, fdOut, &m)) != batonSuccess) return e;
        *memOut = publishHandle<batonMemory_t>(ctx, m);
        return ok();
    });
}

BATON_API batonError_t batonImportMemory(batonMemory_t* memOut, const batonMemoryImportDesc* desc) {
    return guarded("batonImportMemory", [&] {
        if (!memOut || !desc) return fail(batonErrorInvalidValue, "batonImportMemory: memOut and desc must be non-NULL");
        batonError_t e = checkImportDesc(*desc);
        if (e != batonSuccess) return e;
        Context* ctx = nullptr;
        if ((e = currentContext(&ctx)) != batonSuccess) return e;
        ScopedRef<Context> hold(ctx);
        Memory* m = nullptr;
        if ((e = Memory::importFd(ctx, *desc, &m)) != batonSuccess) return e;
        // From here the fd is baton's: a throw below releases m, which closes it.
        *memOut = publishHandle<batonMemory_t>(ctx, m);
        return ok();
    });
}

BATON_API batonError_t batonMemoryGetInfo(batonMemory_t mem, batonMemoryInfo* info) {
    return guarded("batonMemoryGetInfo", [&] {
        if (!info) return fail(batonErrorInvalidValue, "batonMemoryGetInfo: info is NULL");
        Memory* m = nullptr;
        batonError_t e = resolveObject(mem, ObjectType::Memory, "memory", &m);
        if (e != batonSuccess) return e;
        m->info(info);
        m->release();
        return ok();
    });
}

// Works on a lost context too: teardown always completes.
BATON_API batonError_t batonDestroyMemory(batonMemory_t mem) {
    return guarded("batonDestroyMemory", [&] {
        if (!mem) return ok();
        Object* o = nullptr;
        batonError_t e = takeHandle(mem, ObjectType::Memory, "memory", &o);
        if (e != batonSuccess) return e;
        auto* m = static_cast<Memory*>(o);
        m->ctx->removeChild(m);
        m->release();
        return ok();
    });
}

}  // extern "C"
