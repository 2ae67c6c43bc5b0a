// Handle transport (baton_transport.h): one message = a fixed-size header with one fd in an
// SCM_RIGHTS control message. Receiving checks the header (kind, backend, device and driver)
// before the fd gets anywhere near the driver, and closes the fd on every refusal.
#include <baton/baton_transport.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec/context.h"
#include "core/error.h"
#include "fd/fd_message.h"
#include "fd/fd_check.h"
#include "frames/memory.h"
#include "sync/semaphore.h"

using namespace baton;

namespace {

constexpr uint32_t kWireMagic = 0x48544142u;  // "BATH"
constexpr uint16_t kWireVersion = 1;
constexpr int kMaxFds = 8;  // a message carries one; more are received only to be closed

struct Wire {
    uint32_t magic;
    uint16_t version;
    uint16_t size;  // sizeof(batonHandleHeader) of the sender: same build, same layout
    batonHandleHeader header;
};

const char* kindName(uint32_t k) {
    switch (k) {
        case batonHandleKindBinarySemaphore: return "binary semaphore";
        case batonHandleKindTimelineSemaphore: return "timeline semaphore";
        case batonHandleKindKeyedMutex: return "keyed mutex";
        case batonHandleKindMemory: return "memory";
    }
    return "unknown kind of handle";
}

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
    Wire w{kWireMagic, kWireVersion, static_cast<uint16_t>(sizeof(batonHandleHeader)), h};
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

// Receives one message. On success *fdOut is the one fd it carried (the caller's); on any
// failure every fd received has been closed.
batonError_t receiveWire(int sock, int timeoutMs, Wire* w, int* fdOut) {
    *fdOut = -1;
    const uint64_t deadline = timeoutMs < 0 ? 0 : monotonicNs() + static_cast<uint64_t>(timeoutMs) * 1000000ull + 1;
    int fds[kMaxFds];
    int nfds = 0;
    auto closeAll = [&] {
        for (int i = 0; i < nfds; ++i) close(fds[i]);
        nfds = 0;
    };
    batonError_t e = waitSocket(sock, POLLIN, deadline);
    if (e != batonSuccess) return e;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    iovec iov{w, sizeof *w};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof ctrl;
    ssize_t n;
    do {
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail(batonErrorOperatingSystem, "recvmsg on socket %d failed: %s", sock, strerror(errno));
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count && nfds < kMaxFds; ++i) std::memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    if (n == 0) {
        closeAll();
        return fail(batonErrorOperatingSystem, "the peer closed socket %d", sock);
    }
    if (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
        closeAll();
        return fail(batonErrorInvalidResourceHandle, "the message on socket %d is not a baton handle message "
                    "(too long, or more than %d fds)", sock, kMaxFds);
    }
    size_t got = static_cast<size_t>(n);
    int type = 0;
    socklen_t len = sizeof type;
    const bool stream = getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
    // A stream socket may deliver the message in parts; read exactly its remaining bytes so
    // that the next message (and its fd) stays in the socket.
    while (stream && got < sizeof *w) {
        if ((e = waitSocket(sock, POLLIN, deadline)) != batonSuccess) {
            closeAll();
            return e;
        }
        n = recv(sock, reinterpret_cast<char*>(w) + got, sizeof *w - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            closeAll();
            return fail(batonErrorOperatingSystem, "socket %d ended in the middle of a message", sock);
        }
        got += static_cast<size_t>(n);
    }
    if (got != sizeof *w || w->magic != kWireMagic || w->version != kWireVersion ||
        w->size != sizeof(batonHandleHeader)) {
        closeAll();
        return fail(batonErrorInvalidResourceHandle, "the message on socket %d is not a baton handle message of this "
                    "version", sock);
    }
    if (nfds != 1) {
        closeAll();
        return fail(batonErrorInvalidResourceHandle, "a baton handle message carries one fd, this one %d", nfds);
    }
    *fdOut = fds[0];
    return batonSuccess;
}

void formatUuid(const uint8_t* u, char* out) {
    for (unsigned i = 0; i < VK_UUID_SIZE; ++i) std::snprintf(out + 2 * i, 3, "%02x", u[i]);
}

// The GPU and driver that exported it must be this context's: only then may its fd reach
// the driver.
batonError_t checkSameDevice(const batonHandleHeader& h, const Context& ctx) {
    char theirs[2 * VK_UUID_SIZE + 1], ours[2 * VK_UUID_SIZE + 1];
    if (std::memcmp(h.deviceUUID, ctx.deviceUUID, VK_UUID_SIZE) != 0) {
        formatUuid(h.deviceUUID, theirs);
        formatUuid(ctx.deviceUUID, ours);
        return fail(batonErrorForeignDevice, "the %s was exported by another GPU (device UUID %s; this context's is %s)",
                    kindName(h.kind), theirs, ours);
    }
    if (std::memcmp(h.driverUUID, ctx.driverUUID, VK_UUID_SIZE) != 0) {
        formatUuid(h.driverUUID, theirs);
        formatUuid(ctx.driverUUID, ours);
        return fail(batonErrorForeignDevice, "the %s was exported by another driver (driver UUID %s; this context's is %s)",
                    kindName(h.kind), theirs, ours);
    }
    return batonSuccess;
}

void fillIdentity(batonHandleHeader* h, const Context& ctx) {
    std::memcpy(h->deviceUUID, ctx.deviceUUID, VK_UUID_SIZE);
    std::memcpy(h->driverUUID, ctx.driverUUID, VK_UUID_SIZE);
}

bool kindForType(batonExternalSemaphoreHandleType t, batonHandleKind* k) {
    switch (t) {
        case batonExternalSemaphoreHandleTypeOpaqueFd: *k = batonHandleKindBinarySemaphore; return true;
        case batonExternalSemaphoreHandleTypeTimelineSemaphoreFd: *k = batonHandleKindTimelineSemaphore; return true;
        case batonExternalSemaphoreHandleTypeKeyedMutex: *k = batonHandleKindKeyedMutex; return true;
        default: return false;
    }
}

// Everything a semaphore message must pass before its fd is imported.
batonError_t checkSemaphoreMessage(const batonHandleHeader& h, batonHandleKind expected, int fd) {
    if (h.kind != expected)
        return fail(batonErrorWrongKind, "the message carries a %s, not the %s asked for", kindName(h.kind),
                    kindName(expected));
    const bool memfd = classifyFd(fd) == FdClass::BatonMemfd;
    if (h.backend == batonSemaphoreBackendPortable) {
        if (!memfd)
            return fail(batonErrorInvalidResourceHandle, "the message says portable but its fd is not a baton semaphore");
        return batonSuccess;  // host memory: valid whatever GPU exported it
    }
    if (h.backend != batonSemaphoreBackendNative)
        return fail(batonErrorInvalidResourceHandle, "the message names no backend (%d)", static_cast<int>(h.backend));
    if (memfd) return fail(batonErrorInvalidResourceHandle, "the message says native but its fd is a baton memfd");
    Context* ctx = nullptr;
    batonError_t e = currentContext(&ctx);
    if (e != batonSuccess) return e;
    e = checkSameDevice(h, *ctx);
    ctx->release();
    return e;
}

}  // namespace

