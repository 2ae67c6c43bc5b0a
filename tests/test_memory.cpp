// Frame memory (baton_memory.h) in one process: export, import over the same bytes (GPU
// writes through one handle, read through the other), images, argument checks, and fd
// ownership on failure. Cross-process use is in test_handoff.cpp.
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <string>
#include <unistd.h>

#include <baton/baton.h>
#include <baton/baton_memory.h>
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include "baton_test.h"

namespace {

batonMemoryDesc hostBuffer(VkDeviceSize size) {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindBuffer;
    d.size = size;
    d.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
    d.memoryProperties = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    return d;
}

batonMemoryImportDesc importDescFor(batonMemory_t exported, int fd) {
    batonMemoryInfo mi{};
    EXPECT_EQ(batonMemoryGetInfo(exported, &mi), batonSuccess);
    batonMemoryImportDesc in{};
    in.desc = mi.desc;
    in.fd = fd;
    in.allocationSize = mi.allocationSize;
    in.memoryTypeIndex = mi.memoryTypeIndex;
    in.dedicated = mi.dedicated;
    return in;
}

class MemoryTest : public ::testing::Test {
protected:
    void SetUp() override {
        batonContext_t ctx = nullptr;
        BATON_ASSERT_OK(batonCtxGetCurrent(&ctx));  // the default context's fds count as before
        fdListBefore_ = batontest::openFdList();
    }
    void TearDown() override {
        EXPECT_EQ(batontest::fdChanges(fdListBefore_, batontest::openFdList()), "") << "fds leaked (or closed)";
    }
    std::string fdListBefore_;
};

struct Fill {
    VkBuffer buffer;
    uint32_t value;
};

TEST_F(MemoryTest, GpuWriteThroughOneHandleIsSeenThroughTheOther) {
    batonMemoryDesc d = hostBuffer(1 << 16);
    int fd = -1;
    batonMemory_t a = nullptr, b = nullptr;
    BATON_ASSERT_OK(batonExportMemory(&fd, &a, &d));
    batonMemoryImportDesc in = importDescFor(a, fd);
    BATON_ASSERT_OK(batonImportMemory(&b, &in));  // takes fd
    batonMemoryInfo ia{}, ib{};
    BATON_ASSERT_OK(batonMemoryGetInfo(a, &ia));
    BATON_ASSERT_OK(batonMemoryGetInfo(b, &ib));
    EXPECT_TRUE(ia.exported);
    EXPECT_FALSE(ib.exported);
    EXPECT_NE(ib.buffer, VK_NULL_HANDLE);
    EXPECT_EQ(ib.image, VK_NULL_HANDLE);
    ASSERT_NE(ib.hostPointer, nullptr);
    Fill f{ib.buffer, 0xC0FFEEu};
    BATON_ASSERT_OK(batonStreamRecord(
        nullptr,
        [](VkCommandBuffer cb, void* u) {
            auto* fl = static_cast<Fill*>(u);
            vkCmdFillBuffer(cb, fl->buffer, 0, VK_WHOLE_SIZE, fl->value);
            VkMemoryBarrier2 mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER_2, nullptr, VK_PIPELINE_STAGE_2_TRANSFER_BIT,
                                VK_ACCESS_2_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT};
            VkDependencyInfo di{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
            di.memoryBarrierCount = 1;
            di.pMemoryBarriers = &mb;
            vkCmdPipelineBarrier2(cb, &di);
        },
        &f));
    BATON_ASSERT_OK(batonStreamSynchronize(nullptr));
    auto* words = static_cast<const uint32_t*>(ia.hostPointer);
    size_t bad = 0;
    for (size_t i = 0; i < (1 << 16) / 4; ++i) bad += words[i] != 0xC0FFEEu;
    EXPECT_EQ(bad, 0u);
    BATON_ASSERT_OK(batonDestroyMemory(b));
    BATON_ASSERT_OK(batonDestroyMemory(a));  // fd went to the import: the driver closed it with b
}

TEST_F(MemoryTest, ImageExportsAndImports) {
    batonMemoryDesc d{};
    d.kind = batonMemoryKindImage;
    d.format = VK_FORMAT_R8G8B8A8_UNORM;
    d.width = 256;
    d.height = 128;
    d.imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
    int fd = -1;
    batonMemory_t a = nullptr, b = nullptr;
    BATON_ASSERT_OK(batonExportMemory(&fd, &a, &d));
    batonMemoryImportDesc in = importDescFor(a, fd);
    BATON_ASSERT_OK(batonImportMemory(&b, &in));
    batonMemoryInfo ib{};
    BATON_ASSERT_OK(batonMemoryGetInfo(b, &ib));
    EXPECT_NE(ib.image, VK_NULL_HANDLE);
    EXPECT_EQ(ib.buffer, VK_NULL_HANDLE);
    EXPECT_GE(ib.allocationSize, 256u * 128u * 4u);
    BATON_ASSERT_OK(batonDestroyMemory(b));
    BATON_ASSERT_OK(batonDestroyMemory(a));
}

TEST_F(MemoryTest, MalformedDescsAreRefused) {
    int fd = -1;
    batonMemory_t m = nullptr;
    batonMemoryDesc d{};
    EXPECT_EQ(batonExportMemory(&fd, &m, &d), batonErrorInvalidValue);  // no kind
    d = hostBuffer(0);
    EXPECT_EQ(batonExportMemory(&fd, &m, &d), batonErrorInvalidValue);  // empty buffer
    d = hostBuffer(64);
    d.width = 4;
    EXPECT_EQ(batonExportMemory(&fd, &m, &d), batonErrorInvalidValue);  // image field on a buffer
    d = hostBuffer(64);
    d.reserved[2] = 1;
    EXPECT_EQ(batonExportMemory(&fd, &m, &d), batonErrorInvalidValue);
    d = {};
    d.kind = batonMemoryKindImage;
    d.format = VK_FORMAT_R8G8B8A8_UNORM;
    d.width = 16;
    EXPECT_EQ(batonExportMemory(&fd, &m, &d), batonErrorInvalidValue);  // no height, no usage
    d.height = 16;
    d.imageUsage = VK_IMAGE_USAGE_SAMPLED_BIT;
    d.tiling = static_cast<VkImageTiling>(7);
    EXPECT_EQ(batonExportMemory(&fd, &m, &d), batonErrorInvalidValue);
    EXPECT_EQ(batonExportMemory(nullptr, &m, &d), batonErrorInvalidValue);
    EXPECT_EQ(batonDestroyMemory(nullptr), batonSuccess);
    EXPECT_EQ(batonDestroyMemory(reinterpret_cast<batonMemory_t>(&d)), batonErrorInvalidResourceHandle);
    batonMemoryInfo info{};
    EXPECT_EQ(batonMemoryGetInfo(reinterpret_cast<batonMemory_t>(&d), &info), batonErrorInvalidResourceHandle);
}

TEST_F(MemoryTest, FailedImportsLeaveTheFdOpenAndTheCallers) {
    batonMemoryDesc d = hostBuffer(4096);
    int fd = -1;
    batonMemory_t a = nullptr, b = nullptr;
    BATON_ASSERT_OK(batonExportMemory(&fd, &a, &d));
    batonMemoryImportDesc in = importDescFor(a, fd);

    batonMemoryImportDesc bad = in;
    bad.allocationSize = 16;  // less than the buffer needs
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidValue);
    bad = in;
    bad.memoryTypeIndex = 31;
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidValue);
    bad = in;
    bad.desc.size = 1 << 20;  // a bigger buffer than the memory holds
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidValue);
    bad = in;
    bad.reserved[0] = 1;
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidValue);
    bad = in;
    bad.fd = -1;
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidValue);
    EXPECT_TRUE(batontest::fdIsOpen(fd));

    // Not memory at all: a pipe, a baton semaphore, a closed fd.
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    bad = in;
    bad.fd = p[0];
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidResourceHandle);
    EXPECT_TRUE(batontest::fdIsOpen(p[0]));
    close(p[0]);
    close(p[1]);
    batonExternalSemaphoreExportDesc sd{};
    sd.type = batonExternalSemaphoreHandleTypeKeyedMutex;
    int semFd = -1;
    batonExternalSemaphore_t sem = nullptr;
    BATON_ASSERT_OK(batonExportExternalSemaphore(&semFd, &sem, &sd));
    bad.fd = semFd;
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorWrongKind);
    EXPECT_TRUE(batontest::fdIsOpen(semFd));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(sem));
    close(semFd);
    bad.fd = 987;
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidResourceHandle);

    // After all that, the real import works and takes the fd.
    BATON_ASSERT_OK(batonImportMemory(&b, &in));
    BATON_ASSERT_OK(batonDestroyMemory(b));
    BATON_ASSERT_OK(batonDestroyMemory(a));
}

