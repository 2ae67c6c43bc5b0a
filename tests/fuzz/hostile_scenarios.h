// What the hostile transport peer (hostile_peer.cpp) can send, one scenario per run. Shared by
// the peer and the suite (test_hostile_transport.cpp), which holds the expected outcomes.
#pragma once

#include <cstdint>

#include <baton/baton_transport.h>

namespace hostile {

// The wire layout of a baton handle message, written here from the header's description
// rather than taken from baton: the peer is a foreign program.
struct Wire {
    uint32_t magic;
    uint16_t version;
    uint16_t size;
    batonHandleHeader header;
};
inline constexpr uint32_t kMagic = 0x48544142u;  // "BATH"
inline constexpr uint16_t kVersion = 1;
// The portable semaphore page (sync/shared_state.h): magic, version, kind at offsets 0, 4, 8.
inline constexpr uint32_t kPageMagic = 0x4e544142u;  // "BATN"

#define HOSTILE_SCENARIOS(X)                                                                      \
    X(ShortNoFd)          /* 10 bytes, no fd, peer stays */                                        \
    X(ShortWithFd)        /* 10 bytes and a pipe fd, peer stays */                                 \
    X(ShortThenClose)     /* half a message with a pipe fd, peer exits */                          \
    X(EmptyWithFds)       /* a zero-byte message carrying two fds (datagram sockets only) */       \
    X(Oversized)          /* a message and 4 KiB more, one baton memfd */                          \
    X(Junk)               /* 4 KiB of random bytes, no fd */                                       \
    X(WrongMagic)                                                                                  \
    X(WrongVersion)                                                                                \
    X(WrongSize)          /* header size field of another build */                                 \
    X(ReservedSet)        /* reserved[3] = 7 */                                                    \
    X(NoFd)               /* a good header, no fd */                                               \
    X(TwoFds)             /* a good header, a baton memfd and a pipe */                            \
    X(ManyFds)            /* a good header, 64 fds */                                              \
    X(KindZero)                                                                                    \
    X(KindHuge)           /* kind = 0x7fffffff */                                                  \
    X(KindNegative)       /* kind = -1 */                                                          \
    X(KindMemory)         /* a memory message where a semaphore is expected */                     \
    X(KindBinary)         /* a binary semaphore where a timeline is expected */                    \
    X(BackendZero)                                                                                 \
    X(BackendHuge)                                                                                 \
    X(PortablePipe)       /* portable, fd a pipe */                                                \
    X(PortableDevNull)                                                                             \
    X(PortableEventfd)                                                                             \
    X(PortableSocket)                                                                              \
    X(PortableFile)       /* a regular file */                                                     \
    X(PortableForeignMemfd)       /* sealed memfd, not baton's */                                  \
    X(PortableUnsealedBatonPage)  /* baton's page, not sealed: shrinkable under our mapping */      \
    X(PortableWriteSealedPage)    /* baton's page, sealed against writing: cannot be mapped */     \
    X(PortablePageWrongKind)      /* baton's page of a binary semaphore, message says timeline */  \
    X(PortablePageBadKind)        /* baton's page with kind 77 */                                  \
    X(PortablePageBadVersion)                                                                      \
    X(PortablePageGarbage)        /* baton's page, right kind, every other field garbage */        \
    X(NativePipe)         /* native, our UUIDs, a pipe */                                          \
    X(NativeEventfd)                                                                               \
    X(NativeForgedDevice) /* native, another device UUID, a pipe */                                \
    X(NativeForgedDriver) /* native, another driver UUID, a pipe */                                \
    X(NativeBatonMemfd)   /* native, but a baton memfd */                                          \
    X(MemoryPipe)         /* memory, our UUIDs, a pipe */                                          \
    X(MemoryBadDesc)      /* memory, desc.kind 99, a big memfd */                                  \
    X(MemoryNegativeFormat) /* memory, an image desc with VkFormat -5 */                           \
    X(MemorySmallMemfd)   /* memory, desc asks 1 MiB, memfd holds 4 KiB */                         \
    X(MemoryBackendPortable)                                                                       \
    X(MemoryForgedDevice)                                                                          \
    X(SplitMessage)       /* a good portable timeline message sent in 3 parts (stream only) */     \
    X(Good)               /* a good portable timeline message: must import */

enum class Scenario {
#define HOSTILE_ENUM(n) n,
    HOSTILE_SCENARIOS(HOSTILE_ENUM)
#undef HOSTILE_ENUM
};

inline const char* scenarioName(Scenario s) {
    switch (s) {
#define HOSTILE_NAME(n) \
    case Scenario::n: return #n;
        HOSTILE_SCENARIOS(HOSTILE_NAME)
#undef HOSTILE_NAME
    }
    return "?";
}

}  // namespace hostile
