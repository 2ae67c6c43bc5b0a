// Under the sanitizers, keep the Vulkan driver stack (ICDs, layers, LLVM) loaded for the whole
// process. The loader unloads them when the last VkInstance is destroyed (a host device's, or
// a standalone context's); LeakSanitizer then reports their leaks with "<unknown module>"
// frames that tests/sanitizers/lsan.supp cannot match, and ThreadSanitizer fails outright on
// a called_from_lib suppression whose library was unloaded. Pinned, driver reports keep their
// library names and stay suppressed, while baton's own are still reported.
#include <cstdlib>
#include <unistd.h>
#include <baton/baton.h>
#include <cstring>
#include <dlfcn.h>
#include <link.h>

#include <vulkan/vulkan.h>

namespace batontest {
namespace {

int pinOne(struct dl_phdr_info* info, size_t, void*) {
    const char* name = info->dlpi_name;
    if (name && (std::strstr(name, "libvulkan") || std::strstr(name, "VkLayer") || std::strstr(name, "libLLVM")))
        dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // promotes the loaded library; never unloaded
    return 0;
}

}  // namespace

void pinVulkanDriverLibraries() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Load what the tests will load (the ICDs, and the validation layer when they use it).
    const char* layer = "VK_LAYER_KHRONOS_validation";
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_3;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    ici.enabledLayerCount = 1;
    ici.ppEnabledLayerNames = &layer;
    VkInstance instance = VK_NULL_HANDLE;
    if (vkCreateInstance(&ici, nullptr, &instance) != VK_SUCCESS) {
        ici.enabledLayerCount = 0;
        if (vkCreateInstance(&ici, nullptr, &instance) != VK_SUCCESS) return;
    }
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance, &n, nullptr);
    dl_iterate_phdr(pinOne, nullptr);
    vkDestroyInstance(instance, nullptr);
#endif
}

}  // namespace batontest

namespace batontest {

// Where the driver exports semaphore fds (NVIDIA), the first checked import of a process
// starts baton's probe process, which keeps one socket open for the life of the process (a
// documented, deliberate fd). Start it before any test takes an fd baseline, so that the
// tests count what they mean to count.
void warmUpFdProbe() {
    // Only NVIDIA's fds go through the probe; elsewhere (lavapipe, CI) this costs nothing.
    if (access("/dev/nvidiactl", F_OK) != 0) return;
    // A process whose faults the environment configures (BATON_FAULT, tests/fault) counts
    // calls from its first one: the warm-up's export would take "call 1" away from the test.
    if (std::getenv("BATON_FAULT")) return;
    batonContextInfo info{};
    if (batonContextGetInfo(nullptr, &info) != batonSuccess || !info.nativeSemaphoreFd) return;
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t exported = nullptr, imported = nullptr;
    if (batonExportExternalSemaphore(&fd, &exported, &d) != batonSuccess) return;
    batonExternalSemaphoreHandleDesc h{};
    h.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    h.handle.fd = fd;
    if (batonImportExternalSemaphore(&imported, &h) != batonSuccess) close(fd);
    batonDestroyExternalSemaphore(imported);
    batonDestroyExternalSemaphore(exported);
}

}  // namespace batontest
