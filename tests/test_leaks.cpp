// No leaks: thousands of create/destroy cycles of semaphores, streams and contexts leave the
// process with exactly the fds and threads it had, and with no more heap in use than a
// small, stated bound.
//
// Heap is measured as bytes in use, not address space: glibc's mallinfo2().uordblks, or,
// under AddressSanitizer or ThreadSanitizer (which replace malloc, so glibc's counters stay
// still), the sanitizer allocator's count of allocated bytes. Free lists and fragmentation do not count;
// only allocations still alive do.
//
// The bound. After the warm-up, what is still allowed to grow is caches that reach a
// steady size: the validation layer's object tables (hash maps whose bucket arrays follow
// the peak number of live handles and threads they have seen) and the allocator's own
// bookkeeping. Measured on lavapipe with the validation layer on: semaphores grow 5-9 KB over
// 10,000 cycles (flat, not proportional to the count: 2,000 cycles grow as much), streams and
// contexts under 2 KB over 1,000 cycles once warmed (without the validation layer: 0 bytes).
// So: 64 KiB for the 10,000 semaphore cycles, 32 KiB for the 1,000 stream or context cycles.
// A real leak of 100 bytes per cycle (a 112-byte chunk with malloc's header) would add about
// 1.1 MB and 112 KB respectively: 17 and 3.5 times the bounds.
#include <baton/baton.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <dirent.h>
#include <malloc.h>
#include <unistd.h>

#include "baton_test.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BATON_TEST_SANITIZER_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BATON_TEST_SANITIZER_MALLOC 1
#endif
#endif
#ifdef BATON_TEST_SANITIZER_MALLOC
// From the sanitizer runtime (declared here: GCC ships no sanitizer/allocator_interface.h).
extern "C" size_t __sanitizer_get_current_allocated_bytes(void);
#endif