// A memfd may hold more than any memory heap (sparse), but the driver may not be asked for
// more than the heap (VUID-vkAllocateMemory-pAllocateInfo-01713): refused before it.
TEST_F(MemoryTest, ImportOfMoreThanTheHeapIsRefusedBeforeTheDriver) {
    batonMemoryDesc d = hostBuffer(4096);
    int fd = -1;
    batonMemory_t a = nullptr, b = nullptr;
    BATON_ASSERT_OK(batonExportMemory(&fd, &a, &d));
    batonMemoryImportDesc in = importDescFor(a, fd);
    const unsigned long long huge = 1ull << 44;  // more than the H200's 150 GB heap
    const int big = memfd_create("huge-memory", MFD_CLOEXEC);
    ASSERT_GE(big, 0);
    ASSERT_EQ(ftruncate(big, static_cast<off_t>(huge)), 0);
    batonMemoryImportDesc bad = in;
    bad.fd = big;
    bad.allocationSize = huge;
    EXPECT_EQ(batonImportMemory(&b, &bad), batonErrorInvalidResourceHandle);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("heap"), std::string::npos) << batonGetLastErrorMessage();
    EXPECT_TRUE(batontest::fdIsOpen(big));
    close(big);
    BATON_ASSERT_OK(batonImportMemory(&b, &in));
    BATON_ASSERT_OK(batonDestroyMemory(b));
    BATON_ASSERT_OK(batonDestroyMemory(a));
}

TEST_F(MemoryTest, ContextDestroyReleasesItsMemory) {
    batonContextCreateInfo ci = batontest::contextCreateInfo();
    batonContext_t ctx = nullptr;
    BATON_ASSERT_OK(batonContextCreate(&ctx, &ci));
    BATON_ASSERT_OK(batonCtxSetCurrent(ctx));
    int fd = -1;
    batonMemory_t m = nullptr;
    batonMemoryDesc d = hostBuffer(4096);
    BATON_ASSERT_OK(batonExportMemory(&fd, &m, &d));
    close(fd);
    BATON_ASSERT_OK(batonCtxSetCurrent(nullptr));
    BATON_ASSERT_OK(batonContextDestroy(ctx));  // frees m; its handle is refused afterwards
    batonMemoryInfo info{};
    EXPECT_EQ(batonMemoryGetInfo(m, &info), batonErrorInvalidResourceHandle);
}

}  // namespace
