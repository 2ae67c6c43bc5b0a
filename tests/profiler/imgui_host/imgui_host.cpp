// imgui_host: an example engine that embeds baton and its profiler (baton::imgui) - not the
// sandbox. It hands frames from a baton stream to its own graphics queue through a baton
// channel, renders its own Dear ImGui frame offscreen with ImGui's Vulkan backend, and draws
// baton's profiler window in it; then writes the image as a PNG and what it drew where as
// key=value lines. Headless: no window system.
//
//   imgui_host [--out DIR] [--frames N] [--size WxH] [--font file.ttf] [--inspect]
//   --inspect: pause, select a frame in the middle of the run and zoom the timeline onto it.
#include <baton/baton.h>
#include <baton/baton_channel.h>
#include <baton/baton_imgui.h>
#include <baton/baton_telemetry.h>

#include <imgui.h>
#include <backends/imgui_impl_vulkan.h>
#include <stb/stb_image_write.h>
#include <vulkan/vulkan.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

#define CHECK_VK(x)                                                                       \
    do {                                                                                  \
        VkResult r_ = (x);                                                                \
        if (r_ != VK_SUCCESS) {                                                           \
            std::fprintf(stderr, "imgui_host: %s failed: %d\n", #x, static_cast<int>(r_)); \
            std::exit(2);                                                                 \
        }                                                                                 \
    } while (0)
#define CHECK_BATON(x)                                                                                    \
    do {                                                                                                  \
        batonError_t e_ = (x);                                                                            \
        if (e_ != batonSuccess) {                                                                         \
            std::fprintf(stderr, "imgui_host: %s failed: %s\n", #x, batonGetLastErrorMessage());          \
            std::exit(2);                                                                                 \
        }                                                                                                 \
    } while (0)

struct Host {
    batonContext_t ctx = nullptr;
    batonContextInfo info{};
    VkDevice dev = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkCommandPool pool = VK_NULL_HANDLE;
    VkSemaphore done = VK_NULL_HANDLE;  // the host's own submissions
    uint64_t submitted = 0;

    void init() {
        batonContextCreateInfo ci{};
        CHECK_BATON(batonContextCreate(&ctx, &ci));
        batonCtxSetCurrent(ctx);
        CHECK_BATON(batonContextGetInfo(ctx, &info));
        dev = info.device;
        queue = info.graphicsQueue.queue ? info.graphicsQueue.queue : info.computeQueue.queue;
        family = info.graphicsQueue.queue ? info.graphicsQueue.familyIndex : info.computeQueue.familyIndex;
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr,
                                    VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, family};
        CHECK_VK(vkCreateCommandPool(dev, &pci, nullptr, &pool));
        VkSemaphoreTypeCreateInfo t{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
        VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &t};
        CHECK_VK(vkCreateSemaphore(dev, &sci, nullptr, &done));
    }
    VkCommandBuffer commandBuffer() {
        VkCommandBuffer c = VK_NULL_HANDLE;
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool,
                                       VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
        CHECK_VK(vkAllocateCommandBuffers(dev, &ai, &c));
        return c;
    }
    // Submits on the queue it may share with baton (lavapipe has one): under baton's lock.
    void submit(VkSubmitInfo2 si) {
        VkSemaphoreSubmitInfo sig[2];
        for (uint32_t i = 0; i < si.signalSemaphoreInfoCount; ++i) sig[i] = si.pSignalSemaphoreInfos[i];
        sig[si.signalSemaphoreInfoCount] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, done, ++submitted,
                                            VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
        si.pSignalSemaphoreInfos = sig;
        ++si.signalSemaphoreInfoCount;
        CHECK_BATON(batonContextLockQueue(ctx, queue));
        const VkResult r = vkQueueSubmit2(queue, 1, &si, VK_NULL_HANDLE);
        CHECK_BATON(batonContextUnlockQueue(ctx, queue));
        CHECK_VK(r);
    }
    void idle() {
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &done, &submitted};
        CHECK_VK(vkWaitSemaphores(dev, &wi, UINT64_MAX));
    }
};

