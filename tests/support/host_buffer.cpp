#include "host_buffer.h"

#include <cstring>

namespace batontest {

VkResult HostBuffer::create(batonContext_t ctx, size_t words) {
    destroy();
    batonContextInfo info{};
    if (batonContextGetInfo(ctx, &info) != batonSuccess) return VK_ERROR_UNKNOWN;
    device_ = info.device;
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = words * sizeof(uint32_t);
    bi.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult r = vkCreateBuffer(device_, &bi, nullptr, &buffer_);
    if (r != VK_SUCCESS) return r;
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(device_, buffer_, &req);
    VkPhysicalDeviceMemoryProperties mp{};
    vkGetPhysicalDeviceMemoryProperties(info.physicalDevice, &mp);
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < mp.memoryTypeCount && type == UINT32_MAX; ++i)
        if ((req.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) type = i;
    if (type == UINT32_MAX) return VK_ERROR_FEATURE_NOT_PRESENT;
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size, type};
    if ((r = vkAllocateMemory(device_, &ai, nullptr, &memory_)) != VK_SUCCESS) return r;
    if ((r = vkBindBufferMemory(device_, buffer_, memory_, 0)) != VK_SUCCESS) return r;
    void* p = nullptr;
    if ((r = vkMapMemory(device_, memory_, 0, VK_WHOLE_SIZE, 0, &p)) != VK_SUCCESS) return r;
    std::memset(p, 0, words * sizeof(uint32_t));
    words_ = static_cast<volatile uint32_t*>(p);
    count_ = words;
    return VK_SUCCESS;
}

void HostBuffer::destroy() {
    if (buffer_) vkDestroyBuffer(device_, buffer_, nullptr);
    if (memory_) vkFreeMemory(device_, memory_, nullptr);  // unmaps too
    buffer_ = VK_NULL_HANDLE;
    memory_ = VK_NULL_HANDLE;
    words_ = nullptr;
    count_ = 0;
}

size_t HostBuffer::firstMismatch(size_t first, size_t n, uint32_t v) const {
    for (size_t i = first; i < first + n; ++i)
        if (i >= count_ || words_[i] != v) return i;
    return SIZE_MAX;
}

void cmdFill(VkCommandBuffer cb, const HostBuffer& b, size_t first, size_t n, uint32_t v) {
    vkCmdFillBuffer(cb, b.buffer(), first * sizeof(uint32_t), n * sizeof(uint32_t), v);
}

void cmdCopy(VkCommandBuffer cb, const HostBuffer& b, size_t src, size_t dst, size_t n) {
    VkBufferCopy region{src * sizeof(uint32_t), dst * sizeof(uint32_t), n * sizeof(uint32_t)};
    vkCmdCopyBuffer(cb, b.buffer(), b.buffer(), 1, &region);
}

static void memoryBarrier(VkCommandBuffer cb, VkPipelineStageFlags2 srcStage, VkAccessFlags2 srcAccess,
                          VkPipelineStageFlags2 dstStage, VkAccessFlags2 dstAccess) {
    VkMemoryBarrier2 mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER_2, nullptr, srcStage, srcAccess, dstStage, dstAccess};
    VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    di.memoryBarrierCount = 1;
    di.pMemoryBarriers = &mb;
    vkCmdPipelineBarrier2(cb, &di);
}

void cmdBarrierAfterAnyWrite(VkCommandBuffer cb) {
    memoryBarrier(cb, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, VK_ACCESS_2_MEMORY_WRITE_BIT,
                  VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT, VK_ACCESS_2_TRANSFER_READ_BIT | VK_ACCESS_2_TRANSFER_WRITE_BIT);
}

void cmdTransferBarrier(VkCommandBuffer cb) {
    memoryBarrier(cb, VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT, VK_ACCESS_2_TRANSFER_READ_BIT | VK_ACCESS_2_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT, VK_ACCESS_2_TRANSFER_READ_BIT | VK_ACCESS_2_TRANSFER_WRITE_BIT);
}

void cmdHostReadBarrier(VkCommandBuffer cb) {
    memoryBarrier(cb, VK_PIPELINE_STAGE_2_ALL_TRANSFER_BIT, VK_ACCESS_2_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_2_HOST_BIT,
                  VK_ACCESS_2_HOST_READ_BIT);
}

}  // namespace batontest
