#include "frames/channel_page.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

namespace baton {
namespace {

// The lock bytes lie past the end of the sealed page (locks may, and the size never changes).
constexpr off_t kLockBase = off_t{1} << 24;

struct flock sideLock(ChannelSide side, short type) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = kLockBase + static_cast<off_t>(side);
    fl.l_len = 1;
    fl.l_pid = 0;  // required by the OFD lock calls
    return fl;
}

ChannelSide otherSide(ChannelSide s) { return s == ChannelSide::Producer ? ChannelSide::Consumer : ChannelSide::Producer; }

}  // namespace

ChannelPage::~ChannelPage() {
    if (layout_) munmap(layout_, kChannelPageSize);
    if (liveFd_ >= 0) close(liveFd_);
    if (fd_ >= 0) close(fd_);
}

batonError_t ChannelPage::takeLock(ChannelSide side) {
    // A description of our own: OFD locks belong to a description, and the fds that came by
    // SCM_RIGHTS share theirs with the other process.
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd_);
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(batonErrorOperatingSystem, "cannot open %s for the channel's liveness lock: %s (is /proc mounted?)",
                    path, strerror(errno));
    struct flock fl = sideLock(side, F_WRLCK);
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        const int e = errno;
        close(fd);
        return fail(e == EAGAIN || e == EACCES ? batonErrorIllegalState : batonErrorOperatingSystem,
                    "cannot take the channel's %s lock: %s", side == ChannelSide::Producer ? "producer" : "consumer",
                    e == EAGAIN || e == EACCES ? "another live process holds it (the channel was received already)"
                                               : strerror(e));
    }
    liveFd_ = fd;
    side_ = side;
    return batonSuccess;
}

batonError_t ChannelPage::create(uint32_t depth, const uint8_t id[16]) {
    int fd = memfd_create("baton-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return fail(batonErrorOperatingSystem, "memfd_create (channel page) failed: %s", strerror(errno));
    if (ftruncate(fd, kChannelPageSize) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        const int e = errno;
        close(fd);
        return fail(batonErrorOperatingSystem, "sizing/sealing the channel page failed: %s", strerror(e));
    }
    void* p = mmap(nullptr, kChannelPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        const int e = errno;
        close(fd);
        return fail(batonErrorOperatingSystem, "mmap of the channel page failed: %s", strerror(e));
    }
    fd_ = fd;
    layout_ = static_cast<ChannelPageLayout*>(p);
    layout_->magic = kChannelPageMagic;
    layout_->version = kChannelPageVersion;
    layout_->size = kChannelPageSize;
    layout_->depth = depth;
    std::memcpy(layout_->id, id, 16);
    layout_->producerPid = static_cast<uint32_t>(getpid());
    depth_ = depth;
    std::memcpy(id_, id, 16);
    return takeLock(ChannelSide::Producer);
}

bool ChannelPage::sealedPage(int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != kChannelPageSize) return false;
    const int seals = fcntl(fd, F_GET_SEALS);
    // Without SHRINK a peer could truncate it under our mapping (SIGBUS on the next read).
    return seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_SEAL);
}

batonError_t ChannelPage::open(int fd, uint32_t depth, const uint8_t id[16]) {
    if (!sealedPage(fd))
        return fail(batonErrorInvalidResourceHandle, "the channel's control page is not a sealed memfd of %u bytes "
                    "(truncated, growable or not a memfd)", kChannelPageSize);
    void* p = mmap(nullptr, kChannelPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail(batonErrorOperatingSystem, "mmap of the channel page failed: %s", strerror(errno));
    layout_ = static_cast<ChannelPageLayout*>(p);
    depth_ = depth;
    std::memcpy(id_, id, 16);
    fd_ = fd;
    batonError_t e = checkHeader();
    if (e == batonSuccess) e = takeLock(ChannelSide::Consumer);
    if (e != batonSuccess) {
        munmap(layout_, kChannelPageSize);
        layout_ = nullptr;
        fd_ = -1;  // the caller's again
        return e;
    }
    layout_->consumerAttached.store(1);
    return batonSuccess;
}

batonError_t ChannelPage::checkHeader() const {
    const ChannelPageLayout& l = *layout_;
    if (l.magic != kChannelPageMagic || l.version != kChannelPageVersion || l.size != kChannelPageSize ||
        l.depth != depth_ || std::memcmp(l.id, id_, 16) != 0)
        return fail(batonErrorIllegalState, "the channel's control page is not this channel's (header overwritten by "
                    "a peer, or another channel's page)");
    return batonSuccess;
}

bool ChannelPage::peerAlive() const {
    // The producer cannot tell "not attached yet" from "dead" by the lock alone: before the
    // consumer said it attached (a hint; a lying peer only gets itself reported lost) it is alive.
    if (side_ == ChannelSide::Producer && !layout_->consumerAttached.load()) return true;
    struct flock fl = sideLock(otherSide(side_), F_WRLCK);
    if (fcntl(liveFd_, F_OFD_GETLK, &fl) != 0) return true;  // cannot tell: never declare a live peer dead
    return fl.l_type != F_UNLCK;
}

}  // namespace baton