void clearFrame(VkCommandBuffer cmd, VkImage image, unsigned long long frame, void*) {
    VkClearColorValue c{};
    c.float32[0] = static_cast<float>(frame % 256) / 255.0f;
    c.float32[3] = 1.0f;
    VkImageSubresourceRange r{VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdClearColorImage(cmd, image, VK_IMAGE_LAYOUT_GENERAL, &c, 1, &r);
}

// The engine's frame loop, reduced to the handoff: produce on a baton stream, take the frame
// on the graphics queue (an empty command buffer stands for the engine's draw).
void handFrames(Host& h, uint64_t frames) {
    batonChannelCreateInfo ci{};
    ci.depth = 3;
    ci.format = VK_FORMAT_R8G8B8A8_UNORM;
    ci.extent = {64, 64};
    ci.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
    ci.consumerLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
    batonChannel_t ch = nullptr;
    CHECK_BATON(batonChannelCreate(&ch, &ci));
    batonStream_t s = nullptr;
    CHECK_BATON(batonStreamCreate(&s));
    std::vector<VkCommandBuffer> cmds(8);
    for (auto& c : cmds) c = h.commandBuffer();
    for (uint64_t k = 1; k <= frames; ++k) {
        CHECK_BATON(batonChannelProduceFrame(ch, s, clearFrame, nullptr, nullptr));
        batonChannelFrame f{};
        batonError_t e;
        while ((e = batonChannelAcquireFrame(ch, VK_PIPELINE_STAGE_2_FRAGMENT_SHADER_BIT, &f)) == batonErrorNotReady)
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        CHECK_BATON(e);
        if (h.submitted >= cmds.size()) {  // the command buffer's last use is done
            uint64_t v = h.submitted - cmds.size() + 1;
            VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &h.done, &v};
            CHECK_VK(vkWaitSemaphores(h.dev, &wi, UINT64_MAX));
        }
        VkCommandBuffer cmd = cmds[k % cmds.size()];
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                    VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        CHECK_VK(vkBeginCommandBuffer(cmd, &bi));
        CHECK_VK(vkEndCommandBuffer(cmd));
        batonChannelRelease rel{};
        CHECK_BATON(batonChannelReleaseFrame(ch, &f, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, &rel));
        VkCommandBufferSubmitInfo cb[3];
        uint32_t n = 0;
        if (f.acquireCommands) cb[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, f.acquireCommands, 0};
        cb[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
        if (rel.releaseCommands) cb[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, rel.releaseCommands, 0};
        VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 1, &f.wait, n, cb, 1, &rel.signal};
        h.submit(si);
    }
    h.idle();
    CHECK_BATON(batonStreamSynchronize(s));
    CHECK_BATON(batonStreamDestroy(s));
    CHECK_BATON(batonChannelDestroy(ch));  // its last frames resolve into telemetry
}

struct Target {
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkImageView view = VK_NULL_HANDLE;
    VkRenderPass pass = VK_NULL_HANDLE;
    VkFramebuffer fb = VK_NULL_HANDLE;
    VkBuffer readback = VK_NULL_HANDLE;
    VkDeviceMemory readbackMemory = VK_NULL_HANDLE;
};

uint32_t memoryType(Host& h, uint32_t bits, VkMemoryPropertyFlags want) {
    VkPhysicalDeviceMemoryProperties mp{};
    vkGetPhysicalDeviceMemoryProperties(h.info.physicalDevice, &mp);
    for (uint32_t t = 0; t < mp.memoryTypeCount; ++t)
        if ((bits & (1u << t)) && (mp.memoryTypes[t].propertyFlags & want) == want) return t;
    std::fprintf(stderr, "imgui_host: no memory type\n");
    std::exit(2);
}

Target makeTarget(Host& h, uint32_t w, uint32_t hgt) {
    Target t;
    VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    ici.imageType = VK_IMAGE_TYPE_2D;
    ici.format = VK_FORMAT_R8G8B8A8_UNORM;
    ici.extent = {w, hgt, 1};
    ici.mipLevels = ici.arrayLayers = 1;
    ici.samples = VK_SAMPLE_COUNT_1_BIT;
    ici.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    CHECK_VK(vkCreateImage(h.dev, &ici, nullptr, &t.image));
    VkMemoryRequirements req{};
    vkGetImageMemoryRequirements(h.dev, t.image, &req);
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                            memoryType(h, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)};
    CHECK_VK(vkAllocateMemory(h.dev, &ai, nullptr, &t.memory));
    CHECK_VK(vkBindImageMemory(h.dev, t.image, t.memory, 0));
    VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO, nullptr, 0, t.image, VK_IMAGE_VIEW_TYPE_2D,
                              VK_FORMAT_R8G8B8A8_UNORM, {}, {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    CHECK_VK(vkCreateImageView(h.dev, &vci, nullptr, &t.view));
    VkAttachmentDescription att{0, VK_FORMAT_R8G8B8A8_UNORM, VK_SAMPLE_COUNT_1_BIT, VK_ATTACHMENT_LOAD_OP_CLEAR,
                                VK_ATTACHMENT_STORE_OP_STORE, VK_ATTACHMENT_LOAD_OP_DONT_CARE,
                                VK_ATTACHMENT_STORE_OP_DONT_CARE, VK_IMAGE_LAYOUT_UNDEFINED,
                                VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL};
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub{0, VK_PIPELINE_BIND_POINT_GRAPHICS, 0, nullptr, 1, &ref};
    VkSubpassDependency dep{0, VK_SUBPASS_EXTERNAL, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                            VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                            VK_ACCESS_TRANSFER_READ_BIT, 0};
    VkRenderPassCreateInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO, nullptr, 0, 1, &att, 1, &sub, 1, &dep};
    CHECK_VK(vkCreateRenderPass(h.dev, &rp, nullptr, &t.pass));
    VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO, nullptr, 0, t.pass, 1, &t.view, w, hgt, 1};
    CHECK_VK(vkCreateFramebuffer(h.dev, &fci, nullptr, &t.fb));
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, nullptr, 0, VkDeviceSize(w) * hgt * 4,
                           VK_BUFFER_USAGE_TRANSFER_DST_BIT};
    CHECK_VK(vkCreateBuffer(h.dev, &bci, nullptr, &t.readback));
    vkGetBufferMemoryRequirements(h.dev, t.readback, &req);
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = memoryType(h, req.memoryTypeBits,
                                    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    CHECK_VK(vkAllocateMemory(h.dev, &ai, nullptr, &t.readbackMemory));
    CHECK_VK(vkBindBufferMemory(h.dev, t.readback, t.readbackMemory, 0));
    return t;
}

