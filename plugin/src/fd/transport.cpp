// Handle transport (baton_transport.h): one message = a fixed-size header with one fd in an
// SCM_RIGHTS control message. This file is the socket side; what a message is and the checks
// it must pass (kind, backend, device and driver) before its fd gets anywhere near the driver
// are pure functions in handle_message.h. Every received fd is closed on every refusal.
#include <baton/baton_transport.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/c_enum.h"
#include "core/entry.h"
#include "core/error.h"
#include "exec/context.h"
#include "fd/fd_check.h"
#include "fd/fd_message.h"
#include "fd/handle_message.h"
#include "frames/memory.h"
#include "sync/semaphore.h"

using namespace baton;

namespace {

// Remaining milliseconds to a deadline for poll (-1: none).
int remainingMs(uint64_t deadlineNs) {
    if (!deadlineNs) return -1;
    uint64_t now = monotonicNs();
    return now >= deadlineNs ? 0 : static_cast<int>((deadlineNs - now + 999999) / 1000000);
}

batonError_t waitSocket(int sock, short events, uint64_t deadlineNs) {
    for (;;) {
        pollfd p{sock, events, 0};
        int n = poll(&p, 1, remainingMs(deadlineNs));
        if (n > 0) return batonSuccess;  // readable, writable, or an error/hangup the call will report
        if (n == 0) return fail(batonErrorTimeout, "no message on socket %d within the timeout", sock);
        if (errno != EINTR) return fail(batonErrorOperatingSystem, "poll on socket %d failed: %s", sock, strerror(errno));
    }
}

batonError_t sendWire(int sock, const batonHandleHeader& h, int fd) {
    WireMessage w{kWireMagic, kWireVersion, static_cast<uint16_t>(sizeof(batonHandleHeader)), h};
    FdMessage fm(&w, sizeof w, fd);
    msghdr& m = fm.msg;
    size_t sent = 0;
    while (sent < sizeof w) {
        ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                batonError_t e = waitSocket(sock, POLLOUT, 0);
                if (e != batonSuccess) return e;
                continue;
            }
            return fail(batonErrorOperatingSystem, "sendmsg on socket %d failed: %s", sock, strerror(errno));
        }
        // A stream socket may take part of it: the fd went with the first byte, send the rest.
        sent += static_cast<size_t>(n);
        fm.iov.iov_base = reinterpret_cast<char*>(&w) + sent;
        fm.iov.iov_len = sizeof w - sent;
        m.msg_control = nullptr;
        m.msg_controllen = 0;
    }
    return batonSuccess;
}

bool isStreamSocket(int sock) {
    int type = 0;
    socklen_t len = sizeof type;
    return getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

// The fds of every SCM_RIGHTS control message in m, appended to fds; those beyond
// kMaxMessageFds are closed at once and reported as MSG_CTRUNC.
int takeFds(msghdr& m, int* fds, int* count) {
    int flags = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
        const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*count < kMaxMessageFds) {
                fds[(*count)++] = fd;
            } else {
                close(fd);
                flags |= MSG_CTRUNC;
            }
        }
    }
    return flags;
}

// Reads the bytes of one message and every fd that came with them. A stream socket may
// deliver a message in parts: read exactly its size, so that the next message (and its fd)
// stays in the socket. On failure every fd received has been closed.
batonError_t readMessage(int sock, uint64_t deadline, WireMessage* w, int* fds, int* fdCount, size_t* got, int* flags) {
    const bool stream = isStreamSocket(sock);
    for (;;) {
        batonError_t e = waitSocket(sock, POLLIN, deadline);
        if (e != batonSuccess) {
            closeFds(fds, *fdCount);
            return e;
        }
        alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * kMaxMessageFds)] = {};
        iovec iov{reinterpret_cast<char*>(w) + *got, sizeof *w - *got};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctrl;
        m.msg_controllen = sizeof ctrl;
        ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        if (n < 0) {
            const int err = errno;
            closeFds(fds, *fdCount);
            return fail(batonErrorOperatingSystem, "recvmsg on socket %d failed: %s", sock, strerror(err));
        }
        *flags |= m.msg_flags | takeFds(m, fds, fdCount);
        if (n == 0 && (stream || *fdCount == 0)) {  // end of stream (or an empty datagram: alike)
            closeFds(fds, *fdCount);
            return fail(batonErrorOperatingSystem, *got ? "socket %d ended in the middle of a message"
                                                        : "the peer closed socket %d", sock);
        }
        if (n == 0) break;  // an empty message with fds (datagram sockets): refused by the parser
        *got += static_cast<size_t>(n);
        if (!stream || *got == sizeof *w) break;
    }
    return batonSuccess;
}