namespace {

#ifndef BATON_TEST_SANITIZER_MALLOC
// mallinfo2() reports the main arena only. baton allocates on its stream and publisher
// threads too, which glibc would serve from per-thread arenas that mallinfo2 never sees:
// one arena for the whole process makes every thread's allocations count. Runs before main,
// before any thread exists.
const int kOneArena = mallopt(M_ARENA_MAX, 1);
#endif

// Counts are the same under AddressSanitizer: on an idle 2-core machine the suite takes
// about 35 s there (3 s semaphores, 2 s streams, 30 s contexts) and about 15 s without.
// The warm-ups are what the validation layer's tables needed to stop growing: about 1,000
// threads for streams; 300 context cycles (50 were enough for a fresh process, not after
// the other tests had filled the layer's tables).
constexpr int kSemaphoreCycles = 10000, kSemaphoreWarmup = 300;
constexpr int kStreamCycles = 1000, kStreamWarmup = 1000;
constexpr int kContextCycles = 1000, kContextWarmup = 300;
constexpr long long kSemaphoreHeapBound = 64 * 1024, kHeapBound = 32 * 1024;

size_t heapInUse() {
#ifdef BATON_TEST_SANITIZER_MALLOC
    return __sanitizer_get_current_allocated_bytes();
#else
    (void)kOneArena;
    return mallinfo2().uordblks;
#endif
}

int threadCount() {
    int n = 0;
    DIR* d = opendir("/proc/self/task");
    if (!d) return -1;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n;
}

// baton joins its threads before a destroy returns, but the kernel clears the joined
// thread's tid (what join waits for) slightly before /proc/self/task stops listing it. Give
// that a moment; a thread that was never joined stays listed and the check fails.
int threadCountSettled(int expected) {
    int n = threadCount();
    for (int i = 0; i < 100 && n != expected; ++i) {
        usleep(10000);
        n = threadCount();
    }
    return n;
}

struct Snapshot {
    int fds, threads;
    size_t heap;
    std::chrono::steady_clock::time_point t;
};

Snapshot take(int expectThreads = -1) {
    Snapshot s{};
    s.t = std::chrono::steady_clock::now();
    s.threads = expectThreads < 0 ? threadCount() : threadCountSettled(expectThreads);
    s.fds = batontest::openFdCount();
    s.heap = heapInUse();
    return s;
}

// Checks after against before and prints the figures.
void expectNoGrowth(const char* what, int cycles, const Snapshot& before, const Snapshot& after, long long heapBound) {
    ASSERT_GT(before.heap, 0u) << "cannot read the heap in use (another allocator?): the heap check would be empty";
    const long long grew = static_cast<long long>(after.heap) - static_cast<long long>(before.heap);
    const double secs = std::chrono::duration<double>(after.t - before.t).count();
    std::printf("%d %s cycles in %.2f s (%.0f us each): fds %d -> %d, threads %d -> %d, heap in use %zu -> %zu (%+lld B)\n",
                cycles, what, secs, secs * 1e6 / cycles, before.fds, after.fds, before.threads, after.threads,
                before.heap, after.heap, grew);
    EXPECT_EQ(after.fds, before.fds) << what << ": fds leaked";
    EXPECT_EQ(after.threads, before.threads) << what << ": threads not joined";
    EXPECT_LE(grew, heapBound) << what << ": heap grew by " << grew << " bytes over " << cycles << " cycles";
}

// One export -> import(dup of the fd) -> [signal/wait] -> destroy -> close cycle.
void semaphoreCycle(int i, batonStream_t a, batonStream_t b) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t exported = nullptr, imported = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &exported, &d));
    int dupFd = dup(fd);
    ASSERT_GE(dupFd, 0);
    batonExternalSemaphoreHandleDesc h{};
    h.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    h.handle.fd = dupFd;
    BATON_ASSERT_OK(batonImportExternalSemaphore(&imported, &h));  // owns dupFd now
    if (i % 100 == 0) {
        // Wait on the importer before the exporter signals: the value crosses the shared state.
        batonExternalSemaphoreWaitParams wp{};
        wp.params.fence.value = 1;
        batonExternalSemaphoreSignalParams sp{};
        sp.params.fence.value = 1;
        BATON_ASSERT_OK(batonWaitExternalSemaphoresAsync(&imported, &wp, 1, b));
        BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&exported, &sp, 1, a));
        BATON_ASSERT_OK(batonStreamSynchronize(b));
        BATON_ASSERT_OK(batonStreamSynchronize(a));
    }
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(imported));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(exported));
    ASSERT_EQ(close(fd), 0);
}

TEST(Leaks, SemaphoreExportImportCycles) {
    batonStream_t a = nullptr, b = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&a));
    BATON_ASSERT_OK(batonStreamCreate(&b));
    // Warm-up: the default context, the layer's tables and the allocator's caches.
    const auto w0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kSemaphoreWarmup; ++i) ASSERT_NO_FATAL_FAILURE(semaphoreCycle(i, a, b));
    std::printf("semaphore warm-up: %.1f us a cycle\n",
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - w0).count() / kSemaphoreWarmup);
    std::fflush(stdout);
    const Snapshot before = take();
    for (int i = 0; i < kSemaphoreCycles; ++i) ASSERT_NO_FATAL_FAILURE(semaphoreCycle(i, a, b));
    expectNoGrowth("semaphore", kSemaphoreCycles, before, take(before.threads), kSemaphoreHeapBound);
    BATON_ASSERT_OK(batonStreamDestroy(a));
    BATON_ASSERT_OK(batonStreamDestroy(b));
}

void streamCycle() {
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    BATON_ASSERT_OK(batonStreamDestroy(s));
}

TEST(Leaks, StreamCreateDestroyCycles) {
    for (int i = 0; i < kStreamWarmup; ++i) ASSERT_NO_FATAL_FAILURE(streamCycle());
    const Snapshot before = take();
    for (int i = 0; i < kStreamCycles; ++i) ASSERT_NO_FATAL_FAILURE(streamCycle());
    expectNoGrowth("stream", kStreamCycles, before, take(before.threads), kHeapBound);
}

