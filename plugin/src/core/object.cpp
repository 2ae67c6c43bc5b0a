#include "core/object.h"

#include <mutex>
#include <new>
#include <pthread.h>
#include <shared_mutex>
#include <unordered_map>

#include "core/error.h"

namespace baton {
namespace {

struct Entry {
    Object* obj;
    uint32_t forkGeneration;  // g_forkGeneration when it was registered
};

struct Registry {
    std::shared_mutex mutex;
    std::unordered_map<uint64_t, Entry> live;  // by handle id
    uint32_t contexts = 0;                     // live context handles (mutex)
};

// The id layout: sequence number << 4 | type. Type in the id lets a lookup refuse a handle
// of another type before the map is touched; the sequence never repeats.
constexpr unsigned kTypeBits = 4;
std::atomic<uint64_t> g_nextSequence{1};
// Incremented in every child right after fork(); entries of older generations are inherited.
std::atomic<uint32_t> g_forkGeneration{0};
std::atomic<bool> g_forkedFromBaton{false};

Registry* g_registry = nullptr;

void lockForFork() { g_registry->mutex.lock(); }  // no lookup is half-done across fork()
void unlockInParent() { g_registry->mutex.unlock(); }
// The child has one thread, whose id differs from the thread that locked: glibc's rwlock
// cannot be unlocked there (it takes the unlock for a reader's). A fresh one replaces it.
void unlockInChild() {
    if (g_registry->contexts) g_forkedFromBaton.store(true, std::memory_order_relaxed);
    g_forkGeneration.fetch_add(1, std::memory_order_relaxed);
    new (&g_registry->mutex) std::shared_mutex;
}

// Leaked on purpose: handles may be destroyed from atexit handlers and other static
// destructors, after a static registry would be gone.
Registry& registry() {
    static Registry* r = [] {
        g_registry = new Registry;
        pthread_atfork(lockForFork, unlockInParent, unlockInChild);
        return g_registry;
    }();
    return *r;
}

uint64_t idOf(const void* h) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h)); }
ObjectType typeOfId(uint64_t id) { return static_cast<ObjectType>(id & ((1u << kTypeBits) - 1)); }

// The entry of a live handle of type t, or an error (r.mutex held by the caller).
batonError_t find(Registry& r, const void* h, ObjectType t, const char* what, Object** out) {
    const uint64_t id = idOf(h);
    auto it = id && typeOfId(id) == t ? r.live.find(id) : r.live.end();
    if (it == r.live.end())
        return fail(batonErrorInvalidResourceHandle, "%p is not a live baton %s", h, what);
    if (it->second.forkGeneration != g_forkGeneration.load(std::memory_order_relaxed))
        return fail(batonErrorInitializationError,
                    "the baton %s %p was created before fork(): a forked child must exec before it uses baton", what, h);
    *out = it->second.obj;
    return batonSuccess;
}

}  // namespace

Object::Object(ObjectType t)
    : type_(t), id_(g_nextSequence.fetch_add(1, std::memory_order_relaxed) << kTypeBits | static_cast<uint64_t>(t)) {}

void registerHandle(Object* o) {
    Registry& r = registry();
    std::unique_lock lock(r.mutex);
    r.live[o->handleId()] = {o, g_forkGeneration.load(std::memory_order_relaxed)};
    if (o->type() == ObjectType::Context) ++r.contexts;
}

batonError_t takeHandle(const void* h, ObjectType t, const char* what, Object** out) {
    Registry& r = registry();
    std::unique_lock lock(r.mutex);
    batonError_t e = find(r, h, t, what, out);
    if (e != batonSuccess) return e;
    r.live.erase(idOf(h));
    if (t == ObjectType::Context) --r.contexts;
    return batonSuccess;
}

bool unregisterObject(Object* o) {
    Registry& r = registry();
    std::unique_lock lock(r.mutex);
    auto it = r.live.find(o->handleId());
    if (it == r.live.end()) return false;
    r.live.erase(it);
    if (o->type() == ObjectType::Context) --r.contexts;
    return true;
}

batonError_t findHandle(const void* h, ObjectType t, const char* what, Object** out) {
    Registry& r = registry();
    std::shared_lock lock(r.mutex);
    batonError_t e = find(r, h, t, what, out);
    if (e == batonSuccess) (*out)->retain();
    return e;
}

Object* lookupHandle(const void* h, ObjectType t) {
    Object* o = nullptr;
    return findHandle(h, t, "object", &o) == batonSuccess ? o : nullptr;
}

bool isLiveHandle(const void* h, ObjectType t) {
    Registry& r = registry();
    std::shared_lock lock(r.mutex);
    Object* o = nullptr;
    return find(r, h, t, "object", &o) == batonSuccess;
}

bool forkedFromBaton() {
    registry();  // the fork handlers are installed before the first context exists
    return g_forkedFromBaton.load(std::memory_order_relaxed);
}

batonError_t forkedError(const char* what) {
    return fail(batonErrorInitializationError,
                "%s: this process was forked from one that uses baton; a forked child must exec before it uses baton "
                "(its inherited contexts belong to the parent)",
                what);
}

}  // namespace baton
