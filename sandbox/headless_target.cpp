#include "headless_target.h"

namespace sandbox {

HeadlessTarget::HeadlessTarget(Gpu& gpu, VkExtent2D extent, uint32_t count)
    : gpu_(gpu), extent_(extent), count_(count > 4 ? 4 : count) {
    for (uint32_t i = 0; i < count_; ++i) {
        VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
        ici.imageType = VK_IMAGE_TYPE_2D;
        ici.format = kFormat;
        ici.extent = {extent.width, extent.height, 1};
        ici.mipLevels = 1;
        ici.arrayLayers = 1;
        ici.samples = VK_SAMPLE_COUNT_1_BIT;
        ici.tiling = VK_IMAGE_TILING_OPTIMAL;
        ici.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
        VK_CHECK(vkCreateImage(gpu.device, &ici, nullptr, &images_[i]));
        VkMemoryRequirements req{};
        vkGetImageMemoryRequirements(gpu.device, images_[i], &req);
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                                 gpu.memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)};
        VK_CHECK(vkAllocateMemory(gpu.device, &mai, nullptr, &memory_[i]));
        VK_CHECK(vkBindImageMemory(gpu.device, images_[i], memory_[i], 0));
        VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vci.image = images_[i];
        vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vci.format = kFormat;
        vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VK_CHECK(vkCreateImageView(gpu.device, &vci, nullptr, &views_[i]));
    }
}

HeadlessTarget::~HeadlessTarget() {
    for (uint32_t i = 0; i < count_; ++i) {
        vkDestroyImageView(gpu_.device, views_[i], nullptr);
        vkDestroyImage(gpu_.device, images_[i], nullptr);
        vkFreeMemory(gpu_.device, memory_[i], nullptr);
    }
}

bool HeadlessTarget::acquire(uint32_t frameSlot, uint32_t* index, VkSemaphore* wait) {
    *index = frameSlot % count_;  // the renderer waited for this slot's previous frame
    *wait = VK_NULL_HANDLE;
    return true;
}

}  // namespace sandbox
