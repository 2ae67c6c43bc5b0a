// External memory in CUDA's shape (baton_cuda.h): validate, then dispatch to ExternalMemory.
// Mappings are named by what the user holds (a "device pointer", a mipmapped-array handle),
// kept here with the handle of their memory, so that a pointer whose memory was destroyed is
// recognised (and freed once, as CUDA code does) instead of dereferenced.
#include <baton/baton_cuda.h>

#include <atomic>
#include <map>
#include <mutex>

#include "core/entry.h"
#include "core/error.h"
#include "cuda/external_memory.h"
#include "exec/context.h"

using namespace baton;

namespace {

struct MapEntry {
    batonExternalMemory_t mem;  // a handle: refused once destroyed (then this entry is an orphan)
    uint64_t serial;
};

// Opaque "device pointers" of memory that is not host-visible, and mipmapped-array handles:
// in a range no user-space address has, 256-byte aligned like CUDA's, never reused.
constexpr uintptr_t kBufferTokenBase = 0xBA70000000000000ull, kArrayTokenBase = 0xBA71000000000000ull;

std::mutex g_mapMutex;
std::multimap<uintptr_t, MapEntry>* g_buffers = nullptr;  // by device pointer (two mappings may share one)
std::multimap<uintptr_t, MapEntry>* g_arrays = nullptr;   // by handle
std::atomic<uint64_t> g_serial{1};

std::multimap<uintptr_t, MapEntry>& table(bool arrays) {
    auto*& t = arrays ? g_arrays : g_buffers;
    if (!t) t = new std::multimap<uintptr_t, MapEntry>;  // leaked on purpose: outlives static destructors
    return *t;
}

batonError_t resolveMemory(batonExternalMemory_t h, ExternalMemory** out) {
    return resolveObject(h, ObjectType::ExternalMemory, "external memory", out);
}

// Finds the live mapping named key (the newest when several share it), retaining its memory.
// With take, removes the entry (an orphan too, whose memory was destroyed: *mem stays NULL).
bool findMapping(bool arrays, uintptr_t key, bool take, ExternalMemory** mem, uint64_t* serial) {
    std::lock_guard lock(g_mapMutex);
    auto& t = table(arrays);
    auto range = t.equal_range(key);
    auto orphan = t.end();
    for (auto it = range.second; it != range.first;) {
        --it;
        Object* o = lookupHandle(it->second.mem, ObjectType::ExternalMemory);
        if (!o) {
            if (orphan == t.end()) orphan = it;
            continue;
        }
        *mem = static_cast<ExternalMemory*>(o);
        *serial = it->second.serial;
        if (take) t.erase(it);
        return true;
    }
    if (take && orphan != t.end()) {
        t.erase(orphan);
        *mem = nullptr;
        return true;
    }
    return false;
}

batonError_t freeMapping(bool arrays, uintptr_t key, const char* entry) {
    ExternalMemory* mem = nullptr;
    uint64_t serial = 0;
    if (!findMapping(arrays, key, true, &mem, &serial))
        return fail(arrays ? batonErrorInvalidResourceHandle : batonErrorInvalidValue,
                    "%s: %p is not a live mapping of external memory", entry, reinterpret_cast<void*>(key));
    if (mem) {  // else freed with its memory already (batonDestroyExternalMemory)
        mem->unmap(serial);
        mem->release();
    }
    return ok();
}

batonError_t importMemory(batonExternalMemory_t* out, const batonExternalMemoryHandleDesc* desc, uint32_t type) {
    if (!out || !desc) return fail(batonErrorInvalidValue, "batonImportExternalMemory: extMem_out and memHandleDesc must be non-NULL");
    batonError_t e = ExternalMemory::validate(*desc);
    if (e != batonSuccess) return e;
    Context* ctx = nullptr;
    if ((e = currentContext(&ctx)) != batonSuccess) return e;
    ScopedRef<Context> hold(ctx);
    ExternalMemory* m = nullptr;
    if ((e = ExternalMemory::importFd(ctx, *desc, type, &m)) != batonSuccess) return e;
    // From here the fd is baton's: a throw below releases m, which closes it.
    *out = publishHandle<batonExternalMemory_t>(ctx, m);
    return ok();
}

// Registers a new mapping under key; if that throws, the mapping is undone.
void remember(bool arrays, uintptr_t key, batonExternalMemory_t h, ExternalMemory* m, uint64_t serial) {
    try {
        std::lock_guard lock(g_mapMutex);
        table(arrays).insert({key, MapEntry{h, serial}});
    } catch (...) {
        m->unmap(serial);
        throw;
    }
}

}  // namespace

