// One message carrying one fd over a Unix socket (SCM_RIGHTS): what baton's fd probe and
// its handle transport both send. The kernel passes the receiver a copy of the fd; the
// sender's stays open and its own.
#pragma once

#include <cstddef>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>

namespace baton {

struct FdMessage {
    iovec iov{};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};

    // msg points into this object: build it in place, never copy it.
    FdMessage(const void* data, size_t len, int fd) {
        iov.iov_base = const_cast<void*>(data);
        iov.iov_len = len;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    FdMessage(const FdMessage&) = delete;
    FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace baton
