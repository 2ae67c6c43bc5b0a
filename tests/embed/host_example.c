/*
 * host_example: a minimal renderer that owns its Vulkan instance, device and single queue,
 * and takes baton in as a library. Each frame a baton stream produces (fills a buffer) and
 * signals a timeline semaphore; the renderer's own vkQueueSubmit2 waits for that value,
 * consumes the buffer (copies it) and signals the next value, which the stream waits for
 * before producing the next frame. The renderer lends its one queue to baton through
 * lock/unlock callbacks.
 *
 * Built three ways by tests/embed/CMakeLists.txt:
 *   - linked against baton::baton from the build tree;
 *   - linked against the installed package (find_package(baton CONFIG), or pkg-config);
 *   - with -DHOST_DLOPEN: not linked to baton at all; it dlopens libbaton.so.0 (or argv[1]),
 *     gets the function table from batonGetProcTable and checks the version first.
 *
 * Exit status 0 when every frame arrived intact, the lock callbacks were balanced and (with
 * BATON_VALIDATION=1) the validation layer reported no error. C99.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <baton/baton_loader.h>
#include <vulkan/vulkan.h>

/* ---- baton calls: straight to the linked library, or through the loaded table -------- */
#ifdef HOST_DLOPEN
static batonProcTable baton;
#define BATON(fn) baton.fn
#else
#define BATON(fn) fn
#endif

#define FRAMES 4
#define BUFFER_BYTES (256u * 1024u)

static int fail(const char* what) {
    fprintf(stderr, "host_example: %s\n", what);
    return 1;
}

