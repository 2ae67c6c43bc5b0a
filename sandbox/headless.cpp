#include "headless.h"

#include <cstdlib>

#include <imgui.h>

#include "app.h"
#include "gpu.h"
#include "headless_target.h"
#include "platform.h"
#include "renderer.h"

namespace sandbox {
namespace {

class HeadlessPlatform final : public Platform {
public:
    HeadlessPlatform(Gpu& gpu, VkExtent2D extent) : target_(gpu, extent, Renderer::kFramesInFlight) {}
    const char* name() const override { return "headless"; }
    Target& target() override { return target_; }
    bool pump() override { return true; }
    bool minimized() override { return false; }
    void newImGuiFrame(double dt) override {
        ImGuiIO& io = ImGui::GetIO();
        io.DisplaySize = ImVec2(static_cast<float>(target_.extent().width), static_cast<float>(target_.extent().height));
        io.DeltaTime = static_cast<float>(dt);
    }
    void setVsync(bool) override {}
    bool hasVsync() const override { return false; }
    void resize(int, int) override {}

private:
    HeadlessTarget target_;
};

}  // namespace

bool haveDisplay() {
    const char* x = std::getenv("DISPLAY");
    const char* w = std::getenv("WAYLAND_DISPLAY");
    return (x && *x) || (w && *w);
}

int runHeadless(Options& options) {
    if (options.frames == 0) options.frames = 300;
    if (options.outDir.empty()) options.outDir = "sandbox-out";
    if (options.pngPath.empty()) options.pngPath = options.outDir + "/sandbox.png";
    if (options.reportPath.empty()) {
        std::string p = options.pngPath;
        size_t dot = p.rfind(".png");
        options.reportPath = (dot != std::string::npos ? p.substr(0, dot) : p) + "-report.json";
    }
    GpuOptions go;
    const char* v = std::getenv("BATON_VALIDATION");
    go.validation = v && std::string(v) == "1";
    go.preferCpu = options.preferCpu || (std::getenv("BATON_DEVICE") && std::string(std::getenv("BATON_DEVICE")) == "cpu");
    Gpu gpu;
    gpu.createInstance(go);
    gpu.createDevice(go, VK_NULL_HANDLE);
    const VkExtent2D extent{static_cast<uint32_t>(options.settings.width), static_cast<uint32_t>(options.settings.height)};
    int rc = 0;
    {
        HeadlessPlatform platform(gpu, extent);
        rc = runApp(gpu, platform, options);
    }
    return rc;
}

}  // namespace sandbox
