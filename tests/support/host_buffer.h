// A host-visible, coherent VkBuffer on a baton context's device, and a few transfer commands,
// for tests that check what GPU work wrote and in which order. Calls Vulkan through the
// loader the tests link, with the context's own VkDevice (batonContextGetInfo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <baton/baton.h>

namespace batontest {

class HostBuffer {
public:
    HostBuffer() = default;
    ~HostBuffer() { destroy(); }
    HostBuffer(const HostBuffer&) = delete;
    HostBuffer& operator=(const HostBuffer&) = delete;

    // Creates a zero-filled buffer of `words` 32-bit words on ctx's device (NULL: current).
    // Returns VK_SUCCESS or the failing call's result (VK_ERROR_UNKNOWN if baton failed).
    VkResult create(batonContext_t ctx, size_t words);
    // Destroys it. The work that uses it must have completed.
    void destroy();

    VkBuffer buffer() const { return buffer_; }
    VkDevice device() const { return device_; }
    size_t size() const { return count_; }
    volatile uint32_t* words() const { return words_; }
    // Index of the first word of [first, first + n) that is not v, or SIZE_MAX if all are.
    size_t firstMismatch(size_t first, size_t n, uint32_t v) const;

private:
    VkDevice device_ = VK_NULL_HANDLE;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    volatile uint32_t* words_ = nullptr;
    size_t count_ = 0;
};

// Fills words [first, first + n) with v.
void cmdFill(VkCommandBuffer cb, const HostBuffer& b, size_t first, size_t n, uint32_t v);
// Copies n words from src to dst (the ranges must not overlap).
void cmdCopy(VkCommandBuffer cb, const HostBuffer& b, size_t src, size_t dst, size_t n);
// Makes every earlier write on the queue (this and earlier submissions) visible to later
// transfers: the start of a command buffer whose inputs another queue or stream produced.
void cmdBarrierAfterAnyWrite(VkCommandBuffer cb);
// Transfer reads and writes before it happen before transfers after it.
void cmdTransferBarrier(VkCommandBuffer cb);
// Transfer writes before it become visible to the host.
void cmdHostReadBarrier(VkCommandBuffer cb);

// batonStreamRecord with a lambda (record callbacks run synchronously, so a local is fine).
template <class F>
batonError_t recordOn(batonStream_t stream, F&& f) {
    using Fn = std::remove_reference_t<F>;
    return batonStreamRecord(
        stream, [](VkCommandBuffer cb, void* user) { (*static_cast<Fn*>(user))(cb); }, &f);
}

}  // namespace batontest
