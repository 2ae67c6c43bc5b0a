#include "core/vk_dispatch.h"

namespace baton {

const char* InstanceTable::load(PFN_vkGetInstanceProcAddr gipa, VkInstance instance) {
    vkGetInstanceProcAddr = gipa;
#define BATON_LOAD(name)                                                             \
    name = reinterpret_cast<PFN_##name>(gipa(instance, #name));                      \
    if (!name) return #name;
    BATON_INSTANCE_FUNCTIONS(BATON_LOAD)
#undef BATON_LOAD
    // Debug utils are optional: only there when the instance enabled the extension.
#define BATON_LOAD_OPTIONAL(name) name = reinterpret_cast<PFN_##name>(gipa(instance, #name));
    BATON_DEBUG_FUNCTIONS(BATON_LOAD_OPTIONAL)
#undef BATON_LOAD_OPTIONAL
    return nullptr;
}

const char* DeviceTable::load(PFN_vkGetDeviceProcAddr gdpa, VkDevice device, bool semaphoreFd) {
    // Vulkan 1.2 devices with VK_KHR_synchronization2 name these with the KHR suffix.
#define BATON_LOAD(name)                                                               \
    name = reinterpret_cast<PFN_##name>(gdpa(device, #name));                          \
    if (!name) name = reinterpret_cast<PFN_##name>(gdpa(device, #name "KHR"));         \
    if (!name) return #name;
    BATON_DEVICE_FUNCTIONS(BATON_LOAD)
    if (semaphoreFd) {
        BATON_SEMAPHORE_FD_FUNCTIONS(BATON_LOAD)
    }
#undef BATON_LOAD
#define BATON_LOAD_OPTIONAL(name) name = reinterpret_cast<PFN_##name>(gdpa(device, #name));
    BATON_OPTIONAL_DEVICE_FUNCTIONS(BATON_LOAD_OPTIONAL)
#undef BATON_LOAD_OPTIONAL
    return nullptr;
}

}  // namespace baton