static int batonFailed(const char* call, batonError_t e) {
    fprintf(stderr, "host_example: %s -> %s: %s\n", call, BATON(batonGetErrorName)(e), BATON(batonGetLastErrorMessage)());
    return 1;
}
#define BATON_CHECK(call)                                    \
    do {                                                     \
        batonError_t e_ = (call);                            \
        if (e_ != batonSuccess) return batonFailed(#call, e_); \
    } while (0)
#define VK_CHECK(call)                                                           \
    do {                                                                         \
        VkResult r_ = (call);                                                    \
        if (r_ != VK_SUCCESS) {                                                  \
            fprintf(stderr, "host_example: %s -> VkResult %d\n", #call, (int)r_); \
            return 1;                                                            \
        }                                                                        \
    } while (0)

/* ---- the renderer's queue lock, lent to baton ---------------------------------------- */
typedef struct QueueLock {
    pthread_mutex_t mutex;
    unsigned long locks, unlocks; /* by baton's callbacks, under mutex */
} QueueLock;

static void lockQueue(VkQueue queue, void* user) {
    QueueLock* l = (QueueLock*)user;
    (void)queue;
    pthread_mutex_lock(&l->mutex);
    l->locks++;
}

static void unlockQueue(VkQueue queue, void* user) {
    QueueLock* l = (QueueLock*)user;
    (void)queue;
    l->unlocks++;
    pthread_mutex_unlock(&l->mutex);
}

/* ---- validation messages of the renderer's own instance ----------------------------- */
static unsigned long g_validationErrors;
static VKAPI_ATTR VkBool32 VKAPI_CALL onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                VkDebugUtilsMessageTypeFlagsEXT types,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    (void)types;
    (void)user;
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        __atomic_add_fetch(&g_validationErrors, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "host_example: validation error: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

/* ---- what baton's stream records: the "producer" work -------------------------------- */
typedef struct Fill {
    VkBuffer buffer;
    uint32_t value;
} Fill;

static void recordFill(VkCommandBuffer cmd, void* user) {
    const Fill* f = (const Fill*)user;
    vkCmdFillBuffer(cmd, f->buffer, 0, VK_WHOLE_SIZE, f->value);
}

typedef struct Renderer {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physicalDevice;
    VkDevice device;
    uint32_t family;
    VkQueue queue;
    const char* extensions[2];
    uint32_t extensionCount;
    VkPhysicalDeviceVulkan13Features features13;
    VkPhysicalDeviceVulkan12Features features12;
    VkBuffer buffers[2]; /* [0] produced by baton, [1] the renderer's copy */
    VkDeviceMemory memory[2];
    uint32_t* mapped[2];
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    QueueLock lock;
} Renderer;

static int hasDeviceExtension(VkPhysicalDevice pd, const char* name) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL);
    VkExtensionProperties* exts = (VkExtensionProperties*)calloc(n ? n : 1, sizeof *exts);
    int found = 0;
    if (exts && vkEnumerateDeviceExtensionProperties(pd, NULL, &n, exts) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; ++i) found = strcmp(exts[i].extensionName, name) == 0;
    free(exts);
    return found;
}

/* The renderer's own setup: instance (validation layer when BATON_VALIDATION=1), a Vulkan 1.3
 * device with timeline semaphores and synchronization2, one graphics+compute queue. */
static int createRenderer(Renderer* r) {
    const char* v = getenv("BATON_VALIDATION");
    const int validation = v && strcmp(v, "1") == 0;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "baton host_example";
    app.apiVersion = VK_API_VERSION_1_3;
    VkDebugUtilsMessengerCreateInfoEXT dbg = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
    dbg.pfnUserCallback = onMessage;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* debugExt = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    if (validation) {
        ici.pNext = &dbg;
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = &layer;
        ici.enabledExtensionCount = 1;
        ici.ppEnabledExtensionNames = &debugExt;
    }
    VK_CHECK(vkCreateInstance(&ici, NULL, &r->instance));
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(r->instance, "vkCreateDebugUtilsMessengerEXT");
        if (!create) return fail("no vkCreateDebugUtilsMessengerEXT");
        VK_CHECK(create(r->instance, &dbg, NULL, &r->messenger));
    }

    /* A real GPU if there is one (BATON_DEVICE=cpu: lavapipe), Vulkan 1.3. */
    VkPhysicalDevice pds[16];
    uint32_t n = 16;
    VK_CHECK(vkEnumeratePhysicalDevices(r->instance, &n, pds));
    const char* dev = getenv("BATON_DEVICE");
    const int preferCpu = dev && strcmp(dev, "cpu") == 0;
    int best = -1;
    for (uint32_t i = 0; i < n; ++i) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (p.apiVersion < VK_API_VERSION_1_3) continue;
        int rank = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 3
                   : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2
                   : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU            ? (preferCpu ? 9 : 1)
                                                                            : 0;
        if (rank > best) {
            best = rank;
            r->physicalDevice = pds[i];
        }
    }
    if (!r->physicalDevice) return fail("no Vulkan 1.3 device");
    VkQueueFamilyProperties fams[16];
    uint32_t nf = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(r->physicalDevice, &nf, fams);
    const VkQueueFlags want = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
    r->family = UINT32_MAX;
    for (uint32_t i = 0; i < nf && r->family == UINT32_MAX; ++i)
        if ((fams[i].queueFlags & want) == want) r->family = i;
    if (r->family == UINT32_MAX) return fail("no graphics+compute queue family");

    /* Native semaphores where the driver has them; baton goes portable otherwise. */
    if (hasDeviceExtension(r->physicalDevice, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME))
        r->extensions[r->extensionCount++] = VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME;
    if (hasDeviceExtension(r->physicalDevice, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME))
        r->extensions[r->extensionCount++] = VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME;
    r->features13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES;
    r->features13.synchronization2 = VK_TRUE;
    r->features12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    r->features12.pNext = &r->features13;
    r->features12.timelineSemaphore = VK_TRUE;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = r->family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &r->features12;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = r->extensionCount;
    dci.ppEnabledExtensionNames = r->extensions;
    VK_CHECK(vkCreateDevice(r->physicalDevice, &dci, NULL, &r->device));
    vkGetDeviceQueue(r->device, r->family, 0, &r->queue);
    pthread_mutex_init(&r->lock.mutex, NULL);

    /* Two host-visible buffers, a command buffer and a fence for the renderer's frames. */
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(r->physicalDevice, &mp);
    for (int b = 0; b < 2; ++b) {
        VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
        bci.size = BUFFER_BYTES;
        bci.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        VK_CHECK(vkCreateBuffer(r->device, &bci, NULL, &r->buffers[b]));
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(r->device, r->buffers[b], &req);
        const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        uint32_t type = UINT32_MAX;
        for (uint32_t i = 0; i < mp.memoryTypeCount && type == UINT32_MAX; ++i)
            if ((req.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & host) == host) type = i;
        if (type == UINT32_MAX) return fail("no host-visible memory");
        VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
        mai.allocationSize = req.size;
        mai.memoryTypeIndex = type;
        VK_CHECK(vkAllocateMemory(r->device, &mai, NULL, &r->memory[b]));
        VK_CHECK(vkBindBufferMemory(r->device, r->buffers[b], r->memory[b], 0));
        VK_CHECK(vkMapMemory(r->device, r->memory[b], 0, VK_WHOLE_SIZE, 0, (void**)&r->mapped[b]));
        memset(r->mapped[b], 0, BUFFER_BYTES);
    }
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = r->family;
    VK_CHECK(vkCreateCommandPool(r->device, &pci, NULL, &r->pool));
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = r->pool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    VK_CHECK(vkAllocateCommandBuffers(r->device, &cai, &r->cmd));
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkCreateFence(r->device, &fci, NULL, &r->fence));
    return 0;
}

