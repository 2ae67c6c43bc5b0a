// Handle transport over a socketpair in one process: what arrives, what is refused before the
// driver sees it (wrong kind, another GPU or driver, a message that disagrees with its fd),
// and that refused fds are closed and sent ones stay the sender's. Cross-process use is in
// test_handoff.cpp.
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <baton/baton.h>
#include <baton/baton_memory.h>
#include <baton/baton_transport.h>
#include <gtest/gtest.h>

#include "baton_test.h"

namespace {

class TransportTest : public ::testing::TestWithParam<int> {  // the socket type
protected:
    void SetUp() override {
        BATON_ASSERT_OK(batonContextGetInfo(nullptr, &ctx_));  // the default context's fds count as before
        fdsBefore_ = batontest::openFdCount();
        ASSERT_EQ(socketpair(AF_UNIX, GetParam() | SOCK_CLOEXEC, 0, sv_), 0);
    }
    void TearDown() override {
        close(sv_[0]);
        close(sv_[1]);
        EXPECT_EQ(batontest::openFdCount(), fdsBefore_);  // nothing received was leaked
    }
    batonExternalSemaphore_t exportSem(batonExternalSemaphoreHandleType type, unsigned long long initial, int* fd) {
        batonExternalSemaphoreExportDesc d{};
        d.type = type;
        if (type == batonExternalSemaphoreHandleTypeKeyedMutex)
            d.initialKey = initial;
        else
            d.initialValue = initial;
        d.flags = batonExportFlagPortable;
        batonExternalSemaphore_t s = nullptr;
        EXPECT_EQ(batonExportExternalSemaphore(fd, &s, &d), batonSuccess) << batonGetLastErrorMessage();
        return s;
    }
    batonMemory_t exportBuffer(int* fd) {
        batonMemoryDesc d{};
        d.kind = batonMemoryKindBuffer;
        d.size = 4096;
        d.bufferUsage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        d.memoryProperties = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        batonMemory_t m = nullptr;
        EXPECT_EQ(batonExportMemory(fd, &m, &d), batonSuccess) << batonGetLastErrorMessage();
        return m;
    }
    // A header as batonSendMemory would write it for m, for forging.
    batonHandleHeader memoryHeader(batonMemory_t m) {
        batonMemoryInfo mi{};
        EXPECT_EQ(batonMemoryGetInfo(m, &mi), batonSuccess);
        batonHandleHeader h{};
        h.kind = batonHandleKindMemory;
        h.backend = batonSemaphoreBackendNative;
        std::memcpy(h.deviceUUID, ctx_.deviceUUID, VK_UUID_SIZE);
        std::memcpy(h.driverUUID, ctx_.driverUUID, VK_UUID_SIZE);
        h.memory = mi.desc;
        h.allocationSize = mi.allocationSize;
        h.memoryTypeIndex = mi.memoryTypeIndex;
        h.dedicated = mi.dedicated;
        return h;
    }
    int sv_[2] = {-1, -1};
    int fdsBefore_ = 0;
    batonContextInfo ctx_{};
};

TEST_P(TransportTest, TimelineArrivesWithItsValueAndWorks) {
    int fd = -1;
    batonExternalSemaphore_t a = exportSem(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 41, &fd);
    int fdsAfterExport = batontest::openFdCount();
    BATON_ASSERT_OK(batonSendExternalSemaphore(sv_[0], a, 1234));
    EXPECT_EQ(batontest::openFdCount(), fdsAfterExport);  // sending leaves no fd behind
    EXPECT_TRUE(batontest::fdIsOpen(fd));                 // and takes none of the caller's
    batonExternalSemaphore_t b = nullptr;
    batonHandleHeader h{};
    BATON_ASSERT_OK(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000, &b, &h));
    EXPECT_EQ(h.kind, batonHandleKindTimelineSemaphore);
    EXPECT_EQ(h.backend, batonSemaphoreBackendPortable);
    EXPECT_EQ(h.value, 41u);
    EXPECT_EQ(h.tag, 1234u);
    EXPECT_EQ(std::memcmp(h.deviceUUID, ctx_.deviceUUID, VK_UUID_SIZE), 0);
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 42;
    // Its own stream, destroyed below: streams drop their references to finished work lazily.
    batonStream_t st = nullptr;
    BATON_ASSERT_OK(batonStreamCreate(&st));
    BATON_ASSERT_OK(batonSignalExternalSemaphoresAsync(&a, &sp, 1, st));
    BATON_ASSERT_OK(batonExternalSemaphoreHostWait(b, 42, 5000000000ull));
    BATON_ASSERT_OK(batonStreamDestroy(st));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(a));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(b));
    close(fd);
}