void checkImGuiVk(VkResult r) {
    if (r != VK_SUCCESS) {
        std::fprintf(stderr, "imgui_host: ImGui's Vulkan backend: VkResult %d\n", static_cast<int>(r));
        std::exit(2);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string out = ".", font;
    uint64_t frames = 300;
    uint32_t width = 1280, height = 720;
    bool inspect = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : "";
        if (a == "--out") out = v, ++i;
        else if (a == "--frames") frames = std::strtoull(v, nullptr, 10), ++i;
        else if (a == "--font") font = v, ++i;
        else if (a == "--size") std::sscanf(v, "%ux%u", &width, &height), ++i;
        else if (a == "--inspect") inspect = true;
        else {
            std::fprintf(stderr, "usage: %s [--out DIR] [--frames N] [--size WxH] [--font file.ttf] [--inspect]\n", argv[0]);
            return 1;
        }
    }
    Host h;
    h.init();

    // The engine's ImGui, and baton's profiler in it (the profiler turns telemetry on).
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;
    io.DisplaySize = ImVec2(static_cast<float>(width), static_cast<float>(height));
    if (!font.empty() && !io.Fonts->AddFontFromFileTTF(font.c_str(), 15.0f)) {
        std::fprintf(stderr, "imgui_host: cannot load the font %s\n", font.c_str());
        return 2;
    }
    ImGui::StyleColorsDark();
    baton::imgui::Profiler profiler(h.ctx);
    handFrames(h, frames);

    Target t = makeTarget(h, width, height);
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 4};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, nullptr,
                                  VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT, 4, 1, &size};
    VkDescriptorPool imguiPool = VK_NULL_HANDLE;
    CHECK_VK(vkCreateDescriptorPool(h.dev, &dp, nullptr, &imguiPool));
    ImGui_ImplVulkan_InitInfo ii{};
    ii.Instance = h.info.instance;
    ii.PhysicalDevice = h.info.physicalDevice;
    ii.Device = h.dev;
    ii.QueueFamily = h.family;
    ii.Queue = h.queue;
    ii.DescriptorPool = imguiPool;
    ii.MinImageCount = 2;
    ii.ImageCount = 2;
    ii.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    ii.CheckVkResultFn = checkImGuiVk;
    ImGui_ImplVulkan_Init(&ii, t.pass);
    VkCommandBuffer cmd = h.commandBuffer();
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    CHECK_VK(vkBeginCommandBuffer(cmd, &bi));
    ImGui_ImplVulkan_CreateFontsTexture(cmd);
    CHECK_VK(vkEndCommandBuffer(cmd));
    VkCommandBufferSubmitInfo cbi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
    h.submit({VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 0, nullptr, 1, &cbi, 0, nullptr});
    h.idle();
    ImGui_ImplVulkan_DestroyFontUploadObjects();

    // A few ImGui frames (the first ones lay the window out), the inspector on a frame.
      for (int f = 0; f < 4; ++f) {
        io.DeltaTime = 1.0f / 60.0f;
        ImGui_ImplVulkan_NewFrame();
        ImGui::NewFrame();
        profiler.update();
        if (inspect && f == 1) {  // what a user's click on a frame and a zoom onto it do
            profiler.showFrame(frames / 2, 2);
        }
        ImGui::SetNextWindowPos(ImVec2(10, 10));
        ImGui::SetNextWindowSize(ImVec2(static_cast<float>(width) - 20, static_cast<float>(height) * 0.6f));
        profiler.draw("baton profiler");
        ImGui::Render();
        CHECK_VK(vkResetCommandBuffer(cmd, 0));
        CHECK_VK(vkBeginCommandBuffer(cmd, &bi));
        VkClearValue clear{};
        clear.color = {{0.10f, 0.12f, 0.16f, 1.0f}};
        VkRenderPassBeginInfo rb{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO, nullptr, t.pass, t.fb, {{0, 0}, {width, height}},
                                 1, &clear};
        vkCmdBeginRenderPass(cmd, &rb, VK_SUBPASS_CONTENTS_INLINE);
        ImGui_ImplVulkan_RenderDrawData(ImGui::GetDrawData(), cmd);
        vkCmdEndRenderPass(cmd);
        VkBufferImageCopy copy{0, 0, 0, {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1}, {0, 0, 0}, {width, height, 1}};
        vkCmdCopyImageToBuffer(cmd, t.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, t.readback, 1, &copy);
        VkBufferMemoryBarrier toHost{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT,
                                     VK_ACCESS_HOST_READ_BIT, VK_QUEUE_FAMILY_IGNORED, VK_QUEUE_FAMILY_IGNORED,
                                     t.readback, 0, VK_WHOLE_SIZE};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &toHost,
                             0, nullptr);
        CHECK_VK(vkEndCommandBuffer(cmd));
        h.submit({VK_STRUCTURE_TYPE_SUBMIT_INFO_2, nullptr, 0, 0, nullptr, 1, &cbi, 0, nullptr});
        h.idle();
    }

    void* px = nullptr;
    CHECK_VK(vkMapMemory(h.dev, t.readbackMemory, 0, VK_WHOLE_SIZE, 0, &px));
    const std::string png = out + "/profiler.png";
    const bool wrote = stbi_write_png(png.c_str(), static_cast<int>(width), static_cast<int>(height), 4, px,
                                      static_cast<int>(width * 4)) != 0;
    vkUnmapMemory(h.dev, t.readbackMemory);
    const baton::imgui::LatencySummary l = profiler.latency();
    const float* wr = profiler.windowRect();
    const float* tr = profiler.timelineRect();
    FILE* rf = std::fopen((out + "/host-report.txt").c_str(), "w");
    if (rf) {
        std::fprintf(rf, "png=%s\nwidth=%u\nheight=%u\nwindow=%.0f %.0f %.0f %.0f\ntimeline=%.0f %.0f %.0f %.0f\n",
                     png.c_str(), width, height, wr[0], wr[1], wr[2], wr[3], tr[0], tr[1], tr[2], tr[3]);
        std::fprintf(rf, "frames=%llu\np50_us=%.3f\np99_us=%.3f\nselected=%llu\ncost_us=%.1f\n", l.frames, l.p50Us,
                     l.p99Us, profiler.selectedFrame(), profiler.meanCostUs());
        std::fclose(rf);
    }
    std::printf("imgui_host: %s, %llu frames, handoff p50 %.1f us p99 %.1f us, profiler %.0f us/frame\n", png.c_str(),
                l.frames, l.p50Us, l.p99Us, profiler.meanCostUs());

    ImGui_ImplVulkan_Shutdown();
    ImGui::DestroyContext();
    vkDestroyDescriptorPool(h.dev, imguiPool, nullptr);
    vkDestroyFramebuffer(h.dev, t.fb, nullptr);
    vkDestroyRenderPass(h.dev, t.pass, nullptr);
    vkDestroyImageView(h.dev, t.view, nullptr);
    vkDestroyImage(h.dev, t.image, nullptr);
    vkFreeMemory(h.dev, t.memory, nullptr);
    vkDestroyBuffer(h.dev, t.readback, nullptr);
    vkFreeMemory(h.dev, t.readbackMemory, nullptr);
    vkDestroySemaphore(h.dev, h.done, nullptr);
    vkDestroyCommandPool(h.dev, h.pool, nullptr);
    // Validation (BATON_VALIDATION=1) covers the host's own Vulkan use too: same device.
    unsigned long long errors = 0;
    batonContextGetMessageCount(h.ctx, batonMessageSeverityError, &errors);
    batonCtxSetCurrent(nullptr);
    batonContextDestroy(h.ctx);
    if (errors) std::fprintf(stderr, "imgui_host: %llu validation error(s)\n", errors);
    return !wrote ? 3 : errors ? 4 : 0;
}