// Receives and parses one message (handle_message.h). On success *fdOut is its one fd (the
// caller's); on any failure every fd received has been closed.
batonError_t receiveWire(int sock, int timeoutMs, batonHandleHeader* header, int* fdOut) {
    *fdOut = -1;
    const uint64_t deadline = timeoutMs < 0 ? 0 : monotonicNs() + static_cast<uint64_t>(timeoutMs) * 1000000ull + 1;
    WireMessage w{};
    int fds[kMaxMessageFds];
    int fdCount = 0, flags = 0;
    size_t got = 0;
    batonError_t e = readMessage(sock, deadline, &w, fds, &fdCount, &got, &flags);
    if (e != batonSuccess) return e;
    return parseHandleMessage(ReceivedMessage{&w, got, fds, fdCount, flags}, header, fdOut);
}

DeviceIdentity identityOf(const Context& ctx) { return DeviceIdentity{ctx.deviceUUID, ctx.driverUUID}; }

void fillIdentity(batonHandleHeader* h, const Context& ctx) {
    std::memcpy(h->deviceUUID, ctx.deviceUUID, VK_UUID_SIZE);
    std::memcpy(h->driverUUID, ctx.driverUUID, VK_UUID_SIZE);
}

bool kindForType(int t, int* k) {
    switch (t) {
        case batonExternalSemaphoreHandleTypeOpaqueFd: *k = batonHandleKindBinarySemaphore; return true;
        case batonExternalSemaphoreHandleTypeTimelineSemaphoreFd: *k = batonHandleKindTimelineSemaphore; return true;
        case batonExternalSemaphoreHandleTypeKeyedMutex: *k = batonHandleKindKeyedMutex; return true;
        default: return false;
    }
}

// Checks a received semaphore message against the current context and imports its fd.
// The fd is baton's: imported on success, closed on any refusal or failure.
batonError_t importSemaphoreMessage(const batonHandleHeader& h, int expectedType, int expectedKind, int fd,
                                    batonExternalSemaphore_t* out) {
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e == batonSuccess) {
        e = checkSemaphoreHeader(h, expectedKind, classifyFd(fd), identityOf(*ctx));
        ctx->release();
    }
    if (e == batonSuccess) {
        batonExternalSemaphoreHandleDesc d{};
        d.type = static_cast<batonExternalSemaphoreHandleType>(expectedType);
        d.handle.fd = fd;
        e = batonImportExternalSemaphore(out, &d);
    }
    if (e != batonSuccess) close(fd);  // received fds are baton's: a refused one is closed, never leaked
    return e;
}

// The same for memory. Note: the fd is closed here whenever batonImportMemory fails, which
// is right only while a failed import leaves the fd untouched (issue 10, defect 3).
batonError_t importMemoryMessage(const batonHandleHeader& h, int fd, batonMemory_t* out) {
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e == batonSuccess) {
        e = checkMemoryHeader(h, identityOf(*ctx));
        ctx->release();
    }
    if (e == batonSuccess) {
        batonMemoryImportDesc d{};
        d.desc = h.memory;
        d.fd = fd;
        d.allocationSize = h.allocationSize;
        d.memoryTypeIndex = h.memoryTypeIndex;
        d.dedicated = h.dedicated;
        e = batonImportMemory(out, &d);
    }
    if (e != batonSuccess) close(fd);
    return e;
}

}  // namespace

