/**
 * @file baton.hpp
 * @brief Header-only C++20 wrapper over the C API: move-only RAII handles and
 * exception-free results.
 *
 * Every call returns a baton::Result<T>: the value, or the batonError_t and the message of
 * batonGetLastErrorMessage() captured at the failure (copied, so it stays valid). Nothing
 * throws; nothing allocates on success. Handles destroy what they own when they go out of
 * scope, and can hand it back with release().
 *
 * @code
 * auto ctx = baton::Context::attach(attachInfo);        // or baton::Context::create()
 * if (!ctx) { log(ctx.error().message); return; }
 * ctx->makeCurrent();
 * auto exported = baton::ExternalSemaphore::exportTimeline(0);
 * auto stream = baton::Stream::create();
 * stream->signal(exported->semaphore, 1);
 * @endcode
 *
 * Thread safety and ownership are those of the C functions each member calls (baton.h).
 */
#ifndef BATON_BATON_HPP
#define BATON_BATON_HPP

#include <baton/baton.h>

#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include <unistd.h>

namespace baton {

/** A failed call: its code and the message baton gave for it. */
struct Error {
    batonError_t code = batonSuccess; /**< What failed. */
    std::string message;              /**< batonGetLastErrorMessage() at the failure. */

    /** Name of the code, e.g. "batonErrorInvalidValue". */
    const char* name() const noexcept { return batonGetErrorName(code); }

    /** Captures the calling thread's last error message for code. */
    static Error last(batonError_t code) { return Error{code, batonGetLastErrorMessage()}; }
};

/**
 * The value of a call, or its Error. Like std::expected (C++23): test it, then use
 * value()/operator* or error(). Using the value of a failed result is a programming error
 * (undefined behaviour, as for std::expected).
 */
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(true) {  // NOLINT: implicit by design
        ::new (&value_) T(std::move(value));
    }
    Result(Error error) : ok_(false), error_(std::move(error)) {}  // NOLINT: implicit by design
    Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_), error_(std::move(o.error_)) {
        if (ok_) ::new (&value_) T(std::move(o.value_));
    }
    Result& operator=(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (this != &o) {
            reset();
            ok_ = o.ok_;
            error_ = std::move(o.error_);
            if (ok_) ::new (&value_) T(std::move(o.value_));
        }
        return *this;
    }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    ~Result() { reset(); }

    bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    /** batonSuccess, or the failure's code. */
    batonError_t code() const noexcept { return ok_ ? batonSuccess : error_.code; }
    const Error& error() const noexcept { return error_; }

    T& value() & noexcept { return value_; }
    const T& value() const& noexcept { return value_; }
    T&& value() && noexcept { return std::move(value_); }
    T& operator*() & noexcept { return value_; }
    const T& operator*() const& noexcept { return value_; }
    T&& operator*() && noexcept { return std::move(value_); }
    T* operator->() noexcept { return &value_; }
    const T* operator->() const noexcept { return &value_; }
    /** The value, or fallback when the call failed. */
    T valueOr(T fallback) && { return ok_ ? std::move(value_) : std::move(fallback); }

private:
    void reset() noexcept {
        if (ok_) value_.~T();
        ok_ = false;
    }
    bool ok_;
    union {
        T value_;
    };
    Error error_;
};

/** A call with no value: success, or its Error. */
template <>
class [[nodiscard]] Result<void> {
public:
    Result() noexcept = default;
    Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
    bool ok() const noexcept { return error_.code == batonSuccess; }
    explicit operator bool() const noexcept { return ok(); }
    batonError_t code() const noexcept { return error_.code; }
    const Error& error() const noexcept { return error_; }

private:
    Error error_;
};