TEST_P(TransportTest, KeyedMutexArrivesWithItsKey) {
    int fd = -1;
    batonExternalSemaphore_t a = exportSem(batonExternalSemaphoreHandleTypeKeyedMutex, 7, &fd);
    BATON_ASSERT_OK(batonSendExternalSemaphore(sv_[0], a, 0));
    batonExternalSemaphore_t b = nullptr;
    batonHandleHeader h{};
    BATON_ASSERT_OK(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutex, 1000, &b, &h));
    EXPECT_EQ(h.kind, batonHandleKindKeyedMutex);
    EXPECT_EQ(h.value, 7u);
    batonExternalSemaphoreInfo ia{}, ib{};
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(a, &ia));
    BATON_ASSERT_OK(batonExternalSemaphoreGetInfo(b, &ib));
    EXPECT_EQ(std::memcmp(ia.id, ib.id, sizeof ia.id), 0);
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(a));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(b));
    close(fd);
}

TEST_P(TransportTest, MemoryArrivesOverTheSameBytes) {
    int fd = -1;
    batonMemory_t a = exportBuffer(&fd);
    BATON_ASSERT_OK(batonSendMemory(sv_[0], a, 5));
    batonMemory_t b = nullptr;
    batonHandleHeader h{};
    BATON_ASSERT_OK(batonReceiveMemory(sv_[1], 1000, &b, &h));
    EXPECT_EQ(h.tag, 5u);
    batonMemoryInfo ia{}, ib{};
    BATON_ASSERT_OK(batonMemoryGetInfo(a, &ia));
    BATON_ASSERT_OK(batonMemoryGetInfo(b, &ib));
    ASSERT_TRUE(ia.hostPointer && ib.hostPointer);
    EXPECT_NE(ia.hostPointer, ib.hostPointer);
    std::memcpy(ia.hostPointer, "frame", 6);
    EXPECT_STREQ(static_cast<const char*>(ib.hostPointer), "frame");
    BATON_ASSERT_OK(batonDestroyMemory(a));
    BATON_ASSERT_OK(batonDestroyMemory(b));
    close(fd);
}

TEST_P(TransportTest, WrongKindIsRefusedAndTheFdClosed) {
    int fd = -1;
    batonExternalSemaphore_t t = exportSem(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 0, &fd);
    int fdsBefore = batontest::openFdCount();
    batonExternalSemaphore_t out = nullptr;
    // A timeline asked for as a keyed mutex, and as a binary semaphore.
    for (auto type : {batonExternalSemaphoreHandleTypeKeyedMutex, batonExternalSemaphoreHandleTypeOpaqueFd}) {
        BATON_ASSERT_OK(batonSendExternalSemaphore(sv_[0], t, 0));
        batonHandleHeader h{};
        EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], type, 1000, &out, &h), batonErrorWrongKind);
        EXPECT_EQ(h.kind, batonHandleKindTimelineSemaphore);  // the header is there for diagnosis
        EXPECT_EQ(batontest::openFdCount(), fdsBefore);
    }
    // Memory asked for as a semaphore, and a semaphore asked for as memory.
    int mfd = -1;
    batonMemory_t m = exportBuffer(&mfd);
    fdsBefore = batontest::openFdCount();
    BATON_ASSERT_OK(batonSendMemory(sv_[0], m, 0));
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000, &out,
                                            nullptr),
              batonErrorWrongKind);
    BATON_ASSERT_OK(batonSendExternalSemaphore(sv_[0], t, 0));
    batonMemory_t mout = nullptr;
    EXPECT_EQ(batonReceiveMemory(sv_[1], 1000, &mout, nullptr), batonErrorWrongKind);
    EXPECT_EQ(batontest::openFdCount(), fdsBefore);
    // A lying header: says keyed mutex, carries a timeline's memfd. The memfd says otherwise.
    batonHandleHeader lie{};
    lie.kind = batonHandleKindKeyedMutex;
    lie.backend = batonSemaphoreBackendPortable;
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &lie, fd));
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutex, 1000, &out, nullptr),
              batonErrorWrongKind);
    EXPECT_EQ(batontest::openFdCount(), fdsBefore);
    EXPECT_TRUE(batontest::fdIsOpen(fd));  // the sender's own fd is untouched
    BATON_ASSERT_OK(batonDestroyMemory(m));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(t));
    close(fd);
    close(mfd);
}

