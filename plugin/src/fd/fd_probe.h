// Out-of-process check of a driver semaphore fd (see tools/fdprobe.cpp for why).
#pragma once

#include <baton/baton.h>

#include <cstdint>

namespace baton {

// Runs baton-fdprobe on a copy of fd. batonSuccess if the driver accepted it there;
// batonErrorInvalidResourceHandle otherwise (the caller's fd is never touched).
// BATON_TRUST_DRIVER_FDS=1 skips the check (for hosts that only import fds baton exported).
batonError_t probeSemaphoreFd(int fd, bool timeline, const uint8_t deviceUUID[16]);

}  // namespace baton
