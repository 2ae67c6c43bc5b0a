// A vector that keeps its first N elements inline: no allocation for the common small case,
// a heap array beyond it. For the per-call arrays of the C entry points (one element per
// semaphore of a call). The size is fixed at construction. Elements are default-initialized
// (a plain struct without member initializers is NOT zeroed inline: assign it before use),
// so that a call does not pay for clearing 16 elements it may not use.
#pragma once

#include <cstddef>
#include <memory>

namespace baton {

template <class T, size_t N>
class SmallVector {
public:
    // May throw std::bad_alloc beyond N (entry points are guarded, core/entry.h).
    explicit SmallVector(size_t n) : size_(n) {
        if (n > N) {
            heap_.reset(new T[n]());
            data_ = heap_.get();
        }
    }
    SmallVector(const SmallVector&) = delete;
    SmallVector& operator=(const SmallVector&) = delete;

    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }
    T* data() { return data_; }
    size_t size() const { return size_; }
    T* begin() { return data_; }
    T* end() { return data_ + size_; }

private:
    T inline_[N];
    std::unique_ptr<T[]> heap_;
    T* data_ = inline_;
    size_t size_;
};

}  // namespace baton