// lavapipe has one device: forge the UUIDs of another GPU and driver around a real, importable
// memory fd. It must be refused although the driver would accept it.
TEST_P(TransportTest, ForeignDeviceOrDriverIsRefusedBeforeTheDriverSeesIt) {
    int fd = -1;
    batonMemory_t m = exportBuffer(&fd);
    int fdsBefore = batontest::openFdCount();
    batonMemory_t out = nullptr;
    batonHandleHeader h = memoryHeader(m);
    h.deviceUUID[0] ^= 0xff;
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &h, fd));
    EXPECT_EQ(batonReceiveMemory(sv_[1], 1000, &out, nullptr), batonErrorForeignDevice);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("another GPU"), std::string::npos);
    h = memoryHeader(m);
    h.driverUUID[15] ^= 0x01;
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &h, fd));
    EXPECT_EQ(batonReceiveMemory(sv_[1], 1000, &out, nullptr), batonErrorForeignDevice);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("another driver"), std::string::npos);
    EXPECT_EQ(batontest::openFdCount(), fdsBefore);
    // The untouched header around the same fd is accepted: the refusals were the UUIDs.
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &(h = memoryHeader(m)), fd));
    BATON_ASSERT_OK(batonReceiveMemory(sv_[1], 1000, &out, nullptr));
    BATON_ASSERT_OK(batonDestroyMemory(out));

    // A native semaphore from another GPU: refused on the UUID, before any look at the fd
    // (a pipe here, which the driver must never see).
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    batonHandleHeader s{};
    s.kind = batonHandleKindTimelineSemaphore;
    s.backend = batonSemaphoreBackendNative;
    std::memcpy(s.deviceUUID, ctx_.deviceUUID, VK_UUID_SIZE);
    std::memcpy(s.driverUUID, ctx_.driverUUID, VK_UUID_SIZE);
    s.deviceUUID[3] ^= 0x5a;
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &s, p[0]));
    batonExternalSemaphore_t sem = nullptr;
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000, &sem,
                                            nullptr),
              batonErrorForeignDevice);
    close(p[0]);
    close(p[1]);
    BATON_ASSERT_OK(batonDestroyMemory(m));
    close(fd);
}

// A portable semaphore is host memory that every process bridges to its own GPU: it may
// come from another GPU of the machine.
TEST_P(TransportTest, PortableSemaphoreFromAnotherGpuIsAccepted) {
    int fd = -1;
    batonExternalSemaphore_t t = exportSem(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 3, &fd);
    batonHandleHeader h{};
    h.kind = batonHandleKindTimelineSemaphore;
    h.backend = batonSemaphoreBackendPortable;
    std::memset(h.deviceUUID, 0xab, VK_UUID_SIZE);
    std::memset(h.driverUUID, 0xcd, VK_UUID_SIZE);
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &h, fd));
    batonExternalSemaphore_t out = nullptr;
    BATON_ASSERT_OK(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000, &out,
                                                  nullptr));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(out));
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(t));
    close(fd);
}

TEST_P(TransportTest, MessageThatDisagreesWithItsFdIsRefused) {
    int fd = -1;
    batonExternalSemaphore_t t = exportSem(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 0, &fd);
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    int fdsBefore = batontest::openFdCount();
    batonExternalSemaphore_t out = nullptr;
    batonHandleHeader h{};
    h.kind = batonHandleKindTimelineSemaphore;
    std::memcpy(h.deviceUUID, ctx_.deviceUUID, VK_UUID_SIZE);
    std::memcpy(h.driverUUID, ctx_.driverUUID, VK_UUID_SIZE);
    // Says portable, carries a pipe: would skip the device check, so it must be refused.
    h.backend = batonSemaphoreBackendPortable;
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &h, p[0]));
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000, &out,
                                            nullptr),
              batonErrorInvalidResourceHandle);
    // Says native, carries a baton memfd.
    h.backend = batonSemaphoreBackendNative;
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &h, fd));
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000, &out,
                                            nullptr),
              batonErrorInvalidResourceHandle);
    // Says native, from this device, carries a pipe: the import's own fd check refuses it.
    BATON_ASSERT_OK(batonSendHandle(sv_[0], &h, p[0]));
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, 1000, &out,
                                            nullptr),
              batonErrorInvalidResourceHandle);
    EXPECT_EQ(batontest::openFdCount(), fdsBefore);
    close(p[0]);
    close(p[1]);
    BATON_ASSERT_OK(batonDestroyExternalSemaphore(t));
    close(fd);
}

