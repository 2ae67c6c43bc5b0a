// Reference-counted base of every handle, and the registry of live handles.
//
// Handles given to users are opaque pointers that encode a 64-bit id, never an object's
// address: ids are handed out once per process and never again (a 60-bit counter does not
// wrap), so a destroyed handle is refused for ever, even when the allocator puts a new
// object where the destroyed one lived (defect 15). The registry maps ids to live objects;
// every entry point resolves its handle arguments through it.
//
// fork() without exec (defect 17): objects made before a fork() belong to the parent. In
// the child, the registry refuses them with batonErrorInitializationError (their threads,
// queues and driver state do not exist there, and on NVIDIA using them breaks the parent's
// context), and refuses new contexts if the parent had any.
#pragma once

#include <atomic>
#include <cstdint>

#include <baton/baton.h>

namespace baton {

enum class ObjectType : uint32_t { Context = 1, Stream, Event, Semaphore, Channel, Memory, ExternalMemory };

class Object {
public:
    explicit Object(ObjectType t);
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

    // The id users see (as the handle, and as batonTelemetryRecord::object).
    uint64_t handleId() const { return id_; }
    template <class Handle>
    Handle handle() const {
        return reinterpret_cast<Handle>(static_cast<uintptr_t>(id_));
    }

private:
    std::atomic<int> refs_{1};
    ObjectType type_;
    uint64_t id_;
};

// Holds one reference for a scope, so that a throw (std::bad_alloc, caught by guarded())
// between resolving a handle and the end of the call leaks nothing.
template <class T>
class ScopedRef {
public:
    explicit ScopedRef(T* p) : p_(p) {}
    ~ScopedRef() {
        if (p_) p_->release();
    }
    ScopedRef(const ScopedRef&) = delete;
    ScopedRef& operator=(const ScopedRef&) = delete;
    T* get() const { return p_; }
    T* operator->() const { return p_; }

private:
    T* p_;
};

// Makes o's handle live (the registry does not hold a reference of its own).
void registerHandle(Object* o);
// Ends a handle: on success *out is the object (still holding the reference the handle
// stood for, which the caller releases after teardown). Errors (with a message naming
// `what`, a noun: "stream"): batonErrorInvalidResourceHandle for a handle that is not a live one of type t,
// batonErrorInitializationError for one inherited through fork().
batonError_t takeHandle(const void* h, ObjectType t, const char* what, Object** out);
// Ends the handle of an object baton holds (context teardown, channel semaphores); false if
// it had ended already.
bool unregisterObject(Object* o);
// Resolves a handle, retained (caller releases); errors as takeHandle. NULL is refused.
batonError_t findHandle(const void* h, ObjectType t, const char* what, Object** out);
// Same, nullptr for anything that is not a live handle of type t made in this process.
Object* lookupHandle(const void* h, ObjectType t);
// Same, without taking a reference: only for calls that cannot race with the handle's destroy
// by contract (the user's own race).
bool isLiveHandle(const void* h, ObjectType t);

// Whether this process is a child forked (without exec) from a process that had baton
// contexts; then nothing that touches a device may run (forkedError says so).
bool forkedFromBaton();
batonError_t forkedError(const char* what);

}  // namespace baton
