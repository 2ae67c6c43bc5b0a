// Classifies an fd before anything else touches it. baton never passes the driver an fd it
// has not looked at: on NVIDIA a single failed vkImportSemaphoreFdKHR leaves the process
// unable to create exportable semaphores, so pipes, sockets, /dev/null and closed fds must be
// refused here, with the caller's fd left open.
#pragma once

#include <baton/baton.h>

namespace baton {

enum class FdClass {
    Closed,         // not an open fd (EBADF)
    BatonMemfd,     // a sealed memfd whose first page carries baton's magic (kind checked on map)
    OtherMemfd,     // a memfd that is not baton's
    NvidiaControl,  // an open of /dev/nvidiactl: what NVIDIA's exported semaphore fds are
    DrmSyncobj,     // anon_inode:syncobj: what Mesa drivers export for opaque semaphore fds
    DmaBuf,         // a dma-buf: what Mesa GPU drivers export for opaque memory fds
    Other           // pipe, socket, eventfd, regular file, another device...
};

FdClass classifyFd(int fd);
const char* fdClassName(FdClass c);

// The checks a driver-native import must pass, given what the driver is. Returns
// batonSuccess or the error to report (with a message) while touching nothing.
batonError_t checkNativeSemaphoreFd(int fd, uint32_t vendorID);

}  // namespace baton
