/*
 * baton handle transport: hands semaphores, keyed mutexes and frame memory to another
 * process over a Unix-domain socket (SCM_RIGHTS), with what the fd alone cannot say: what
 * kind of handle it is, which backend made it, which GPU and driver exported it, and the
 * value or key it had when sent.
 *
 * Receiving checks the message before the driver sees the fd: a handle of another kind than
 * the one asked for is refused with batonErrorWrongKind, one from another GPU or another
 * driver with batonErrorForeignDevice, where CUDA and the NVIDIA driver accept both silently
 * (and one failed import can poison the NVIDIA driver for the whole process).
 * - The device/driver check applies to what the driver would import: native semaphores and
 *   memory. A portable semaphore (a baton memfd) is host memory that every process bridges
 *   to its own GPU, so it may come from any GPU in the machine and is accepted.
 * - The message must agree with the fd: a message that says portable must carry a baton
 *   memfd and one that says native must not (batonErrorInvalidResourceHandle otherwise).
 *
 * Ownership: sending never takes the caller's handle or fd (the kernel passes a duplicate).
 * A received fd is baton's: imported on success, closed on any refusal or failure, so a
 * refused message leaks nothing. Works with SOCK_STREAM and SOCK_SEQPACKET sockets (a
 * socketpair(AF_UNIX, ...) between a parent and the child it fork+execs, or a named socket).
 * One message per call; the calls are blocking, the receive with a timeout.
 */
#ifndef BATON_BATON_TRANSPORT_H
#define BATON_BATON_TRANSPORT_H

#include <baton/baton.h>
#include <baton/baton_memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a handle message carries. */
typedef enum batonHandleKind {
    batonHandleKindBinarySemaphore = 1,   /**< batonExternalSemaphoreHandleTypeOpaqueFd */
    batonHandleKindTimelineSemaphore = 2, /**< batonExternalSemaphoreHandleTypeTimelineSemaphoreFd */
    batonHandleKindKeyedMutex = 3,        /**< batonExternalSemaphoreHandleTypeKeyedMutex */
    batonHandleKindMemory = 4             /**< a batonMemory_t */
} batonHandleKind;

/** What travels beside the fd. Zero-initialise before filling one by hand. */
typedef struct batonHandleHeader {
    batonHandleKind kind;
    batonSemaphoreBackend backend;     /**< Semaphores: native or portable. Memory: native. */
    uint8_t deviceUUID[VK_UUID_SIZE];  /**< The exporting device's VkPhysicalDeviceIDProperties::deviceUUID. */
    uint8_t driverUUID[VK_UUID_SIZE];  /**< ... and driverUUID (batonContextInfo has both). */
    unsigned long long value;          /**< Timeline: value reached when sent. Keyed mutex: key of its last release when sent. */
    batonMemoryDesc memory;            /**< Memory: the buffer or image. */
    VkDeviceSize allocationSize;       /**< Memory: as batonMemoryInfo. */
    uint32_t memoryTypeIndex;          /**< Memory: as batonMemoryInfo. */
    VkBool32 dedicated;                /**< Memory: as batonMemoryInfo. */
    unsigned long long tag;            /**< The application's, e.g. a frame-slot number; baton ignores it. */
    unsigned int reserved[8];          /**< Must be 0. */
} batonHandleHeader;

/**
 * Sends a semaphore or keyed mutex made by batonExportExternalSemaphore, or any portable
 * one (imported ones included). Fills the header from the handle and its context. A native
 * semaphore that was imported cannot be sent again (batonErrorNotSupported): send the
 * exporter's. Blocks until the message is queued on the socket.
 */
BATON_API batonError_t batonSendExternalSemaphore(int socket, batonExternalSemaphore_t extSem, unsigned long long tag);

/**
 * Receives a semaphore message and imports it into the current context, after checking it
 * (see above). expectedType: OpaqueFd, TimelineSemaphoreFd or KeyedMutex. timeoutMs: -1
 * waits forever. header (may be NULL) receives the message, also on a refusal.
 * Returns batonErrorTimeout, batonErrorWrongKind, batonErrorForeignDevice,
 * batonErrorInvalidResourceHandle (not a baton message, no fd, or fd and message disagree),
 * batonErrorOperatingSystem (socket errors, peer closed), or an import error.
 */
BATON_API batonError_t batonReceiveExternalSemaphore(int socket, batonExternalSemaphoreHandleType expectedType,
                                                     int timeoutMs, batonExternalSemaphore_t* extSemOut,
                                                     batonHandleHeader* header);

/** Sends memory made by batonExportMemory (a new fd each time; imported memory: NotSupported). */
BATON_API batonError_t batonSendMemory(int socket, batonMemory_t mem, unsigned long long tag);

/** Receives a memory message and imports it into the current context after the same checks. */
BATON_API batonError_t batonReceiveMemory(int socket, int timeoutMs, batonMemory_t* memOut, batonHandleHeader* header);

/**
 * Low level: sends header and fd as they are (the caller keeps fd). For handles baton did not
 * make, relaying, and tests that forge a message. header->reserved must be 0.
 */
BATON_API batonError_t batonSendHandle(int socket, const batonHandleHeader* header, int fd);

/**
 * Low level: receives one message without checking or importing it. On success *fdOut is a
 * new fd owned by the caller (close-on-exec).
 */
BATON_API batonError_t batonReceiveHandle(int socket, int timeoutMs, batonHandleHeader* header, int* fdOut);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BATON_TRANSPORT_H */
