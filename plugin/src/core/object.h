// Reference-counted base of every handle, and the registry of live handles. Handles given
// to users are raw pointers; the registry lets every entry point refuse a destroyed or
// made-up handle with batonErrorInvalidResourceHandle instead of dereferencing it.
#pragma once

#include <atomic>
#include <cstdint>

namespace baton {

enum class ObjectType : uint32_t { Context = 1, Stream, Event, Semaphore, Channel, Memory };

class Object {
public:
    explicit Object(ObjectType t) : type_(t) {}
    virtual ~Object() = default;
    Object(const Object&) = delete;
    Object& operator=(const Object&) = delete;

    ObjectType type() const { return type_; }
    void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
    // Drops a reference; the last one deletes the object (deferred release: in-flight work
    // holds references, so a destroyed handle lives until its last use completed).
    void release() {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

private:
    std::atomic<int> refs_{1};
    ObjectType type_;
};

// Registry of handles the user may pass. Process-wide, but holds no Vulkan state.
void registerHandle(Object* o);
// Removes a handle of type t; later lookups of it fail. Returns false if p was not a live
// handle of that type.
bool unregisterHandle(const void* p, ObjectType t);
// Returns the object retained (caller releases) if p is a live handle of type t, else nullptr.
Object* lookupHandle(const void* p, ObjectType t);
// Same, without taking a reference: only for calls that cannot race with the handle's destroy
// by contract (the user's own race).
bool isLiveHandle(const void* p, ObjectType t);

}  // namespace baton
