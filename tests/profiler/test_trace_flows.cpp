// Every handoff in a trace has its flow arrow, from the producer's signal of "ready" = k to
// the consumer's wait for it: a trace that bench_handoff --trace writes (200 handoffs through
// baton's channel, its stream destroyed before the capture stops), and one written with
// batonTraceWrite while the channel is still alive.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>
#include <sys/wait.h>
#include <unistd.h>

#include "trace_check.h"

namespace {

// The lines of assets/reference/<name> that are not comments.
std::vector<std::string> referenceLines(const char* name) {
    std::ifstream in(std::string(BATON_ASSETS_DIR) + "/reference/" + name);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty() && line[0] != '#') out.push_back(line);
    return out;
}

std::string tempPath(const char* name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/baton-" + std::to_string(getpid()) + "-" + name;
}

// The semaphore of the consumer's waits: the object of the first "wait 0x.. >= 1" zone.
std::string readySemaphore(const batontest::TraceFile& t) {
    for (const auto& e : t.events)
        if (e.ph == "X" && e.name.rfind("wait ", 0) == 0 && e.name.size() > 9 && e.name.substr(e.name.size() - 5) == " >= 1")
            return e.name.substr(5, e.name.find(' ', 5) - 5);
    return "";
}

}  // namespace

#ifdef BENCH_HANDOFF_PATH
TEST(ProfilerTrace, BenchHandoffTraceHasAFlowForEveryHandoff) {
    const std::string path = tempPath("bench-trace.json");
    const std::string cmd = std::string(BENCH_HANDOFF_PATH) +
                            " --frames 4 --hd-frames 1 --iterations 0 --trace " + path + " > /dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd;
    batontest::TraceFile t;
    std::string why;
    ASSERT_TRUE(t.read(path, &why)) << why;
    EXPECT_TRUE(t.balanced) << "the trace is not well-formed JSON";
    const std::string ready = readySemaphore(t);
    ASSERT_FALSE(ready.empty()) << "no consumer wait for frame 1 in the trace";
    const batontest::HandoffFlows f = batontest::checkHandoffFlows(t, ready);
    EXPECT_EQ(f.waits, 200u) << "bench_handoff --trace makes 200 handoffs";
    EXPECT_EQ(f.signals, 200u);
    EXPECT_EQ(f.withFlow, f.waits) << "first wait without its arrow: " << f.firstMissing;
    EXPECT_EQ(f.frames, 200u) << "one frame slice per handoff";
    // Each frame slice carries the journey's figures named in assets/reference.
    const std::vector<std::string> args = referenceLines("trace_frame_args.txt");
    ASSERT_GE(args.size(), 5u);
    for (const auto& e : t.events) {
        if (e.ph != "b") continue;
        for (const std::string& a : args) EXPECT_NE(e.line.find("\"" + a + "\":"), std::string::npos) << a << " in " << e.line;
    }
    std::remove(path.c_str());
}
#endif
