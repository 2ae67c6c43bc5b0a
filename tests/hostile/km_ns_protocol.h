// Messages between the keyed-mutex liveness tests and tests/hostile/km_ns_holder.
#pragma once

#include <cstdint>

namespace km_ns {

inline constexpr uint32_t kHeld = 1;     // acquired (result: the acquire's batonError_t)
inline constexpr uint32_t kClaimed = 2;  // stopped right after the claim's CAS
inline constexpr uint32_t kSkip = 3;     // namespace not permitted here: why says so
inline constexpr uint32_t kFail = 4;

struct Hello {
    uint32_t magic;  // the message that carries the memfd
};

struct Status {
    uint32_t code;
    int32_t result;
    int32_t pid;  // getpid() in its own namespace
    char why[100];
};

}  // namespace km_ns
