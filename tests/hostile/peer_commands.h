// The protocol between the hostile-peer tests and tests/hostile/page_writer, the other real
// process that maps a semaphore's shared page and writes whatever it is told to. One
// fixed-size command per message, answered by one Ack once it has taken effect.
#pragma once

#include <cstdint>

namespace hostile {

enum class Op : uint32_t {
    Map = 1,      // the message carries one fd (a portable semaphore's memfd): mapped as page `page`
    Store64,      // *(uint64_t*)(page + offset) = value, once
    Store32,      // *(uint32_t*)(page + offset) = value, once
    HammerStart,  // a thread stores the 32-bit `value` at offset over and over until HammerStop
    HammerStop,
    Random,       // `count` seeded random writes (seed) to the first 256 bytes: random and targeted values
    ChurnSeq,     // a thread bumps the futex word (seq) and stores `value` at offset until HammerStop
    Exit,
};

struct Command {
    Op op;
    uint32_t page;
    uint32_t offset;
    uint32_t count;
    uint64_t value;
    uint64_t seed;
};

struct Ack {
    uint32_t ok;  // 1: done
    uint32_t pages;
};

inline constexpr uint32_t kMaxPages = 128;
inline constexpr uint32_t kPageBytes = 4096;

}  // namespace hostile
