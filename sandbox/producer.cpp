#include "producer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "julia_reference.h"
#include "shaders.h"

namespace sandbox {
namespace {

constexpr uint32_t kBurnGroups = 16;  // x 64 invocations

struct RecordArgs {
    VkPipeline julia, burn;
    VkPipelineLayout layout;
    VkDescriptorSet set;
    VkQueryPool queries;
    uint32_t query;
    uint32_t loops;
    uint32_t width, height;
    uint64_t animFrame;
};

VkPipeline computePipeline(VkDevice device, VkPipelineLayout layout, const Spirv& spirv) {
    VkShaderModule m = createShader(device, spirv);
    VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT, m, "main"};
    ci.layout = layout;
    VkPipeline p = VK_NULL_HANDLE;
    VK_CHECK(vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &ci, nullptr, &p));
    vkDestroyShaderModule(device, m, nullptr);
    return p;
}

// Deterministic jitter in [-1, 1] per sequence (xorshift of the sequence number).
float jitterUnit(uint64_t seq) {
    uint64_t x = seq * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return static_cast<float>(x % 20001) / 10000.0f - 1.0f;
}

}  // namespace

Producer::Producer(Gpu& gpu, batonContext_t ctx, GpuClock& clock, Telemetry& telemetry, ProducerControls& controls)
    : gpu_(gpu), ctx_(ctx), clock_(clock), telemetry_(telemetry), controls_(controls) {
    BATON_CHECK(batonStreamCreate(&stream_));
    VkDevice d = gpu.device;
    VkDescriptorSetLayoutBinding bindings[2] = {
        {0, VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr},
        {1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr}};
    VkDescriptorSetLayoutCreateInfo sl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, nullptr, 0, 2, bindings};
    VK_CHECK(vkCreateDescriptorSetLayout(d, &sl, nullptr, &setLayout_));
    VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(JuliaPush)};  // burn.comp's 4 bytes fit too
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, nullptr, 0, 1, &setLayout_, 1, &push};
    VK_CHECK(vkCreatePipelineLayout(d, &pl, nullptr, &layout_));
    julia_ = computePipeline(d, layout_, kJuliaComp);
    burn_ = computePipeline(d, layout_, kBurnComp);
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, 8}, {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 8}};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, nullptr, 0, 8, 2, sizes};
    VK_CHECK(vkCreateDescriptorPool(d, &dp, nullptr, &pool_));
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = kBurnGroups * 64 * sizeof(float);
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    VK_CHECK(vkCreateBuffer(d, &bci, nullptr, &sink_));
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(d, sink_, &req);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                             gpu.memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)};
    VK_CHECK(vkAllocateMemory(d, &mai, nullptr, &sinkMemory_));
    VK_CHECK(vkBindBufferMemory(d, sink_, sinkMemory_, 0));
    if (gpu.computeTimestampBits) {
        VkQueryPoolCreateInfo qp{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, nullptr, 0, VK_QUERY_TYPE_TIMESTAMP,
                                 kInFlight * 3};
        VK_CHECK(vkCreateQueryPool(d, &qp, nullptr, &queries_));
    }
    burnLoops_ = 256;
}

Producer::~Producer() {
    stop();
    batonStreamSynchronize(stream_);
    batonStreamDestroy(stream_);
    VkDevice d = gpu_.device;
    vkDestroyQueryPool(d, queries_, nullptr);
    vkDestroyBuffer(d, sink_, nullptr);
    vkFreeMemory(d, sinkMemory_, nullptr);
    vkDestroyDescriptorPool(d, pool_, nullptr);
    vkDestroyPipeline(d, julia_, nullptr);
    vkDestroyPipeline(d, burn_, nullptr);
    vkDestroyPipelineLayout(d, layout_, nullptr);
    vkDestroyDescriptorSetLayout(d, setLayout_, nullptr);
}

void Producer::start(Handoff& handoff) {
    handoff_ = &handoff;
    const uint32_t depth = std::min<uint32_t>(handoff.config().depth, 8);
    VK_CHECK(vkResetDescriptorPool(gpu_.device, pool_, 0));
    VkDescriptorSetLayout layouts[8];
    std::fill(layouts, layouts + 8, setLayout_);
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, nullptr, pool_, depth, layouts};
    VK_CHECK(vkAllocateDescriptorSets(gpu_.device, &ai, sets_));
    for (uint32_t i = 0; i < depth; ++i) {
        VkDescriptorImageInfo img{VK_NULL_HANDLE, handoff.view(i), VK_IMAGE_LAYOUT_GENERAL};
        VkDescriptorBufferInfo buf{sink_, 0, VK_WHOLE_SIZE};
        VkWriteDescriptorSet w[2] = {};
        w[0] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, sets_[i], 0, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, &img};
        w[1] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, sets_[i], 1, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                nullptr, &buf};
        vkUpdateDescriptorSets(gpu_.device, 2, w, 0, nullptr);
    }
    lastEnqueued_ = lastCollected_ = 0;
    prevGpuEnd_ = 0;
    stop_ = false;
    thread_ = std::thread([this] { loop(); });
}

uint64_t Producer::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    telemetry_.producerWants = 0;
    return lastEnqueued_;
}

void Producer::synchronize() { BATON_CHECK(batonStreamSynchronize(stream_)); }

