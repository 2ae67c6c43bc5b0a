#include "renderer.h"

#include <algorithm>
#include <cstring>

#include <imgui.h>
#include <backends/imgui_impl_vulkan.h>

#include "shaders.h"

namespace sandbox {
namespace {

void checkImGuiVk(VkResult r) {
    if (r != VK_SUCCESS) vkFatal(r, "ImGui Vulkan backend", __FILE__, __LINE__);
}

}  // namespace

Renderer::Renderer(Gpu& gpu, GpuClock& clock, Telemetry& telemetry, VkFormat format)
    : gpu_(gpu), clock_(clock), telemetry_(telemetry), format_(format) {
    VkDevice d = gpu.device;
    VkAttachmentDescription color{};
    color.format = format;
    color.samples = VK_SAMPLE_COUNT_1_BIT;
    color.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    color.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    color.finalLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;  // then a barrier to the target's layout
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub{};
    sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    sub.colorAttachmentCount = 1;
    sub.pColorAttachments = &ref;
    // The swapchain's acquire semaphore is waited at COLOR_ATTACHMENT_OUTPUT: order the
    // layout transition after it.
    VkSubpassDependency dep{VK_SUBPASS_EXTERNAL, 0, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                            VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, 0, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, 0};
    VkRenderPassCreateInfo rpi{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    rpi.attachmentCount = 1;
    rpi.pAttachments = &color;
    rpi.subpassCount = 1;
    rpi.pSubpasses = &sub;
    rpi.dependencyCount = 1;
    rpi.pDependencies = &dep;
    VK_CHECK(vkCreateRenderPass(d, &rpi, nullptr, &renderPass_));

    VkSamplerCreateInfo si{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    si.magFilter = si.minFilter = VK_FILTER_LINEAR;
    si.addressModeU = si.addressModeV = si.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    VK_CHECK(vkCreateSampler(d, &si, nullptr, &sampler_));
    VkDescriptorSetLayoutBinding b{0, VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 1, VK_SHADER_STAGE_FRAGMENT_BIT, &sampler_};
    VkDescriptorSetLayoutCreateInfo sl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, nullptr, 0, 1, &b};
    VK_CHECK(vkCreateDescriptorSetLayout(d, &sl, nullptr, &setLayout_));
    VkPushConstantRange viewRange{VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof(PresentPush)};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, nullptr, 0, 1, &setLayout_, 1, &viewRange};
    VK_CHECK(vkCreatePipelineLayout(d, &pl, nullptr, &layout_));
    createPipeline();
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 8};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, nullptr, 0, 8, 1, &size};
    VK_CHECK(vkCreateDescriptorPool(d, &dp, nullptr, &pool_));
    VkDescriptorPoolCreateInfo ip{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, nullptr,
                                  VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT, 4, 1, &size};
    VK_CHECK(vkCreateDescriptorPool(d, &ip, nullptr, &imguiPool_));

    VkCommandPoolCreateInfo cp{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr,
                               VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, gpu.graphicsFamily};
    VK_CHECK(vkCreateCommandPool(d, &cp, nullptr, &commandPool_));
    for (Frame& f : frames_) {
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, commandPool_,
                                       VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
        VK_CHECK(vkAllocateCommandBuffers(d, &ai, &f.cmd));
    }
    VkSemaphoreTypeCreateInfo tt{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &tt};
    VK_CHECK(vkCreateSemaphore(d, &sci, nullptr, &timeline_));
    if (gpu.graphicsTimestampBits) {
        VkQueryPoolCreateInfo qp{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, nullptr, 0, VK_QUERY_TYPE_TIMESTAMP,
                                 kFramesInFlight * 2};
        VK_CHECK(vkCreateQueryPool(d, &qp, nullptr, &queries_));
    }

    // ImGui's Vulkan backend draws inside our render pass; it calls the loader's exports.
    ImGui_ImplVulkan_InitInfo ii{};
    ii.Instance = gpu.instance;
    ii.PhysicalDevice = gpu.physicalDevice;
    ii.Device = d;
    ii.QueueFamily = gpu.graphicsFamily;
    ii.Queue = gpu.graphicsQueue;
    ii.DescriptorPool = imguiPool_;
    ii.MinImageCount = 2;
    ii.ImageCount = kFramesInFlight + 1;  // its vertex-buffer ring must outlive our frames in flight
    ii.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    ii.CheckVkResultFn = checkImGuiVk;
    ImGui_ImplVulkan_Init(&ii, renderPass_);
    gpu.runOnce([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
    ImGui_ImplVulkan_DestroyFontUploadObjects();
}

Renderer::~Renderer() {
    waitIdle();
    ImGui_ImplVulkan_Shutdown();
    VkDevice d = gpu_.device;
    for (VkFramebuffer fb : framebuffers_) vkDestroyFramebuffer(d, fb, nullptr);
    if (captureBuffer_) {
        vkDestroyBuffer(d, captureBuffer_, nullptr);
        vkFreeMemory(d, captureMemory_, nullptr);
    }
    vkDestroyQueryPool(d, queries_, nullptr);
    vkDestroySemaphore(d, timeline_, nullptr);
    vkDestroyCommandPool(d, commandPool_, nullptr);
    vkDestroyDescriptorPool(d, imguiPool_, nullptr);
    vkDestroyDescriptorPool(d, pool_, nullptr);
    vkDestroyPipeline(d, pipeline_, nullptr);
    vkDestroyPipelineLayout(d, layout_, nullptr);
    vkDestroyDescriptorSetLayout(d, setLayout_, nullptr);
    vkDestroySampler(d, sampler_, nullptr);
    vkDestroyRenderPass(d, renderPass_, nullptr);
}

void Renderer::createPipeline() {
    VkShaderModule vs = createShader(gpu_.device, kFullscreenVert), fs = createShader(gpu_.device, kPresentFrag);
    VkPipelineShaderStageCreateInfo stages[2] = {
        {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_VERTEX_BIT, vs, "main"},
        {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_FRAGMENT_BIT, fs, "main"}};
    VkPipelineVertexInputStateCreateInfo vi{VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
    VkPipelineInputAssemblyStateCreateInfo ia{VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
    ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST;
    VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
    vp.viewportCount = vp.scissorCount = 1;
    VkPipelineRasterizationStateCreateInfo rs{VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
    rs.polygonMode = VK_POLYGON_MODE_FILL;
    rs.cullMode = VK_CULL_MODE_NONE;
    rs.lineWidth = 1.0f;
    VkPipelineMultisampleStateCreateInfo ms{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
    ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
    VkPipelineColorBlendAttachmentState cba{};
    cba.colorWriteMask = 0xF;
    VkPipelineColorBlendStateCreateInfo cb{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
    cb.attachmentCount = 1;
    cb.pAttachments = &cba;
    VkDynamicState dyn[2] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo ds{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO, nullptr, 0, 2, dyn};
    VkGraphicsPipelineCreateInfo gp{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
    gp.stageCount = 2;
    gp.pStages = stages;
    gp.pVertexInputState = &vi;
    gp.pInputAssemblyState = &ia;
    gp.pViewportState = &vp;
    gp.pRasterizationState = &rs;
    gp.pMultisampleState = &ms;
    gp.pColorBlendState = &cb;
    gp.pDynamicState = &ds;
    gp.layout = layout_;
    gp.renderPass = renderPass_;
    VK_CHECK(vkCreateGraphicsPipelines(gpu_.device, VK_NULL_HANDLE, 1, &gp, nullptr, &pipeline_));
    vkDestroyShaderModule(gpu_.device, vs, nullptr);
    vkDestroyShaderModule(gpu_.device, fs, nullptr);
}

void Renderer::bindHandoff(Handoff& handoff) {
    const uint32_t depth = std::min<uint32_t>(handoff.config().depth, 8);
    VK_CHECK(vkResetDescriptorPool(gpu_.device, pool_, 0));
    VkDescriptorSetLayout layouts[8];
    std::fill(layouts, layouts + 8, setLayout_);
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, nullptr, pool_, depth, layouts};
    VK_CHECK(vkAllocateDescriptorSets(gpu_.device, &ai, sets_));
    for (uint32_t i = 0; i < depth; ++i) {
        VkDescriptorImageInfo img{VK_NULL_HANDLE, handoff.view(i), handoff.sampledLayout()};
        VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, sets_[i], 0, 0, 1,
                               VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, &img};
        vkUpdateDescriptorSets(gpu_.device, 1, &w, 0, nullptr);
    }
}

void Renderer::syncFramebuffers(Target& target) {
    if (framebufferTarget_ == &target && framebufferGeneration_ == target.generation()) return;
    waitIdle();  // the old framebuffers may still be in use
    for (VkFramebuffer fb : framebuffers_) vkDestroyFramebuffer(gpu_.device, fb, nullptr);
    framebuffers_.assign(target.imageCount(), VK_NULL_HANDLE);
    const VkExtent2D e = target.extent();
    for (uint32_t i = 0; i < target.imageCount(); ++i) {
        VkImageView v = target.view(i);
        VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO, nullptr, 0, renderPass_, 1, &v,
                                    e.width, e.height, 1};
        VK_CHECK(vkCreateFramebuffer(gpu_.device, &fci, nullptr, &framebuffers_[i]));
    }
    framebufferTarget_ = &target;
    framebufferGeneration_ = target.generation();
}

void Renderer::collect(Frame& f) {
    if (!f.pendingCollect) return;
    f.pendingCollect = false;
    if (!queries_) {  // no timestamps on this queue: only the host side of the stall is known
        if (f.fresh) telemetry_.addConsumerStall(f.hostStallMs);
        return;
    }
    const uint32_t slot = static_cast<uint32_t>(&f - frames_);
    uint64_t ts[2] = {};
    VK_CHECK(vkGetQueryPoolResults(gpu_.device, queries_, slot * 2, 2, sizeof ts, ts, sizeof ts[0],
                                   VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    const uint32_t bits = gpu_.graphicsTimestampBits;
    uint64_t t0 = clock_.toHost(ts[0], bits), t1 = clock_.toHost(ts[1], bits);
    telemetry_.graphicsGpuMs = clock_.ticksToMs(ts[1] - ts[0]);
    // The queue could have started at submit (or when its previous frame ended): a fresh
    // frame whose ready signal had not completed then was waiting for the producer.
    uint64_t could = std::max(f.submitNs, prevGpuEnd_);
    double gpuWaitMs = 0;
    if (f.stallCandidate && t0 > could) {
        gpuWaitMs = static_cast<double>(t0 - could) * 1e-6;
        if (gpuWaitMs > 0.05) telemetry_.addSpan({could, t0, f.animFrame, Lane::GraphicsQueue, SpanKind::Stall});
    }
    if (f.fresh) telemetry_.addConsumerStall(f.hostStallMs + gpuWaitMs);
    telemetry_.addSpan({t0, t1, f.animFrame, Lane::GraphicsQueue, SpanKind::Work});
    prevGpuEnd_ = t1;
}

bool Renderer::begin(Target& target) {
    const uint64_t next = submitted_ + 1;
    Frame& f = frames_[next % kFramesInFlight];
    if (f.value) {
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &timeline_, &f.value};
        VK_CHECK(vkWaitSemaphores(gpu_.device, &wi, UINT64_MAX));
        collect(f);
    }
    // Acquire first: it may recreate the swapchain, and the framebuffers must follow.
    if (!target.acquire(static_cast<uint32_t>(next % kFramesInFlight), &current_, &acquireWait_)) return false;
    syncFramebuffers(target);
    return true;
}

void Renderer::submit(Target& target, const ConsumerFrame& frame, ImDrawData* draw, bool capture, double hostStallMs) {
    const uint64_t value = submitted_ + 1;
    const uint32_t slot = static_cast<uint32_t>(value % kFramesInFlight);
    Frame& f = frames_[slot];
    VkCommandBuffer cmd = f.cmd;
    VK_CHECK(vkResetCommandBuffer(cmd, 0));
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VK_CHECK(vkBeginCommandBuffer(cmd, &bi));
    // The handoff's acquire first: its telemetry timestamp is the renderer's first command.
    if (frame.acquireChannel) BATON_CHECK(batonChannelCmdAcquireFrame(frame.acquireChannel, &frame.acquired, cmd));
    if (queries_) {
        vkCmdResetQueryPool(cmd, queries_, slot * 2, 2);
        vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, queries_, slot * 2);
    }
    const VkExtent2D e = target.extent();
    VkClearValue clear{};
    clear.color = {{0.02f, 0.02f, 0.04f, 1.0f}};
    VkRenderPassBeginInfo rb{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO, nullptr, renderPass_, framebuffers_[current_],
                             {{0, 0}, e}, 1, &clear};
    vkCmdBeginRenderPass(cmd, &rb, VK_SUBPASS_CONTENTS_INLINE);
    VkViewport vp{0, 0, static_cast<float>(e.width), static_cast<float>(e.height), 0, 1};
    VkRect2D sc{{0, 0}, e};
    vkCmdSetViewport(cmd, 0, 1, &vp);
    vkCmdSetScissor(cmd, 0, 1, &sc);
    if (frame.sequence) {
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline_);
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, layout_, 0, 1, &sets_[frame.slot], 0, nullptr);
        vkCmdPushConstants(cmd, layout_, VK_SHADER_STAGE_FRAGMENT_BIT, 0, sizeof view_, &view_);
        vkCmdDraw(cmd, 3, 1, 0, 0);
    }
    if (draw) ImGui_ImplVulkan_RenderDrawData(draw, cmd);
    vkCmdEndRenderPass(cmd);

    VkImageMemoryBarrier2 b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2};
    b.srcStageMask = VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT;
    b.srcAccessMask = VK_ACCESS_2_COLOR_ATTACHMENT_WRITE_BIT;
    b.oldLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
    b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    b.image = target.image(current_);
    b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkBufferMemoryBarrier2 hb{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER_2};
    VkDependencyInfo dep{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
    dep.imageMemoryBarrierCount = 1;
    dep.pImageMemoryBarriers = &b;
    if (capture) {
        const VkDeviceSize size = static_cast<VkDeviceSize>(e.width) * e.height * 4;
        if (size > captureSize_) {  // only when a capture is asked for: never on the per-frame path
            waitIdle();
            if (captureBuffer_) {
                vkDestroyBuffer(gpu_.device, captureBuffer_, nullptr);
                vkFreeMemory(gpu_.device, captureMemory_, nullptr);
            }
            VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
            bci.size = size;
            bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
            VK_CHECK(vkCreateBuffer(gpu_.device, &bci, nullptr, &captureBuffer_));
            VkMemoryRequirements req{};
            vkGetBufferMemoryRequirements(gpu_.device, captureBuffer_, &req);
            VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                                     gpu_.memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                                             VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)};
            VK_CHECK(vkAllocateMemory(gpu_.device, &mai, nullptr, &captureMemory_));
            VK_CHECK(vkBindBufferMemory(gpu_.device, captureBuffer_, captureMemory_, 0));
            captureSize_ = size;
        }
        b.dstStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
        b.dstAccessMask = VK_ACCESS_2_TRANSFER_READ_BIT;
        b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
        vkCmdPipelineBarrier2(cmd, &dep);
        VkBufferImageCopy region{};
        region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
        region.imageExtent = {e.width, e.height, 1};
        vkCmdCopyImageToBuffer(cmd, b.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, captureBuffer_, 1, &region);
        hb.srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
        hb.srcAccessMask = VK_ACCESS_2_TRANSFER_WRITE_BIT;
        hb.dstStageMask = VK_PIPELINE_STAGE_2_HOST_BIT;
        hb.dstAccessMask = VK_ACCESS_2_HOST_READ_BIT;
        hb.srcQueueFamilyIndex = hb.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        hb.buffer = captureBuffer_;
        hb.size = VK_WHOLE_SIZE;
        b.srcStageMask = VK_PIPELINE_STAGE_2_COPY_BIT;
        b.srcAccessMask = VK_ACCESS_2_TRANSFER_READ_BIT;
        b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
        dep.bufferMemoryBarrierCount = 1;
        dep.pBufferMemoryBarriers = &hb;
        captureExtent_ = e;
        captureValue_ = value;
    }
    b.dstStageMask = VK_PIPELINE_STAGE_2_NONE;  // present / readback are ordered by the semaphores
    b.dstAccessMask = 0;
    b.newLayout = target.finalLayout();
    if (b.newLayout != b.oldLayout) vkCmdPipelineBarrier2(cmd, &dep);
    else if (dep.bufferMemoryBarrierCount) {
        dep.imageMemoryBarrierCount = 0;
        vkCmdPipelineBarrier2(cmd, &dep);
    }
    if (queries_) vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_BOTTOM_OF_PIPE_BIT, queries_, slot * 2 + 1);
    VK_CHECK(vkEndCommandBuffer(cmd));

    // Waits: the swapchain image, baton's "ready". Signals: our timeline, present, "released".
    VkSemaphoreSubmitInfo waits[2]{}, signals[3]{};
    uint32_t nw = 0, ns = 0;
    if (acquireWait_)
        waits[nw++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, acquireWait_, 0,
                       VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT, 0};
    for (uint32_t i = 0; i < frame.waitCount; ++i) waits[nw++] = frame.waits[i];
    signals[ns++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline_, value,
                     VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    if (VkSemaphore done = target.renderDone(current_))
        signals[ns++] = {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, done, 0,
                         VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0};
    for (uint32_t i = 0; i < frame.signalCount; ++i) signals[ns++] = frame.signals[i];
    // The handoff's own command buffers (a channel's acquire and release), around ours.
    VkCommandBufferSubmitInfo cbi[3]{};
    uint32_t nc = 0;
    if (frame.first) cbi[nc++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, frame.first, 0};
    cbi[nc++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, cmd, 0};
    if (frame.last) cbi[nc++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, frame.last, 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = nw;
    si.pWaitSemaphoreInfos = waits;
    si.commandBufferInfoCount = nc;
    si.pCommandBufferInfos = cbi;
    si.signalSemaphoreInfoCount = ns;
    si.pSignalSemaphoreInfos = signals;
    f.submitNs = nowNs();
    gpu_.lockGraphics();
    VkResult r = vkQueueSubmit2(gpu_.graphicsQueue, 1, &si, VK_NULL_HANDLE);
    gpu_.unlockGraphics();
    VK_CHECK(r);
    f.value = value;
    f.animFrame = frame.animFrame;
    f.fresh = frame.fresh;
    f.stallCandidate = frame.fresh && !frame.readyDone;
    f.hostStallMs = hostStallMs;
    f.pendingCollect = true;
    submitted_ = value;
    telemetry_.presented.fetch_add(1);
    target.present(current_);
}

void Renderer::readCapture(std::vector<uint8_t>& rgba, uint32_t* width, uint32_t* height) {
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &timeline_, &captureValue_};
    VK_CHECK(vkWaitSemaphores(gpu_.device, &wi, UINT64_MAX));
    const size_t n = static_cast<size_t>(captureExtent_.width) * captureExtent_.height;
    rgba.resize(n * 4);
    void* p = nullptr;
    VK_CHECK(vkMapMemory(gpu_.device, captureMemory_, 0, VK_WHOLE_SIZE, 0, &p));
    std::memcpy(rgba.data(), p, n * 4);
    vkUnmapMemory(gpu_.device, captureMemory_);
    if (format_ == VK_FORMAT_B8G8R8A8_UNORM || format_ == VK_FORMAT_B8G8R8A8_SRGB)
        for (size_t i = 0; i < n; ++i) std::swap(rgba[i * 4], rgba[i * 4 + 2]);
    for (size_t i = 0; i < n; ++i) rgba[i * 4 + 3] = 255;  // what the window shows is opaque
    *width = captureExtent_.width;
    *height = captureExtent_.height;
}

