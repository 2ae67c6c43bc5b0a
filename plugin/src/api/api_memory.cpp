// Frame-memory entry points (baton_memory.h): validate, then dispatch to Memory.
#include <baton/baton_memory.h>

#include "exec/context.h"
#include "core/error.h"
#include "frames/memory.h"

using namespace baton;

extern "C" {

BATON_API batonError_t batonExportMemory(int* fdOut, batonMemory_t* memOut, const batonMemoryDesc* desc) {
    if (!fdOut || !memOut || !desc)
        return fail(batonErrorInvalidValue, "batonExportMemory: fdOut, memOut and desc must be non-NULL");
    batonError_t e = Memory::validate(*desc);
    if (e != batonSuccess) return e;
    Context* ctx = nullptr;
    if ((e = currentContext(&ctx)) != batonSuccess) return e;
    Memory* m = nullptr;
    e = Memory::exportNew(ctx, *desc, fdOut, &m);
    if (e == batonSuccess) {
        registerHandle(m);
        ctx->addChild(m);
        *memOut = reinterpret_cast<batonMemory_t>(m);
    }
    ctx->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonImportMemory(batonMemory_t* memOut, const batonMemoryImportDesc* desc) {
    if (!memOut || !desc) return fail(batonErrorInvalidValue, "batonImportMemory: memOut and desc must be non-NULL");
    for (unsigned r : desc->reserved)
        if (r) return fail(batonErrorInvalidValue, "batonMemoryImportDesc::reserved must be zero");
    if (desc->fd < 0) return fail(batonErrorInvalidValue, "batonMemoryImportDesc::fd is %d", desc->fd);
    if (!desc->allocationSize) return fail(batonErrorInvalidValue, "batonMemoryImportDesc::allocationSize is 0");
    batonError_t e = Memory::validate(desc->desc);
    if (e != batonSuccess) return e;
    Context* ctx = nullptr;
    if ((e = currentContext(&ctx)) != batonSuccess) return e;
    Memory* m = nullptr;
    e = Memory::importFd(ctx, *desc, &m);
    if (e == batonSuccess) {
        registerHandle(m);
        ctx->addChild(m);
        *memOut = reinterpret_cast<batonMemory_t>(m);
    }
    ctx->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonMemoryGetInfo(batonMemory_t mem, batonMemoryInfo* info) {
    if (!info) return fail(batonErrorInvalidValue, "batonMemoryGetInfo: info is NULL");
    Object* o = lookupHandle(mem, ObjectType::Memory);
    if (!o) return fail(batonErrorInvalidResourceHandle, "%p is not a live baton memory", static_cast<void*>(mem));
    static_cast<Memory*>(o)->info(info);
    o->release();
    return ok();
}

BATON_API batonError_t batonDestroyMemory(batonMemory_t mem) {
    if (!mem) return ok();
    auto* m = reinterpret_cast<Memory*>(mem);
    if (!unregisterHandle(m, ObjectType::Memory))
        return fail(batonErrorInvalidResourceHandle, "%p is not a live baton memory", static_cast<void*>(mem));
    m->ctx->removeChild(m);
    m->release();
    return ok();
}

}  // extern "C"
