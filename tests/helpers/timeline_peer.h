// The protocol between test_cross_process and its helper process timeline_peer, over a Unix
// stream socket. The test sends Hello with the exported timeline's fd (SCM_RIGHTS); the peer
// imports it and answers Ready; both then hand values back and forth on the timeline: the
// test signals 2i+1, the peer waits for it and signals 2i+2, for i in [0, rounds). The peer
// ends with Done. Both sides use baton streams for every signal and wait.
#pragma once

#include <cstdint>

namespace timeline_peer {

constexpr uint32_t kMagic = 0x50455442u;  // "BTEP"
constexpr uint32_t kNever = UINT32_MAX;

struct Hello {
    uint32_t magic;
    uint32_t rounds;      // values to hand back: the peer's last signal is 2 * rounds
    uint32_t dieAtRound;  // the peer SIGKILLs itself on receiving 2 * dieAtRound + 1 (kNever: never)
    uint32_t reserved;
};

// Peer exit codes (and Status::code) besides 0.
enum Code : int32_t {
    kOk = 0,
    kUsage = 2,
    kProtocol = 3,       // the socket or the Hello was wrong
    kImportFailed = 4,
    kBatonFailed = 5,    // a signal, wait or synchronize failed
    kWrongValue = 6,     // the timeline held a value it should not
    kValidation = 7,     // the validation layer reported errors in the peer
    kWatchdog = 8,       // the peer gave up waiting (SIGALRM)
};

struct Status {
    uint32_t magic;
    int32_t code;
    uint64_t value;  // Ready: the value seen at import; Done: the final value
};

}  // namespace timeline_peer
