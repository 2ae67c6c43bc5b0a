#include "cuda/external_memory.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <unistd.h>

#include "api/c_enum.h"
#include "core/error.h"
#include "exec/context.h"
#include "frames/memory.h"

namespace baton {
namespace {

constexpr VkExternalMemoryHandleTypeFlagBits kHandleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
// What a mapped buffer can be used for: everything a "kernel" (the user's commands) does with
// a CUDA device pointer. Importer and exporter need not agree on buffer usage.
constexpr VkBufferUsageFlags kBufferUsage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                                            VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
                                            VK_BUFFER_USAGE_VERTEX_BUFFER_BIT | VK_BUFFER_USAGE_INDEX_BUFFER_BIT;
constexpr unsigned kArrayFlags = batonArrayLayered | batonArraySurfaceLoadStore | batonArrayCubemap |
                                 batonArrayTextureGather | batonArrayColorAttachment;

// The Windows and NvSciBuf types, validated as the semaphore ones are, then NotSupported.
batonError_t validateForeign(const batonExternalMemoryHandleDesc& d, int type) {
    const bool handle = d.handle.win32.handle != nullptr, name = d.handle.win32.name != nullptr;
    switch (type) {
        case batonExternalMemoryHandleTypeOpaqueWin32:
        case batonExternalMemoryHandleTypeD3D12Heap:
        case batonExternalMemoryHandleTypeD3D12Resource:
        case batonExternalMemoryHandleTypeD3D11Resource:
            if (handle == name)
                return fail(batonErrorInvalidValue, "memHandleDesc: exactly one of handle.win32.handle and name must be set");
            break;
        case batonExternalMemoryHandleTypeOpaqueWin32Kmt:
        case batonExternalMemoryHandleTypeD3D11ResourceKmt:
            if (!handle || name)
                return fail(batonErrorInvalidValue, "memHandleDesc: a Kmt handle type needs handle.win32.handle and no name");
            break;
        case batonExternalMemoryHandleTypeNvSciBuf:
            return fail(batonErrorNotSupported, "memHandleDesc: NvSciBuf memory is not supported");
        default:
            return fail(batonErrorInvalidValue, "memHandleDesc->type %d is not a cudaExternalMemoryHandleType", type);
    }
    return fail(batonErrorNotSupported, "memHandleDesc->type %d is a Windows handle type: not supported on Linux", type);
}

bool fits(VkDeviceSize total, VkDeviceSize offset, VkDeviceSize size) { return offset <= total && size <= total - offset; }

VkMemoryRequirements bufferRequirements(const Context& ctx, VkBuffer buffer) {
    VkBufferMemoryRequirementsInfo2 bi{VK_STRUCTURE_TYPE_BUFFER_MEMORY_REQUIREMENTS_INFO_2, nullptr, buffer};
    VkMemoryRequirements2 r2{VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2};
    ctx.vkd.vkGetBufferMemoryRequirements2(ctx.device, &bi, &r2);
    return r2.memoryRequirements;
}

}  // namespace

batonError_t vkFormatOf(const batonChannelFormatDesc& f, VkFormat* out) {
    const int kind = rawEnum(f.f);
    const int bits = f.x;
    const int n = f.w ? 4 : f.z ? 3 : f.y ? 2 : f.x ? 1 : 0;
    const bool uniform = (n < 2 || f.y == bits) && (n < 3 || f.z == bits) && (n < 4 || f.w == bits) &&
                         (n >= 2 || !f.y) && (n >= 3 || !f.z);
    VkFormat fmt = VK_FORMAT_UNDEFINED;
    if (uniform && (n == 1 || n == 2 || n == 4)) {
        const int i = n == 4 ? 2 : n - 1;  // 1, 2 or 4 components
        static const VkFormat u8[] = {VK_FORMAT_R8_UINT, VK_FORMAT_R8G8_UINT, VK_FORMAT_R8G8B8A8_UINT};
        static const VkFormat s8[] = {VK_FORMAT_R8_SINT, VK_FORMAT_R8G8_SINT, VK_FORMAT_R8G8B8A8_SINT};
        static const VkFormat u16[] = {VK_FORMAT_R16_UINT, VK_FORMAT_R16G16_UINT, VK_FORMAT_R16G16B16A16_UINT};
        static const VkFormat s16[] = {VK_FORMAT_R16_SINT, VK_FORMAT_R16G16_SINT, VK_FORMAT_R16G16B16A16_SINT};
        static const VkFormat f16[] = {VK_FORMAT_R16_SFLOAT, VK_FORMAT_R16G16_SFLOAT, VK_FORMAT_R16G16B16A16_SFLOAT};
        static const VkFormat u32[] = {VK_FORMAT_R32_UINT, VK_FORMAT_R32G32_UINT, VK_FORMAT_R32G32B32A32_UINT};
        static const VkFormat s32[] = {VK_FORMAT_R32_SINT, VK_FORMAT_R32G32_SINT, VK_FORMAT_R32G32B32A32_SINT};
        static const VkFormat f32[] = {VK_FORMAT_R32_SFLOAT, VK_FORMAT_R32G32_SFLOAT, VK_FORMAT_R32G32B32A32_SFLOAT};
        if (kind == batonChannelFormatKindUnsigned)
            fmt = bits == 8 ? u8[i] : bits == 16 ? u16[i] : bits == 32 ? u32[i] : VK_FORMAT_UNDEFINED;
        else if (kind == batonChannelFormatKindSigned)
            fmt = bits == 8 ? s8[i] : bits == 16 ? s16[i] : bits == 32 ? s32[i] : VK_FORMAT_UNDEFINED;
        else if (kind == batonChannelFormatKindFloat)
            fmt = bits == 16 ? f16[i] : bits == 32 ? f32[i] : VK_FORMAT_UNDEFINED;
    }
    if (fmt == VK_FORMAT_UNDEFINED)
        return fail(batonErrorInvalidChannelDescriptor,
                    "formatDesc {%d, %d, %d, %d, kind %d}: baton maps 1, 2 or 4 equal components of 8/16/32 bits "
                    "(signed, unsigned; float of 16/32) to a Vulkan format",
                    f.x, f.y, f.z, f.w, kind);
    *out = fmt;
    return batonSuccess;
}

batonError_t ExternalMemory::validate(const batonExternalMemoryHandleDesc& d) {
    const int type = rawEnum(d.type);
    if (type != batonExternalMemoryHandleTypeOpaqueFd) return validateForeign(d, type);
    if (d.flags & ~batonExternalMemoryDedicated)
        return fail(batonErrorInvalidValue, "memHandleDesc->flags 0x%x: only cudaExternalMemoryDedicated (0x1) exists",
                    d.flags);
    if (!d.size) return fail(batonErrorInvalidValue, "memHandleDesc->size is 0");
    if (d.handle.fd < 0) return fail(batonErrorInvalidValue, "memHandleDesc->handle.fd is %d", d.handle.fd);
    return batonSuccess;
}

ExternalMemory::~ExternalMemory() {
    for (Mapping& m : mappings_) destroy(m);
    if (mapped_) ctx->vkd.vkUnmapMemory(ctx->device, memory_);
    if (memory_) ctx->vkd.vkFreeMemory(ctx->device, memory_, nullptr);
    if (dedicated_ && fd_ >= 0) close(fd_);  // non-dedicated: the caller's fd was closed on import
}

void ExternalMemory::destroy(Mapping& m) {
    if (m.buffer) ctx->vkd.vkDestroyBuffer(ctx->device, m.buffer, nullptr);
    if (m.image) ctx->vkd.vkDestroyImage(ctx->device, m.image, nullptr);
    if (m.ownMapped) ctx->vkd.vkUnmapMemory(ctx->device, m.ownMemory);
    if (m.ownMemory) ctx->vkd.vkFreeMemory(ctx->device, m.ownMemory, nullptr);
    m = Mapping{};
}

// The memory type: the requested one, or the lowest-index DEVICE_LOCAL type an exportable
// buffer may use (the exporter's usual choice; see baton_cuda.h), else the lowest allowed.
batonError_t ExternalMemory::pickType(uint32_t requested) {
    VkPhysicalDeviceMemoryProperties mp{};
    ctx->vki.vkGetPhysicalDeviceMemoryProperties(ctx->physicalDevice, &mp);
    if (requested != kDefaultType) {
        if (requested >= mp.memoryTypeCount)
            return fail(batonErrorInvalidValue, "memoryTypeIndex %u: the device has %u memory types", requested,
                        mp.memoryTypeCount);
        memoryTypeIndex_ = requested;
    } else {
        VkExternalMemoryBufferCreateInfo ext{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO, nullptr,
                                             static_cast<VkExternalMemoryHandleTypeFlags>(kHandleType)};
        VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, &ext, 0, 4096, kBufferUsage, VK_SHARING_MODE_EXCLUSIVE};
        VkBuffer probe = VK_NULL_HANDLE;
        VkResult r = ctx->vkd.vkCreateBuffer(ctx->device, &ci, nullptr, &probe);
        if (r != VK_SUCCESS) return failVk(r, "vkCreateBuffer (memory type probe)");
        const VkMemoryRequirements req = bufferRequirements(*ctx, probe);
        ctx->vkd.vkDestroyBuffer(ctx->device, probe, nullptr);
        int best = -1;
        for (uint32_t i = 0; i < mp.memoryTypeCount && best < 0; ++i)
            if ((req.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
                best = static_cast<int>(i);
        for (uint32_t i = 0; i < mp.memoryTypeCount && best < 0; ++i)
            if (req.memoryTypeBits & (1u << i)) best = static_cast<int>(i);
        if (best < 0) return fail(batonErrorNotSupported, "no memory type can hold an external buffer on this device");
        memoryTypeIndex_ = static_cast<uint32_t>(best);
    }
    hostVisible_ = mp.memoryTypes[memoryTypeIndex_].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    return batonSuccess;
}

batonError_t ExternalMemory::importDuplicate(VkBuffer buffer, VkImage image, VkDeviceMemory* memOut, void** mappedOut) {
    const int driverFd = fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (driverFd < 0) return fail(batonErrorOperatingSystem, "cannot duplicate fd %d: %s", fd_, std::strerror(errno));
    VkMemoryDedicatedAllocateInfo ded{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, nullptr, image, buffer};
    VkImportMemoryFdInfoKHR imp{VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, (buffer || image) ? &ded : nullptr,
                                kHandleType, driverFd};
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &imp, size_, memoryTypeIndex_};
    VkDeviceMemory mem = VK_NULL_HANDLE;
    VkResult r = ctx->vkd.vkAllocateMemory(ctx->device, &ai, nullptr, &mem);
    if (r != VK_SUCCESS) {
        close(driverFd);  // a failed import leaves its fd with the application: ours
        return failVk(r, "vkAllocateMemory (import)");
    }
    void* mapped = nullptr;
    if (hostVisible_) {
        r = ctx->vkd.vkMapMemory(ctx->device, mem, 0, VK_WHOLE_SIZE, 0, &mapped);
        if (r != VK_SUCCESS) {
            ctx->vkd.vkFreeMemory(ctx->device, mem, nullptr);
            return r == VK_ERROR_MEMORY_MAP_FAILED ? fail(batonErrorMemoryAllocation, "vkMapMemory failed (import)")
                                                   : failVk(r, "vkMapMemory (import)");
        }
    }
    *memOut = mem;
    *mappedOut = mapped;
    return batonSuccess;
}

batonError_t ExternalMemory::importFd(Context* ctx, const batonExternalMemoryHandleDesc& d, uint32_t memoryTypeIndex,
                                      ExternalMemory** out) {
    if (ctx->lost()) return ctx->lostError();
    if (!ctx->externalMemoryFd) return fail(batonErrorNotSupported, "the device has no VK_KHR_external_memory_fd");
    std::unique_ptr<ExternalMemory> m(new ExternalMemory(ctx));  // its destructor undoes partial work
    m->size_ = d.size;
    m->dedicated_ = d.flags & batonExternalMemoryDedicated;
    batonError_t e = m->pickType(memoryTypeIndex);
    if (e != batonSuccess) return e;
    if ((e = checkImportSize(*ctx, d.handle.fd, m->memoryTypeIndex_, d.size)) != batonSuccess) return e;
    // Last check before the driver sees the fd.
    if ((e = checkMemoryFd(d.handle.fd, ctx->properties.vendorID, d.size)) != batonSuccess) return e;
    m->fd_ = d.handle.fd;  // not ours yet: the destructor closes it only when dedicated_ ...
    if (!m->dedicated_) {
        e = m->importDuplicate(VK_NULL_HANDLE, VK_NULL_HANDLE, &m->memory_, &m->mapped_);
        m->fd_ = -1;  // ... and never the caller's when non-dedicated
        if (e != batonSuccess) return e;
        close(d.handle.fd);  // imported (the driver has a duplicate): the caller's fd was ours to close
    }
    // Dedicated: nothing can fail from here, so the fd is ours now (closed on destroy).
    *out = m.release();
    return batonSuccess;
}

batonError_t ExternalMemory::bind(Mapping* m, const VkMemoryRequirements& req) {
    if (!(req.memoryTypeBits & (1u << memoryTypeIndex_)))
        return fail(batonErrorInvalidValue, "the memory's type %u cannot hold this object (allowed: 0x%x)", memoryTypeIndex_,
                    req.memoryTypeBits);
    if (req.alignment && m->offset % req.alignment)
        return fail(batonErrorInvalidValue, "offset %llu is not a multiple of the %llu bytes the object needs",
                    static_cast<unsigned long long>(m->offset), static_cast<unsigned long long>(req.alignment));
    if (!fits(size_, m->offset, req.size))
        return fail(batonErrorInvalidValue, "the object needs %llu bytes at offset %llu; the memory has %llu",
                    static_cast<unsigned long long>(req.size), static_cast<unsigned long long>(m->offset),
                    static_cast<unsigned long long>(size_));
    VkDeviceMemory mem = memory_;
    if (dedicated_ && req.size != size_)  // Vulkan: a dedicated allocation is exactly its object's size
        return fail(batonErrorInvalidValue, "dedicated memory of %llu bytes: the object must fill it, this one needs %llu",
                    static_cast<unsigned long long>(size_), static_cast<unsigned long long>(req.size));
    if (dedicated_) {
        batonError_t e = importDuplicate(m->buffer, m->image, &m->ownMemory, &m->ownMapped);
        if (e != batonSuccess) return e;
        mem = m->ownMemory;
    }
    VkResult r = m->buffer ? ctx->vkd.vkBindBufferMemory(ctx->device, m->buffer, mem, m->offset)
                           : ctx->vkd.vkBindImageMemory(ctx->device, m->image, mem, m->offset);
    if (r != VK_SUCCESS) return failVk(r, m->buffer ? "vkBindBufferMemory" : "vkBindImageMemory");
    return batonSuccess;
}

batonError_t ExternalMemory::mapBuffer(const batonExternalMemoryBufferDesc& d, uintptr_t key, uint64_t serial,
                                       void** ptrOut) {
    if (d.flags) return fail(batonErrorInvalidValue, "bufferDesc->flags must be 0");
    if (!d.size) return fail(batonErrorInvalidValue, "bufferDesc->size is 0");
    if (!fits(size_, d.offset, d.size))
        return fail(batonErrorInvalidValue, "bufferDesc: offset %llu + size %llu lies beyond the %llu bytes imported",
                    d.offset, d.size, static_cast<unsigned long long>(size_));
    if (dedicated_ && d.offset)
        return fail(batonErrorInvalidValue, "bufferDesc->offset must be 0 for dedicated memory (Vulkan binds it at 0)");
    Mapping m;
    m.serial = serial;
    m.offset = d.offset;
    m.size = d.size;
    VkExternalMemoryBufferCreateInfo ext{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO, nullptr,
                                         static_cast<VkExternalMemoryHandleTypeFlags>(kHandleType)};
    VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, &ext, 0, d.size, kBufferUsage, VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = ctx->vkd.vkCreateBuffer(ctx->device, &ci, nullptr, &m.buffer);
    if (r != VK_SUCCESS) return failVk(r, "vkCreateBuffer (mapped buffer)");
    batonError_t e = bind(&m, bufferRequirements(*ctx, m.buffer));
    if (e == batonSuccess) {
        std::lock_guard lock(mutex_);
        mappings_.push_back(m);  // may throw: m is destroyed below
        *ptrOut = hostVisible_ ? static_cast<char*>(dedicated_ ? m.ownMapped : mapped_) + d.offset
                               : reinterpret_cast<void*>(key);
        return batonSuccess;
    }
    destroy(m);
    return e;
}

batonError_t ExternalMemory::mapImage(const batonExternalMemoryMipmappedArrayDesc& d, uint64_t serial) {
    if (d.flags & ~kArrayFlags) return fail(batonErrorInvalidValue, "mipmapDesc->flags 0x%x: unknown bits", d.flags);
    if (d.flags & batonArrayCubemap) return fail(batonErrorNotSupported, "mipmapDesc: cubemaps are not supported");
    if (!d.numLevels) return fail(batonErrorInvalidValue, "mipmapDesc->numLevels is 0");
    if (!d.extent.width || d.extent.width > UINT32_MAX || d.extent.height > UINT32_MAX || d.extent.depth > UINT32_MAX)
        return fail(batonErrorInvalidValue, "mipmapDesc->extent: width must be > 0 and every side below 2^32");
    if (d.offset >= size_) return fail(batonErrorInvalidValue, "mipmapDesc->offset %llu lies beyond the %llu bytes imported",
                                       d.offset, static_cast<unsigned long long>(size_));
    if (dedicated_ && d.offset)
        return fail(batonErrorInvalidValue, "mipmapDesc->offset must be 0 for dedicated memory (Vulkan binds it at 0)");
    VkFormat format{};
    batonError_t e = vkFormatOf(d.formatDesc, &format);
    if (e != batonSuccess) return e;
    const bool layered = d.flags & batonArrayLayered;
    VkImageCreateInfo ci{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    ci.imageType = d.extent.height == 0 ? VK_IMAGE_TYPE_1D : (d.extent.depth && !layered) ? VK_IMAGE_TYPE_3D : VK_IMAGE_TYPE_2D;
    ci.format = format;
    ci.extent = {static_cast<uint32_t>(d.extent.width), d.extent.height ? static_cast<uint32_t>(d.extent.height) : 1u,
                 ci.imageType == VK_IMAGE_TYPE_3D ? static_cast<uint32_t>(d.extent.depth) : 1u};
    ci.mipLevels = d.numLevels;
    ci.arrayLayers = layered && d.extent.depth ? static_cast<uint32_t>(d.extent.depth) : 1u;
    ci.samples = VK_SAMPLE_COUNT_1_BIT;
    ci.tiling = VK_IMAGE_TILING_OPTIMAL;
    ci.usage = VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
    if (d.flags & batonArraySurfaceLoadStore) ci.usage |= VK_IMAGE_USAGE_STORAGE_BIT;
    if (d.flags & batonArrayColorAttachment) ci.usage |= VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
    ci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ci.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    // What the driver can import as this image, and its limits, before creating it.
    VkPhysicalDeviceExternalImageFormatInfo extInfo{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO,
                                                    nullptr, kHandleType};
    VkPhysicalDeviceImageFormatInfo2 fi{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2, &extInfo, ci.format,
                                        ci.imageType, ci.tiling, ci.usage, 0};
    VkExternalImageFormatProperties ep{VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES};
    VkImageFormatProperties2 fp{VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2, &ep};
    VkResult r = ctx->vki.vkGetPhysicalDeviceImageFormatProperties2(ctx->physicalDevice, &fi, &fp);
    if (r == VK_ERROR_FORMAT_NOT_SUPPORTED ||
        !(ep.externalMemoryProperties.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_IMPORTABLE_BIT))
        return fail(batonErrorNotSupported, "the device cannot import a VkImage of format %d with these flags",
                    static_cast<int>(format));
    if (r != VK_SUCCESS) return failVk(r, "vkGetPhysicalDeviceImageFormatProperties2");
    const VkImageFormatProperties& lim = fp.imageFormatProperties;
    if (ci.extent.width > lim.maxExtent.width || ci.extent.height > lim.maxExtent.height ||
        ci.extent.depth > lim.maxExtent.depth || ci.mipLevels > lim.maxMipLevels || ci.arrayLayers > lim.maxArrayLayers)
        return fail(batonErrorInvalidValue, "mipmapDesc exceeds the device's limits for the format (%ux%ux%u, %u levels, "
                    "%u layers)", lim.maxExtent.width, lim.maxExtent.height, lim.maxExtent.depth, lim.maxMipLevels,
                    lim.maxArrayLayers);
    if ((ep.externalMemoryProperties.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_DEDICATED_ONLY_BIT) && !dedicated_)
        return fail(batonErrorInvalidValue, "this driver shares such images only as dedicated memory "
                                            "(import with cudaExternalMemoryDedicated)");
    VkExternalMemoryImageCreateInfo ext{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO, nullptr,
                                        static_cast<VkExternalMemoryHandleTypeFlags>(kHandleType)};
    ci.pNext = &ext;
    Mapping m;
    m.serial = serial;
    m.offset = d.offset;
    if ((r = ctx->vkd.vkCreateImage(ctx->device, &ci, nullptr, &m.image)) != VK_SUCCESS)
        return failVk(r, "vkCreateImage (mipmapped array)");
    VkMemoryRequirements req{};
    ctx->vkd.vkGetImageMemoryRequirements(ctx->device, m.image, &req);
    m.size = req.size;
    m.imageDesc = {m.image, ci.format, ci.imageType, ci.extent, ci.mipLevels, ci.arrayLayers, ci.usage,
                   ctx->handle<batonContext_t>()};
    if ((e = bind(&m, req)) == batonSuccess) {
        std::lock_guard lock(mutex_);
        mappings_.push_back(m);
        return batonSuccess;
    }
    destroy(m);
    return e;
}

bool ExternalMemory::unmap(uint64_t serial) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < mappings_.size(); ++i)
        if (mappings_[i].serial == serial) {
            destroy(mappings_[i]);
            mappings_.erase(mappings_.begin() + static_cast<std::ptrdiff_t>(i));
            return true;
        }
    return false;
}

bool ExternalMemory::bufferInfo(uint64_t serial, batonMappedBufferInfo* out) {
    std::lock_guard lock(mutex_);
    for (const Mapping& m : mappings_)
        if (m.serial == serial && m.buffer) {
            *out = {};
            out->buffer = m.buffer;
            out->memory = dedicated_ ? m.ownMemory : memory_;
            out->offset = m.offset;
            out->size = m.size;
            if (hostVisible_) out->hostPointer = static_cast<char*>(dedicated_ ? m.ownMapped : mapped_) + m.offset;
            out->context = ctx->handle<batonContext_t>();
            return true;
        }
    return false;
}

bool ExternalMemory::imageInfo(uint64_t serial, batonMipmappedArrayInfo* out) {
    std::lock_guard lock(mutex_);
    for (const Mapping& m : mappings_)
        if (m.serial == serial && m.image) {
            *out = m.imageDesc;
            return true;
        }
    return false;
}

}  // namespace baton