// A context with a stream that has done work, and a semaphore and an event left for
// batonContextDestroy to release.
void contextCycle() {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t c = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&c, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(c));
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &sem, &d));
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 1;
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&sem, &sp, 1, s));
    batonEvent_t ev = nullptr;
    BATON_ASSERT_OK(batonEventCreate(&ev));
    BATON_ASSERT_OK(batonEventRecord(ev, s));
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonContextDestroy(c));  // releases the stream, the semaphore and the event
    ASSERT_EQ(close(fd), 0);
}

// The same instance + device lifetime in raw Vulkan (validation layer as baton's), for the
// driver's own growth: the baseline the GPU case is measured against.
void rawVulkanCycle() {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_3;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, nullptr, 0, &app};
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* v = std::getenv("BATON_VALIDATION");
    if (v && std::strcmp(v, "1") == 0) {
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = &layer;
    }
    VkInstance inst = VK_NULL_HANDLE;
    ASSERT_EQ(vkCreateInstance(&ici, nullptr, &inst), VK_SUCCESS);
    uint32_t n = 1;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    vkEnumeratePhysicalDevices(inst, &n, &pd);
    ASSERT_NE(pd, VK_NULL_HANDLE);
    const float prio = 1.0f;
    VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, 0, 1, &prio};
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, nullptr, 0, 1, &q};
    VkDevice dev = VK_NULL_HANDLE;
    ASSERT_EQ(vkCreateDevice(pd, &dci, nullptr, &dev), VK_SUCCESS);
    vkDestroyDevice(dev, nullptr);
    vkDestroyInstance(inst, nullptr);
}

TEST(Leaks, ContextCreateDestroyCycles) {
    // A context on a GPU driver (a VkInstance and VkDevice each) costs 0.2-0.5 s on NVIDIA
    // where lavapipe's costs ~10 ms: there 50 cycles (still exact fd and thread counts).
    batonContextInfo info{};
    BATON_ASSERT_OK(batonContextGetInfo(nullptr, &info));
    const bool gpu = info.vendorID != 0x10005;  // VK_VENDOR_ID_MESA: lavapipe
    const int warmup = gpu ? 20 : kContextWarmup, cycles = gpu ? 50 : kContextCycles;
    long long driverGrowth = 0;
    if (gpu) {
        // NVIDIA's driver keeps some heap per instance/device it ever made (~400 B a cycle
        // seen on the H200): measure it with raw Vulkan first, and bound what baton adds.
        for (int i = 0; i < warmup; ++i) ASSERT_NO_FATAL_FAILURE(rawVulkanCycle());
        const size_t h0 = heapInUse();
        for (int i = 0; i < cycles; ++i) ASSERT_NO_FATAL_FAILURE(rawVulkanCycle());
        driverGrowth = std::max(0ll, static_cast<long long>(heapInUse()) - static_cast<long long>(h0));
        std::printf("raw Vulkan baseline: heap grew by %lld B over %d instance+device cycles\n", driverGrowth, cycles);
    }
    for (int i = 0; i < warmup; ++i) {
        const auto c0 = std::chrono::steady_clock::now();
        ASSERT_NO_FATAL_FAILURE(contextCycle());
        if (i < 3) {  // what one cycle costs on this driver (the H200's took minutes in all)
            std::printf("context cycle %d: %.1f ms\n", i,
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count());
            std::fflush(stdout);
        }
    }
    const Snapshot before = take();
    for (int i = 0; i < cycles; ++i) ASSERT_NO_FATAL_FAILURE(contextCycle());
    expectNoGrowth("context", cycles, before, take(before.threads), kHeapBound + driverGrowth);
}

}  // namespace
