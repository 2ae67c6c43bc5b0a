// The bad-input table of the CUDA-named calls (baton_cuda.h), one CTest case per row, the way
// tests/test_bad_input.cpp does it for the semaphore calls. Around every row the fixture
// checks what must hold whatever the input:
//  - the call returns the row's code (CUDA's number), and a failure leaves a message;
//  - an fd the row hands in is, after a failure, still open and the same file (device,
//    inode, offset, close-on-exec flag); after a success it was taken (closed by baton once
//    the memory is destroyed);
//  - the process has exactly the fds it had before, and external memory still works.
#include <baton/baton_cuda.h>
#include <baton/baton_memory.h>
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <ostream>
#include <string>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "baton_test.h"

// c_caller.c: raw ints in enum parameters, passed from C.
extern "C" batonError_t cudatestDeviceGetAttribute(int* value, int attr, int device);

namespace {

template <class E>
void setRaw(E& field, int value) {
    static_assert(sizeof(E) == sizeof(int));
    std::memcpy(&field, &value, sizeof value);
}

char g_bogus[64];
template <class H>
H madeUp() {
    return reinterpret_cast<H>(&g_bogus[8]);
}

constexpr VkDeviceSize kBytes = 64 * 1024;

// A memory fd exported by baton (the kind an importer gets), with its allocation's facts.
struct ExportedFd {
    int fd = -1;
    VkDeviceSize size = 0;
    bool dedicated = false;
};

ExportedFd exportMemory(VkDeviceSize bytes = kBytes) {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindBuffer;
    d.size = bytes;
    d.bufferUsage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    ExportedFd out;
    batonMemory_t mem = nullptr;
    batonError_t e = batonExportMemory(&out.fd, &mem, &d);
    EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
    batonMemoryInfo info{};
    batonMemoryGetInfo(mem, &info);
    out.size = info.allocationSize;
    out.dedicated = info.dedicated;
    batonDestroyMemory(mem);  // the fd keeps the payload
    return out;
}

batonExternalMemoryHandleDesc fdDesc(int fd, unsigned long long size, unsigned flags = 0) {
    batonExternalMemoryHandleDesc d{};
    d.type = batonExternalMemoryHandleTypeOpaqueFd;
    d.handle.fd = fd;
    d.size = size;
    d.flags = flags;
    return d;
}

// More bytes than any memory heap holds (the H200's largest is 150 GB), fewer than a memfd may.
constexpr unsigned long long kHugeImport = 1ull << 44;

enum class Fd { None, Closed, NotOpenHigh, Pipe, Socket, Eventfd, DevNull, RegularFile, MemfdTiny, MemfdHuge, BatonSemaphore, BatonMemory, BatonMemfd };

int makeFd(Fd kind) {
    int p[2] = {-1, -1};
    switch (kind) {
        case Fd::None: return -1;
        case Fd::Closed: {
            int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            close(fd);
            return fd;
        }
        case Fd::NotOpenHigh: return 1 << 20;
        case Fd::Pipe:
            if (pipe2(p, O_CLOEXEC) != 0) return -1;
            close(p[1]);
            return p[0];
        case Fd::Socket:
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) return -1;
            close(p[1]);
            return p[0];
        case Fd::Eventfd: return eventfd(0, EFD_CLOEXEC);
        case Fd::DevNull: return open("/dev/null", O_RDWR | O_CLOEXEC);
        case Fd::RegularFile: {
            char path[] = "/tmp/baton-cuda-bad-input-XXXXXX";
            int fd = mkostemp(path, O_CLOEXEC);
            if (fd < 0) return -1;
            unlink(path);
            EXPECT_EQ(ftruncate(fd, 1 << 20), 0);
            lseek(fd, 3, SEEK_SET);  // an offset the call must not move
            return fd;
        }
        case Fd::MemfdTiny: {
            int fd = memfd_create("not-memory", MFD_CLOEXEC);
            EXPECT_EQ(ftruncate(fd, 100), 0);
            return fd;
        }
        case Fd::MemfdHuge: {  // sparse: holds kHugeImport bytes without using them
            int fd = memfd_create("huge-memory", MFD_CLOEXEC);
            EXPECT_EQ(ftruncate(fd, static_cast<off_t>(kHugeImport)), 0);
            return fd;
        }
        case Fd::BatonSemaphore: {
            batonExternalSemaphoreExportDesc d{};
            d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
            d.flags = batonExportFlagPortable;
            int fd = -1;
            batonExternalSemaphore_t s = nullptr;
            EXPECT_EQ(batonExportExternalSemaphore(&fd, &s, &d), batonSuccess) << batonGetLastErrorMessage();
            batonDestroyExternalSemaphore(s);
            return fd;
        }
        case Fd::BatonMemory:
        case Fd::BatonMemfd: return exportMemory().fd;
    }
    return -1;
}

