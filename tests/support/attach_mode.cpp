// Attach mode (BATON_TEST_ATTACH=1): every suite registered with baton_add_suite(... ATTACHED)
// runs a second time with its main thread's current context attached to a host device (a
// HostDevice: validation on, one queue shared through counted lock callbacks) instead of the
// lazily created standalone one. At exit the lock callbacks must have been balanced.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "baton_test.h"
#include "host_device.h"

namespace batontest {
namespace {

std::unique_ptr<HostDevice> g_host;
batonContext_t g_ctx = nullptr;

}  // namespace

HostDevice* attachModeHost() { return g_host.get(); }
batonContext_t attachModeContext() { return g_ctx; }

batonError_t createTestContext(batonContext_t* out, unsigned flags) {
    if (!g_host) {
        batonContextCreateInfo ci = contextCreateInfo(flags);
        return batonContextCreate(out, &ci);
    }
    batonContextAttachInfo ai = g_host->attachInfo(true);
    ai.flags = flags & batonContextFlagNoNative;  // the rest only mean something standalone
    return batonContextAttach(out, &ai);
}

bool attachModeStart() {
    const char* v = std::getenv("BATON_TEST_ATTACH");
    if (!v || std::strcmp(v, "1") != 0) return true;
    g_host = std::make_unique<HostDevice>();
    std::string why;
    if (!g_host->create(HostDeviceOptions{}, &why)) {
        std::fprintf(stderr, "attach mode: cannot create the host device: %s\n", why.c_str());
        return false;
    }
    batonContextAttachInfo ai = g_host->attachInfo(true);
    if (batonContextAttach(&g_ctx, &ai) != batonSuccess || batonCtxSetCurrent(g_ctx) != batonSuccess) {
        std::fprintf(stderr, "attach mode: batonContextAttach failed: %s\n", batonGetLastErrorMessage());
        return false;
    }
    return true;
}

int attachModeFinish(int rc) {
    if (!g_host) return rc;
    // A test may have destroyed the current context itself; then this call is refused, harmlessly.
    batonContextDestroy(g_ctx);
    const uint64_t locks = g_host->locks(), unlocks = g_host->unlocks();
    std::fprintf(stderr, "attach mode: baton locked the host's queue %llu times, unlocked it %llu times\n",
                 static_cast<unsigned long long>(locks), static_cast<unsigned long long>(unlocks));
    if (locks != unlocks || g_host->misuse()) {
        std::fprintf(stderr, "attach mode: the queue lock callbacks were unbalanced or misused\n");
        rc = 1;
    }
    g_host.reset();
    return rc;
}

}  // namespace batontest
