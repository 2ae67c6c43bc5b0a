// A reference to a reference-counted Object (core/object.h), released when the Ref goes away:
// the shape of Granite's IntrusivePtr. The count lives in the object, so a Ref is one pointer
// and making one never allocates. Ref::adopt takes over a reference someone already took
// (lookupHandle, resolveStream, create); Ref::share takes a new one.
#pragma once

#include <utility>

namespace baton {

template <class T>
class Ref {
public:
    Ref() = default;
    ~Ref() { reset(); }
    Ref(const Ref& o) : p_(o.p_) {
        if (p_) p_->retain();
    }
    Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Ref& operator=(Ref o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }

    static Ref adopt(T* p) {
        Ref r;
        r.p_ = p;
        return r;
    }
    static Ref share(T* p) {
        if (p) p->retain();
        return adopt(p);
    }

    T* get() const { return p_; }
    T* operator->() const { return p_; }
    T& operator*() const { return *p_; }
    explicit operator bool() const { return p_ != nullptr; }
    // Gives the reference to the caller (who releases it, or hands it on).
    T* detach() { return std::exchange(p_, nullptr); }
    void reset() {
        if (T* p = std::exchange(p_, nullptr)) p->release();
    }

private:
    T* p_ = nullptr;
};

}  // namespace baton