struct FdIdentity {
    bool open = false;
    dev_t dev = 0;
    ino_t ino = 0;
    int fdFlags = -1;
    off_t offset = -1;
};

FdIdentity identityOf(int fd) {
    FdIdentity id;
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) return id;
    id.open = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.fdFlags = fcntl(fd, F_GETFD);
    id.offset = lseek(fd, 0, SEEK_CUR);
    return id;
}

// A row's environment: its fd, what it made, the call's result.
struct Env {
    int fd = -1;
    VkDeviceSize fdSize = 0;  // BatonMemory rows: the allocation size behind fd
    VkDeviceSize memorySize = 0;  // the size of what memory() imported last
    batonError_t got = batonErrorUnknown;
    std::string message;
    int calls = 0;
    std::vector<batonExternalMemory_t> mems;
    std::vector<void*> ptrs;
    std::vector<batonMipmappedArray_t> arrays;
    std::vector<batonStream_t> streams;
    std::vector<batonEvent_t> events;

    void result(batonError_t e) {
        got = e;
        message = batonGetLastErrorMessage();
        ++calls;
    }
    // Imported memory to map (from an fd of its own; dedicated if asked).
    batonExternalMemory_t memory(bool dedicated = false) {
        ExportedFd x = exportMemory();
        memorySize = x.size;
        batonExternalMemoryHandleDesc d = fdDesc(x.fd, x.size, dedicated ? batonExternalMemoryDedicated : 0u);
        batonExternalMemory_t m = nullptr;
        batonError_t e = batonImportExternalMemory(&m, &d);
        EXPECT_EQ(e, batonSuccess) << batonGetLastErrorMessage();
        if (e != batonSuccess) close(x.fd);
        mems.push_back(m);
        return m;
    }
    batonExternalMemory_t deadMemory() {
        batonExternalMemory_t m = memory();
        mems.pop_back();
        EXPECT_EQ(batonDestroyExternalMemory(m), batonSuccess);
        return m;
    }
    void importFd(const batonExternalMemoryHandleDesc& d) {
        batonExternalMemory_t m = nullptr;
        result(batonImportExternalMemory(&m, &d));
        if (m) mems.push_back(m);
    }
    void mapBuffer(batonExternalMemory_t m, unsigned long long offset, unsigned long long size, unsigned flags = 0) {
        batonExternalMemoryBufferDesc d{};
        d.offset = offset;
        d.size = size;
        d.flags = flags;
        void* p = nullptr;
        result(batonExternalMemoryGetMappedBuffer(&p, m, &d));
        if (p) ptrs.push_back(p);
    }
    void mapArray(batonExternalMemory_t m, batonExternalMemoryMipmappedArrayDesc d) {
        batonMipmappedArray_t a = nullptr;
        result(batonExternalMemoryGetMappedMipmappedArray(&a, m, &d));
        if (a) arrays.push_back(a);
    }
    ~Env() {
        for (void* p : ptrs) batonFree(p);
        for (batonMipmappedArray_t a : arrays) batonFreeMipmappedArray(a);
        for (batonExternalMemory_t m : mems) batonDestroyExternalMemory(m);
        for (batonStream_t s : streams) batonStreamDestroy(s);
        for (batonEvent_t e : events) batonEventDestroy(e);
    }
};

batonExternalMemoryMipmappedArrayDesc arrayDesc(int bits = 8, int n = 4, batonChannelFormatKind kind = batonChannelFormatKindUnsigned) {
    batonExternalMemoryMipmappedArrayDesc d{};
    d.formatDesc = batonCreateChannelDesc(bits, n > 1 ? bits : 0, n > 2 ? bits : 0, n > 3 ? bits : 0, kind);
    d.extent = batonMakeExtent(32, 32, 0);
    d.numLevels = 1;
    return d;
}

