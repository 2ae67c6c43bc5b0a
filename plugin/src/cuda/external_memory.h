// CUDA-shaped external memory (baton_cuda.h): memory imported from an opaque fd, then
// buffers and images made over parts of it ("mappings"), as cudaImportExternalMemory and
// cudaExternalMemoryGetMapped* do. Frame memory (frames/memory.h) is the other shape: one
// object bound to one allocation, both described up front.
//
// Non-dedicated memory is imported once, in importFd; mappings bind at their offsets.
// Dedicated memory can be bound only to the object it was allocated for, which Vulkan must
// be told when it imports: each mapping imports a duplicate of the fd with its own object.
#pragma once

#include <mutex>
#include <vector>

#include <baton/baton_cuda.h>

#include "core/object.h"

namespace baton {

class Context;

class ExternalMemory final : public Object {
public:
    static constexpr uint32_t kDefaultType = UINT32_MAX;  // importFd: pick the memory type (baton_cuda.h)

    // Checks desc (no driver call): InvalidValue / NotSupported as baton_cuda.h says.
    static batonError_t validate(const batonExternalMemoryHandleDesc& desc);
    // Imports desc.fd into ctx. Takes the fd only on success; on failure it is the caller's,
    // open and untouched.
    static batonError_t importFd(Context* ctx, const batonExternalMemoryHandleDesc& desc, uint32_t memoryTypeIndex,
                                 ExternalMemory** out);
    ~ExternalMemory() override;

    // A buffer over [offset, offset+size): *key is what the user gets as the "device pointer".
    batonError_t mapBuffer(const batonExternalMemoryBufferDesc& desc, uintptr_t key, uint64_t serial, void** ptrOut);
    batonError_t mapImage(const batonExternalMemoryMipmappedArrayDesc& desc, uint64_t serial);
    // Frees the mapping made with serial; false when there is none (freed already).
    bool unmap(uint64_t serial);
    bool bufferInfo(uint64_t serial, batonMappedBufferInfo* out);
    bool imageInfo(uint64_t serial, batonMipmappedArrayInfo* out);

    Context* const ctx;

private:
    struct Mapping {
        uint64_t serial = 0;
        VkBuffer buffer = VK_NULL_HANDLE;
        VkImage image = VK_NULL_HANDLE;
        VkDeviceMemory ownMemory = VK_NULL_HANDLE;  // dedicated: this mapping's import
        void* ownMapped = nullptr;
        VkDeviceSize offset = 0, size = 0;
        batonMipmappedArrayInfo imageDesc{};
    };

    explicit ExternalMemory(Context* c) : Object(ObjectType::ExternalMemory), ctx(c) {}
    batonError_t pickType(uint32_t requested);
    // Imports a duplicate of fd_ (the caller's or ours): the driver owns the duplicate on
    // success, so a failure anywhere leaves fd_ as it was. dedicatedTo: buffer or image.
    batonError_t importDuplicate(VkBuffer buffer, VkImage image, VkDeviceMemory* memOut, void** mappedOut);
    // Binds a new object of the mapping at offset (dedicated: to its own import), after
    // checking the driver's requirements against the memory.
    batonError_t bind(Mapping* m, const VkMemoryRequirements& req);
    void destroy(Mapping& m);

    int fd_ = -1;                 // dedicated: ours from import on; else the caller's until import succeeds
    VkDeviceSize size_ = 0;
    bool dedicated_ = false;
    uint32_t memoryTypeIndex_ = 0;
    bool hostVisible_ = false;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;  // non-dedicated
    void* mapped_ = nullptr;

    std::mutex mutex_;  // mappings_
    std::vector<Mapping> mappings_;
};

// Turns a channel format into a VkFormat; batonErrorInvalidChannelDescriptor when none fits.
batonError_t vkFormatOf(const batonChannelFormatDesc& f, VkFormat* out);

}  // namespace baton
