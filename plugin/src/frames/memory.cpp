#include "frames/memory.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include "api/c_enum.h"
#include "exec/context.h"
#include "core/error.h"
#include "fd/fd_check.h"

namespace baton {
namespace {

constexpr VkExternalMemoryHandleTypeFlagBits kHandleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;

VkImageCreateInfo imageCreateInfo(const batonMemoryDesc& d, const void* next) {
    VkImageCreateInfo ci{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, next};
    ci.imageType = VK_IMAGE_TYPE_2D;
    ci.format = d.format;
    ci.extent = {d.width, d.height, 1};
    ci.mipLevels = d.mipLevels ? d.mipLevels : 1;
    ci.arrayLayers = d.arrayLayers ? d.arrayLayers : 1;
    ci.samples = VK_SAMPLE_COUNT_1_BIT;
    ci.tiling = d.tiling;
    ci.usage = d.imageUsage;
    ci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ci.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    return ci;
}

// Picks a memory type: allowed by the object, with the requested properties; device-local
// preferred when nothing was requested.
bool pickMemoryType(const VkPhysicalDeviceMemoryProperties& mp, uint32_t allowed, VkMemoryPropertyFlags need,
                    uint32_t* out) {
    int best = -1;
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
        if (!(allowed & (1u << i)) || (mp.memoryTypes[i].propertyFlags & need) != need) continue;
        if (best < 0 || (!need && (mp.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) &&
                         !(mp.memoryTypes[best].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)))
            best = static_cast<int>(i);
    }
    if (best < 0) return false;
    *out = static_cast<uint32_t>(best);
    return true;
}

}  // namespace

// Looks at an fd before the driver does (see fd_check.h). Memory fds are the driver's own
// kind of file: NVIDIA's are opens of /dev/nvidiactl; Mesa's are memfds (lavapipe) or
// dma-bufs. A baton semaphore memfd is a semaphore, not memory.
batonError_t checkMemoryFd(int fd, uint32_t vendorID, VkDeviceSize allocationSize) {
    FdClass c = classifyFd(fd);
    switch (c) {
        case FdClass::Closed: return fail(batonErrorInvalidResourceHandle, "fd %d is not an open file descriptor", fd);
        case FdClass::BatonMemfd:
            return fail(batonErrorWrongKind, "fd %d is a baton semaphore, not memory", fd);
        case FdClass::NvidiaControl:
            if (vendorID == 0x10de) return batonSuccess;
            break;
        case FdClass::OtherMemfd: {
            // The kernel knows a memfd's size: refuse one too small for the allocation.
            struct stat st {};
            if (vendorID == 0x10de) break;
            if (fstat(fd, &st) != 0 || static_cast<VkDeviceSize>(st.st_size) < allocationSize)
                return fail(batonErrorInvalidResourceHandle, "memfd %d holds %lld bytes, less than the %llu imported",
                            fd, static_cast<long long>(st.st_size), static_cast<unsigned long long>(allocationSize));
            return batonSuccess;
        }
        case FdClass::DmaBuf:
            if (vendorID != 0x10de) return batonSuccess;
            break;
        default:
            break;
    }
    return fail(batonErrorInvalidResourceHandle, "fd %d is %s, not this driver's kind of memory fd", fd, fdClassName(c));
}

// No fd holds more than its memory type's heap, and the driver may not be asked for more
// (VUID-vkAllocateMemory-pAllocateInfo-01713): on NVIDIA, whose fds do not tell their size,
// a size of ~0 reached vkAllocateMemory.
batonError_t checkImportSize(const Context& ctx, int fd, uint32_t memoryTypeIndex, VkDeviceSize size) {
    VkPhysicalDeviceMemoryProperties mp{};
    ctx.vki.vkGetPhysicalDeviceMemoryProperties(ctx.physicalDevice, &mp);
    const VkDeviceSize heap = mp.memoryHeaps[mp.memoryTypes[memoryTypeIndex].heapIndex].size;
    if (size <= heap) return batonSuccess;
    return fail(batonErrorInvalidResourceHandle, "fd %d cannot hold %llu bytes: memory type %u's heap has %llu", fd,
                static_cast<unsigned long long>(size), memoryTypeIndex, static_cast<unsigned long long>(heap));
}

