// libFuzzer target: the handle transport's message parser and header checks
// (fd/handle_message.h) over fuzzed bytes, recvmsg flags and up to 9 received fds of every
// kind. Properties: no crash or UB; a refused message closes every fd it brought; an accepted
// one keeps exactly its one fd open; the checks never touch the fd.
// Input: [fd count][fd kinds...][msg flags][expected kind][identity mode][message bytes...]
#include <sys/socket.h>

#include "fd/handle_message.h"
#include "fuzz_fds.h"

using namespace baton;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in{data, size};
    const int fdCount = in.byte() % 10;
    int fds[10];
    uint8_t page[4096];
    for (int i = 0; i < fdCount; ++i) {
        const auto kind = static_cast<fuzz::FdKind>(in.byte() % static_cast<int>(fuzz::FdKind::Count));
        // The kernel only hands over open fds: a "closed" one stands for a memfd here.
        std::memset(page, 0, sizeof page);
        page[8] = 2;  // a timeline page, for the baton-page kinds
        page[4] = 1;
        fds[i] = fuzz::makeFd(kind == fuzz::FdKind::Closed ? fuzz::FdKind::SealedMemfd : kind, page);
    }
    const uint8_t flagBits = in.byte();
    const int msgFlags = (flagBits & 1 ? MSG_TRUNC : 0) | (flagBits & 2 ? MSG_CTRUNC : 0);
    const int expectedKind = static_cast<int8_t>(in.byte());
    const uint8_t identityMode = in.byte();

    batonHandleHeader header{};
    int fd = 12345;
    ReceivedMessage m{in.p, in.n, fds, fdCount, msgFlags};
    batonError_t e = parseHandleMessage(m, &header, &fd);
    if (e != batonSuccess) {
        FUZZ_CHECK(fd == -1);
        for (int i = 0; i < fdCount; ++i) FUZZ_CHECK(!fuzz::isOpen(fds[i]));
        fuzz::checkNoFdGrowth();
        return 0;
    }
    FUZZ_CHECK(fdCount == 1 && fd == fds[0] && fuzz::isOpen(fd));
    // The checks a receive runs next: against our own identity, the sender's or zeros.
    uint8_t zeros[VK_UUID_SIZE] = {};
    uint8_t dev[VK_UUID_SIZE], drv[VK_UUID_SIZE];
    std::memcpy(dev, identityMode & 1 ? header.deviceUUID : zeros, VK_UUID_SIZE);
    std::memcpy(drv, identityMode & 2 ? header.driverUUID : zeros, VK_UUID_SIZE);
    const DeviceIdentity self{dev, drv};
    const fuzz::FdPrint before = fuzz::printOf(fd);
    const FdClass cls = classifyFd(fd);
    for (int k : {expectedKind, static_cast<int>(batonHandleKindBinarySemaphore),
                  static_cast<int>(batonHandleKindTimelineSemaphore), static_cast<int>(batonHandleKindKeyedMutex)}) {
        batonError_t c = checkSemaphoreHeader(header, k, cls, self);
        FUZZ_CHECK(c == batonSuccess || c == batonErrorWrongKind || c == batonErrorInvalidResourceHandle ||
                   c == batonErrorForeignDevice);
        if (c == batonSuccess) FUZZ_CHECK(headerKind(header) == k);
    }
    batonError_t c = checkMemoryHeader(header, self);
    FUZZ_CHECK(c == batonSuccess || c == batonErrorWrongKind || c == batonErrorInvalidResourceHandle ||
               c == batonErrorForeignDevice);
    FUZZ_CHECK(fuzz::samePrint(before, fuzz::printOf(fd)));
    (void)handleKindName(headerKind(header));
    close(fd);
    fuzz::checkNoFdGrowth();
    return 0;
}
