// libFuzzer target: the shared-page reader. A portable semaphore's page is written by every
// process that imported it, so its contents are a hostile peer's. The target opens a sealed
// memfd with fuzzed page contents through SharedState::open (what an import runs) and, when
// it is accepted, runs the operations that read the page (sync/shared_state.h and the keyed
// mutex on top of it) with fuzzed arguments, never waiting. Properties: no crash, no UB, no
// hang (every wait is bounded by a deadline already past), nothing leaks, and a refused page
// leaves the fd open and the caller's.
// Input: [expected kind][op count][ops: op byte + 8-byte argument]...[page bytes]
#include <atomic>

#include "fuzz_fds.h"
#include "sync/keyed_mutex.h"
#include "sync/shared_state.h"

using namespace baton;

namespace {

constexpr size_t kMaxOps = 16;

struct Op {
    uint8_t code;
    uint64_t arg;
};

void runOps(SharedState& st, KeyedMutex* km, const Op* ops, size_t n) {
    const std::atomic<bool> cancel{false};
    for (size_t i = 0; i < n; ++i) {
        const uint64_t a = ops[i].arg;
        switch (ops[i].code % 10) {
            case 0: st.publish(a); break;
            case 1: {
                uint64_t prev = 0;
                (void)st.reserve(a, &prev);
                break;
            }
            case 2: st.markSubmitted(a); break;
            case 3: st.signalBinary(); break;
            case 4: (void)st.tryConsumeBinary(); break;
            case 5: st.wakeAll(); break;
            case 6: (void)st.waitChange(static_cast<uint32_t>(a), monotonicNs()); break;  // deadline now: no sleep
            case 7:
                if (km) (void)km->acquire(a, 0, static_cast<uint32_t>(a >> 32), cancel);  // one try
                break;
            case 8:
                if (km && km->holds(static_cast<uint32_t>(a >> 32))) km->release(a);
                break;
            case 9:
                if (km) {
                    (void)km->held();
                    (void)km->lastKey();
                    km->abandonIfHeld();
                }
                break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in{data, size};
    const uint8_t kindByte = in.byte();
    const SharedKind expected = static_cast<SharedKind>(1 + kindByte % 3);
    Op ops[kMaxOps];
    const size_t opCount = in.byte() % (kMaxOps + 1);
    for (size_t i = 0; i < opCount; ++i) {
        ops[i].code = in.byte();
        ops[i].arg = in.value<uint64_t>();
    }
    uint8_t page[4096];
    in.bytes(page, sizeof page);
    if (kindByte & 0x80) {  // mostly a page that passes the header checks, to reach the readers
        std::memcpy(page, &kSharedMagic, 4);
        std::memcpy(page + 4, &kSharedVersion, 4);
        const uint32_t k = static_cast<uint32_t>(expected);
        if (kindByte & 0x40) std::memcpy(page + 8, &k, 4);
    }
    const int fd = fuzz::makeFd(fuzz::FdKind::BatonPageAnyMagic, page);
    const fuzz::FdPrint before = fuzz::printOf(fd);
    {
        SharedState st;
        batonError_t e = st.open(fd, expected);
        if (e != batonSuccess) {
            FUZZ_CHECK(e == batonErrorInvalidResourceHandle || e == batonErrorWrongKind);
            FUZZ_CHECK(fuzz::samePrint(before, fuzz::printOf(fd)));
            close(fd);
            fuzz::checkNoFdGrowth();
            return 0;
        }
        FUZZ_CHECK(st.fd() == fd);
        if (expected == SharedKind::KeyedMutex) {
            KeyedMutex km(st);
            runOps(st, &km, ops, opCount);
            km.abandonIfHeld();
        } else {
            runOps(st, nullptr, ops, opCount);
        }
    }
    FUZZ_CHECK(!fuzz::isOpen(fd));  // the state owned it
    fuzz::checkNoFdGrowth();
    return 0;
}