extern "C" {

BATON_API batonError_t batonSendHandle(int socket, const batonHandleHeader* header, int fd) {
    return guarded("batonSendHandle", [&] {
        if (!header) return fail(batonErrorInvalidValue, "batonSendHandle: header is NULL");
        for (unsigned r : header->reserved)
            if (r) return fail(batonErrorInvalidValue, "batonHandleHeader::reserved must be zero");
        if (classifyFd(fd) == FdClass::Closed) return fail(batonErrorInvalidValue, "fd %d is not an open file descriptor", fd);
        batonError_t e = sendWire(socket, *header, fd);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonReceiveHandle(int socket, int timeoutMs, batonHandleHeader* header, int* fdOut) {
    return guarded("batonReceiveHandle", [&] {
        if (!header || !fdOut) return fail(batonErrorInvalidValue, "batonReceiveHandle: header and fdOut must be non-NULL");
        batonError_t e = receiveWire(socket, timeoutMs, header, fdOut);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonSendExternalSemaphore(int socket, batonExternalSemaphore_t extSem, unsigned long long tag) {
    return guarded("batonSendExternalSemaphore", [&]() -> batonError_t {
    Semaphore* s = nullptr;  // refuses dead, fork()-inherited and lost-context handles
    if (batonError_t le = resolveObject(extSem, ObjectType::Semaphore, "semaphore", &s); le != batonSuccess) return le;
    ScopedRef<Semaphore> hold(s);
    batonHandleHeader h{};
    h.kind = s->has(kSemKeyedMutex) ? batonHandleKindKeyedMutex
             : s->has(kSemTimeline)  ? batonHandleKindTimelineSemaphore
                                     : batonHandleKindBinarySemaphore;
    h.backend = s->publicBackend();
    fillIdentity(&h, *s->ctx);
    h.value = s->has(kSemTimeline) || s->has(kSemKeyedMutex) ? s->currentValue() : 0;
    h.tag = tag;
    int fd = -1;
    bool owned = false;
    batonError_t e = s->shareableFd(&fd, &owned);
    if (e == batonSuccess) {
        e = sendWire(socket, h, fd);  // the kernel passes a duplicate
        if (owned) close(fd);
    }
    return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonReceiveExternalSemaphore(int socket, batonExternalSemaphoreHandleType expectedType,
                                                     int timeoutMs, batonExternalSemaphore_t* extSemOut,
                                                     batonHandleHeader* header) {
    return guarded("batonReceiveExternalSemaphore", [&] {
        if (!extSemOut) return fail(batonErrorInvalidValue, "batonReceiveExternalSemaphore: extSemOut is NULL");
        const int type = rawEnum(expectedType);
        int expected = 0;
        if (!kindForType(type, &expected))
            return fail(batonErrorInvalidValue,
                        "expectedType must be OpaqueFd, TimelineSemaphoreFd or KeyedMutex (got %d)", type);
        batonHandleHeader h{};
        int fd = -1;
        batonError_t e = receiveWire(socket, timeoutMs, &h, &fd);
        if (e != batonSuccess) return e;
        if (header) *header = h;
        e = importSemaphoreMessage(h, type, expected, fd, extSemOut);
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonSendMemory(int socket, batonMemory_t mem, unsigned long long tag) {
    return guarded("batonSendMemory", [&] {
        Memory* m = static_cast<Memory*>(lookupHandle(mem, ObjectType::Memory));
        if (!m) return fail(batonErrorInvalidResourceHandle, "%p is not a live baton memory", static_cast<void*>(mem));
        batonHandleHeader h{};
        h.kind = batonHandleKindMemory;
        h.backend = batonSemaphoreBackendNative;
        fillIdentity(&h, *m->ctx);
        h.memory = m->desc;
        h.allocationSize = m->allocationSize;
        h.memoryTypeIndex = m->memoryTypeIndex;
        h.dedicated = m->dedicated;
        h.tag = tag;
        int fd = -1;
        batonError_t e = m->exportFd(&fd);
        if (e == batonSuccess) {
            e = sendWire(socket, h, fd);
            close(fd);
        }
        m->release();
        return e == batonSuccess ? ok() : e;
    });
}

BATON_API batonError_t batonReceiveMemory(int socket, int timeoutMs, batonMemory_t* memOut, batonHandleHeader* header) {
    return guarded("batonReceiveMemory", [&] {
        if (!memOut) return fail(batonErrorInvalidValue, "batonReceiveMemory: memOut is NULL");
        batonHandleHeader h{};
        int fd = -1;
        batonError_t e = receiveWire(socket, timeoutMs, &h, &fd);
        if (e != batonSuccess) return e;
        if (header) *header = h;
        e = importMemoryMessage(h, fd, memOut);
        return e == batonSuccess ? ok() : e;
    });
}

}  // extern "C"