void Producer::loop() {
    BATON_CHECK(batonCtxSetCurrent(ctx_));
    uint64_t seq = 1;
    while (!stop_.load()) {
        if (controls_.paused.load()) {
            telemetry_.producerWants = 0;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        // Throttle: at most kAhead frames in flight, in slices so that stop() is prompt.
        if (seq > kAhead && !handoff_->waitReady(seq - kAhead, 20'000'000ull)) continue;
        while (seq > kAhead && lastCollected_ < seq - kAhead) collect(++lastCollected_);
        if (!handoff_->waitSlot(20'000'000ull)) continue;  // another process's consumer still holds it
        enqueueFrame(seq);
        lastEnqueued_ = seq++;
    }
}

bool Producer::enqueueFrame(uint64_t seq) {
    Pending& p = pending_[seq % kInFlight];
    p.self = this;
    p.sequence = seq;
    p.animFrame = handoff_->config().animBase + seq;
    p.enqueueNs = nowNs();
    p.delayStart = p.delayEnd = 0;
    float delay = controls_.delayMs.load() + controls_.jitterMs.load() * jitterUnit(seq);
    p.delayMs = std::max(0.0f, delay);
    if (p.delayMs > 0) BATON_CHECK(batonLaunchHostFunc(stream_, injectDelay, &p));
    const uint32_t depth = handoff_->config().depth;
    const uint32_t slot = static_cast<uint32_t>((seq - 1) % depth);  // every handoff's layout
    if (seq > depth) {
        telemetry_.producerWants = seq - depth;
        telemetry_.producerWantsSince = nowNs();
    }
    RecordArgs args{};
    args.julia = julia_;
    args.burn = controls_.costMs.load() > 0 ? burn_ : VK_NULL_HANDLE;
    args.layout = layout_;
    args.set = sets_[slot];
    args.queries = queries_;
    args.query = (seq % kInFlight) * 3;
    args.loops = static_cast<uint32_t>(burnLoops_.load());
    args.width = handoff_->config().extent.width;
    args.height = handoff_->config().extent.height;
    args.animFrame = p.animFrame;
    p.burned = args.burn != VK_NULL_HANDLE;
    BATON_CHECK(handoff_->produce(stream_, seq, recordFrame, &args));
    telemetry_.enqueued.fetch_add(1);
    return true;
}

void Producer::recordFrame(VkCommandBuffer cmd, void* user) {
    const auto& a = *static_cast<const RecordArgs*>(user);
    if (a.queries) {
        vkCmdResetQueryPool(cmd, a.queries, a.query, 3);
        vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT, a.queries, a.query);
    }
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, a.layout, 0, 1, &a.set, 0, nullptr);
    if (a.burn) {
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, a.burn);
        uint32_t push[4] = {a.loops, 0, 0, 0};
        vkCmdPushConstants(cmd, a.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, push);
        vkCmdDispatch(cmd, kBurnGroups, 1, 1);
    }
    if (a.queries) vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT, a.queries, a.query + 1);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, a.julia);
    // The frame's view of the Julia zoom, computed here with glm (the shader applies it per pixel).
    const JuliaPush push = juliaPush(a.width, a.height, static_cast<uint32_t>(a.animFrame));
    vkCmdPushConstants(cmd, a.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, &push);
    vkCmdDispatch(cmd, (a.width + 7) / 8, (a.height + 7) / 8, 1);
    if (a.queries) vkCmdWriteTimestamp2(cmd, VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT, a.queries, a.query + 2);
}

void Producer::injectDelay(void* user) {
    auto& p = *static_cast<Pending*>(user);
    p.delayStart = nowNs();
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(p.delayMs * 1000.0f)));
    p.delayEnd = nowNs();
}

void Producer::collect(uint64_t seq) {
    Pending& p = pending_[seq % kInFlight];
    telemetry_.produced = seq;
    if (p.delayEnd) telemetry_.addSpan({p.delayStart, p.delayEnd, p.animFrame, Lane::ProducerHost, SpanKind::Delay});
    if (!queries_) return;
    uint64_t ts[3] = {};
    VK_CHECK(vkGetQueryPoolResults(gpu_.device, queries_, (seq % kInFlight) * 3, 3, sizeof ts, ts, sizeof ts[0],
                                   VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    const uint32_t bits = gpu_.computeTimestampBits;
    uint64_t t0 = clock_.toHost(ts[0], bits), t1 = clock_.toHost(ts[1], bits), t2 = clock_.toHost(ts[2], bits);
    if (p.burned) telemetry_.addSpan({t0, t1, p.animFrame, Lane::ComputeQueue, SpanKind::Cost});
    telemetry_.addSpan({t1, t2, p.animFrame, Lane::ComputeQueue, SpanKind::Work});
    // Time the stream could have started but did not: waiting for a free slot (or, on a
    // shared queue, for the graphics work ahead of it).
    uint64_t could = std::max({prevGpuEnd_, p.delayEnd.load(), p.enqueueNs});
    double stallMs = 0;
    if (seq > handoff_->config().depth && t0 > could) {
        stallMs = static_cast<double>(t0 - could) * 1e-6;
        if (stallMs > 0.05) telemetry_.addSpan({could, t0, p.animFrame, Lane::ComputeQueue, SpanKind::Stall});
    }
    telemetry_.addProducerStall(stallMs);
    prevGpuEnd_ = t2;
    const double costMs = clock_.ticksToMs(ts[1] - ts[0]), workMs = clock_.ticksToMs(ts[2] - ts[1]);
    telemetry_.producerCostMs = p.burned ? costMs : 0.0;
    telemetry_.producerGpuMs = workMs;
    // The cost knob: steer the loop count toward the requested milliseconds.
    const float target = controls_.costMs.load();
    if (target > 0 && p.burned) {
        double ratio = costMs > 0.001 ? target / costMs : 4.0;
        ratio = std::clamp(ratio, 0.5, 2.0);
        uint64_t loops = static_cast<uint64_t>(static_cast<double>(burnLoops_.load()) * ratio);
        burnLoops_ = std::clamp<uint64_t>(loops, 1, 1ull << 30);
    }
}

}  // namespace sandbox
