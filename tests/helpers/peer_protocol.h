// What the baton_peer helper reports to the test over its SOCK_SEQPACKET socket, after the
// handles came the other way through baton_transport.h. Plain bytes: both ends are this build.
#pragma once

#include <cstdint>

namespace peer {

constexpr uint32_t kReportMagic = 0x50454552u;  // "PEER"

enum Status : int32_t {
    kDone = 0,      // ran its iterations; the tallies are final
    kHolding = 1,   // holds the keyed mutex and sleeps until killed (--hold-at)
    kFailed = -1,   // stopped early: see error and message
};

struct Report {
    uint32_t magic = kReportMagic;
    int32_t status = kFailed;
    uint32_t done = 0;
    uint32_t abandoned = 0;
    uint32_t timeouts = 0;
    uint64_t mismatches = 0;
    uint64_t validationErrors = 0;
    int32_t error = 0;  // batonError_t
    char message[256] = {};
};

}  // namespace peer
