// Frame memory shared across processes: a VkBuffer or 2D VkImage bound to memory exported or
// imported as an opaque fd (VK_KHR_external_memory_fd). One allocation per object, bound at
// offset 0, so that what travels (fd, allocation size, memory type, dedicated or not) is all
// an importer on the same device needs to recreate the same object over the same bytes.
#pragma once

#include <baton/baton_memory.h>

#include "core/object.h"

namespace baton {

class Context;

// Looks at a memory fd before the driver does (kind of file; a memfd's size against
// allocationSize). batonSuccess or the error to report, touching nothing. Also used by
// batonImportExternalMemory (cuda/external_memory.cpp).
batonError_t checkMemoryFd(int fd, uint32_t vendorID, VkDeviceSize allocationSize);
// Refuses an import of more bytes than the memory type's heap holds (no fd holds them, and
// the driver may not be asked for them), before the driver sees anything.
batonError_t checkImportSize(const Context& ctx, int fd, uint32_t memoryTypeIndex, VkDeviceSize size);

class Memory final : public Object {
public:
    explicit Memory(Context* c) : Object(ObjectType::Memory), ctx(c) {}
    ~Memory() override;

    // Checks a desc's fields (no driver call). Returns batonSuccess or InvalidValue.
    static batonError_t validate(const batonMemoryDesc& desc);
    // Creates the object with exportable memory and returns a new fd the caller owns.
    static batonError_t exportNew(Context* ctx, const batonMemoryDesc& desc, int* fdOut, Memory** out);
    // Recreates the object over imported memory. Takes in.fd only on success (and closes it: the
    // driver imports a duplicate); on any failure in.fd is the caller's, open and untouched.
    static batonError_t importFd(Context* ctx, const batonMemoryImportDesc& in, Memory** out);

    // A new fd for the same memory (exported objects only), owned by the caller.
    batonError_t exportFd(int* fdOut) const;
    void info(batonMemoryInfo* out) const;

    Context* const ctx;
    batonMemoryDesc desc{};
    VkBuffer buffer = VK_NULL_HANDLE;
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize allocationSize = 0;
    uint32_t memoryTypeIndex = 0;
    bool dedicated = false;
    bool exported = false;
    void* mapped = nullptr;

private:
    // What the driver says about sharing this desc: exportable/importable, dedicated only.
    batonError_t externalFeatures(bool* exportable, bool* importable, bool* dedicatedOnly) const;
    batonError_t createObject();
    // Size, type bits and whether a dedicated allocation is wanted, for the created object.
    void requirements(VkMemoryRequirements* req, bool* wantsDedicated) const;
    batonError_t bindAndMap();
};

}  // namespace baton
