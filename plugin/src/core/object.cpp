#include "core/object.h"

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace baton {
namespace {

struct Registry {
    std::shared_mutex mutex;
    std::unordered_map<const void*, Object*> live;
};

// Leaked on purpose: handles may be destroyed from atexit handlers and other static
// destructors, after a static registry would be gone.
Registry& registry() {
    static Registry* r = new Registry;
    return *r;
}

}  // namespace

void registerHandle(Object* o) {
    Registry& r = registry();
    std::unique_lock lock(r.mutex);
    r.live[o] = o;
}

bool unregisterHandle(const void* p, ObjectType t) {
    Registry& r = registry();
    std::unique_lock lock(r.mutex);
    auto it = r.live.find(p);
    if (it == r.live.end() || it->second->type() != t) return false;
    r.live.erase(it);
    return true;
}

Object* lookupHandle(const void* p, ObjectType t) {
    if (!p) return nullptr;
    Registry& r = registry();
    std::shared_lock lock(r.mutex);
    auto it = r.live.find(p);
    if (it == r.live.end() || it->second->type() != t) return nullptr;
    it->second->retain();
    return it->second;
}

bool isLiveHandle(const void* p, ObjectType t) {
    if (!p) return false;
    Registry& r = registry();
    std::shared_lock lock(r.mutex);
    auto it = r.live.find(p);
    return it != r.live.end() && it->second->type() == t;
}

}  // namespace baton