static void destroyRenderer(Renderer* r) {
    if (r->device) {
        vkDeviceWaitIdle(r->device);
        if (r->fence) vkDestroyFence(r->device, r->fence, NULL);
        if (r->pool) vkDestroyCommandPool(r->device, r->pool, NULL);
        for (int b = 0; b < 2; ++b) {
            if (r->buffers[b]) vkDestroyBuffer(r->device, r->buffers[b], NULL);
            if (r->memory[b]) vkFreeMemory(r->device, r->memory[b], NULL);
        }
        vkDestroyDevice(r->device, NULL);
        pthread_mutex_destroy(&r->lock.mutex);
    }
    if (r->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(r->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy) destroy(r->instance, r->messenger, NULL);
    }
    if (r->instance) vkDestroyInstance(r->instance, NULL);
}

/* One renderer frame: wait for baton's value `ready`, copy the produced buffer, make it
 * visible to the host, signal `released` back to baton. */
static int renderFrame(Renderer* r, batonExternalSemaphore_t sem, uint64_t ready, uint64_t released) {
    /* On a queue baton shares, a wait may only be submitted once its signal has been: baton
     * says batonErrorNotReady until then (see batonGetWaitSubmitInfo). */
    VkSemaphoreSubmitInfo waitInfo, signalInfo;
    batonError_t e;
    const struct timespec pause = {0, 100000};
    for (int attempt = 0; (e = BATON(batonGetWaitSubmitInfo)(sem, ready, VK_PIPELINE_STAGE_2_TRANSFER_BIT, &waitInfo)) ==
                              batonErrorNotReady && attempt < 100000;
         ++attempt)
        nanosleep(&pause, NULL);
    if (e != batonSuccess) return batonFailed("batonGetWaitSubmitInfo", e);
    BATON_CHECK(BATON(batonGetSignalSubmitInfo)(sem, released, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &signalInfo));

    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VK_CHECK(vkBeginCommandBuffer(r->cmd, &bi));
    VkBufferCopy region = {0, 0, BUFFER_BYTES};
    vkCmdCopyBuffer(r->cmd, r->buffers[0], r->buffers[1], 1, &region);
    VkMemoryBarrier toHost = {VK_STRUCTURE_TYPE_MEMORY_BARRIER, NULL, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(r->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &toHost, 0, NULL, 0, NULL);
    VK_CHECK(vkEndCommandBuffer(r->cmd));
    VkCommandBufferSubmitInfo cbi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO};
    cbi.commandBuffer = r->cmd;
    VkSubmitInfo2 si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = 1;
    si.pWaitSemaphoreInfos = &waitInfo;
    si.commandBufferInfoCount = 1;
    si.pCommandBufferInfos = &cbi;
    si.signalSemaphoreInfoCount = 1;
    si.pSignalSemaphoreInfos = &signalInfo;
    /* The renderer's own submission takes the same lock it lends baton. */
    pthread_mutex_lock(&r->lock.mutex);
    VkResult vr = vkQueueSubmit2(r->queue, 1, &si, r->fence);
    pthread_mutex_unlock(&r->lock.mutex);
    VK_CHECK(vr);
    VK_CHECK(vkWaitForFences(r->device, 1, &r->fence, VK_TRUE, UINT64_MAX));
    VK_CHECK(vkResetFences(r->device, 1, &r->fence));
    return 0;
}

