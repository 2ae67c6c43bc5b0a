// Defect 13 (issue 10): an exception must never cross the C boundary. This executable
// interposes operator new: when armed, the Nth allocation that libbaton.so itself makes on
// the calling thread throws std::bad_alloc (the driver's, the validation layer's and the
// stream threads' allocations are left alone: only baton's entry points are under test).
// Each case sweeps N over every allocation one entry point makes: the call must return
// (success, or a clear error such as batonErrorMemoryAllocation with a message), never
// throw or terminate, and baton must work afterwards. Leaks of partial work show under
// ASan's leak checker.
#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_memory.h>
#include <baton/baton_telemetry.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <link.h>
#include <new>
#include <string>
#include <unistd.h>

#include "baton_test.h"

namespace {

std::atomic<uintptr_t> g_batonBegin{0}, g_batonEnd{0};
thread_local long t_countdown = 0;  // > 0: armed; the allocation that brings it to 0 fails
thread_local bool t_injected = false;

void findBaton() {
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void*) -> int {
            if (!info->dlpi_name || !std::strstr(info->dlpi_name, "libbaton")) return 0;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const auto& ph = info->dlpi_phdr[i];
                if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
                    g_batonBegin = info->dlpi_addr + ph.p_vaddr;
                    g_batonEnd = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
                }
            }
            return 1;
        },
        nullptr);
}

bool shouldFail(void* caller) {
    if (t_countdown <= 0) return false;
    auto a = reinterpret_cast<uintptr_t>(caller);
    if (a < g_batonBegin.load(std::memory_order_relaxed) || a >= g_batonEnd.load(std::memory_order_relaxed)) return false;
    if (--t_countdown != 0) return false;
    t_injected = true;
    return true;
}

void* allocate(size_t n, void* caller) {
    if (shouldFail(caller)) throw std::bad_alloc();
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}

