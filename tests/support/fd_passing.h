// Passing file descriptors between processes over a Unix socket (SCM_RIGHTS), for tests and
// their helper executables. Plain C++ with no baton or gtest dependency, so that a helper
// binary can link it alone. Every function returns false (with errno set) on failure and
// never leaves a received fd open when it fails.
#pragma once

#include <cstddef>

namespace batontest {

// Sends len bytes of data (at least one byte: a stream socket cannot carry fds alone) and,
// if fdCount > 0, the fds as ancillary data. The sender keeps its fds open.
bool sendWithFds(int sock, const void* data, size_t len, const int* fds, int fdCount);

// Receives exactly len bytes into data. Fds that arrive with them (at most maxFds, marked
// close-on-exec) are stored in fds and counted in *fdCount. Extra or truncated fds are
// closed and the call fails, so a misbehaving peer cannot leak fds into this process.
bool recvWithFds(int sock, void* data, size_t len, int* fds, int maxFds, int* fdCount);

// Convenience: a message without fds.
bool sendAll(int sock, const void* data, size_t len);
bool recvAll(int sock, void* data, size_t len);

}  // namespace batontest
