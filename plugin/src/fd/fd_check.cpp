#include "fd/fd_check.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "sync/shared_state.h"

namespace baton {
namespace {

constexpr uint32_t kVendorNvidia = 0x10de;

bool linkTarget(int fd, char* out, size_t size) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, out, size - 1);
    if (n < 0) return false;
    out[n] = '\0';
    return true;
}

}  // namespace

FdClass classifyFd(int fd) {
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) return FdClass::Closed;
    char target[256] = {};
    bool haveTarget = linkTarget(fd, target, sizeof target);
    if (S_ISREG(st.st_mode)) {
        if (!haveTarget || std::strncmp(target, "/memfd:", 7) != 0) return FdClass::Other;
        // A baton memfd is exactly one page, sealed against resizing, and starts with the
        // magic. Reading with pread leaves the caller's file offset alone.
        int seals = fcntl(fd, F_GET_SEALS);
        uint32_t magic = 0;
        if (st.st_size == static_cast<off_t>(kSharedSize) && seals >= 0 && (seals & F_SEAL_SHRINK) &&
            pread(fd, &magic, sizeof magic, 0) == static_cast<ssize_t>(sizeof magic) && magic == kSharedMagic)
            return FdClass::BatonMemfd;
        return FdClass::OtherMemfd;
    }
    if (S_ISCHR(st.st_mode)) {
        struct stat ctl {};
        if (stat("/dev/nvidiactl", &ctl) == 0 && S_ISCHR(ctl.st_mode) && ctl.st_rdev == st.st_rdev)
            return FdClass::NvidiaControl;
        return FdClass::Other;
    }
    if (haveTarget && std::strcmp(target, "anon_inode:syncobj") == 0) return FdClass::DrmSyncobj;
    if (haveTarget && (std::strncmp(target, "/dmabuf:", 8) == 0 || std::strcmp(target, "anon_inode:dmabuf") == 0))
        return FdClass::DmaBuf;
    return FdClass::Other;
}

const char* fdClassName(FdClass c) {
    switch (c) {
        case FdClass::Closed: return "not an open file descriptor";
        case FdClass::BatonMemfd: return "a baton portable semaphore";
        case FdClass::OtherMemfd: return "a memfd that is not a baton semaphore";
        case FdClass::NvidiaControl: return "an NVIDIA control-device fd";
        case FdClass::DrmSyncobj: return "a DRM sync object";
        case FdClass::DmaBuf: return "a dma-buf";
        case FdClass::Other: return "not a semaphore (pipe, socket, eventfd, file or device)";
    }
    return "?";
}

batonError_t checkNativeSemaphoreFd(int fd, uint32_t vendorID) {
    FdClass c = classifyFd(fd);
    if (vendorID == kVendorNvidia) {
        if (c != FdClass::NvidiaControl)
            return fail(batonErrorInvalidResourceHandle, "fd %d is %s; an NVIDIA semaphore fd is an open of /dev/nvidiactl",
                        fd, fdClassName(c));
        return batonSuccess;
    }
    if (c != FdClass::DrmSyncobj)
        return fail(batonErrorInvalidResourceHandle, "fd %d is %s; this driver's semaphore fds are DRM sync objects", fd,
                    fdClassName(c));
    return batonSuccess;
}

}  // namespace baton