TEST_P(TransportTest, NotABatonMessageIsRefusedAndItsFdsClosed) {
    int fdsBefore = batontest::openFdCount();
    batonExternalSemaphore_t out = nullptr;
    // Bytes without an fd.
    const char junk[sizeof(batonHandleHeader) + 8] = "not a baton message";
    ASSERT_EQ(send(sv_[0], junk, sizeof junk, 0), static_cast<ssize_t>(sizeof junk));
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutex, 1000, &out, nullptr),
              batonErrorInvalidResourceHandle);
    // A header with two fds: both received, both closed.
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    batonHandleHeader h{};
    h.kind = batonHandleKindKeyedMutex;
    h.backend = batonSemaphoreBackendPortable;
    struct {
        uint32_t magic;
        uint16_t version, size;
        batonHandleHeader header;
    } wire{0x48544142u, 1, static_cast<uint16_t>(sizeof h), h};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(2 * sizeof(int))] = {};
    iovec iov{&wire, sizeof wire};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof ctrl;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    std::memcpy(CMSG_DATA(c), p, sizeof p);
    ASSERT_EQ(sendmsg(sv_[0], &m, 0), static_cast<ssize_t>(sizeof wire));
    int afterSend = batontest::openFdCount();
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutex, 1000, &out, nullptr),
              batonErrorInvalidResourceHandle);
    EXPECT_EQ(batontest::openFdCount(), afterSend);
    close(p[0]);
    close(p[1]);
    EXPECT_EQ(batontest::openFdCount(), fdsBefore);
}

TEST_P(TransportTest, TimeoutPeerClosedAndBadArguments) {
    batonExternalSemaphore_t out = nullptr;
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutex, 20, &out, nullptr),
              batonErrorTimeout);
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutexKmt, 20, &out, nullptr),
              batonErrorInvalidValue);
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutex, 20, nullptr, nullptr),
              batonErrorInvalidValue);
    batonHandleHeader h{};
    h.reserved[0] = 1;
    EXPECT_EQ(batonSendHandle(sv_[0], &h, 0), batonErrorInvalidValue);
    h.reserved[0] = 0;
    EXPECT_EQ(batonSendHandle(sv_[0], &h, 9999), batonErrorInvalidValue);  // not an open fd
    EXPECT_EQ(batonSendExternalSemaphore(sv_[0], reinterpret_cast<batonExternalSemaphore_t>(&h), 0),
              batonErrorInvalidResourceHandle);
    EXPECT_EQ(batonSendMemory(sv_[0], nullptr, 0), batonErrorInvalidResourceHandle);
    shutdown(sv_[0], SHUT_WR);
    EXPECT_EQ(batonReceiveExternalSemaphore(sv_[1], batonExternalSemaphoreHandleTypeKeyedMutex, 1000, &out, nullptr),
              batonErrorOperatingSystem);
}

TEST_P(TransportTest, ImportedMemoryCannotBeSentAgain) {
    int fd = -1;
    batonMemory_t a = exportBuffer(&fd);
    BATON_ASSERT_OK(batonSendMemory(sv_[0], a, 0));
    batonMemory_t b = nullptr;
    BATON_ASSERT_OK(batonReceiveMemory(sv_[1], 1000, &b, nullptr));
    EXPECT_EQ(batonSendMemory(sv_[0], b, 0), batonErrorNotSupported);
    BATON_ASSERT_OK(batonDestroyMemory(a));
    BATON_ASSERT_OK(batonDestroyMemory(b));
    close(fd);
}

INSTANTIATE_TEST_SUITE_P(Sockets, TransportTest, ::testing::Values(SOCK_STREAM, SOCK_SEQPACKET),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return std::string(i.param == SOCK_STREAM ? "Stream" : "SeqPacket");
                         });

}  // namespace
