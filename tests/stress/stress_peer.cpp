// stress_peer: process 1 of the cross-process stress. Usage: stress_peer <socket-fd>
// Receives the seed over the socket, generates the same program as the test, receives the
// shared semaphores, runs its own operations (checking them against the model, exactly as
// the test does) and reports. A divergence or hang ends it with a message on stderr and exit
// status 1, which the test sees as a closed socket.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include <baton/baton.h>

#include "executor.h"
#include "fd_passing.h"
#include "peer_protocol.h"
#include "program.h"

namespace batontest {
void pinVulkanDriverLibraries();
}

int main(int argc, char** argv) {
    batontest::pinVulkanDriverLibraries();
    if (argc != 2) {
        std::fprintf(stderr, "usage: stress_peer <socket-fd>\n");
        return 2;
    }
    int sock = std::atoi(argv[1]);
    alarm(1800);  // never outlive a test that died without killing us
    stress::Hello hello{};
    if (!batontest::recvAll(sock, &hello, sizeof hello) || hello.magic != stress::kPeerMagic) {
        std::fprintf(stderr, "stress_peer: no Hello\n");
        return 3;
    }
    stress::Config c;
    c.seed = hello.seed;
    c.ops = hello.ops;
    c.cross = true;
    c.native = hello.native != 0;
    stress::unpackSwitches(hello.switches, &c);
    stress::Executor::setLabel("stress_peer (process 1), BATON_STRESS_SEED=" + std::to_string(c.seed) +
                               " BATON_STRESS_PROGRAM_OPS=" + std::to_string(c.ops) + " op-class switches " +
                               std::to_string(hello.switches));
    stress::Program prog = stress::generate(c);
    batonContext_t ctx = nullptr;
    if (stress::createContext(&ctx) != batonSuccess || batonCtxSetCurrent(ctx) != batonSuccess) {
        std::fprintf(stderr, "stress_peer: no context: %s\n", batonGetLastErrorMessage());
        return 4;
    }
    stress::Executor ex(prog, 1, ctx);
    ex.setUp(sock);
    stress::Report ready{stress::kPeerMagic, 0, 0};
    if (!batontest::sendAll(sock, &ready, sizeof ready)) return 5;
    ex.run();
    ex.tearDown();
    stress::Report done{stress::kPeerMagic, 0, ex.opsRun()};
    done.knownValidation = stress::knownValidationErrors();
    if (!batontest::sendAll(sock, &done, sizeof done)) return 5;
    batonCtxSetCurrent(nullptr);
    batonContextDestroy(ctx);
    close(sock);
    return 0;
}