Memory::~Memory() {
    if (mapped) ctx->vkd.vkUnmapMemory(ctx->device, memory);
    if (buffer) ctx->vkd.vkDestroyBuffer(ctx->device, buffer, nullptr);
    if (image) ctx->vkd.vkDestroyImage(ctx->device, image, nullptr);
    if (memory) ctx->vkd.vkFreeMemory(ctx->device, memory, nullptr);
}

batonError_t Memory::validate(const batonMemoryDesc& d) {
    for (unsigned r : d.reserved)
        if (r) return fail(batonErrorInvalidValue, "batonMemoryDesc::reserved must be zero");
    // A peer's or a C caller's values: any int (c_enum.h), so the enums are read as ints.
    const int kind = rawEnum(d.kind), format = rawEnum(d.format), tiling = rawEnum(d.tiling);
    if (kind == batonMemoryKindBuffer) {
        if (!d.size || !d.bufferUsage) return fail(batonErrorInvalidValue, "a buffer needs size and bufferUsage");
        if (format || d.width || d.height || d.mipLevels || d.arrayLayers || d.imageUsage || tiling)
            return fail(batonErrorInvalidValue, "a buffer desc must leave the image fields zero");
        return batonSuccess;
    }
    if (kind == batonMemoryKindImage) {
        if (format <= 0 || !d.width || !d.height || !d.imageUsage)
            return fail(batonErrorInvalidValue, "an image needs format (a VkFormat), width, height and imageUsage");
        if (d.size || d.bufferUsage) return fail(batonErrorInvalidValue, "an image desc must leave size and bufferUsage zero");
        if (tiling != VK_IMAGE_TILING_OPTIMAL && tiling != VK_IMAGE_TILING_LINEAR)
            return fail(batonErrorInvalidValue, "image tiling must be OPTIMAL or LINEAR");
        return batonSuccess;
    }
    return fail(batonErrorInvalidValue, "batonMemoryDesc::kind %d is neither buffer nor image", kind);
}

batonError_t Memory::externalFeatures(bool* exportable, bool* importable, bool* dedicatedOnly) const {
    VkExternalMemoryProperties props{};
    if (desc.kind == batonMemoryKindBuffer) {
        VkPhysicalDeviceExternalBufferInfo bi{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO, nullptr, 0,
                                              desc.bufferUsage, kHandleType};
        VkExternalBufferProperties bp{VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES};
        ctx->vki.vkGetPhysicalDeviceExternalBufferProperties(ctx->physicalDevice, &bi, &bp);
        props = bp.externalMemoryProperties;
    } else {
        VkPhysicalDeviceExternalImageFormatInfo ext{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO,
                                                    nullptr, kHandleType};
        VkPhysicalDeviceImageFormatInfo2 fi{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2, &ext, desc.format,
                                            VK_IMAGE_TYPE_2D, desc.tiling, desc.imageUsage, 0};
        VkExternalImageFormatProperties ep{VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES};
        VkImageFormatProperties2 fp{VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2, &ep};
        VkResult r = ctx->vki.vkGetPhysicalDeviceImageFormatProperties2(ctx->physicalDevice, &fi, &fp);
        if (r == VK_ERROR_FORMAT_NOT_SUPPORTED)
            return fail(batonErrorNotSupported, "the device cannot share an image of format %d with this usage and tiling",
                        static_cast<int>(desc.format));
        if (r != VK_SUCCESS) return failVk(r, "vkGetPhysicalDeviceImageFormatProperties2");
        const VkImageFormatProperties& f = fp.imageFormatProperties;
        const uint32_t mips = desc.mipLevels ? desc.mipLevels : 1, layers = desc.arrayLayers ? desc.arrayLayers : 1;
        if (desc.width > f.maxExtent.width || desc.height > f.maxExtent.height || mips > f.maxMipLevels ||
            layers > f.maxArrayLayers)
            return fail(batonErrorInvalidValue, "the image exceeds the device's limits for its format (%ux%u, %u mips, "
                        "%u layers)", f.maxExtent.width, f.maxExtent.height, f.maxMipLevels, f.maxArrayLayers);
        props = ep.externalMemoryProperties;
    }
    *exportable = props.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT;
    *importable = props.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_IMPORTABLE_BIT;
    *dedicatedOnly = props.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_DEDICATED_ONLY_BIT;
    return batonSuccess;
}