#ifdef HOST_DLOPEN
/* Loads baton at run time and checks it before calling anything else in it. */
static int loadBaton(const char* path, void** lib) {
    if (dlsym(RTLD_DEFAULT, BATON_GET_PROC_TABLE_NAME)) return fail("this build must not be linked to libbaton");
    *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*lib) {
        fprintf(stderr, "host_example: dlopen(%s): %s\n", path, dlerror());
        return 1;
    }
    void* sym = dlsym(*lib, BATON_GET_PROC_TABLE_NAME);
    if (!sym) return fail("libbaton has no batonGetProcTable");
    PFN_batonGetProcTable getTable;
    memcpy(&getTable, &sym, sizeof getTable); /* ISO C has no object-to-function pointer cast */

    /* An engine built against a future major version is refused, with the version found. */
    batonProcTable probe;
    memset(&probe, 0, sizeof probe);
    probe.structSize = sizeof probe;
    if (getTable((BATON_VERSION_MAJOR + 1) * 10000, &probe) != batonErrorNotSupported || probe.version == 0 ||
        probe.batonStreamCreate != NULL)
        return fail("batonGetProcTable accepted a host of another major version");

    memset(&baton, 0, sizeof baton);
    baton.structSize = sizeof baton;
    batonError_t e = getTable(BATON_VERSION, &baton);
    if (e != batonSuccess) {
        fprintf(stderr, "host_example: baton %u is not compatible with this host (built against %d)\n", baton.version,
                BATON_VERSION);
        return 1;
    }
    const uint32_t expected = (uint32_t)((sizeof baton - offsetof(batonProcTable, batonGetErrorName)) / sizeof(void*));
    if (baton.functionCount != expected) return fail("the table does not have every function of this header");
    printf("host_example: loaded baton %u through its proc table (%u functions)\n", baton.version, baton.functionCount);
    return 0;
}
#endif

