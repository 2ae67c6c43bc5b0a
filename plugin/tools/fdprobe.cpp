// baton-fdprobe: imports semaphore fds into a throwaway VkDevice and reports whether the
// driver accepted them.
//
// Why a separate process: on NVIDIA, one failed vkImportSemaphoreFdKHR leaves the importing
// process unable to create exportable semaphores ever after, and NVIDIA's semaphore fds are
// plain opens of /dev/nvidiactl that fstat cannot tell from any other. So baton lets this
// process take the risk: a failure poisons only it, and it exits right after reporting one.
//
//   baton-fdprobe --serve <deviceUUID as 32 hex digits>
// fd 3 is a SOCK_SEQPACKET socket. Each request is one byte ('b' binary, 't' timeline) with
// the fd to check attached (SCM_RIGHTS); each reply is one byte: '0' accepted, '1' refused.
// Setting up the device once and serving many checks keeps a checked import near the cost
// of a plain one. The server exits when the socket closes or after a refusal.
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan_core.h>

namespace {

constexpr int kSocket = 3;

bool parseUuid(const char* hex, uint8_t out[VK_UUID_SIZE]) {
    if (std::strlen(hex) != 2 * VK_UUID_SIZE) return false;
    for (int i = 0; i < VK_UUID_SIZE; ++i) {
        unsigned b = 0;
        if (std::sscanf(hex + 2 * i, "%2x", &b) != 1) return false;
        out[i] = static_cast<uint8_t>(b);
    }
    return true;
}

// Receives one request: the kind byte and the fd. Returns false when the socket closed.
bool receive(char* kind, int* fd) {
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(kSocket, &msg, MSG_CMSG_CLOEXEC) <= 0) return false;
    *fd = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(fd, CMSG_DATA(c), sizeof(int));
    *kind = byte;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    uint8_t uuid[VK_UUID_SIZE];
    if (argc != 3 || std::strcmp(argv[1], "--serve") != 0 || !parseUuid(argv[2], uuid)) {
        std::fprintf(stderr, "usage: baton-fdprobe --serve <deviceUUID hex>   (started by libbaton)\n");
        return 2;
    }
    void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return 2;
    auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    auto createInstance = reinterpret_cast<PFN_vkCreateInstance>(gipa(VK_NULL_HANDLE, "vkCreateInstance"));
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    VkInstance inst;
    if (createInstance(&ici, nullptr, &inst) != VK_SUCCESS) return 2;
#define LOAD(name) auto name = reinterpret_cast<PFN_##name>(gipa(inst, #name))
    LOAD(vkEnumeratePhysicalDevices);
    LOAD(vkGetPhysicalDeviceProperties2);
    LOAD(vkCreateDevice);
    LOAD(vkGetDeviceProcAddr);
#undef LOAD
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(inst, &n, pds.data());
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    for (VkPhysicalDevice p : pds) {
        VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &id};
        vkGetPhysicalDeviceProperties2(p, &p2);
        if (std::memcmp(id.deviceUUID, uuid, VK_UUID_SIZE) == 0) pd = p;
    }
    if (!pd) return 2;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, 0, 1, &prio};
    const char* ext = VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME;
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    f12.timelineSemaphore = VK_TRUE;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f12, 0, 1, &q, 0, nullptr, 1, &ext};
    VkDevice dev;
    if (vkCreateDevice(pd, &dci, nullptr, &dev) != VK_SUCCESS) return 2;
    auto createSemaphore = reinterpret_cast<PFN_vkCreateSemaphore>(vkGetDeviceProcAddr(dev, "vkCreateSemaphore"));
    auto destroySemaphore = reinterpret_cast<PFN_vkDestroySemaphore>(vkGetDeviceProcAddr(dev, "vkDestroySemaphore"));
    auto importFd = reinterpret_cast<PFN_vkImportSemaphoreFdKHR>(vkGetDeviceProcAddr(dev, "vkImportSemaphoreFdKHR"));

    char kind = 0;
    int fd = -1;
    while (receive(&kind, &fd)) {
        bool accepted = false;
        if (fd >= 0) {
            VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr,
                                           kind == 't' ? VK_SEMAPHORE_TYPE_TIMELINE : VK_SEMAPHORE_TYPE_BINARY, 0};
            VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
            VkSemaphore sem;
            if (createSemaphore(dev, &sci, nullptr, &sem) == VK_SUCCESS) {
                VkImportSemaphoreFdInfoKHR ii{VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR, nullptr, sem, 0,
                                              VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT, fd};
                accepted = importFd(dev, &ii) == VK_SUCCESS;  // on success the driver owns fd
                destroySemaphore(dev, sem, nullptr);
            }
            if (!accepted) close(fd);
        }
        char reply = accepted ? '0' : '1';
        if (send(kSocket, &reply, 1, MSG_NOSIGNAL) != 1) break;
        // After a refusal this process's driver state is not to be trusted: leave, without
        // tearing anything down, and let baton start a fresh one next time.
        if (!accepted) _exit(0);
    }
    _exit(0);
}