batonError_t Memory::createObject() {
    VkResult r;
    if (desc.kind == batonMemoryKindBuffer) {
        VkExternalMemoryBufferCreateInfo ext{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO, nullptr,
                                             static_cast<VkExternalMemoryHandleTypeFlags>(kHandleType)};
        VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, &ext, 0, desc.size, desc.bufferUsage,
                              VK_SHARING_MODE_EXCLUSIVE};
        r = ctx->vkd.vkCreateBuffer(ctx->device, &ci, nullptr, &buffer);
        if (r != VK_SUCCESS) return failVk(r, "vkCreateBuffer (external)");
    } else {
        VkExternalMemoryImageCreateInfo ext{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO, nullptr,
                                            static_cast<VkExternalMemoryHandleTypeFlags>(kHandleType)};
        VkImageCreateInfo ci = imageCreateInfo(desc, &ext);
        r = ctx->vkd.vkCreateImage(ctx->device, &ci, nullptr, &image);
        if (r != VK_SUCCESS) return failVk(r, "vkCreateImage (external)");
    }
    return batonSuccess;
}

void Memory::requirements(VkMemoryRequirements* req, bool* wantsDedicated) const {
    VkMemoryDedicatedRequirements ded{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS};
    VkMemoryRequirements2 r2{VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2, &ded};
    if (buffer) {
        VkBufferMemoryRequirementsInfo2 bi{VK_STRUCTURE_TYPE_BUFFER_MEMORY_REQUIREMENTS_INFO_2, nullptr, buffer};
        ctx->vkd.vkGetBufferMemoryRequirements2(ctx->device, &bi, &r2);
    } else {
        VkImageMemoryRequirementsInfo2 ii{VK_STRUCTURE_TYPE_IMAGE_MEMORY_REQUIREMENTS_INFO_2, nullptr, image};
        ctx->vkd.vkGetImageMemoryRequirements2(ctx->device, &ii, &r2);
    }
    *req = r2.memoryRequirements;
    *wantsDedicated = ded.requiresDedicatedAllocation || ded.prefersDedicatedAllocation;
}

batonError_t Memory::bindAndMap() {
    VkResult r = buffer ? ctx->vkd.vkBindBufferMemory(ctx->device, buffer, memory, 0)
                        : ctx->vkd.vkBindImageMemory(ctx->device, image, memory, 0);
    if (r != VK_SUCCESS) return failVk(r, buffer ? "vkBindBufferMemory" : "vkBindImageMemory");
    VkPhysicalDeviceMemoryProperties mp{};
    ctx->vki.vkGetPhysicalDeviceMemoryProperties(ctx->physicalDevice, &mp);
    if (mp.memoryTypes[memoryTypeIndex].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        r = ctx->vkd.vkMapMemory(ctx->device, memory, 0, VK_WHOLE_SIZE, 0, &mapped);
        if (r != VK_SUCCESS) {
            mapped = nullptr;
            // failVk does not know this one (it would say batonErrorUnknown): it is memory.
            if (r == VK_ERROR_MEMORY_MAP_FAILED)
                return fail(batonErrorMemoryAllocation, "vkMapMemory failed: VK_ERROR_MEMORY_MAP_FAILED (%d)",
                            static_cast<int>(r));
            return failVk(r, "vkMapMemory");
        }
    }
    return batonSuccess;
}