static int run(Renderer* r) {
    BATON_CHECK(BATON(batonGetVersion)(&(int){0}));
    Dl_info where;
    PFN_batonGetVersion fn = BATON(batonGetVersion);
    void* addr;
    memcpy(&addr, &fn, sizeof addr);
    if (dladdr(addr, &where) && where.dli_fname)
        printf("host_example: baton loaded from %s\n", where.dli_fname);

    /* Attach: baton uses the renderer's device and borrows its one queue under its lock. */
    batonContextAttachInfo ai;
    memset(&ai, 0, sizeof ai);
    ai.getInstanceProcAddr = vkGetInstanceProcAddr;
    ai.instance = r->instance;
    ai.physicalDevice = r->physicalDevice;
    ai.device = r->device;
    ai.apiVersion = VK_API_VERSION_1_3;
    ai.computeQueue.queue = r->queue;
    ai.computeQueue.familyIndex = r->family;
    ai.enabledExtensions = r->extensions;
    ai.enabledExtensionCount = r->extensionCount;
    ai.enabledFeatures = &r->features12;
    ai.lockQueue = lockQueue;
    ai.unlockQueue = unlockQueue;
    ai.queueLockUserData = &r->lock;
    batonContext_t ctx = NULL;
    BATON_CHECK(BATON(batonContextAttach)(&ctx, &ai));
    BATON_CHECK(BATON(batonCtxSetCurrent)(ctx));
    batonContextInfo info;
    BATON_CHECK(BATON(batonContextGetInfo)(ctx, &info));
    printf("host_example: attached to %s (%s semaphores, queue shared: %s)\n", info.deviceName,
           info.nativeSemaphoreFd ? "native" : "portable", info.queueShared ? "yes" : "no");

    /* Setup time: one timeline semaphore, one stream. */
    batonExternalSemaphoreExportDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = NULL;
    BATON_CHECK(BATON(batonExportExternalSemaphore)(&fd, &sem, &desc));
    batonStream_t stream = NULL;
    BATON_CHECK(BATON(batonStreamCreate)(&stream));

    Fill fills[FRAMES];
    for (uint32_t f = 0; f < FRAMES; ++f) {
        const uint64_t ready = 2 * f + 1, released = 2 * f + 2;
        /* Producer: baton fills the buffer, signals `ready`, and will not touch the buffer
         * again before the renderer signals `released`. */
        fills[f].buffer = r->buffers[0];
        fills[f].value = 0xBA700000u + f;
        BATON_CHECK(BATON(batonStreamRecord)(stream, recordFill, &fills[f]));
        batonExternalSemaphoreSignalParams sp;
        memset(&sp, 0, sizeof sp);
        sp.params.fence.value = ready;
        BATON_CHECK(BATON(batonSignalExternalSemaphoresAsync)(&sem, &sp, 1, stream));
        batonExternalSemaphoreWaitParams wp;
        memset(&wp, 0, sizeof wp);
        wp.params.fence.value = released;
        BATON_CHECK(BATON(batonWaitExternalSemaphoresAsync)(&sem, &wp, 1, stream));

        /* Consumer: the renderer's own frame. */
        if (renderFrame(r, sem, ready, released)) return 1;
        if (r->mapped[1][0] != fills[f].value || r->mapped[1][BUFFER_BYTES / 4 - 1] != fills[f].value) {
            fprintf(stderr, "host_example: frame %u arrived as 0x%08x, expected 0x%08x\n", f, r->mapped[1][0],
                    fills[f].value);
            return 1;
        }
    }
    BATON_CHECK(BATON(batonStreamSynchronize)(stream));
    BATON_CHECK(BATON(batonExternalSemaphoreHostWait)(sem, 2 * FRAMES, 5000000000ull));

    BATON_CHECK(BATON(batonStreamDestroy)(stream));
    BATON_CHECK(BATON(batonDestroyExternalSemaphore)(sem));
    close(fd);
    BATON_CHECK(BATON(batonCtxSetCurrent)(NULL));
    BATON_CHECK(BATON(batonContextDestroy)(ctx));

    printf("host_example: %d frames handed off; baton locked the queue %lu times, unlocked it %lu times\n", FRAMES,
           r->lock.locks, r->lock.unlocks);
    if (r->lock.locks == 0 || r->lock.locks != r->lock.unlocks) return fail("queue lock callbacks unbalanced or unused");
    return 0;
}

int main(int argc, char** argv) {
#ifdef HOST_DLOPEN
    void* lib = NULL;
    if (loadBaton(argc > 1 ? argv[1] : "libbaton.so.0", &lib)) return 1;
#else
    (void)argc;
    (void)argv;
#endif
    Renderer r;
    memset(&r, 0, sizeof r);
    int rc = createRenderer(&r);
    if (rc == 0) rc = run(&r);
    destroyRenderer(&r);
#ifdef HOST_DLOPEN
    if (lib) dlclose(lib);
#endif
    if (g_validationErrors) {
        fprintf(stderr, "host_example: %lu validation error(s)\n", g_validationErrors);
        rc = 1;
    }
    if (rc == 0) printf("host_example: ok\n");
    return rc;
}
