#include "vk_renderer.h"

#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace {

bool check(VkResult r, const char* call, std::string* why) {
    if (r == VK_SUCCESS) return true;
    *why = std::string(call) + " failed: " + std::to_string(static_cast<int>(r));
    return false;
}

bool checkBaton(batonError_t e, const char* call, std::string* why) {
    if (e == batonSuccess) return true;
    *why = std::string(call) + " -> " + batonGetErrorName(e) + ": " + batonGetLastErrorMessage();
    return false;
}

int typeScore(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 5;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 4;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return 2;
        default: return 1;
    }
}

uint32_t findMemoryType(VkPhysicalDevice pd, uint32_t bits, VkMemoryPropertyFlags want) {
    VkPhysicalDeviceMemoryProperties mp{};
    vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
        if ((bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) return i;
    return UINT32_MAX;
}

}  // namespace

VkBool32 VKAPI_PTR VkRenderer::onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
                                         const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        ++static_cast<VkRenderer*>(user)->errors_;
        std::fprintf(stderr, "renderer validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

VkRenderer::~VkRenderer() {
    for (int fd : {memoryFd_, cudaDoneFd_, vkDoneFd_})
        if (fd >= 0) close(fd);
    if (device_) vkDeviceWaitIdle(device_);
    batonDestroyExternalSemaphore(batonCudaDone_);
    batonDestroyExternalSemaphore(batonVkDone_);
    batonDestroyMemory(batonMemory_);
    batonContextDestroy(baton_);
    if (device_) {
        vkDestroyFence(device_, fence_, nullptr);
        vkDestroyCommandPool(device_, pool_, nullptr);
        vkDestroyBuffer(device_, readback_, nullptr);
        vkFreeMemory(device_, readbackMemory_, nullptr);
        vkDestroySemaphore(device_, cudaDone_, nullptr);
        vkDestroySemaphore(device_, vkDone_, nullptr);
        if (!batonMemory_) {
            vkDestroyBuffer(device_, shared_, nullptr);
            vkFreeMemory(device_, sharedMemory_, nullptr);
        }
        vkDestroyDevice(device_, nullptr);
    }
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        destroy(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

bool VkRenderer::create(const RendererOptions& options, std::string* why) {
    opt_ = options;
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "cuda-interop renderer";
    app.apiVersion = VK_API_VERSION_1_3;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
    dbg.pfnUserCallback = onMessage;
    dbg.pUserData = this;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    if (opt_.validation) {
        ici.pNext = &dbg;
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = &layer;
        ici.enabledExtensionCount = 1;
        ici.ppEnabledExtensionNames = &ext;
    }
    if (!check(vkCreateInstance(&ici, nullptr, &instance_), "vkCreateInstance", why)) return false;
    if (opt_.validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        if (!create || !check(create(instance_, &dbg, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT", why))
            return false;
    }
    return createDevice(why) && createShared(why) && createReadback(why);
}

bool VkRenderer::createDevice(std::string* why) {
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance_, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(instance_, &n, pds.data());
    int best = -1;
    for (VkPhysicalDevice pd : pds) {
        VkPhysicalDeviceProperties p{};
        vkGetPhysicalDeviceProperties(pd, &p);
        if (p.apiVersion >= VK_API_VERSION_1_3 && typeScore(p.deviceType) > best) {
            best = typeScore(p.deviceType);
            physical_ = pd;
        }
    }
    if (!physical_) return *why = "no Vulkan 1.3 device", false;
    VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &id};
    vkGetPhysicalDeviceProperties2(physical_, &p2);
    std::memcpy(uuid_, id.deviceUUID, VK_UUID_SIZE);
    std::memcpy(name_, p2.properties.deviceName, sizeof name_);
    uint32_t nf = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nf, fams.data());
    for (family_ = 0; family_ < nf && !(fams[family_].queueFlags & VK_QUEUE_GRAPHICS_BIT); ++family_) {}
    if (family_ == nf) return *why = "no graphics queue", false;
    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, family_, 1, &priority};
    std::vector<const char*> exts = {VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME};
    if (opt_.native) exts.push_back(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    f13.synchronization2 = VK_TRUE;
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13};
    f12.timelineSemaphore = VK_TRUE;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f12};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    dci.ppEnabledExtensionNames = exts.data();
    if (!check(vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice", why)) return false;
    vkGetDeviceQueue(device_, family_, 0, &queue_);
    if (opt_.native) return true;
    // Baton mode: attach to this device, lending the one queue under the renderer's lock.
    batonContextAttachInfo ai{};
    ai.getInstanceProcAddr = vkGetInstanceProcAddr;
    ai.instance = instance_;
    ai.physicalDevice = physical_;
    ai.device = device_;
    ai.apiVersion = VK_API_VERSION_1_3;
    ai.computeQueue = {queue_, family_, 0};
    ai.enabledExtensions = exts.data();
    ai.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    ai.enabledFeatures = &f12;
    ai.lockQueue = lockQueue;
    ai.unlockQueue = unlockQueue;
    ai.queueLockUserData = this;
    return checkBaton(batonContextAttach(&baton_, &ai), "batonContextAttach", why);
}

bool VkRenderer::createShared(std::string* why) {
    if (!opt_.native) {
        // baton exports on the renderer's device: the attached context made current briefly.
        batonContext_t previous = nullptr;
        if (!checkBaton(batonCtxGetCurrent(&previous), "batonCtxGetCurrent", why) ||
            !checkBaton(batonCtxSetCurrent(baton_), "batonCtxSetCurrent", why))
            return false;
        batonMemoryDesc md{};
        md.kind = batonMemoryKindBuffer;
        md.size = opt_.bufferBytes;
        md.bufferUsage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        bool ok = checkBaton(batonExportMemory(&memoryFd_, &batonMemory_, &md), "batonExportMemory", why);
        batonExternalSemaphoreExportDesc sd{};
        sd.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
        sd.flags = batonExportFlagPortable;
        ok = ok && checkBaton(batonExportExternalSemaphore(&cudaDoneFd_, &batonCudaDone_, &sd), "batonExportExternalSemaphore", why);
        ok = ok && checkBaton(batonExportExternalSemaphore(&vkDoneFd_, &batonVkDone_, &sd), "batonExportExternalSemaphore", why);
        batonCtxSetCurrent(previous);
        if (!ok) return false;
        batonMemoryInfo info{};
        if (!checkBaton(batonMemoryGetInfo(batonMemory_, &info), "batonMemoryGetInfo", why)) return false;
        shared_ = info.buffer;
        sharedMemory_ = info.memory;
        sharedSize_ = info.allocationSize;
        return true;
    }
    VkExternalMemoryBufferCreateInfo ext{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO, nullptr,
                                         VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, &ext, 0, opt_.bufferBytes,
                           VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                               VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                           VK_SHARING_MODE_EXCLUSIVE};
    if (!check(vkCreateBuffer(device_, &bci, nullptr, &shared_), "vkCreateBuffer (shared)", why)) return false;
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(device_, shared_, &req);
    VkExportMemoryAllocateInfo exp{VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, nullptr,
                                   VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &exp, req.size,
                            findMemoryType(physical_, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)};
    if (ai.memoryTypeIndex == UINT32_MAX) return *why = "no device-local memory type", false;
    if (!check(vkAllocateMemory(device_, &ai, nullptr, &sharedMemory_), "vkAllocateMemory (exportable)", why) ||
        !check(vkBindBufferMemory(device_, shared_, sharedMemory_, 0), "vkBindBufferMemory", why))
        return false;
    sharedSize_ = req.size;
    VkExportSemaphoreCreateInfo es{VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO, nullptr,
                                   VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkSemaphoreTypeCreateInfo tci{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, &es, VK_SEMAPHORE_TYPE_TIMELINE, 0};
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &tci};
    return check(vkCreateSemaphore(device_, &sci, nullptr, &cudaDone_), "vkCreateSemaphore", why) &&
           check(vkCreateSemaphore(device_, &sci, nullptr, &vkDone_), "vkCreateSemaphore", why);
}

bool VkRenderer::createReadback(std::string* why) {
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, nullptr, 0, opt_.bufferBytes,
                           VK_BUFFER_USAGE_TRANSFER_DST_BIT, VK_SHARING_MODE_EXCLUSIVE};
    if (!check(vkCreateBuffer(device_, &bci, nullptr, &readback_), "vkCreateBuffer (readback)", why)) return false;
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(device_, readback_, &req);
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                            findMemoryType(physical_, req.memoryTypeBits,
                                           VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)};
    void* p = nullptr;
    if (!check(vkAllocateMemory(device_, &ai, nullptr, &readbackMemory_), "vkAllocateMemory (readback)", why) ||
        !check(vkBindBufferMemory(device_, readback_, readbackMemory_, 0), "vkBindBufferMemory (readback)", why) ||
        !check(vkMapMemory(device_, readbackMemory_, 0, VK_WHOLE_SIZE, 0, &p), "vkMapMemory", why))
        return false;
    readbackWords_ = static_cast<const uint32_t*>(p);
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr,
                                VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, family_};
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, VK_NULL_HANDLE,
                                    VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (!check(vkCreateCommandPool(device_, &pci, nullptr, &pool_), "vkCreateCommandPool", why)) return false;
    cai.commandPool = pool_;
    return check(vkAllocateCommandBuffers(device_, &cai, &cmd_), "vkAllocateCommandBuffers", why) &&
           check(vkCreateFence(device_, &fci, nullptr, &fence_), "vkCreateFence", why);
}

bool VkRenderer::exportHandles(InteropHandles* h, std::string* why) {
    std::memcpy(h->deviceUUID, uuid_, VK_UUID_SIZE);
    h->bufferBytes = opt_.bufferBytes;
    h->memorySize = sharedSize_;
    h->dedicated = false;
    if (!opt_.native) {  // the fds baton exported at creation, handed over once
        batonMemoryInfo info{};
        if (!checkBaton(batonMemoryGetInfo(batonMemory_, &info), "batonMemoryGetInfo", why)) return false;
        if (memoryFd_ < 0) return *why = "the handles were handed over already", false;
        h->dedicated = info.dedicated;
        h->memoryFd = memoryFd_;
        h->cudaDoneFd = cudaDoneFd_;
        h->vkDoneFd = vkDoneFd_;
        memoryFd_ = cudaDoneFd_ = vkDoneFd_ = -1;
        return true;
    }
    auto getMemoryFd = reinterpret_cast<PFN_vkGetMemoryFdKHR>(vkGetDeviceProcAddr(device_, "vkGetMemoryFdKHR"));
    auto getSemaphoreFd = reinterpret_cast<PFN_vkGetSemaphoreFdKHR>(vkGetDeviceProcAddr(device_, "vkGetSemaphoreFdKHR"));
    VkMemoryGetFdInfoKHR mi{VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, nullptr, sharedMemory_,
                            VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkSemaphoreGetFdInfoKHR a{VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR, nullptr, cudaDone_,
                              VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT};
    VkSemaphoreGetFdInfoKHR b = a;
    b.semaphore = vkDone_;
    return check(getMemoryFd(device_, &mi, &h->memoryFd), "vkGetMemoryFdKHR", why) &&
           check(getSemaphoreFd(device_, &a, &h->cudaDoneFd), "vkGetSemaphoreFdKHR", why) &&
           check(getSemaphoreFd(device_, &b, &h->vkDoneFd), "vkGetSemaphoreFdKHR", why);
}

bool VkRenderer::submitInfos(unsigned long long n, VkSemaphoreSubmitInfo* wait, VkSemaphoreSubmitInfo* signal,
                             std::string* why) {
    const VkPipelineStageFlags2 stage = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT;
    if (opt_.native) {
        *wait = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, cudaDone_, n, stage, 0};
        *signal = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, vkDone_, n, stage, 0};
        return true;
    }
    // One shared queue: baton says NotReady until the interop side's signal is submitted.
    batonError_t e;
    while ((e = batonGetWaitSubmitInfo(batonCudaDone_, n, stage, wait)) == batonErrorNotReady) {
        e = batonExternalSemaphoreHostWait(batonCudaDone_, n, 5000000000ull);
        if (e != batonSuccess) return checkBaton(e, "batonExternalSemaphoreHostWait (cudaDone)", why);
    }
    return checkBaton(e, "batonGetWaitSubmitInfo", why) &&
           checkBaton(batonGetSignalSubmitInfo(batonVkDone_, n, stage, signal), "batonGetSignalSubmitInfo", why);
}