batonError_t Memory::exportNew(Context* ctx, const batonMemoryDesc& desc, int* fdOut, Memory** out) {
    if (ctx->lost()) return ctx->lostError();
    if (!ctx->externalMemoryFd || !ctx->vkd.vkGetMemoryFdKHR)
        return fail(batonErrorNotSupported, "the device has no VK_KHR_external_memory_fd");
    std::unique_ptr<Memory> m(new Memory(ctx));  // its destructor undoes any partial work
    m->desc = desc;
    bool exportable = false, importable = false, dedicatedOnly = false;
    batonError_t e = m->externalFeatures(&exportable, &importable, &dedicatedOnly);
    if (e != batonSuccess) return e;
    if (!exportable || !importable)
        return fail(batonErrorNotSupported, "the device cannot export and import this %s as an opaque fd",
                    desc.kind == batonMemoryKindBuffer ? "buffer" : "image");
    if ((e = m->createObject()) != batonSuccess) return e;
    VkMemoryRequirements req{};
    bool wantsDedicated = false;
    m->requirements(&req, &wantsDedicated);
    VkPhysicalDeviceMemoryProperties mp{};
    ctx->vki.vkGetPhysicalDeviceMemoryProperties(ctx->physicalDevice, &mp);
    if (!pickMemoryType(mp, req.memoryTypeBits, desc.memoryProperties, &m->memoryTypeIndex))
        return fail(batonErrorNotSupported, "no memory type with properties 0x%x can hold this object",
                    desc.memoryProperties);
    m->dedicated = dedicatedOnly || wantsDedicated;
    m->allocationSize = req.size;
    VkMemoryDedicatedAllocateInfo ded{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, nullptr, m->image, m->buffer};
    VkExportMemoryAllocateInfo exp{VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, m->dedicated ? &ded : nullptr,
                                   static_cast<VkExternalMemoryHandleTypeFlags>(kHandleType)};
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &exp, req.size, m->memoryTypeIndex};
    VkResult r = ctx->vkd.vkAllocateMemory(ctx->device, &ai, nullptr, &m->memory);
    if (r != VK_SUCCESS) return failVk(r, "vkAllocateMemory (exportable)");
    if ((e = m->bindAndMap()) != batonSuccess) return e;
    m->exported = true;
    if ((e = m->exportFd(fdOut)) != batonSuccess) return e;
    *out = m.release();
    return batonSuccess;
}

