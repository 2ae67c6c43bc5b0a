// baton-sandbox: the window (GLFW + swapchain). Falls back to the headless run with
// --headless or when there is no display.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app.h"
#include "headless.h"
#include "vk.h"
#include "window.h"
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

int main(int argc, char** argv) {
    sandbox::installStopHandlers();
    sandbox::Options options;
    if (!sandbox::parseOptions(argc, argv, true, &options)) return 1;
    if (options.help) {
        sandbox::printHelp(argv[0], true);
        return 0;
    }
    if (options.headless || !sandbox::haveDisplay()) {
        if (!options.headless && !options.quiet) std::fprintf(stderr, "no DISPLAY/WAYLAND_DISPLAY: running headless\n");
        return sandbox::runHeadless(options);
    }
    const std::string settingsFile = options.useSettingsFile ? sandbox::settingsPath() : "";
    sandbox::Settings saved;
    if (!settingsFile.empty() && sandbox::loadSettings(&saved, settingsFile)) sandbox::mergeSettingsFile(&options, saved);
    if (!glfwInit()) {
        std::fprintf(stderr, "baton-sandbox: GLFW cannot initialise (no display?); try --headless\n");
        return 2;
    }
    if (!glfwVulkanSupported()) {
        std::fprintf(stderr, "baton-sandbox: GLFW finds no Vulkan loader\n");
        return 2;
    }
    sandbox::GpuOptions go;
    const char* v = std::getenv("BATON_VALIDATION");
    go.validation = v && std::string(v) == "1";
    go.preferCpu = options.preferCpu || (std::getenv("BATON_DEVICE") && std::string(std::getenv("BATON_DEVICE")) == "cpu");
    uint32_t n = 0;
    const char** exts = glfwGetRequiredInstanceExtensions(&n);
    go.instanceExtensions.assign(exts, exts + n);
    int rc = 0;
    {
        sandbox::Gpu gpu;
        gpu.createInstance(go);
        sandbox::Window window(gpu, options.settings.width, options.settings.height, "baton sandbox");
        gpu.createDevice(go, window.surface());
        window.createSwapchain();
        rc = sandbox::runApp(gpu, window, options);
        int w = 0, h = 0;
        glfwGetWindowSize(window.handle(), &w, &h);
        if (w >= 64 && h >= 64 && !options.resizeAt) {
            options.settings.width = w;
            options.settings.height = h;
        }
    }
    glfwTerminate();
    if (!settingsFile.empty() && !sandbox::saveSettings(options.settings, settingsFile))
        std::fprintf(stderr, "baton-sandbox: cannot save settings to %s\n", settingsFile.c_str());
    return rc;
}