void Renderer::submitRelease(const VkSemaphoreSubmitInfo* wait, const VkCommandBuffer* commands,
                             uint32_t commandCount, const VkSemaphoreSubmitInfo& signal) {
    // Also signals the renderer's own timeline, so that waitIdle() covers this submission
    // too: the semaphore it signals is destroyed right after a teardown's waitIdle().
    const uint64_t value = submitted_ + 1;
    VkSemaphoreSubmitInfo signals[2] = {signal, {VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO, nullptr, timeline_, value,
                                                 VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, 0}};
    VkCommandBufferSubmitInfo cmds[2] = {};
    uint32_t n = 0;
    for (uint32_t i = 0; i < commandCount && n < 2; ++i)
        if (commands[i]) cmds[n++] = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, commands[i], 0};
    VkSubmitInfo2 si{VK_STRUCTURE_TYPE_SUBMIT_INFO_2};
    si.waitSemaphoreInfoCount = wait ? 1 : 0;
    si.pWaitSemaphoreInfos = wait;
    si.commandBufferInfoCount = n;
    si.pCommandBufferInfos = cmds;
    si.signalSemaphoreInfoCount = 2;
    si.pSignalSemaphoreInfos = signals;
    gpu_.lockGraphics();
    VkResult r = vkQueueSubmit2(gpu_.graphicsQueue, 1, &si, VK_NULL_HANDLE);
    gpu_.unlockGraphics();
    VK_CHECK(r);
    submitted_ = value;
}

void Renderer::waitIdle() {
    if (!submitted_) return;
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, nullptr, 0, 1, &timeline_, &submitted_};
    VK_CHECK(vkWaitSemaphores(gpu_.device, &wi, UINT64_MAX));
    for (Frame& f : frames_) collect(f);
}

}  // namespace sandbox
