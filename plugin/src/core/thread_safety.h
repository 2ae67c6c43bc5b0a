// Clang's thread-safety analysis (-Wthread-safety): which mutex guards which state, checked at
// compile time in clang builds (the fuzz build in scripts/test.sh is one, with the warnings as
// errors); the macros are empty for GCC. libstdc++'s std::mutex carries no annotations, so
// guarded state uses baton::Mutex and baton::MutexLock, which do; a condition variable waits on
// the std::mutex inside (native(), through std::unique_lock), under MutexLock's scope.
#pragma once

#include <chrono>
#include <mutex>

#if defined(__clang__)
#define BATON_TSA(x) __attribute__((x))
#else
#define BATON_TSA(x)
#endif

#define BATON_CAPABILITY(name) BATON_TSA(capability(name))
#define BATON_SCOPED_CAPABILITY BATON_TSA(scoped_lockable)
#define BATON_GUARDED_BY(m) BATON_TSA(guarded_by(m))
#define BATON_PT_GUARDED_BY(m) BATON_TSA(pt_guarded_by(m))
#define BATON_REQUIRES(...) BATON_TSA(requires_capability(__VA_ARGS__))
#define BATON_EXCLUDES(...) BATON_TSA(locks_excluded(__VA_ARGS__))
#define BATON_ACQUIRE(...) BATON_TSA(acquire_capability(__VA_ARGS__))
#define BATON_RELEASE(...) BATON_TSA(release_capability(__VA_ARGS__))
#define BATON_ASSERT_CAPABILITY(x) BATON_TSA(assert_capability(x))
#define BATON_NO_THREAD_SAFETY_ANALYSIS BATON_TSA(no_thread_safety_analysis)

namespace baton {

class BATON_CAPABILITY("mutex") Mutex {
public:
    void lock() BATON_ACQUIRE() { m_.lock(); }
    void unlock() BATON_RELEASE() { m_.unlock(); }
    // For std::condition_variable waits: the caller holds this Mutex (a MutexLock) and waits
    // through a std::unique_lock adopting native(); the analysis cannot see inside the wait.
    std::mutex& native() { return m_; }
    // Tells the analysis the caller holds it, where it cannot see that (the same mutex reached
    // through another path, e.g. a parameter's member and an object's own member). No check.
    void assertHeld() const BATON_ASSERT_CAPABILITY(this) {}

private:
    std::mutex m_;
};

// std::lock_guard for a Mutex, visible to the analysis.
class BATON_SCOPED_CAPABILITY MutexLock {
public:
    explicit MutexLock(Mutex& m) BATON_ACQUIRE(m) : m_(m) { m_.lock(); }
    ~MutexLock() BATON_RELEASE() { m_.unlock(); }
    MutexLock(const MutexLock&) = delete;
    MutexLock& operator=(const MutexLock&) = delete;

private:
    Mutex& m_;
};

// A MutexLock that can be let go and taken again within its scope (std::unique_lock's use).
class BATON_SCOPED_CAPABILITY UniqueMutexLock {
public:
    explicit UniqueMutexLock(Mutex& m) BATON_ACQUIRE(m) : m_(m) { m_.lock(); }
    ~UniqueMutexLock() BATON_RELEASE() {
        if (held_) m_.unlock();
    }
    void lock() BATON_ACQUIRE() {
        m_.lock();
        held_ = true;
    }
    void unlock() BATON_RELEASE() {
        m_.unlock();
        held_ = false;
    }
    UniqueMutexLock(const UniqueMutexLock&) = delete;
    UniqueMutexLock& operator=(const UniqueMutexLock&) = delete;

private:
    Mutex& m_;
    bool held_ = true;
};

// Waits for one wake-up of cv (or a spurious one) under m, held: for a loop that tests its
// condition itself, where the analysis sees the guarded state read with the lock held.
template <typename Cv>
void waitHeldOnce(Cv& cv, Mutex& m) BATON_REQUIRES(m) {
    std::unique_lock<std::mutex> lk(m.native(), std::adopt_lock);
    cv.wait(lk);
    lk.release();
}

// Waits on cv under a MutexLock already held on m (the lock stays held on return).
template <typename Cv, typename Pred>
void waitHeld(Cv& cv, Mutex& m, Pred pred) BATON_REQUIRES(m) {
    std::unique_lock<std::mutex> lk(m.native(), std::adopt_lock);
    cv.wait(lk, pred);
    lk.release();
}

// Waits on cv for at most d under a MutexLock already held on m (held again on return).
template <typename Cv, typename Duration>
void waitHeldFor(Cv& cv, Mutex& m, Duration d) BATON_REQUIRES(m) {
    std::unique_lock<std::mutex> lk(m.native(), std::adopt_lock);
    cv.wait_for(lk, d);
    lk.release();
}

}  // namespace baton