// Takes the buffer from the interop side (another device: queue family EXTERNAL), copies it
// into the readback buffer, gives it back, and makes the copy visible to the host.
void VkRenderer::recordRead(VkCommandBuffer cb) {
    VkBufferMemoryBarrier2 acquire{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER_2};
    acquire.srcStageMask = VK_PIPELINE_STAGE_2_NONE;
    acquire.dstStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
    acquire.dstAccessMask = VK_ACCESS_2_TRANSFER_READ_BIT;
    acquire.srcQueueFamilyIndex = VK_QUEUE_FAMILY_EXTERNAL;
    acquire.dstQueueFamilyIndex = family_;
    acquire.buffer = shared_;
    acquire.size = VK_WHOLE_SIZE;
    VkDependencyInfo dep{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    dep.bufferMemoryBarrierCount = 1;
    dep.pBufferMemoryBarriers = &acquire;
    vkCmdPipelineBarrier2(cb, &dep);
    VkBufferCopy region{0, 0, opt_.bufferBytes};
    vkCmdCopyBuffer(cb, shared_, readback_, 1, &region);
    VkBufferMemoryBarrier2 release = acquire;
    release.srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
    release.srcAccessMask = VK_ACCESS_2_TRANSFER_READ_BIT;
    release.dstStageMask = VK_PIPELINE_STAGE_2_NONE;
    release.dstAccessMask = 0;
    release.srcQueueFamilyIndex = family_;
    release.dstQueueFamilyIndex = VK_QUEUE_FAMILY_EXTERNAL;
    VkMemoryBarrier2 host{VK_STRUCTURE_TYPE_MEMORY_BARRIER_2};
    host.srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
    host.srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT;
    host.dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT;
    host.dstAccessMask = VK_ACCESS_2_HOST_READ_BIT;
    dep.pBufferMemoryBarriers = &release;
    dep.memoryBarrierCount = 1;
    dep.pMemoryBarriers = &host;
    vkCmdPipelineBarrier2(cb, &dep);
}

bool VkRenderer::readFrame(unsigned long long n, std::string* why) {
    VkSemaphoreSubmitInfo wait{}, signal{};
    if (!submitInfos(n, &wait, &signal, why)) return false;
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if (!check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer", why) ||
        !check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer", why))
        return false;
    recordRead(cmd_);
    if (!check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer", why)) return false;
    VkCommandBufferSubmitInfo cbi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd_, 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = 1;
    si.pWaitSemaphoreInfos = &wait;
    si.commandBufferInfoCount = 1;
    si.pCommandBufferInfos = &cbi;
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &signal;
    VkResult r;
    {
        std::lock_guard lock(queueMutex_);
        r = vkQueueSubmit2(queue_, 1, &si, fence_);
    }
    if (!check(r, "vkQueueSubmit2", why) ||
        !check(vkWaitForFences(device_, 1, &fence_, VK_TRUE, 10000000000ull), "vkWaitForFences", why) ||
        !check(vkResetFences(device_, 1, &fence_), "vkResetFences", why))
        return false;
    const uint32_t want = framePattern(n);
    for (size_t i = 0; i < opt_.bufferBytes / 4; ++i)
        if (readbackWords_[i] != want) {
            char msg[128];
            std::snprintf(msg, sizeof msg, "frame %llu: word %zu is 0x%08x, want 0x%08x", n, i, readbackWords_[i], want);
            *why = msg;
            return false;
        }
    return true;
}