extern "C" {

BATON_API batonError_t batonImportExternalMemory(batonExternalMemory_t* extMem_out,
                                                 const batonExternalMemoryHandleDesc* memHandleDesc) {
    return guarded("batonImportExternalMemory",
                   [&] { return importMemory(extMem_out, memHandleDesc, ExternalMemory::kDefaultType); });
}

BATON_API batonError_t batonImportExternalMemoryWithType(batonExternalMemory_t* extMem_out,
                                                         const batonExternalMemoryHandleDesc* memHandleDesc,
                                                         uint32_t memoryTypeIndex) {
    return guarded("batonImportExternalMemoryWithType", [&] {
        if (memoryTypeIndex == ExternalMemory::kDefaultType)
            return fail(batonErrorInvalidValue, "batonImportExternalMemoryWithType: memoryTypeIndex %u", memoryTypeIndex);
        return importMemory(extMem_out, memHandleDesc, memoryTypeIndex);
    });
}

BATON_API batonError_t batonExternalMemoryGetMappedBuffer(void** devPtr, batonExternalMemory_t extMem,
                                                          const batonExternalMemoryBufferDesc* bufferDesc) {
    return guarded("batonExternalMemoryGetMappedBuffer", [&] {
        if (!devPtr || !bufferDesc)
            return fail(batonErrorInvalidValue, "batonExternalMemoryGetMappedBuffer: devPtr and bufferDesc must be non-NULL");
        ExternalMemory* m = nullptr;
        batonError_t e = resolveMemory(extMem, &m);
        if (e != batonSuccess) return e;
        ScopedRef<ExternalMemory> hold(m);
        const uint64_t serial = g_serial.fetch_add(1);
        void* ptr = nullptr;
        if ((e = m->mapBuffer(*bufferDesc, kBufferTokenBase + serial * 256, serial, &ptr)) != batonSuccess) return e;
        remember(false, reinterpret_cast<uintptr_t>(ptr), extMem, m, serial);
        *devPtr = ptr;
        return ok();
    });
}

BATON_API batonError_t batonExternalMemoryGetMappedMipmappedArray(batonMipmappedArray_t* mipmap,
                                                                  batonExternalMemory_t extMem,
                                                                  const batonExternalMemoryMipmappedArrayDesc* mipmapDesc) {
    return guarded("batonExternalMemoryGetMappedMipmappedArray", [&] {
        if (!mipmap || !mipmapDesc)
            return fail(batonErrorInvalidValue,
                        "batonExternalMemoryGetMappedMipmappedArray: mipmap and mipmapDesc must be non-NULL");
        ExternalMemory* m = nullptr;
        batonError_t e = resolveMemory(extMem, &m);
        if (e != batonSuccess) return e;
        ScopedRef<ExternalMemory> hold(m);
        const uint64_t serial = g_serial.fetch_add(1);
        if ((e = m->mapImage(*mipmapDesc, serial)) != batonSuccess) return e;
        const uintptr_t key = kArrayTokenBase + serial * 16;
        remember(true, key, extMem, m, serial);
        *mipmap = reinterpret_cast<batonMipmappedArray_t>(key);
        return ok();
    });
}

// Works on a lost context too: teardown always completes.
BATON_API batonError_t batonDestroyExternalMemory(batonExternalMemory_t extMem) {
    return guarded("batonDestroyExternalMemory", [&] {
        if (!extMem) return ok();
        Object* o = nullptr;
        batonError_t e = takeHandle(extMem, ObjectType::ExternalMemory, "external memory", &o);
        if (e != batonSuccess) return e;
        auto* m = static_cast<ExternalMemory*>(o);
        m->ctx->removeChild(m);
        m->release();  // frees the mappings still alive; their entries become orphans
        return ok();
    });
}

BATON_API batonError_t batonFree(void* devPtr) {
    return guarded("batonFree", [&] {
        if (!devPtr) return ok();
        return freeMapping(false, reinterpret_cast<uintptr_t>(devPtr), "batonFree");
    });
}

BATON_API batonError_t batonFreeMipmappedArray(batonMipmappedArray_t mipmap) {
    return guarded("batonFreeMipmappedArray", [&] {
        if (!mipmap) return ok();
        return freeMapping(true, reinterpret_cast<uintptr_t>(mipmap), "batonFreeMipmappedArray");
    });
}

BATON_API batonError_t batonMappedBufferGetInfo(const void* devPtr, batonMappedBufferInfo* info) {
    return guarded("batonMappedBufferGetInfo", [&] {
        if (!info) return fail(batonErrorInvalidValue, "batonMappedBufferGetInfo: info is NULL");
        ExternalMemory* m = nullptr;
        uint64_t serial = 0;
        if (!devPtr || !findMapping(false, reinterpret_cast<uintptr_t>(devPtr), false, &m, &serial))
            return fail(batonErrorInvalidValue, "batonMappedBufferGetInfo: %p is not a live mapped buffer", devPtr);
        const bool found = m->bufferInfo(serial, info);
        m->release();
        return found ? ok() : fail(batonErrorInvalidValue, "batonMappedBufferGetInfo: %p was freed", devPtr);
    });
}

BATON_API batonError_t batonMipmappedArrayGetInfo(batonMipmappedArray_t mipmap, batonMipmappedArrayInfo* info) {
    return guarded("batonMipmappedArrayGetInfo", [&] {
        if (!info) return fail(batonErrorInvalidValue, "batonMipmappedArrayGetInfo: info is NULL");
        ExternalMemory* m = nullptr;
        uint64_t serial = 0;
        if (!mipmap || !findMapping(true, reinterpret_cast<uintptr_t>(mipmap), false, &m, &serial))
            return fail(batonErrorInvalidResourceHandle, "batonMipmappedArrayGetInfo: not a live mipmapped array");
        const bool found = m->imageInfo(serial, info);
        m->release();
        return found ? ok() : fail(batonErrorInvalidResourceHandle, "batonMipmappedArrayGetInfo: it was freed");
    });
}

}  // extern "C"
