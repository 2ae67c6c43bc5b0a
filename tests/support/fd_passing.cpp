#include "fd_passing.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace batontest {
namespace {

constexpr int kMaxFds = 16;

void closeReceived(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            close(fd);
        }
    }
}

}  // namespace

bool sendWithFds(int sock, const void* data, size_t len, const int* fds, int fdCount) {
    if (len == 0 || fdCount < 0 || fdCount > kMaxFds || (fdCount > 0 && !fds)) {
        errno = EINVAL;
        return false;
    }
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    iovec iov{const_cast<void*>(data), len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fdCount > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fdCount);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fdCount);
        std::memcpy(CMSG_DATA(c), fds, sizeof(int) * fdCount);
    }
    ssize_t n;
    do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) return false;
    // The fds went with the first byte; the rest of the payload (if the kernel split it) follows plainly.
    size_t sent = static_cast<size_t>(n);
    return sent == len || sendAll(sock, static_cast<const char*>(data) + sent, len - sent);
}

bool recvWithFds(int sock, void* data, size_t len, int* fds, int maxFds, int* fdCount) {
    if (fdCount) *fdCount = 0;
    if (len == 0 || maxFds < 0 || maxFds > kMaxFds || (maxFds > 0 && (!fds || !fdCount))) {
        errno = EINVAL;
        return false;
    }
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    iovec iov{data, len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n == 0) errno = ECONNRESET;  // the peer closed (or died) before sending
        return false;
    }
    int got = 0;
    bool bad = (msg.msg_flags & MSG_CTRUNC) != 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c && !bad; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if (got + static_cast<int>(k) > maxFds) bad = true;
        got += static_cast<int>(k);
    }
    if (bad) {
        closeReceived(msg);
        errno = EPROTO;
        return false;
    }
    int i = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        std::memcpy(fds + i, CMSG_DATA(c), k * sizeof(int));
        i += static_cast<int>(k);
    }
    if (fdCount) *fdCount = got;
    size_t received = static_cast<size_t>(n);
    if (received < len && !recvAll(sock, static_cast<char*>(data) + received, len - received)) {
        int e = errno;
        for (int j = 0; j < got; ++j) close(fds[j]);
        if (fdCount) *fdCount = 0;
        errno = e;
        return false;
    }
    return true;
}

bool sendAll(int sock, const void* data, size_t len) {
    const char* p = static_cast<const char*>(data);
    while (len > 0) {
        ssize_t n = send(sock, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

bool recvAll(int sock, void* data, size_t len) {
    char* p = static_cast<char*>(data);
    while (len > 0) {
        ssize_t n = recv(sock, p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) errno = ECONNRESET;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

}  // namespace batontest
