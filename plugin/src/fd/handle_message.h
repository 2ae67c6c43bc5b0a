// The handle transport's message (baton_transport.h) as data: its wire layout, and the pure
// functions that parse and check one received message. No socket, no context, no driver:
// the transport's receive calls and the fuzz targets (tests/fuzz) call the same code.
//
// Everything here treats the bytes and fds as a hostile peer's: values are read as raw
// integers (never loaded as enums), every length is checked, and the fds a message brought
// are closed on every refusal, so a parse failure leaks nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include <baton/baton_transport.h>

#include "fd/fd_check.h"

namespace baton {

inline constexpr uint32_t kWireMagic = 0x48544142u;  // "BATH"
inline constexpr uint16_t kWireVersion = 1;
// A message carries one fd; up to this many are received, only to be closed.
inline constexpr int kMaxMessageFds = 8;

struct WireMessage {
    uint32_t magic;
    uint16_t version;
    uint16_t size;  // sizeof(batonHandleHeader) of the sender: same build, same layout
    batonHandleHeader header;
};

// What one receive produced: the bytes read, the fds that came with them (already open in
// this process, owned by whoever holds this) and recvmsg's msg_flags.
struct ReceivedMessage {
    const void* bytes = nullptr;
    size_t size = 0;
    const int* fds = nullptr;
    int fdCount = 0;
    int msgFlags = 0;  // MSG_TRUNC / MSG_CTRUNC: the peer sent more than a message holds
};

// Closes fds[0..count).
void closeFds(const int* fds, int count);

// Parses a received message. Success: *header is the message's header and *fdOut its one fd
// (the caller's now). Failure (batonErrorInvalidResourceHandle, with a message saying what was
// wrong): every fd in m.fds is closed, *fdOut is -1 and *header is left as it was.
batonError_t parseHandleMessage(const ReceivedMessage& m, batonHandleHeader* header, int* fdOut);

// The raw kind and backend of a header (read as integers: a peer may send any value).
int headerKind(const batonHandleHeader& h);
int headerBackend(const batonHandleHeader& h);
const char* handleKindName(int kind);

// Which device and driver a receiver is.
struct DeviceIdentity {
    const uint8_t* deviceUUID;  // VK_UUID_SIZE bytes each
    const uint8_t* driverUUID;
};

// The checks a semaphore message must pass before its fd is imported, given what the fd is
// (classifyFd) and who we are: the kind asked for (batonHandleKind), the backend agrees with
// the fd, and a native handle comes from our device and driver. Touches nothing.
batonError_t checkSemaphoreHeader(const batonHandleHeader& h, int expectedKind, FdClass fdClass,
                                  const DeviceIdentity& self);
// The same for memory: the kind, the native backend, our device and driver.
batonError_t checkMemoryHeader(const batonHandleHeader& h, const DeviceIdentity& self);

}  // namespace baton