namespace detail {
/** Result<void> of a C call's return code. */
inline Result<void> check(batonError_t e) {
    if (e == batonSuccess) return {};
    return Error::last(e);
}

/** Move-only ownership of a C handle with a destroy function that accepts NULL. */
template <class H, batonError_t (*Destroy)(H)>
class Handle {
public:
    Handle() noexcept = default;
    explicit Handle(H h) noexcept : h_(h) {}
    Handle(Handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    /** The C handle, still owned by this object. */
    H get() const noexcept { return h_; }
    /** Gives up ownership: the caller destroys the C handle. */
    H release() noexcept { return std::exchange(h_, nullptr); }
    /** Destroys the handle now (errors are dropped: use the C destroy function to see them). */
    void reset() noexcept {
        if (h_) (void)Destroy(std::exchange(h_, nullptr));
    }
    explicit operator bool() const noexcept { return h_ != nullptr; }

protected:
    H h_ = nullptr;
};
}  // namespace detail

/** A file descriptor this object owns and closes (what batonExportExternalSemaphore returns). */
class Fd {
public:
    Fd() noexcept = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const noexcept { return fd_; }
    /** Gives up ownership (e.g. before passing the fd to an import, which takes it on success). */
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset() noexcept {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/** A context (batonContextCreate / batonContextAttach); destroyed with batonContextDestroy. */
class Context : public detail::Handle<batonContext_t, &batonContextDestroy> {
public:
    using Handle::Handle;

    /** A standalone context (info may be NULL: defaults). */
    static Result<Context> create(const batonContextCreateInfo* info = nullptr) {
        batonContext_t c = nullptr;
        if (batonError_t e = batonContextCreate(&c, info)) return Error::last(e);
        return Context(c);
    }
    /** A context on the host's device; the error message names what the device lacks. */
    static Result<Context> attach(const batonContextAttachInfo& info) {
        batonContext_t c = nullptr;
        if (batonError_t e = batonContextAttach(&c, &info)) return Error::last(e);
        return Context(c);
    }
    /** Makes this context current on the calling thread (streams, events and semaphores are created in it). */
    Result<void> makeCurrent() const { return detail::check(batonCtxSetCurrent(h_)); }
    Result<batonContextInfo> info() const {
        batonContextInfo i{};
        if (batonError_t e = batonContextGetInfo(h_, &i)) return Error::last(e);
        return i;
    }
    /** Takes the context's lock on queue for the host's own submission (standalone contexts). */
    Result<void> lockQueue(VkQueue queue) const { return detail::check(batonContextLockQueue(h_, queue)); }
    Result<void> unlockQueue(VkQueue queue) const { return detail::check(batonContextUnlockQueue(h_, queue)); }
};

/** An external semaphore (imported or exported); destroyed with batonDestroyExternalSemaphore. */
class ExternalSemaphore : public detail::Handle<batonExternalSemaphore_t, &batonDestroyExternalSemaphore> {
public:
    using Handle::Handle;

    /** What batonExportExternalSemaphore gives: the semaphore and an fd for the other side. */
    struct Exported;

    /** A new shareable semaphore in the current context. */
    static inline Result<Exported> exportNew(const batonExternalSemaphoreExportDesc& desc);
    /** A new shareable timeline semaphore starting at initialValue. */
    static inline Result<Exported> exportTimeline(unsigned long long initialValue, unsigned flags = 0);

    /**
     * Imports fd as type. On success the semaphore owns the fd (fd is released); on failure
     * fd still owns it, as batonImportExternalSemaphore leaves the caller's fd open.
     */
    static Result<ExternalSemaphore> importFd(batonExternalSemaphoreHandleType type, Fd& fd) {
        batonExternalSemaphoreHandleDesc d{};
        d.type = type;
        d.handle.fd = fd.get();
        batonExternalSemaphore_t s = nullptr;
        if (batonError_t e = batonImportExternalSemaphore(&s, &d)) return Error::last(e);
        (void)fd.release();
        return ExternalSemaphore(s);
    }

    Result<batonExternalSemaphoreInfo> info() const {
        batonExternalSemaphoreInfo i{};
        if (batonError_t e = batonExternalSemaphoreGetInfo(h_, &i)) return Error::last(e);
        return i;
    }
    /** Waits on the host until the timeline reaches value (batonErrorTimeout after timeoutNs). */
    Result<void> hostWait(unsigned long long value, uint64_t timeoutNs = UINT64_MAX) const {
        return detail::check(batonExternalSemaphoreHostWait(h_, value, timeoutNs));
    }
    /** For the renderer's vkQueueSubmit2: wait until value (batonErrorNotReady: try later on a shared queue). */
    Result<VkSemaphoreSubmitInfo> waitSubmitInfo(unsigned long long value, VkPipelineStageFlags2 stages) const {
        VkSemaphoreSubmitInfo i{};
        if (batonError_t e = batonGetWaitSubmitInfo(h_, value, stages, &i)) return Error::last(e);
        return i;
    }
    /** For the renderer's vkQueueSubmit2: signal value. */
    Result<VkSemaphoreSubmitInfo> signalSubmitInfo(unsigned long long value, VkPipelineStageFlags2 stages) const {
        VkSemaphoreSubmitInfo i{};
        if (batonError_t e = batonGetSignalSubmitInfo(h_, value, stages, &i)) return Error::last(e);
        return i;
    }
};

struct ExternalSemaphore::Exported {
    ExternalSemaphore semaphore; /**< Usable in this process. */
    Fd fd;                       /**< For another process or API to import. */
};

inline Result<ExternalSemaphore::Exported> ExternalSemaphore::exportNew(const batonExternalSemaphoreExportDesc& desc) {
    int fd = -1;
    batonExternalSemaphore_t s = nullptr;
    if (batonError_t e = batonExportExternalSemaphore(&fd, &s, &desc)) return Error::last(e);
    return Exported{ExternalSemaphore(s), Fd(fd)};
}

inline Result<ExternalSemaphore::Exported> ExternalSemaphore::exportTimeline(unsigned long long initialValue,
                                                                             unsigned flags) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    d.initialValue = initialValue;
    d.flags = flags;
    return exportNew(d);
}

class Event;

/**
 * A stream (batonStreamCreate, in the calling thread's current context); destroyed with
 * batonStreamDestroy. A default-constructed Stream is the NULL stream: calls on it go to the
 * current context's default stream, and destroying it does nothing.
 */
class Stream : public detail::Handle<batonStream_t, &batonStreamDestroy> {
public:
    using Handle::Handle;