extern "C" {

BATON_API batonError_t batonSendHandle(int socket, const batonHandleHeader* header, int fd) {
    if (!header) return fail(batonErrorInvalidValue, "batonSendHandle: header is NULL");
    for (unsigned r : header->reserved)
        if (r) return fail(batonErrorInvalidValue, "batonHandleHeader::reserved must be zero");
    if (classifyFd(fd) == FdClass::Closed) return fail(batonErrorInvalidValue, "fd %d is not an open file descriptor", fd);
    batonError_t e = sendWire(socket, *header, fd);
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonReceiveHandle(int socket, int timeoutMs, batonHandleHeader* header, int* fdOut) {
    if (!header || !fdOut) return fail(batonErrorInvalidValue, "batonReceiveHandle: header and fdOut must be non-NULL");
    Wire w{};
    batonError_t e = receiveWire(socket, timeoutMs, &w, fdOut);
    if (e != batonSuccess) return e;
    *header = w.header;
    return ok();
}

BATON_API batonError_t batonSendExternalSemaphore(int socket, batonExternalSemaphore_t extSem, unsigned long long tag) {
    Semaphore* s = static_cast<Semaphore*>(lookupHandle(extSem, ObjectType::Semaphore));
    if (!s) return fail(batonErrorInvalidResourceHandle, "%p is not a live baton semaphore", static_cast<void*>(extSem));
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
    s->release();
    return e == batonSuccess ? ok() : e;
}

BATON_API batonError_t batonReceiveExternalSemaphore(int socket, batonExternalSemaphoreHandleType expectedType,
                                                     int timeoutMs, batonExternalSemaphore_t* extSemOut,
                                                     batonHandleHeader* header) {
    if (!extSemOut) return fail(batonErrorInvalidValue, "batonReceiveExternalSemaphore: extSemOut is NULL");
    batonHandleKind expected;
    if (!kindForType(expectedType, &expected))
        return fail(batonErrorInvalidValue, "expectedType must be OpaqueFd, TimelineSemaphoreFd or KeyedMutex (got %d)",
                    static_cast<int>(expectedType));
    Wire w{};
    int fd = -1;
    batonError_t e = receiveWire(socket, timeoutMs, &w, &fd);
    if (e != batonSuccess) return e;
    if (header) *header = w.header;
    if ((e = checkSemaphoreMessage(w.header, expected, fd)) == batonSuccess) {
        batonExternalSemaphoreHandleDesc d{};
        d.type = expectedType;
        d.handle.fd = fd;
        e = batonImportExternalSemaphore(extSemOut, &d);
    }
    if (e != batonSuccess) {
        close(fd);  // received fds are baton's: a refused one is closed, never leaked
        return e;
    }
    return ok();
}

BATON_API batonError_t batonSendMemory(int socket, batonMemory_t mem, unsigned long long tag) {
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
}

BATON_API batonError_t batonReceiveMemory(int socket, int timeoutMs, batonMemory_t* memOut, batonHandleHeader* header) {
    if (!memOut) return fail(batonErrorInvalidValue, "batonReceiveMemory: memOut is NULL");
    Wire w{};
    int fd = -1;
    batonError_t e = receiveWire(socket, timeoutMs, &w, &fd);
    if (e != batonSuccess) return e;
    if (header) *header = w.header;
    const batonHandleHeader& h = w.header;
    if (h.kind != batonHandleKindMemory) {
        e = fail(batonErrorWrongKind, "the message carries a %s, not memory", kindName(h.kind));
    } else {
        Context* ctx = nullptr;
        if ((e = currentContext(&ctx)) == batonSuccess) {
            e = checkSameDevice(h, *ctx);
            ctx->release();
        }
    }
    if (e == batonSuccess) {
        batonMemoryImportDesc d{};
        d.desc = h.memory;
        d.fd = fd;
        d.allocationSize = h.allocationSize;
        d.memoryTypeIndex = h.memoryTypeIndex;
        d.dedicated = h.dedicated;
        e = batonImportMemory(memOut, &d);
    }
    if (e != batonSuccess) {
        close(fd);
        return e;
    }
    return ok();
}

}  // extern "C"
