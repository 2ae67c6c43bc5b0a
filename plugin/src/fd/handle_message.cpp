#include "fd/handle_message.h"

#include <cstdio>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"

namespace baton {
namespace {

template <class E>
int rawValue(const E& e) {
    static_assert(sizeof(E) == sizeof(int), "a C enum");
    int v;
    std::memcpy(&v, &e, sizeof v);  // the bits, not the enum: a peer may send any value
    return v;
}

batonError_t refuse(const ReceivedMessage& m, int* fdOut, const char* why) {
    closeFds(m.fds, m.fdCount);
    *fdOut = -1;
    return fail(batonErrorInvalidResourceHandle, "not a baton handle message of this version: %s", why);
}

void formatUuid(const uint8_t* u, char* out) {
    for (unsigned i = 0; i < VK_UUID_SIZE; ++i) std::snprintf(out + 2 * i, 3, "%02x", u[i]);
}

// The GPU and driver that exported it must be ours: only then may its fd reach the driver.
batonError_t checkSameDevice(const batonHandleHeader& h, const DeviceIdentity& self) {
    char theirs[2 * VK_UUID_SIZE + 1], ours[2 * VK_UUID_SIZE + 1];
    if (std::memcmp(h.deviceUUID, self.deviceUUID, VK_UUID_SIZE) != 0) {
        formatUuid(h.deviceUUID, theirs);
        formatUuid(self.deviceUUID, ours);
        return fail(batonErrorForeignDevice, "the %s was exported by another GPU (device UUID %s; this context's is %s)",
                    handleKindName(headerKind(h)), theirs, ours);
    }
    if (std::memcmp(h.driverUUID, self.driverUUID, VK_UUID_SIZE) != 0) {
        formatUuid(h.driverUUID, theirs);
        formatUuid(self.driverUUID, ours);
        return fail(batonErrorForeignDevice, "the %s was exported by another driver (driver UUID %s; this context's is %s)",
                    handleKindName(headerKind(h)), theirs, ours);
    }
    return batonSuccess;
}

}  // namespace

void closeFds(const int* fds, int count) {
    for (int i = 0; i < count; ++i)
        if (fds[i] >= 0) close(fds[i]);
}

int headerKind(const batonHandleHeader& h) { return rawValue(h.kind); }
int headerBackend(const batonHandleHeader& h) { return rawValue(h.backend); }

const char* handleKindName(int kind) {
    switch (kind) {
        case batonHandleKindBinarySemaphore: return "binary semaphore";
        case batonHandleKindTimelineSemaphore: return "timeline semaphore";
        case batonHandleKindKeyedMutex: return "keyed mutex";
        case batonHandleKindMemory: return "memory";
    }
    return "unknown kind of handle";
}

batonError_t parseHandleMessage(const ReceivedMessage& m, batonHandleHeader* header, int* fdOut) {
    *fdOut = -1;
    if (m.msgFlags & (MSG_TRUNC | MSG_CTRUNC)) return refuse(m, fdOut, "longer than a message, or more fds than one");
    if (m.size < sizeof(WireMessage)) return refuse(m, fdOut, "shorter than a message");
    if (m.size > sizeof(WireMessage)) return refuse(m, fdOut, "longer than a message");
    WireMessage w;
    std::memcpy(&w, m.bytes, sizeof w);
    if (w.magic != kWireMagic) return refuse(m, fdOut, "wrong magic");
    if (w.version != kWireVersion || w.size != sizeof(batonHandleHeader))
        return refuse(m, fdOut, "another version or header size");
    for (unsigned r : w.header.reserved)
        if (r) return refuse(m, fdOut, "reserved header fields are not zero");
    if (m.fdCount != 1 || m.fds[0] < 0) {
        char why[64];
        std::snprintf(why, sizeof why, "a message carries one fd, this one %d", m.fdCount);
        return refuse(m, fdOut, why);
    }
    *header = w.header;
    *fdOut = m.fds[0];
    return batonSuccess;
}

batonError_t checkSemaphoreHeader(const batonHandleHeader& h, int expectedKind, FdClass fdClass,
                                  const DeviceIdentity& self) {
    const int kind = headerKind(h), backend = headerBackend(h);
    if (kind != expectedKind)
        return fail(batonErrorWrongKind, "the message carries a %s (kind %d), not the %s asked for", handleKindName(kind),
                    kind, handleKindName(expectedKind));
    const bool memfd = fdClass == FdClass::BatonMemfd;
    if (backend == batonSemaphoreBackendPortable) {
        if (!memfd)
            return fail(batonErrorInvalidResourceHandle, "the message says portable but its fd is %s",
                        fdClassName(fdClass));
        return batonSuccess;  // host memory: valid whatever GPU exported it
    }
    if (backend != batonSemaphoreBackendNative)
        return fail(batonErrorInvalidResourceHandle, "the message names no backend (%d)", backend);
    if (memfd) return fail(batonErrorInvalidResourceHandle, "the message says native but its fd is a baton memfd");
    return checkSameDevice(h, self);
}

batonError_t checkMemoryHeader(const batonHandleHeader& h, const DeviceIdentity& self) {
    const int kind = headerKind(h), backend = headerBackend(h);
    if (kind != batonHandleKindMemory)
        return fail(batonErrorWrongKind, "the message carries a %s (kind %d), not memory", handleKindName(kind), kind);
    if (backend != batonSemaphoreBackendNative)
        return fail(batonErrorInvalidResourceHandle, "a memory message names the native backend, this one %d", backend);
    return checkSameDevice(h, self);
}

}  // namespace baton
