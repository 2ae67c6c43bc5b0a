// Test-side support of the hostile-peer suites: starting helper processes with one end of a
// socketpair, the page_writer peer, and a watchdog that turns a hang into a failure.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

#include <baton/baton.h>

#include "peer_commands.h"

namespace hostile {

// A fork+exec'd helper: argv[1] is the number of its end of a socketpair (the only fd it
// inherits), then `args`. Killed and reaped on destruction.
struct Helper {
    pid_t pid = -1;
    int sock = -1;
    bool start(const char* name, const std::vector<std::string>& args);
    int reap();  // waits for it to exit; its wait status
    void kill();
    ~Helper();
};

// The hostile peer process (page_writer): maps pages it is sent and writes into them.
class PageWriter {
public:
    bool start() { return helper_.start("page_writer", {}); }
    // Sends a copy of the semaphore's fd (the caller keeps its own); returns the page index.
    bool map(int fd, uint32_t* page);
    bool store64(uint32_t page, uint32_t offset, uint64_t v) { return send({Op::Store64, page, offset, 0, v, 0}); }
    bool store32(uint32_t page, uint32_t offset, uint32_t v) { return send({Op::Store32, page, offset, 0, v, 0}); }
    // Keeps storing v at offset (32 bits) from a thread of the peer until stop().
    bool hammer(uint32_t page, uint32_t offset, uint32_t v) { return send({Op::HammerStart, page, offset, 0, v, 0}); }
    // Same, and bumps seq each time: a storm of wake-ups.
    bool churn(uint32_t page, uint32_t offset, uint32_t v) { return send({Op::ChurnSeq, page, offset, 0, v, 0}); }
    bool stop() { return send({Op::HammerStop, 0, 0, 0, 0, 0}); }
    // count seeded random writes at offsets from `from` to 255 (from 32: the header is left alone).
    bool random(uint32_t page, uint64_t seed, uint32_t count, uint32_t from) {
        return send({Op::Random, page, from, count, 0, seed});
    }
    pid_t pid() const { return helper_.pid; }

private:
    bool send(const Command& c);
    Helper helper_;
};

// Fails the test (exit status 3, with what was going on) if not disarmed in time: a hang in
// baton must fail CI, not block it.
class Watchdog {
public:
    Watchdog(std::chrono::milliseconds limit, std::string what);
    ~Watchdog();
    void step(std::string what);  // what is going on now (printed if it fires)

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::string what_;
    std::thread thread_;
};

// A portable semaphore of the given type (timeline, binary or keyed mutex), exported.
batonError_t exportPortable(batonExternalSemaphoreHandleType type, uint64_t initial, int* fd,
                            batonExternalSemaphore_t* sem);
batonError_t signalValue(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream);
batonError_t waitValue(batonExternalSemaphore_t s, uint64_t value, batonStream_t stream);
batonError_t acquireKey(batonExternalSemaphore_t s, uint64_t key, uint32_t timeoutMs, batonStream_t stream);
batonError_t releaseKey(batonExternalSemaphore_t s, uint64_t key, batonStream_t stream);

}  // namespace hostile