    static Result<Stream> create() {
        batonStream_t s = nullptr;
        if (batonError_t e = batonStreamCreate(&s)) return Error::last(e);
        return Stream(s);
    }

    Result<void> synchronize() const { return detail::check(batonStreamSynchronize(h_)); }
    /** true once all enqueued work completed, false while some is pending. */
    Result<bool> query() const {
        batonError_t e = batonStreamQuery(h_);
        if (e == batonSuccess) return true;
        if (e == batonErrorNotReady) return false;
        return Error::last(e);
    }

    /** Signals a timeline (or binary: value ignored) semaphore in stream order. */
    Result<void> signal(const ExternalSemaphore& sem, unsigned long long value) const {
        batonExternalSemaphoreSignalParams p{};
        p.params.fence.value = value;
        batonExternalSemaphore_t s = sem.get();
        return detail::check(batonSignalExternalSemaphoresAsync(&s, &p, 1, h_));
    }
    /** Waits in stream order until a timeline semaphore reaches value (binary: is signaled). */
    Result<void> wait(const ExternalSemaphore& sem, unsigned long long value) const {
        batonExternalSemaphoreWaitParams p{};
        p.params.fence.value = value;
        batonExternalSemaphore_t s = sem.get();
        return detail::check(batonWaitExternalSemaphoresAsync(&s, &p, 1, h_));
    }
    /** Releases a keyed mutex with key. */
    Result<void> releaseKey(const ExternalSemaphore& sem, unsigned long long key) const {
        batonExternalSemaphoreSignalParams p{};
        p.params.keyedMutex.key = key;
        batonExternalSemaphore_t s = sem.get();
        return detail::check(batonSignalExternalSemaphoresAsync(&s, &p, 1, h_));
    }
    /** Acquires a keyed mutex released with key, within timeoutMs (BATON_INFINITE: forever). */
    Result<void> acquireKey(const ExternalSemaphore& sem, unsigned long long key, unsigned timeoutMs) const {
        batonExternalSemaphoreWaitParams p{};
        p.params.keyedMutex.key = key;
        p.params.keyedMutex.timeoutMs = timeoutMs;
        batonExternalSemaphore_t s = sem.get();
        return detail::check(batonWaitExternalSemaphoresAsync(&s, &p, 1, h_));
    }

    /**
     * Records GPU work: calls record(VkCommandBuffer) right away, on this thread (so it may
     * capture by reference), then submits the buffer in stream order.
     */
    template <class F>
    Result<void> record(F&& record) const {
        auto trampoline = [](VkCommandBuffer cmd, void* user) { (*static_cast<std::remove_reference_t<F>*>(user))(cmd); };
        return detail::check(batonStreamRecord(h_, trampoline, const_cast<void*>(static_cast<const void*>(&record))));
    }
    /** Enqueues fn(userData) on a baton thread after prior work (asynchronous: userData must outlive it). */
    Result<void> launchHostFunc(batonHostFn_t fn, void* userData) const {
        return detail::check(batonLaunchHostFunc(h_, fn, userData));
    }
    inline Result<void> waitEvent(const Event& event) const;
};

/** An event (batonEventCreate); destroyed with batonEventDestroy. */
class Event : public detail::Handle<batonEvent_t, &batonEventDestroy> {
public:
    using Handle::Handle;

    static Result<Event> create() {
        batonEvent_t e = nullptr;
        if (batonError_t r = batonEventCreate(&e)) return Error::last(r);
        return Event(e);
    }
    Result<void> record(const Stream& stream) const { return detail::check(batonEventRecord(h_, stream.get())); }
    /** true once the work before the event completed. */
    Result<bool> query() const {
        batonError_t e = batonEventQuery(h_);
        if (e == batonSuccess) return true;
        if (e == batonErrorNotReady) return false;
        return Error::last(e);
    }
    Result<void> synchronize() const { return detail::check(batonEventSynchronize(h_)); }
    /** GPU time from start to end in milliseconds. */
    static Result<float> elapsedMs(const Event& start, const Event& end) {
        float ms = 0;
        if (batonError_t e = batonEventElapsedTime(&ms, start.get(), end.get())) return Error::last(e);
        return ms;
    }
};

inline Result<void> Stream::waitEvent(const Event& event) const {
    return detail::check(batonStreamWaitEvent(h_, event.get(), 0));
}

/** The library's version (compare with BATON_VERSION). */
inline Result<int> version() {
    int v = 0;
    if (batonError_t e = batonGetVersion(&v)) return Error::last(e);
    return v;
}

/** Waits for every stream of the current context. */
inline Result<void> deviceSynchronize() { return detail::check(batonDeviceSynchronize()); }

}  // namespace baton

#endif /* BATON_BATON_HPP */
