/*
 * baton frame memory: buffers and images that live in memory another process can import
 * (VK_KHR_external_memory_fd, opaque fds), so that a producer process writes frames that a
 * consumer process reads. Pair it with a keyed mutex or a timeline to order the accesses,
 * and with baton_transport.h to hand the fd over safely.
 *
 * Ownership follows the semaphores' rules: exporting returns a new fd the caller owns;
 * importing takes the fd only if it succeeds (on failure it is untouched and still the
 * caller's); baton frees the Vulkan objects and the memory on destroy.
 *
 * The VkBuffer / VkImage and VkDeviceMemory belong to the context's VkDevice: record into
 * them with batonStreamRecord (or the renderer's own command buffers on an attached or
 * standalone context's device). baton does not track which submissions use them: destroy
 * the handle only once the work that uses it has completed (as with vkFreeMemory).
 */
#ifndef BATON_BATON_MEMORY_H
#define BATON_BATON_MEMORY_H

#include <baton/baton.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct batonMemory_st* batonMemory_t; /**< An exported or imported buffer or image with its memory. */

/** What a batonMemory_t holds. */
typedef enum batonMemoryKind {
    batonMemoryKindBuffer = 1, /**< A VkBuffer. */
    batonMemoryKindImage = 2   /**< A 2D VkImage. */
} batonMemoryKind;

/**
 * Describes a buffer or an image. Zero-initialise, then set kind and its fields. Exporter and
 * importer must describe it identically (the transport carries it).
 */
typedef struct batonMemoryDesc {
    batonMemoryKind kind;
    VkDeviceSize size;               /**< Buffer: size in bytes (> 0). */
    VkBufferUsageFlags bufferUsage;  /**< Buffer: usage (non-zero). */
    VkFormat format;                 /**< Image: format. */
    uint32_t width, height;          /**< Image: extent (> 0). */
    uint32_t mipLevels;              /**< Image: 0 means 1. */
    uint32_t arrayLayers;            /**< Image: 0 means 1. */
    VkImageUsageFlags imageUsage;    /**< Image: usage (non-zero). */
    VkImageTiling tiling;            /**< Image: OPTIMAL (0) or LINEAR. */
    /**
     * Memory properties the allocation must have, e.g. HOST_VISIBLE | HOST_COHERENT for a
     * buffer the CPU reads (baton then maps it: batonMemoryInfo::hostPointer). 0: any,
     * device-local preferred.
     */
    VkMemoryPropertyFlags memoryProperties;
    unsigned int reserved[8];        /**< Must be 0. */
} batonMemoryDesc;

/** What an importer needs beyond the desc: how the exporter allocated it (same device only). */
typedef struct batonMemoryImportDesc {
    batonMemoryDesc desc;            /**< As exported. */
    int fd;                          /**< Owned by baton on success only. */
    VkDeviceSize allocationSize;     /**< batonMemoryInfo::allocationSize of the exporter. */
    uint32_t memoryTypeIndex;        /**< batonMemoryInfo::memoryTypeIndex of the exporter. */
    VkBool32 dedicated;              /**< batonMemoryInfo::dedicated of the exporter. */
    unsigned int reserved[8];        /**< Must be 0. */
} batonMemoryImportDesc;

/** Everything about a batonMemory_t. */
typedef struct batonMemoryInfo {
    batonMemoryDesc desc;
    VkBuffer buffer;                 /**< Buffer kind, else VK_NULL_HANDLE. */
    VkImage image;                   /**< Image kind (created in VK_IMAGE_LAYOUT_UNDEFINED), else VK_NULL_HANDLE. */
    VkDeviceMemory memory;           /**< Bound at offset 0. */
    VkDeviceSize allocationSize;
    uint32_t memoryTypeIndex;
    VkBool32 dedicated;              /**< Allocated with VkMemoryDedicatedAllocateInfo. */
    VkBool32 exported;               /**< Made by batonExportMemory (can be sent again). */
    void* hostPointer;               /**< Mapped whole when the memory is HOST_VISIBLE, else NULL. */
    batonContext_t context;          /**< The context whose device owns it. */
} batonMemoryInfo;

/**
 * Creates a buffer or image in the current context with exportable memory, and returns an
 * fd (owned by the caller) that another process on the same GPU and driver can import.
 * Setup-time call. batonErrorNotSupported when the device has no opaque-fd memory export for
 * this desc; batonErrorInvalidValue for a malformed desc.
 */
BATON_API batonError_t batonExportMemory(int* fdOut, batonMemory_t* memOut, const batonMemoryDesc* desc);

/**
 * Imports memory exported by batonExportMemory in another process (or this one) into the
 * current context, creating the same buffer or image over it. The fd is checked before the
 * driver sees it (kind of file, size where the kernel can tell); the memory type and size
 * must fit the desc on this device. batonReceiveMemory (baton_transport.h) also checks that
 * it comes from the same GPU and driver. On success baton owns desc->fd.
 */
BATON_API batonError_t batonImportMemory(batonMemory_t* memOut, const batonMemoryImportDesc* desc);

/** Fills info. Cheap; never blocks. */
BATON_API batonError_t batonMemoryGetInfo(batonMemory_t mem, batonMemoryInfo* info);

/** Destroys the buffer/image and frees the memory (see the note above on pending work). Accepts NULL. */
BATON_API batonError_t batonDestroyMemory(batonMemory_t mem);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BATON_MEMORY_H */