void importForeign(Env& e, int type, bool handle, bool name) {
    batonExternalMemoryHandleDesc d{};
    setRaw(d.type, type);
    d.handle.win32.handle = handle ? reinterpret_cast<void*>(0x1234) : nullptr;
    d.handle.win32.name = name ? L"Global\\baton" : nullptr;
    d.size = 4096;
    e.importFd(d);
}
void importAs(Env& e) { e.importFd(fdDesc(e.fd, 4096)); }

struct Row {
    const char* name;
    batonError_t expected;
    Fd fd;
    void (*run)(Env&);
};
void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

constexpr batonError_t kOk = batonSuccess, kInvalid = batonErrorInvalidValue, kBadHandle = batonErrorInvalidResourceHandle,
                       kNotSupported = batonErrorNotSupported, kDevice = batonErrorInvalidDevice,
                       kChannel = batonErrorInvalidChannelDescriptor;
constexpr int kWin32 = batonExternalMemoryHandleTypeOpaqueWin32, kKmt = batonExternalMemoryHandleTypeOpaqueWin32Kmt,
              kHeap = batonExternalMemoryHandleTypeD3D12Heap, kResource = batonExternalMemoryHandleTypeD3D12Resource,
              kD3D11 = batonExternalMemoryHandleTypeD3D11Resource, kD3D11Kmt = batonExternalMemoryHandleTypeD3D11ResourceKmt;