void* allocateAligned(size_t n, std::align_val_t al, void* caller) {
    if (shouldFail(caller)) throw std::bad_alloc();
    const size_t a = static_cast<size_t>(al);
    if (void* p = std::aligned_alloc(a, (n + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}

}  // namespace

void* operator new(size_t n) { return allocate(n, __builtin_return_address(0)); }
void* operator new[](size_t n) { return allocate(n, __builtin_return_address(0)); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    return shouldFail(__builtin_return_address(0)) ? nullptr : std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
    return shouldFail(__builtin_return_address(0)) ? nullptr : std::malloc(n ? n : 1);
}
void* operator new(size_t n, std::align_val_t a) { return allocateAligned(n, a, __builtin_return_address(0)); }
void* operator new[](size_t n, std::align_val_t a) { return allocateAligned(n, a, __builtin_return_address(0)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

class ApiAllocFailure : public ::testing::Test {
protected:
    void SetUp() override {
        findBaton();
        ASSERT_NE(g_batonBegin.load(), 0u) << "libbaton.so not found among the loaded objects";
    }

    // Calls `call` with the Nth baton allocation failing, for N = 1, 2, ... until a call
    // makes fewer than N allocations. `undo` cleans up a call that succeeded.
    void sweep(const char* name, const std::function<batonError_t()>& call, const std::function<void()>& undo) {
        for (long n = 1; n < 10000; ++n) {
            batonError_t e = batonSuccess;
            bool threw = false;
            t_injected = false;
            t_countdown = n;
            try {
                e = call();
            } catch (...) {
                threw = true;
            }
            t_countdown = 0;
            const bool injected = t_injected;
            ASSERT_FALSE(threw) << name << ": an exception crossed the C boundary (allocation " << n << " failed)";
            if (!injected) {
                EXPECT_EQ(e, batonSuccess) << name << " without a failing allocation: " << batonGetLastErrorMessage();
                if (e == batonSuccess) undo();
                injectedAny_ |= n > 1;
                std::printf("%s: %ld allocation(s) failed in turn\n", name, n - 1);
                return;
            }
            if (e == batonSuccess) {
                undo();  // the failure was absorbed (e.g. telemetry off): fine
                continue;
            }
            EXPECT_EQ(e, batonErrorMemoryAllocation)
                << name << " with allocation " << n << " failing: " << batonGetErrorName(e) << ": " << batonGetLastErrorMessage();
            EXPECT_NE(std::strlen(batonGetLastErrorMessage()), 0u) << name << ": no message";
        }
        ADD_FAILURE() << name << " never completed";
    }

    // baton still works: a stream, a host function, a signal, a synchronise.
    void expectWorks() {
        batonStream_t s = nullptr;
        BATON_ASSERT_OK(batonStreamCreate(&s));
        std::atomic<int> ran{0};
        BATON_ASSERT_OK(batonLaunchHostFunc(s, [](void* r) { static_cast<std::atomic<int>*>(r)->fetch_add(1); }, &ran));
        BATON_ASSERT_OK(batonStreamSynchronize(s));
        EXPECT_EQ(ran.load(), 1);
        BATON_ASSERT_OK(batonStreamDestroy(s));
        EXPECT_EQ(batontest::validationErrorsSoFar(), 0u);
    }

    bool injectedAny_ = false;
};

TEST_F(ApiAllocFailure, ContextEntryPoints) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t c = nullptr;
    sweep("batonContextCreate", [&] { return batonContextCreate(&c, &ci); }, [&] { batonContextDestroy(c); });
    BATON_ASSERT_OK(batonContextCreate(&c, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(c));
    batonContextInfo info{};
    sweep("batonContextGetInfo", [&] { return batonContextGetInfo(c, &info); }, [] {});
    sweep("batonTelemetryEnable", [&] { return batonTelemetryEnable(c, 1); }, [&] { batonTelemetryEnable(c, 0); });
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    sweep("batonTraceStart+Stop", [&] {
        const std::string path = ::testing::TempDir() + "api_alloc_trace.json";
        batonError_t e = batonTraceStart(c, path.c_str());
        if (e != batonSuccess) return e;
        batonLaunchHostFunc(s, [](void*) {}, nullptr);
        batonStreamSynchronize(s);
        e = batonTraceStop(c);
        if (e != batonSuccess) batonTraceStop(c);  // a failed stop still ends the capture
        return e;
    }, [] {});
    BATON_ASSERT_OK(batonStreamDestroy(s));
    sweep("batonContextDestroy", [&] { return batonContextDestroy(c); }, [] {});
    EXPECT_EQ(batonContextGetInfo(c, &info), batonErrorInvalidResourceHandle);
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    EXPECT_TRUE(injectedAny_) << "no entry point allocated: the interposer is not in effect";
    expectWorks();
}

TEST_F(ApiAllocFailure, StreamAndEventEntryPoints) {
    batonStream_t s = nullptr;
    sweep("batonStreamCreate", [&] { return batonStreamCreate(&s); }, [&] { batonStreamDestroy(s); });
    BATON_ASSERT_OK(batonStreamCreate(&s));
    sweep("batonLaunchHostFunc", [&] { return batonLaunchHostFunc(s, [](void*) {}, nullptr); }, [] {});
    sweep("batonStreamRecord", [&] {
        return batonStreamRecord(s, [](VkCommandBuffer, void*) {}, nullptr);
    }, [] {});
    sweep("batonStreamSynchronize", [&] { return batonStreamSynchronize(s); }, [] {});
    sweep("batonDeviceSynchronize", [] { return batonDeviceSynchronize(); }, [] {});
    batonEvent_t ev = nullptr;
    sweep("batonEventCreate", [&] { return batonEventCreate(&ev); }, [&] { batonEventDestroy(ev); });
    BATON_ASSERT_OK(batonEventCreate(&ev));
    sweep("batonEventRecord", [&] { return batonEventRecord(ev, s); }, [] {});
    sweep("batonEventSynchronize", [&] { return batonEventSynchronize(ev); }, [] {});
    sweep("batonStreamWaitEvent", [&] { return batonStreamWaitEvent(s, ev, 0); }, [] {});
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    sweep("batonEventDestroy", [&] { return batonEventDestroy(ev); }, [] {});
    sweep("batonStreamDestroy", [&] { return batonStreamDestroy(s); }, [] {});
    expectWorks();
}

TEST_F(ApiAllocFailure, ChannelAndMemoryEntryPoints) {
    batonChannelCreateInfo ci{};
    ci.format = VK_FORMAT_R8G8B8A8_UNORM;
    ci.extent = {64, 64};
    ci.usage = VK_IMAGE_USAGE_STORAGE_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
    batonChannel_t ch = nullptr;
    sweep("batonChannelCreate", [&] { return batonChannelCreate(&ch, &ci); }, [&] { batonChannelDestroy(ch); });
    BATON_ASSERT_OK(batonChannelCreate(&ch, &ci));
    batonChannelInfo info{};
    sweep("batonChannelGetInfo", [&] { return batonChannelGetInfo(ch, &info); }, [] {});
    sweep("batonChannelDestroy", [&] { return batonChannelDestroy(ch); }, [] {});
    batonMemoryDesc md{};
    md.kind = batonMemoryKindBuffer;
    md.size = 65536;
    md.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    batonMemory_t mem = nullptr;
    int fd = -1;
    batonContextInfo cinfo{};
    BATON_ASSERT_OK(batonContextGetInfo(nullptr, &cinfo));
    if (cinfo.externalMemoryFd) {
        sweep("batonExportMemory", [&] { return batonExportMemory(&fd, &mem, &md); }, [&] {
            close(fd);
            batonDestroyMemory(mem);
        });
    } else {
        std::printf("batonExportMemory not swept: the device has no VK_KHR_external_memory_fd\n");
    }
    expectWorks();
}

// The semaphore entry points live in api_semaphore.cpp (the core helper's file): this case
// fails until their bodies run through guarded() too.
TEST_F(ApiAllocFailure, SemaphoreEntryPoints) {
    batonStream_t s = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&s));
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    sweep("batonExportExternalSemaphore", [&] { return batonExportExternalSemaphore(&fd, &sem, &d); }, [&] {
        close(fd);
        batonDestroyExternalSemaphore(sem);
    });
    BATON_ASSERT_OK(batonExportExternalSemaphore(&fd, &sem, &d));
    batonExternalSemaphore_t imported = nullptr;
    batonExternalSemaphoreHandleDesc hd{};
    hd.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    sweep("batonImportExternalSemaphore", [&] {
        hd.handle.fd = dup(fd);
        batonError_t e = batonImportExternalSemaphore(&imported, &hd);
        if (e != batonSuccess) close(hd.handle.fd);
        return e;
    }, [&] { batonDestroyExternalSemaphore(imported); });
    close(fd);
    unsigned long long value = 0;
    sweep("batonSignalExternalSemaphoresAsync", [&] {
        batonExternalSemaphoreSignalParams p{};
        p.params.fence.value = value + 1;
        batonError_t e = batonSignalExternalSemaphoresAsync(&sem, &p, 1, s);
        if (e == batonSuccess) ++value;
        return e;
    }, [] {});
    sweep("batonWaitExternalSemaphoresAsync", [&] {
        batonExternalSemaphoreWaitParams p{};
        p.params.fence.value = value;
        return batonWaitExternalSemaphoresAsync(&sem, &p, 1, s);
    }, [] {});
    BATON_ASSERT_OK(batonStreamSynchronize(s));
    sweep("batonExternalSemaphoreHostWait", [&] { return batonExternalSemaphoreHostWait(sem, value, 1000000000ull); }, [] {});
    sweep("batonDestroyExternalSemaphore", [&] { return batonDestroyExternalSemaphore(sem); }, [] {});
    BATON_ASSERT_OK(batonStreamDestroy(s));
    expectWorks();
}

}  // namespace