batonError_t Memory::importFd(Context* ctx, const batonMemoryImportDesc& in, Memory** out) {
    if (ctx->lost()) return ctx->lostError();
    if (!ctx->externalMemoryFd) return fail(batonErrorNotSupported, "the device has no VK_KHR_external_memory_fd");
    std::unique_ptr<Memory> m(new Memory(ctx));
    m->desc = in.desc;
    bool exportable = false, importable = false, dedicatedOnly = false;
    batonError_t e = m->externalFeatures(&exportable, &importable, &dedicatedOnly);
    if (e != batonSuccess) return e;
    if (!importable)
        return fail(batonErrorNotSupported, "the device cannot import this %s from an opaque fd",
                    in.desc.kind == batonMemoryKindBuffer ? "buffer" : "image");
    VkPhysicalDeviceMemoryProperties mp{};
    ctx->vki.vkGetPhysicalDeviceMemoryProperties(ctx->physicalDevice, &mp);
    if (in.memoryTypeIndex >= mp.memoryTypeCount)
        return fail(batonErrorInvalidValue, "memoryTypeIndex %u: the device has %u memory types", in.memoryTypeIndex,
                    mp.memoryTypeCount);
    const VkMemoryPropertyFlags have = mp.memoryTypes[in.memoryTypeIndex].propertyFlags;
    if ((have & in.desc.memoryProperties) != in.desc.memoryProperties)
        return fail(batonErrorInvalidValue, "memory type %u lacks the properties 0x%x the desc asks for",
                    in.memoryTypeIndex, in.desc.memoryProperties);
    if (dedicatedOnly && !in.dedicated)
        return fail(batonErrorInvalidValue, "this driver shares such memory only as dedicated allocations");
    if ((e = m->createObject()) != batonSuccess) return e;
    VkMemoryRequirements req{};
    bool wantsDedicated = false;
    m->requirements(&req, &wantsDedicated);
    if (!(req.memoryTypeBits & (1u << in.memoryTypeIndex)))
        return fail(batonErrorInvalidValue, "memory type %u cannot hold this object (allowed: 0x%x)", in.memoryTypeIndex,
                    req.memoryTypeBits);
    if (in.allocationSize < req.size)
        return fail(batonErrorInvalidValue, "allocationSize %llu is less than the %llu bytes the object needs",
                    static_cast<unsigned long long>(in.allocationSize), static_cast<unsigned long long>(req.size));
    if ((e = checkImportSize(*ctx, in.fd, in.memoryTypeIndex, in.allocationSize)) != batonSuccess) return e;
    // Last check before the driver sees the fd.
    if ((e = checkMemoryFd(in.fd, ctx->properties.vendorID, in.allocationSize)) != batonSuccess) return e;
    m->dedicated = in.dedicated;
    m->memoryTypeIndex = in.memoryTypeIndex;
    m->allocationSize = in.allocationSize;
    // The driver gets a duplicate: a successful vkAllocateMemory owns (and may close) the fd
    // it was given, and a bind or map can still fail after that. With the duplicate, every
    // failure leaves the caller's fd open and untouched (ownership passes on success only).
    const int driverFd = fcntl(in.fd, F_DUPFD_CLOEXEC, 0);
    if (driverFd < 0) return fail(batonErrorOperatingSystem, "cannot duplicate fd %d: %s", in.fd, std::strerror(errno));
    VkMemoryDedicatedAllocateInfo ded{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, nullptr, m->image, m->buffer};
    VkImportMemoryFdInfoKHR imp{VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, m->dedicated ? &ded : nullptr, kHandleType,
                                driverFd};
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &imp, in.allocationSize, in.memoryTypeIndex};
    VkResult r = ctx->vkd.vkAllocateMemory(ctx->device, &ai, nullptr, &m->memory);
    if (r != VK_SUCCESS) {
        close(driverFd);  // a failed import leaves its fd with the application: ours
        return failVk(r, "vkAllocateMemory (import)");
    }
    // The driver owns driverFd now; freeing the memory (m's destructor) releases it.
    if ((e = m->bindAndMap()) != batonSuccess) return e;
    close(in.fd);  // the import succeeded: the caller's fd was baton's to close
    *out = m.release();
    return batonSuccess;
}

batonError_t Memory::exportFd(int* fdOut) const {
    if (!exported) return fail(batonErrorNotSupported, "imported memory cannot be exported again; send the exporter's");
    VkMemoryGetFdInfoKHR gi{VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, nullptr, memory, kHandleType};
    int fd = -1;
    VkResult r = ctx->vkd.vkGetMemoryFdKHR(ctx->device, &gi, &fd);
    if (r != VK_SUCCESS) return failVk(r, "vkGetMemoryFdKHR");
    *fdOut = fd;
    return batonSuccess;
}

void Memory::info(batonMemoryInfo* out) const {
    *out = {};
    out->desc = desc;
    out->buffer = buffer;
    out->image = image;
    out->memory = memory;
    out->allocationSize = allocationSize;
    out->memoryTypeIndex = memoryTypeIndex;
    out->dedicated = dedicated;
    out->exported = exported;
    out->hostPointer = mapped;
    out->context = ctx->handle<batonContext_t>();
}

}  // namespace baton
