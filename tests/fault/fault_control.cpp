#include "fault_control.h"

#include <cstdlib>
#include <dlfcn.h>

namespace batonfault {
namespace {

struct Api {
    int (*configure)(const char*) = nullptr;
    unsigned long long (*callCount)(const char*) = nullptr;
    unsigned long long (*injectedCount)() = nullptr;
    int (*anyDeviceLost)() = nullptr;
    void (*passThrough)(int) = nullptr;
    unsigned long long (*threadCallCount)(const char*) = nullptr;
    void (*submitCounts)(unsigned long long*) = nullptr;
};
Api g_api;

template <typename F>
bool resolve(void* lib, const char* name, F* out) {
    *out = reinterpret_cast<F>(dlsym(lib, name));
    return *out != nullptr;
}

}  // namespace

std::string enable() {
    if (g_api.configure) return {};
    // The loader dlopens the manifest's absolute path: the same file, so the same copy.
    void* lib = dlopen(BATON_FAULT_LAYER_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!lib) return std::string("cannot load the fault layer: ") + dlerror();
    if (!resolve(lib, "batonFaultConfigure", &g_api.configure) || !resolve(lib, "batonFaultCallCount", &g_api.callCount) ||
        !resolve(lib, "batonFaultInjectedCount", &g_api.injectedCount) ||
        !resolve(lib, "batonFaultAnyDeviceLost", &g_api.anyDeviceLost) ||
        !resolve(lib, "batonFaultPassThrough", &g_api.passThrough) ||
        !resolve(lib, "batonFaultThreadCallCount", &g_api.threadCallCount) ||
        !resolve(lib, "batonFaultSubmitCounts", &g_api.submitCounts)) {
        g_api = {};
        return "the fault layer library lacks its side-channel functions";
    }
    // Added to the loader's search path; enabled by name. Layers enabled from the
    // environment sit above those the application enables (validation), so validation
    // sees only the calls that really reach the driver.
    std::string path = BATON_FAULT_LAYER_DIR;
    if (const char* old = std::getenv("VK_ADD_LAYER_PATH"); old && *old) path += std::string(":") + old;
    setenv("VK_ADD_LAYER_PATH", path.c_str(), 1);
    std::string layers = "VK_LAYER_BATON_fault";
    if (const char* old = std::getenv("VK_INSTANCE_LAYERS"); old && *old) layers += std::string(":") + old;
    setenv("VK_INSTANCE_LAYERS", layers.c_str(), 1);
    return {};
}

int configure(const char* spec) { return g_api.configure(spec); }
unsigned long long callCount(const char* function) { return g_api.callCount(function); }
unsigned long long injectedCount() { return g_api.injectedCount(); }
unsigned long long threadCallCount(const char* function) { return g_api.threadCallCount(function); }
void submitCounts(unsigned long long out[5]) { g_api.submitCounts(out); }
bool anyDeviceLost() { return g_api.anyDeviceLost() != 0; }
PassThrough::PassThrough() { g_api.passThrough(1); }
PassThrough::~PassThrough() { g_api.passThrough(0); }

}  // namespace batonfault