const Row kRows[] = {
    // --- batonImportExternalMemory: descriptor -----------------------------------------
    {"Import_NullOut", kInvalid, Fd::BatonMemory, [](Env& e) {
         batonExternalMemoryHandleDesc d = fdDesc(e.fd, e.fdSize);
         e.result(batonImportExternalMemory(nullptr, &d));
     }},
    {"Import_NullDesc", kInvalid, Fd::None, [](Env& e) {
         batonExternalMemory_t m = nullptr;
         e.result(batonImportExternalMemory(&m, nullptr));
     }},
    {"Import_Type0", kInvalid, Fd::BatonMemory, [](Env& e) {
         batonExternalMemoryHandleDesc d = fdDesc(e.fd, e.fdSize);
         setRaw(d.type, 0);
         e.importFd(d);
     }},
    {"Import_Type9", kInvalid, Fd::BatonMemory, [](Env& e) {
         batonExternalMemoryHandleDesc d = fdDesc(e.fd, e.fdSize);
         setRaw(d.type, 9);
         e.importFd(d);
     }},
    {"Import_TypeMinus1", kInvalid, Fd::BatonMemory, [](Env& e) {
         batonExternalMemoryHandleDesc d = fdDesc(e.fd, e.fdSize);
         setRaw(d.type, -1);
         e.importFd(d);
     }},
    {"Import_FlagsUnknown", kInvalid, Fd::BatonMemory, [](Env& e) { e.importFd(fdDesc(e.fd, e.fdSize, 0x2)); }},
    {"Import_FlagsHighBit", kInvalid, Fd::BatonMemory, [](Env& e) { e.importFd(fdDesc(e.fd, e.fdSize, 0x80000001u)); }},
    {"Import_Size0", kInvalid, Fd::BatonMemory, [](Env& e) { e.importFd(fdDesc(e.fd, 0)); }},
    {"Import_SizeBeyondTheMemfd", kBadHandle, Fd::BatonMemfd, [](Env& e) { e.importFd(fdDesc(e.fd, e.fdSize * 2)); }},
    {"Import_SizeMax", kBadHandle, Fd::BatonMemory, [](Env& e) { e.importFd(fdDesc(e.fd, ~0ull)); }},
    {"ImportWithType_IndexTooHigh", kInvalid, Fd::BatonMemory, [](Env& e) {
         batonExternalMemoryHandleDesc d = fdDesc(e.fd, e.fdSize);
         batonExternalMemory_t m = nullptr;
         e.result(batonImportExternalMemoryWithType(&m, &d, VK_MAX_MEMORY_TYPES));
         if (m) e.mems.push_back(m);
     }},
    {"ImportWithType_Sentinel", kInvalid, Fd::BatonMemory, [](Env& e) {
         batonExternalMemoryHandleDesc d = fdDesc(e.fd, e.fdSize);
         batonExternalMemory_t m = nullptr;
         e.result(batonImportExternalMemoryWithType(&m, &d, UINT32_MAX));
         if (m) e.mems.push_back(m);
     }},
    // --- fds that are not memory, or not open: the caller keeps them -------------------
    {"Import_FdMinus1", kInvalid, Fd::None, [](Env& e) { e.importFd(fdDesc(-1, 4096)); }},
    {"Import_FdIntMin", kInvalid, Fd::None, [](Env& e) { e.importFd(fdDesc(INT_MIN, 4096)); }},
    {"Import_FdIntMax", kBadHandle, Fd::None, [](Env& e) { e.importFd(fdDesc(INT_MAX, 4096)); }},
    {"Import_ClosedFd", kBadHandle, Fd::Closed, importAs},
    {"Import_FdNeverOpened", kBadHandle, Fd::NotOpenHigh, importAs},
    {"Import_Pipe", kBadHandle, Fd::Pipe, importAs},
    {"Import_Socket", kBadHandle, Fd::Socket, importAs},
    {"Import_Eventfd", kBadHandle, Fd::Eventfd, importAs},
    {"Import_DevNull", kBadHandle, Fd::DevNull, importAs},
    {"Import_RegularFile", kBadHandle, Fd::RegularFile, importAs},
    {"Import_MemfdSmallerThanSize", kBadHandle, Fd::MemfdTiny, importAs},
    // A memfd large enough for a size that no memory heap has: refused before the driver,
    // which may not be asked for more than the heap holds (VUID-vkAllocateMemory-pAllocateInfo-01713).
    {"Import_SizeBeyondTheHeap", kBadHandle, Fd::MemfdHuge, [](Env& e) { e.importFd(fdDesc(e.fd, kHugeImport)); }},
    {"Import_BatonSemaphoreFd", batonErrorWrongKind, Fd::BatonSemaphore, importAs},
    // --- Windows and NvSciBuf types: validated, then NotSupported -----------------------
    {"Import_OpaqueWin32_Handle", kNotSupported, Fd::None, [](Env& e) { importForeign(e, kWin32, true, false); }},
    {"Import_OpaqueWin32_Name", kNotSupported, Fd::None, [](Env& e) { importForeign(e, kWin32, false, true); }},
    {"Import_OpaqueWin32_Both", kInvalid, Fd::None, [](Env& e) { importForeign(e, kWin32, true, true); }},
    {"Import_OpaqueWin32_Neither", kInvalid, Fd::None, [](Env& e) { importForeign(e, kWin32, false, false); }},
    {"Import_OpaqueWin32Kmt_Handle", kNotSupported, Fd::None, [](Env& e) { importForeign(e, kKmt, true, false); }},
    {"Import_OpaqueWin32Kmt_NameOnly", kInvalid, Fd::None, [](Env& e) { importForeign(e, kKmt, false, true); }},
    {"Import_OpaqueWin32Kmt_Both", kInvalid, Fd::None, [](Env& e) { importForeign(e, kKmt, true, true); }},
    {"Import_D3D12Heap_Handle", kNotSupported, Fd::None, [](Env& e) { importForeign(e, kHeap, true, false); }},
    {"Import_D3D12Heap_Both", kInvalid, Fd::None, [](Env& e) { importForeign(e, kHeap, true, true); }},
    {"Import_D3D12Resource_Name", kNotSupported, Fd::None, [](Env& e) { importForeign(e, kResource, false, true); }},
    {"Import_D3D12Resource_Neither", kInvalid, Fd::None, [](Env& e) { importForeign(e, kResource, false, false); }},
    {"Import_D3D11Resource_Handle", kNotSupported, Fd::None, [](Env& e) { importForeign(e, kD3D11, true, false); }},
    {"Import_D3D11ResourceKmt_Handle", kNotSupported, Fd::None, [](Env& e) { importForeign(e, kD3D11Kmt, true, false); }},
    {"Import_D3D11ResourceKmt_HandleAndName", kInvalid, Fd::None, [](Env& e) { importForeign(e, kD3D11Kmt, true, true); }},
    {"Import_NvSciBuf", kNotSupported, Fd::None, [](Env& e) {
         batonExternalMemoryHandleDesc d{};
         d.type = batonExternalMemoryHandleTypeNvSciBuf;
         d.handle.nvSciBufObject = &g_bogus;
         d.size = 4096;
         e.importFd(d);
     }},
    {"Import_NvSciBuf_NullObject", kNotSupported, Fd::None, [](Env& e) {
         batonExternalMemoryHandleDesc d{};
         d.type = batonExternalMemoryHandleTypeNvSciBuf;
         d.size = 4096;
         e.importFd(d);
     }},
    // --- imports that succeed take the fd --------------------------------------------
    {"Import_Good", kOk, Fd::BatonMemory, [](Env& e) { e.importFd(fdDesc(e.fd, e.fdSize)); }},
    {"Import_GoodDedicated", kOk, Fd::BatonMemory, [](Env& e) { e.importFd(fdDesc(e.fd, e.fdSize, batonExternalMemoryDedicated)); }},

    // --- batonExternalMemoryGetMappedBuffer -------------------------------------------
    {"MapBuffer_NullDevPtr", kInvalid, Fd::None, [](Env& e) {
         batonExternalMemoryBufferDesc d{};
         d.size = 64;
         e.result(batonExternalMemoryGetMappedBuffer(nullptr, e.memory(), &d));
     }},
    {"MapBuffer_NullDesc", kInvalid, Fd::None, [](Env& e) {
         void* p = nullptr;
         e.result(batonExternalMemoryGetMappedBuffer(&p, e.memory(), nullptr));
     }},
    {"MapBuffer_NullMemory", kBadHandle, Fd::None, [](Env& e) { e.mapBuffer(nullptr, 0, 64); }},
    {"MapBuffer_DestroyedMemory", kBadHandle, Fd::None, [](Env& e) { e.mapBuffer(e.deadMemory(), 0, 64); }},
    {"MapBuffer_MadeUpMemory", kBadHandle, Fd::None, [](Env& e) { e.mapBuffer(madeUp<batonExternalMemory_t>(), 0, 64); }},
    {"MapBuffer_StreamAsMemory", kBadHandle, Fd::None, [](Env& e) {
         batonStream_t s = nullptr;
         EXPECT_EQ(batonStreamCreate(&s), batonSuccess);
         e.streams.push_back(s);
         e.mapBuffer(reinterpret_cast<batonExternalMemory_t>(s), 0, 64);
     }},
    {"MapBuffer_Flags1", kInvalid, Fd::None, [](Env& e) { e.mapBuffer(e.memory(), 0, 64, 1); }},
    {"MapBuffer_Size0", kInvalid, Fd::None, [](Env& e) { e.mapBuffer(e.memory(), 0, 0); }},
    {"MapBuffer_OffsetAtTheEnd", kInvalid, Fd::None, [](Env& e) {
         batonExternalMemory_t m = e.memory();
         e.mapBuffer(m, e.memorySize, 4);
     }},
    {"MapBuffer_OffsetBeyond", kInvalid, Fd::None, [](Env& e) { e.mapBuffer(e.memory(), 1ull << 40, 4); }},
    {"MapBuffer_SizeOneTooMany", kInvalid, Fd::None, [](Env& e) {
         batonExternalMemory_t m = e.memory();
         e.mapBuffer(m, 256, e.memorySize - 256 + 1);
     }},
    {"MapBuffer_OffsetPlusSizeWraps", kInvalid, Fd::None, [](Env& e) { e.mapBuffer(e.memory(), 256, ~0ull - 128); }},
    {"MapBuffer_OffsetMisaligned", kInvalid, Fd::None, [](Env& e) { e.mapBuffer(e.memory(), 1, 64); }},
    {"MapBuffer_DedicatedAtAnOffset", kInvalid, Fd::None, [](Env& e) { e.mapBuffer(e.memory(true), 256, 256); }},
    {"MapBuffer_DedicatedPartly", kInvalid, Fd::None, [](Env& e) { e.mapBuffer(e.memory(true), 0, 256); }},
    {"MapBuffer_Good", kOk, Fd::None, [](Env& e) { e.mapBuffer(e.memory(), 256, 1024); }},

    // --- batonExternalMemoryGetMappedMipmappedArray -----------------------------------
    {"MapArray_NullOut", kInvalid, Fd::None, [](Env& e) {
         batonExternalMemoryMipmappedArrayDesc d = arrayDesc();
         e.result(batonExternalMemoryGetMappedMipmappedArray(nullptr, e.memory(), &d));
     }},
    {"MapArray_NullDesc", kInvalid, Fd::None, [](Env& e) {
         batonMipmappedArray_t a = nullptr;
         e.result(batonExternalMemoryGetMappedMipmappedArray(&a, e.memory(), nullptr));
     }},
    {"MapArray_DestroyedMemory", kBadHandle, Fd::None, [](Env& e) { e.mapArray(e.deadMemory(), arrayDesc()); }},
    {"MapArray_Levels0", kInvalid, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.numLevels = 0;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_TooManyLevels", kInvalid, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.numLevels = 20;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_Width0", kInvalid, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.extent.width = 0;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_WidthAbove32Bits", kInvalid, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.extent.width = 1ull << 33;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_FormatKindNone", kChannel, Fd::None, [](Env& e) { e.mapArray(e.memory(), arrayDesc(8, 4, batonChannelFormatKindNone)); }},
    {"MapArray_FormatKind99", kChannel, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         setRaw(d.formatDesc.f, 99);
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_FormatThreeComponents", kChannel, Fd::None, [](Env& e) { e.mapArray(e.memory(), arrayDesc(8, 3)); }},
    {"MapArray_FormatFloat8", kChannel, Fd::None, [](Env& e) { e.mapArray(e.memory(), arrayDesc(8, 1, batonChannelFormatKindFloat)); }},
    {"MapArray_FormatMixedBits", kChannel, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.formatDesc.y = 16;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_FormatGapInComponents", kChannel, Fd::None, [](Env& e) {
         auto d = arrayDesc(8, 1);
         d.formatDesc.z = 8;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_FormatZero", kChannel, Fd::None, [](Env& e) { e.mapArray(e.memory(), arrayDesc(0, 1)); }},
    {"MapArray_FlagsUnknown", kInvalid, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.flags = 0x40;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_Cubemap", kNotSupported, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.flags = batonArrayCubemap;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_OffsetBeyond", kInvalid, Fd::None, [](Env& e) {
         auto d = arrayDesc();
         d.offset = 1ull << 40;
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_BiggerThanTheMemory", kInvalid, Fd::None, [](Env& e) {
         auto d = arrayDesc(32, 4, batonChannelFormatKindFloat);
         d.extent = batonMakeExtent(1024, 1024, 0);
         e.mapArray(e.memory(), d);
     }},
    {"MapArray_Good", kOk, Fd::None, [](Env& e) { e.mapArray(e.memory(), arrayDesc()); }},

    // --- free, destroy, info ----------------------------------------------------------
    {"Free_MadeUpPointer", kInvalid, Fd::None, [](Env& e) { e.result(batonFree(&g_bogus[16])); }},
    {"Free_Twice", kInvalid, Fd::None, [](Env& e) {
         e.mapBuffer(e.memory(), 0, 64);
         ++e.calls;  // setup, not the call under test
         void* p = e.ptrs.back();
         e.ptrs.pop_back();
         EXPECT_EQ(batonFree(p), batonSuccess);
         e.calls -= 2;
         e.result(batonFree(p));
     }},
    {"Free_Null", kOk, Fd::None, [](Env& e) { e.result(batonFree(nullptr)); }},
    {"FreeMipmappedArray_MadeUp", kBadHandle, Fd::None, [](Env& e) {
         e.result(batonFreeMipmappedArray(madeUp<batonMipmappedArray_t>()));
     }},
    {"MappedBufferGetInfo_NullInfo", kInvalid, Fd::None, [](Env& e) { e.result(batonMappedBufferGetInfo(&g_bogus, nullptr)); }},
    {"MappedBufferGetInfo_UnknownPointer", kInvalid, Fd::None, [](Env& e) {
         batonMappedBufferInfo info{};
         e.result(batonMappedBufferGetInfo(&g_bogus, &info));
     }},
    {"MipmappedArrayGetInfo_Null", kBadHandle, Fd::None, [](Env& e) {
         batonMipmappedArrayInfo info{};
         e.result(batonMipmappedArrayGetInfo(nullptr, &info));
     }},
    {"Destroy_Twice", kBadHandle, Fd::None, [](Env& e) { e.result(batonDestroyExternalMemory(e.deadMemory())); }},
    {"Destroy_MadeUp", kBadHandle, Fd::None, [](Env& e) { e.result(batonDestroyExternalMemory(madeUp<batonExternalMemory_t>())); }},
    {"Destroy_Null", kOk, Fd::None, [](Env& e) { e.result(batonDestroyExternalMemory(nullptr)); }},

    // --- devices ------------------------------------------------------------------------
    {"SetDevice_Minus1", kDevice, Fd::None, [](Env& e) { e.result(batonSetDevice(-1)); }},
    {"SetDevice_IntMax", kDevice, Fd::None, [](Env& e) { e.result(batonSetDevice(INT_MAX)); }},
    {"SetDevice_Count", kDevice, Fd::None, [](Env& e) {
         int n = 0;
         EXPECT_EQ(batonGetDeviceCount(&n), batonSuccess);
         e.result(batonSetDevice(n));
     }},
    {"GetDeviceCount_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonGetDeviceCount(nullptr)); }},
    {"GetDevice_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonGetDevice(nullptr)); }},
    {"GetDeviceProperties_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonGetDeviceProperties(nullptr, 0)); }},
    {"GetDeviceProperties_Minus1", kDevice, Fd::None, [](Env& e) {
         batonDeviceProp p{};
         e.result(batonGetDeviceProperties(&p, -1));
     }},
    {"DeviceGetAttribute_NullValue", kInvalid, Fd::None, [](Env& e) {
         e.result(batonDeviceGetAttribute(nullptr, batonDevAttrWarpSize, 0));
     }},
    {"DeviceGetAttribute_Attr0", kInvalid, Fd::None, [](Env& e) {
         int v = 0;
         e.result(cudatestDeviceGetAttribute(&v, 0, 0));
     }},
    {"DeviceGetAttribute_AttrMinus1", kInvalid, Fd::None, [](Env& e) {
         int v = 0;
         e.result(cudatestDeviceGetAttribute(&v, -1, 0));
     }},
    {"DeviceGetAttribute_Attr13ClockRate", kInvalid, Fd::None, [](Env& e) {
         int v = 0;
         e.result(cudatestDeviceGetAttribute(&v, 13, 0));
     }},
    {"DeviceGetAttribute_AttrIntMax", kInvalid, Fd::None, [](Env& e) {
         int v = 0;
         e.result(cudatestDeviceGetAttribute(&v, INT_MAX, 0));
     }},
    {"DeviceGetAttribute_BadDevice", kDevice, Fd::None, [](Env& e) {
         int v = 0;
         e.result(batonDeviceGetAttribute(&v, batonDevAttrWarpSize, 1 << 20));
     }},

    // --- streams and events with flags ------------------------------------------------
    {"StreamCreateWithFlags_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonStreamCreateWithFlags(nullptr, 0)); }},
    {"StreamCreateWithFlags_Flags2", kInvalid, Fd::None, [](Env& e) {
         batonStream_t s = nullptr;
         e.result(batonStreamCreateWithFlags(&s, 2));
         if (s) e.streams.push_back(s);
     }},
    {"StreamCreateWithFlags_HighBit", kInvalid, Fd::None, [](Env& e) {
         batonStream_t s = nullptr;
         e.result(batonStreamCreateWithFlags(&s, 0x80000000u));
         if (s) e.streams.push_back(s);
     }},
    {"StreamCreateWithPriority_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonStreamCreateWithPriority(nullptr, 0, 0)); }},
    {"StreamCreateWithPriority_Flags2", kInvalid, Fd::None, [](Env& e) {
         batonStream_t s = nullptr;
         e.result(batonStreamCreateWithPriority(&s, 2, 0));
         if (s) e.streams.push_back(s);
     }},
    {"StreamCreateWithPriority_IntMin", kOk, Fd::None, [](Env& e) {
         batonStream_t s = nullptr;
         e.result(batonStreamCreateWithPriority(&s, batonStreamNonBlocking, INT_MIN));
         if (s) e.streams.push_back(s);
     }},
    {"EventCreateWithFlags_Null", kInvalid, Fd::None, [](Env& e) { e.result(batonEventCreateWithFlags(nullptr, 0)); }},
    {"EventCreateWithFlags_Interprocess", kInvalid, Fd::None, [](Env& e) {
         batonEvent_t ev = nullptr;
         e.result(batonEventCreateWithFlags(&ev, batonEventInterprocess));
         if (ev) e.events.push_back(ev);
     }},
    {"EventCreateWithFlags_InterprocessDisableTiming", kNotSupported, Fd::None, [](Env& e) {
         batonEvent_t ev = nullptr;
         e.result(batonEventCreateWithFlags(&ev, batonEventInterprocess | batonEventDisableTiming));
         if (ev) e.events.push_back(ev);
     }},
    {"EventCreateWithFlags_Flag8", kInvalid, Fd::None, [](Env& e) {
         batonEvent_t ev = nullptr;
         e.result(batonEventCreateWithFlags(&ev, 0x8));
         if (ev) e.events.push_back(ev);
     }},
};

// After any row: a fresh export -> import -> map -> free -> destroy round trip works.
void expectMemoryStillWorks() {
    ExportedFd x = exportMemory();
    batonExternalMemoryHandleDesc d = fdDesc(x.fd, x.size);
    batonExternalMemory_t m = nullptr;
    const batonError_t e = batonImportExternalMemory(&m, &d);
    if (e != batonSuccess) close(x.fd);
    BATON_ASSERT_OK(e);
    batonExternalMemoryBufferDesc bd{};
    bd.size = 4096;
    void* p = nullptr;
    BATON_ASSERT_OK(batonExternalMemoryGetMappedBuffer(&p, m, &bd));
    BATON_ASSERT_OK(batonFree(p));
    BATON_ASSERT_OK(batonDestroyExternalMemory(m));
}

class CudaBadInput : public ::testing::TestWithParam<Row> {};

TEST_P(CudaBadInput, Row) {
    const Row& row = GetParam();
    ASSERT_NO_FATAL_FAILURE(expectMemoryStillWorks());  // the default context's fds exist first
    const std::string fdsBefore = batontest::openFdList();
    int fd = -1;
    FdIdentity before;
    {
        Env env;
        if (row.fd == Fd::BatonMemory || row.fd == Fd::BatonMemfd) {
            ExportedFd x = exportMemory();
            env.fd = x.fd;
            env.fdSize = x.size;
            if (row.fd == Fd::BatonMemfd && !batontest::fdIsMemfd(x.fd)) {
                close(x.fd);
                GTEST_SKIP() << "this driver's memory fds are not memfds (NVIDIA's are opens of /dev/nvidiactl): "
                                "the size behind one is the driver's to check";
            }
        } else if (row.fd != Fd::None) {
            env.fd = makeFd(row.fd);
        }
        fd = env.fd;
        before = identityOf(fd);
        if (row.fd != Fd::None) {
            ASSERT_EQ(before.open, row.fd != Fd::Closed && row.fd != Fd::NotOpenHigh) << "could not make the row's fd";
        }
        row.run(env);
        ASSERT_EQ(env.calls, 1) << "the row must make exactly one call under test";
        EXPECT_EQ(env.got, row.expected) << "got " << batonGetErrorName(env.got) << " (\"" << env.message << "\"), want "
                                         << batonGetErrorName(row.expected);
        if (row.expected != batonSuccess) {
            EXPECT_FALSE(env.message.empty()) << "a failure must leave a message";
        }
        if (row.fd != Fd::None && env.got != batonSuccess) {
            const FdIdentity after = identityOf(fd);
            EXPECT_EQ(after.open, before.open) << "fd " << fd << " was closed (or opened) by a failed call";
            EXPECT_EQ(after.dev, before.dev);
            EXPECT_EQ(after.ino, before.ino) << "fd " << fd << " is another file now";
            EXPECT_EQ(after.fdFlags, before.fdFlags);
            EXPECT_EQ(after.offset, before.offset) << "the call moved the fd's file offset";
            if (before.open) {
                EXPECT_EQ(close(fd), 0);
            }
        }
    }
    if (row.fd != Fd::None && row.expected == batonSuccess) {
        EXPECT_FALSE(batontest::fdIsOpen(fd)) << "a successful import takes the fd (closed once the memory is destroyed)";
    }
    ASSERT_NO_FATAL_FAILURE(expectMemoryStillWorks());
    EXPECT_EQ(batontest::fdChanges(fdsBefore, batontest::openFdList()), "") << "fds leaked (or closed)";
}

INSTANTIATE_TEST_SUITE_P(Table, CudaBadInput, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& p) { return std::string(p.param.name); });

}  // namespace
