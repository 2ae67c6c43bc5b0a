// Runs one process's share of a stress program against baton and checks every result and
// observation against the reference model's expectations (program.h). The first divergence,
// a hang (watchdog) or a validation message ends the process with the seed, the operation
// index and a dump of the state, so that BATON_STRESS_SEED=<seed> replays it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <baton/baton.h>

#include "host_buffer.h"
#include "program.h"

namespace stress {

// Called (once) before the process exits on a failure: e.g. kill the peer process.
using FailHook = void (*)();

class Executor {
public:
    Executor(const Program& program, int proc, batonContext_t ctx);
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    // Creates streams, events, the record buffer and the semaphores of this process; the
    // shared ones are sent to (proc 0) or received from (proc 1) the peer over socket.
    void setUp(int socket);
    // Runs every operation of this process in program order, checking each.
    void run();
    // Destroys everything it created (after the final synchronize).
    void tearDown();

    // Checks an exact value of a semaphore another process signaled (after it finished).
    void checkFinal(uint32_t sem, uint64_t value);
    uint64_t opsRun() const { return opsRun_; }
    // Observations checked against the model: semaphore values (every thread) and record words.
    uint64_t valuesChecked() const { return valuesChecked_.load(); }
    uint64_t recordsChecked() const { return recordsChecked_.load(); }

    // Ends the process with a failure report (any thread).
    [[noreturn]] void fail(const std::string& what);
    static void setFailHook(FailHook hook);
    static void setLabel(const std::string& label);  // prefix of every report: the process and how to replay

    // Host function trampoline data.
    struct HostCall {
        Executor* self;
        const Op* op;
    };

private:
    void execute(size_t index, const Op& op);
    void executeSemOp(size_t index, const Op& op);
    void executeQueryOp(size_t index, const Op& op);
    void executeOther(size_t index, const Op& op);
    void runHostFn(const Op& op);
    void expectResult(size_t index, batonError_t got, int want, const char* call);
    // Reads a semaphore's value and checks it against [min, max] and every earlier reading.
    // fromHostFn: skip a semaphore being destroyed instead of waiting for it.
    void observe(uint32_t sem, uint64_t min, uint64_t max, const char* where, size_t index, bool fromHostFn);
    void checkValues(const Op& op, size_t index, const char* where, bool fromHostFn);
    void checkRecords(const Op& op, size_t index, const char* where);
    void checkHostFnsRan(const Op& op, size_t index);
    void checkBinary(const Op& op, size_t index);
    void checkPendingUnchanged(uint32_t sem, uint64_t pending, size_t index);
    void checkValidation(size_t index);
    batonExternalSemaphore_t create(const SemSpec& s, int* fdOut);
    batonStream_t stream(int global) const;
    void watchdogLoop();
    std::string dump();

    const Program& prog_;
    int proc_;
    batonContext_t ctx_;
    std::vector<batonStream_t> streams_;
    std::vector<batonEvent_t> events_;
    std::vector<batonExternalSemaphore_t> sems_;     // by id; NULL: not here or destroyed
    std::vector<std::atomic<uint64_t>> lastSeen_;    // by id: the highest value read so far
    std::mutex semMutex_;                            // guards sems_ against a destroy during a host function
    std::unique_ptr<batontest::HostBuffer> buffer_;
    std::vector<HostCall> hostCalls_;
    std::unique_ptr<std::atomic<uint64_t>[]> hostFnsRan_;  // per local stream
    std::unique_ptr<std::atomic<int64_t>[]> lastHostFn_;   // per local stream: the last one's index
    std::atomic<size_t> current_{0};
    std::atomic<bool> running_{false};
    std::atomic<bool> stop_{false};
    std::thread watchdog_;
    unsigned long long validationBase_ = 0;
    uint64_t opsRun_ = 0;
    std::atomic<uint64_t> valuesChecked_{0}, recordsChecked_{0};
};

int watchdogSeconds();

// The message callback of the stress contexts: counts validation errors (each one fails the
// run at the next operation) and prints them. A message of a known, not yet fixed defect is
// counted apart instead while its switch is off (see README.md).
void messageCallback(batonMessageSeverity severity, const char* message, void* user);
unsigned long long validationErrors();
unsigned long long knownValidationErrors();
// A standalone context with validation on and messageCallback.
batonError_t createContext(batonContext_t* out);
// A check that a known, not yet fixed defect fails: on unless BATON_STRESS_<name>=0.
bool knownDefectCheck(const char* name);

}  // namespace stress
