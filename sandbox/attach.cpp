#include "attach.h"

#include <cstdio>

namespace sandbox {
namespace {

void lockQueue(VkQueue, void* user) { static_cast<Gpu*>(user)->queueMutex.lock(); }
void unlockQueue(VkQueue, void* user) { static_cast<Gpu*>(user)->queueMutex.unlock(); }

void onBatonMessage(batonMessageSeverity severity, const char* message, void* user) {
    auto* gpu = static_cast<Gpu*>(user);
    if (severity == batonMessageSeverityError) gpu->validationErrors.fetch_add(1);
    if (severity >= batonMessageSeverityWarning)
        std::fprintf(stderr, "baton: %s: %s\n", severity == batonMessageSeverityError ? "error" : "warning", message);
}

}  // namespace

batonContext_t attachBaton(Gpu& gpu) {
    batonContextAttachInfo ai{};
    ai.getInstanceProcAddr = vkGetInstanceProcAddr;  // volk's pointer: the loader's entry point
    ai.instance = gpu.instance;
    ai.physicalDevice = gpu.physicalDevice;
    ai.device = gpu.device;
    ai.apiVersion = gpu.apiVersion;
    ai.computeQueue = {gpu.computeQueue, gpu.computeFamily, gpu.computeIndex};
    ai.enabledExtensions = gpu.enabledExtensions.data();
    ai.enabledExtensionCount = static_cast<uint32_t>(gpu.enabledExtensions.size());
    ai.enabledFeatures = &gpu.features12;
    if (gpu.queueShared) {  // one queue for both: baton locks the renderer's mutex around its submits
        ai.lockQueue = lockQueue;
        ai.unlockQueue = unlockQueue;
        ai.queueLockUserData = &gpu;
    }
    ai.messageCallback = onBatonMessage;
    ai.messageUserData = &gpu;
    batonContext_t ctx = nullptr;
    BATON_CHECK(batonContextAttach(&ctx, &ai));
    BATON_CHECK(batonCtxSetCurrent(ctx));
    return ctx;
}

}  // namespace sandbox
