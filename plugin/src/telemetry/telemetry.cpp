#include "telemetry/telemetry.h"

#include <cstring>
#include <memory>
#include <new>
#include <unistd.h>

#include "exec/context.h"
#include "sync/semaphore.h"
#include "sync/shared_state.h"
#include "exec/stream.h"

namespace baton {

std::atomic<int> g_telemetryContexts{0};

uint64_t apiClockStart() { return g_telemetryContexts.load(std::memory_order_relaxed) ? monotonicNs() : 0; }

Telemetry* activeTelemetry(Context* ctx) {
    Telemetry* t = ctx->telemetry.load(std::memory_order_acquire);
    return t && t->on() ? t : nullptr;
}

Telemetry* ensureTelemetry(Context* ctx) {
    Telemetry* t = ctx->telemetry.load(std::memory_order_acquire);
    if (t) return t;
    auto* made = new Telemetry(ctx);  // throws std::bad_alloc; entry points are guarded()
    if (!ctx->telemetry.compare_exchange_strong(t, made)) {
        delete made;  // another thread won
        return t;
    }
    return made;
}

void noteApiCost(Context* ctx, batonTelemetryApi api, uint64_t t0) {
    if (!t0) return;
    if (Telemetry* t = activeTelemetry(ctx)) t->noteApi(api, monotonicNs() - t0);
}

void notePublish(Context* ctx, const Semaphore* sem, uint64_t value) {
    Telemetry* t = activeTelemetry(ctx);
    if (!t) return;
    batonTelemetryRecord r{};
    r.kind = batonTelemetryPublish;
    r.lane = BATON_TELEMETRY_LANE_HOST;
    r.object = sem->handleId();
    r.value = value;
    r.cpuNs = r.gpuStartNs = r.gpuEndNs = monotonicNs();
    r.flags = 1;
    t->append(&r, 1);
}

Telemetry::Telemetry(Context* c) : ctx(c) {
    // No destructor runs for a constructor that throws: hold them until all are made.
    std::unique_ptr<batonTelemetryRecord[]> ring(new batonTelemetryRecord[kRing]());
    std::unique_ptr<SemSlot[]> sems(new SemSlot[kSemSlots]());
    std::unique_ptr<batonTelemetryFrame[]> frames(new batonTelemetryFrame[kFrameRing]());
    produces_ = new ProduceSlot[kProduceSlots]();
    ring_ = ring.release();
    sems_ = sems.release();
    frames_ = frames.release();
    pid_ = static_cast<uint32_t>(getpid());
    periodNs_ = c->properties.limits.timestampPeriod > 0 ? c->properties.limits.timestampPeriod : 1.0;
    hasCalibrated_.store(c->calibratedTimestamps && c->vkd.vkGetCalibratedTimestampsEXT, std::memory_order_relaxed);
    calibrate(monotonicNs());
}

Telemetry::~Telemetry() {
    setEnabled(false);
    delete[] ring_;
    delete[] sems_;
    delete[] frames_;
    delete[] produces_;
}

void Telemetry::setEnabled(bool on) {
    bool was = enabled_.exchange(on);
    if (was != on) g_telemetryContexts.fetch_add(on ? 1 : -1, std::memory_order_relaxed);
}

void Telemetry::calibrate(uint64_t hostNow) {
    if (!hasCalibrated_.load(std::memory_order_relaxed)) return;
    VkCalibratedTimestampInfoEXT infos[2] = {
        {VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT, nullptr, VK_TIME_DOMAIN_DEVICE_EXT},
        {VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT, nullptr, VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT}};
    uint64_t ts[2] = {}, deviation = 0;
    if (ctx->vkd.vkGetCalibratedTimestampsEXT(ctx->device, 2, infos, ts, &deviation) != VK_SUCCESS) {
        hasCalibrated_.store(false, std::memory_order_relaxed);  // e.g. CLOCK_MONOTONIC is not one of its domains: fall back
        return;
    }
    offsetNs_.store(static_cast<int64_t>(ts[1]) - static_cast<int64_t>(static_cast<double>(ts[0]) * periodNs_),
                    std::memory_order_relaxed);
    offsetKnown_.store(true, std::memory_order_release);
    lastCalibration_.store(hostNow, std::memory_order_relaxed);
}

uint64_t Telemetry::gpuToHost(uint64_t ticks) {
    if (!offsetKnown_.load(std::memory_order_acquire)) return 0;
    int64_t v = static_cast<int64_t>(static_cast<double>(ticks) * periodNs_) + offsetNs_.load(std::memory_order_relaxed);
    return v > 0 ? static_cast<uint64_t>(v) : 0;
}

void Telemetry::observeCompletion(uint64_t ticks, uint64_t hostNow) {
    if (hasCalibrated_.load(std::memory_order_relaxed)) {
        if (hostNow - lastCalibration_.load(std::memory_order_relaxed) > 1000000000ull) {
            std::lock_guard lock(mutex_);
            calibrate(hostNow);
        }
        return;
    }
    // Without calibrated timestamps: the write happened before hostNow, so the smallest
    // (hostNow - gpuNs) seen is the tightest estimate of the offset.
    int64_t candidate = static_cast<int64_t>(hostNow) - static_cast<int64_t>(static_cast<double>(ticks) * periodNs_);
    int64_t cur = offsetNs_.load(std::memory_order_relaxed);
    if (!offsetKnown_.load(std::memory_order_acquire)) {
        std::lock_guard lock(mutex_);
        if (!offsetKnown_.load()) {
            offsetNs_.store(candidate);
            offsetKnown_.store(true, std::memory_order_release);
            return;
        }
        cur = offsetNs_.load();
    }
    while (candidate < cur && !offsetNs_.compare_exchange_weak(cur, candidate)) {
    }
}

Telemetry::SemSlot* Telemetry::semSlot(uint64_t object) {
    uint64_t h = (object >> 4) * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < kSemSlots; ++i) {
        SemSlot& s = sems_[(h + i) % kSemSlots];
        if (s.object == object) return &s;
        if (s.object == 0) {
            s.object = object;
            return &s;
        }
    }
    return nullptr;
}

void Telemetry::countWaitLocked(const batonTelemetryRecord& r) {
    if (!r.gpuStartNs || !r.gpuEndNs || r.gpuEndNs < r.gpuStartNs) return;
    if (SemSlot* s = semSlot(r.object)) {
        uint64_t d = r.gpuEndNs - r.gpuStartNs;
        s->waitNs += d;
        if (d > s->waitMax) s->waitMax = d;
    }
}

uint64_t Telemetry::append(batonTelemetryRecord* recs, uint32_t n) {
    std::lock_guard lock(mutex_);
    const uint64_t first = next_;
    for (uint32_t i = 0; i < n; ++i) {
        batonTelemetryRecord& r = recs[i];
        r.seq = next_++;
        r.pid = pid_;
        ring_[r.seq % kRing] = r;
        if (r.kind == batonTelemetryProduce) rememberProduceLocked(r);
        if (r.kind == batonTelemetrySignal || r.kind == batonTelemetryWait || r.kind == batonTelemetryHostWait) {
            if (SemSlot* s = semSlot(r.object)) {
                if (r.kind == batonTelemetrySignal) {
                    ++s->signals;
                    if (r.gpuEndNs) s->lastSignal = r.gpuEndNs;
                } else {
                    ++s->waits;
                }
            }
            if (r.kind != batonTelemetrySignal && (r.flags & 1)) countWaitLocked(r);
        }
    }
    return first;
}

void Telemetry::resolveSubmission(uint64_t first, uint32_t n, uint64_t begin, uint64_t end, uint64_t prevEnd) {
    std::lock_guard lock(mutex_);
    for (uint64_t seq = first; seq < first + n; ++seq) {
        batonTelemetryRecord& r = ring_[seq % kRing];
        if (r.seq != seq) continue;  // overwritten already
        switch (r.kind) {
            case batonTelemetrySubmit:
                r.gpuStartNs = begin;
                r.gpuEndNs = end;
                break;
            case batonTelemetryWait: {
                // The wait held the submission back from when the queue could have run it (the
                // stream's previous work done, and the submission made) until it started.
                uint64_t from = prevEnd > r.cpuNs ? prevEnd : r.cpuNs;
                r.gpuStartNs = from < begin ? from : begin;
                r.gpuEndNs = begin;
                countWaitLocked(r);
                break;
            }
            case batonTelemetrySignal:
                r.gpuStartNs = r.gpuEndNs = end;
                if (SemSlot* s = semSlot(r.object)) s->lastSignal = end;
                break;
            default:
                break;
        }
        r.flags |= 1;
    }
}

void Telemetry::resolveOne(uint64_t seq, uint64_t start, uint64_t end) {
    std::lock_guard lock(mutex_);
    batonTelemetryRecord& r = ring_[seq % kRing];
    if (r.seq != seq) return;
    r.gpuStartNs = start;
    r.gpuEndNs = end;
    r.flags |= 1;
    if (r.kind == batonTelemetryWait) countWaitLocked(r);
    if (r.kind == batonTelemetrySignal)
        if (SemSlot* s = semSlot(r.object)) s->lastSignal = end;
}

uint32_t Telemetry::read(uint64_t after, batonTelemetryRecord* out, uint32_t capacity) {
    std::lock_guard lock(mutex_);
    uint64_t from = after + 1;
    if (next_ > kRing && from < next_ - kRing) from = next_ - kRing;
    uint32_t n = 0;
    for (uint64_t seq = from; seq < next_ && n < capacity; ++seq) out[n++] = ring_[seq % kRing];
    return n;
}

uint64_t Telemetry::lastSeq() {
    std::lock_guard lock(mutex_);
    return next_ - 1;
}

uint64_t Telemetry::firstSeq() {
    std::lock_guard lock(mutex_);
    return next_ > kRing ? next_ - kRing : 1;
}

void Telemetry::noteApi(batonTelemetryApi api, uint64_t ns) {
    ApiSlot& a = api_[api];
    a.calls.fetch_add(1, std::memory_order_relaxed);
    a.total.fetch_add(ns, std::memory_order_relaxed);
    uint64_t m = a.max.load(std::memory_order_relaxed);
    while (ns > m && !a.max.compare_exchange_weak(m, ns, std::memory_order_relaxed)) {
    }
}

void Telemetry::apiStats(batonTelemetryApi api, batonTelemetryApiStats* out) const {
    out->calls = api_[api].calls.load();
    out->totalNs = api_[api].total.load();
    out->maxNs = api_[api].max.load();
}

void Telemetry::semaphoreStats(uint64_t object, batonTelemetrySemaphoreStats* out) {
    std::lock_guard lock(mutex_);
    for (uint32_t i = 0; i < kSemSlots; ++i) {
        const SemSlot& s = sems_[i];
        if (s.object != object) continue;
        out->signals = s.signals;
        out->waits = s.waits;
        out->waitNsTotal = s.waitNs;
        out->waitNsMax = s.waitMax;
        out->lastSignalNs = s.lastSignal;
        return;
    }
}

// ---------------------------------------------------------------------------------------
// StreamTelemetry

StreamTelemetry* StreamTelemetry::create(Context* ctx, uint32_t family, uint32_t queueIndex, VkSemaphore timeline) {
    auto* t = new (std::nothrow) StreamTelemetry(ctx, (family << 16) | queueIndex, timeline);
    if (!t) return nullptr;
    if (!ctx->timestampValidBits) return t;  // records without GPU times: the family has none
    if (!t->makeTimestampObjects(family) || !t->recordPairs()) {
        // Records without GPU times; the stream reports setupFailure() (a silent fallback
        // would leave the user wondering why every GPU time reads 0).
        const DeviceTable& vk = ctx->vkd;
        if (t->queries_) vk.vkDestroyQueryPool(ctx->device, t->queries_, nullptr);
        if (t->pool_) vk.vkDestroyCommandPool(ctx->device, t->pool_, nullptr);  // frees its command buffers
        t->queries_ = VK_NULL_HANDLE;
        t->pool_ = VK_NULL_HANDLE;
    }
    return t;
}

// The command pool, the query pool and the command buffers; on failure, setupCall_ names the
// call that failed (the caller destroys what was made).
bool StreamTelemetry::makeTimestampObjects(uint32_t family) {
    const DeviceTable& vk = ctx_->vkd;
    auto check = [this](VkResult r, const char* call) {
        if (r == VK_SUCCESS) return true;
        if (r == VK_ERROR_DEVICE_LOST) ctx_->markLost(call);
        setupCall_ = call;
        setupResult_ = r;
        return false;
    };
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr, 0, family};
    if (!check(vk.vkCreateCommandPool(ctx_->device, &pci, nullptr, &pool_), "vkCreateCommandPool (telemetry)")) {
        pool_ = VK_NULL_HANDLE;
        return false;
    }
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, nullptr, 0, VK_QUERY_TYPE_TIMESTAMP, 2 * kPairs};
    if (!check(vk.vkCreateQueryPool(ctx_->device, &qi, nullptr, &queries_), "vkCreateQueryPool (telemetry)")) {
        queries_ = VK_NULL_HANDLE;
        return false;
    }
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool_,
                                   VK_COMMAND_BUFFER_LEVEL_PRIMARY, kPairs};
    return check(vk.vkAllocateCommandBuffers(ctx_->device, &ai, begin_), "vkAllocateCommandBuffers (telemetry)") &&
           check(vk.vkAllocateCommandBuffers(ctx_->device, &ai, end_), "vkAllocateCommandBuffers (telemetry)");
}

// Recorded once, reused for the life of the stream (a pair is reused only after the GPU
// passed the submission that last used it).
bool StreamTelemetry::recordPairs() {
    const DeviceTable& vk = ctx_->vkd;
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VkResult r = VK_SUCCESS;
    const char* call = nullptr;
    for (uint32_t i = 0; i < kPairs && r == VK_SUCCESS; ++i) {
        if ((r = vk.vkBeginCommandBuffer(begin_[i], &bi)) != VK_SUCCESS) {
            call = "vkBeginCommandBuffer (telemetry)";
            break;
        }
        vk.vkCmdResetQueryPool(begin_[i], queries_, 2 * i, 2);
        vk.vkCmdWriteTimestamp2(begin_[i], VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, queries_, 2 * i);
        if ((r = vk.vkEndCommandBuffer(begin_[i])) != VK_SUCCESS) call = "vkEndCommandBuffer (telemetry)";
        else if ((r = vk.vkBeginCommandBuffer(end_[i], &bi)) != VK_SUCCESS) call = "vkBeginCommandBuffer (telemetry)";
        if (call) break;
        vk.vkCmdWriteTimestamp2(end_[i], VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, queries_, 2 * i + 1);
        if ((r = vk.vkEndCommandBuffer(end_[i])) != VK_SUCCESS) call = "vkEndCommandBuffer (telemetry)";
    }
    if (!call) return true;
    setupCall_ = call;
    setupResult_ = r;
    return false;
}

StreamTelemetry::~StreamTelemetry() {
    // The stream is closed and the GPU has passed all of its work (Stream::close waited):
    // what has not been read yet resolves now, or a stream destroyed before the capture
    // stops would leave its last submissions without GPU times (and their flows out).
    resolve();
    if (queries_) ctx_->vkd.vkDestroyQueryPool(ctx_->device, queries_, nullptr);
    if (pool_) ctx_->vkd.vkDestroyCommandPool(ctx_->device, pool_, nullptr);
}

void StreamTelemetry::stash(const Op& op) {
    stashed_ = false;
    if (op.kind == OpKind::Signal && op.sem) {
        stash_ = {batonTelemetrySignal, op.sem->handleId(), op.value};
        stashed_ = true;
    } else if (op.kind == OpKind::Wait && op.sem && op.sem->has(kSemNative)) {
        stash_ = {batonTelemetryWait, op.sem->handleId(), op.value};
        stashed_ = true;
    }
}

void StreamTelemetry::commit() {
    if (stashed_ && pendingCount_ < kPending) pending_[pendingCount_++] = stash_;
    stashed_ = false;
}

bool StreamTelemetry::bracket(VkCommandBufferSubmitInfo* first, VkCommandBufferSubmitInfo* last) {
    bracketed_ = false;
    if (!queries_) return false;
    std::unique_lock lock(mutex_);
    if (issued_ - resolved_ == kPairs) {
        lock.unlock();
        resolve();
        lock.lock();
        if (issued_ - resolved_ == kPairs) return false;  // GPU far behind: this one goes untimed
    }
    uint32_t i = static_cast<uint32_t>(issued_ % kPairs);
    // Resolved maybe on another thread: the layer's view on this one before the pair goes again.
    ctx_->settleForValidation(timeline_, lastPoint_[i]);
    *first = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, begin_[i], 0};
    *last = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, nullptr, end_[i], 0};
    bracketed_ = true;
    return true;
}

void StreamTelemetry::submitted(uint64_t point, bool ok) {
    Telemetry* tel = activeTelemetry(ctx_);
    if (!tel || !ok) {
        pendingCount_ = 0;
        if (bracketed_ && ok) {  // keep the pair's bookkeeping consistent
            std::lock_guard lock(mutex_);
            pairs_[issued_ % kPairs] = {point, 0, 0};
            ++issued_;
        }
        bracketed_ = false;
        return;
    }
    batonTelemetryRecord recs[kPending + 1] = {};
    const uint64_t now = monotonicNs();
    recs[0].kind = batonTelemetrySubmit;
    recs[0].lane = lane;
    recs[0].object = reinterpret_cast<uintptr_t>(timeline_);
    recs[0].value = point;
    recs[0].cpuNs = now;
    for (uint32_t i = 0; i < pendingCount_; ++i) {
        batonTelemetryRecord& r = recs[i + 1];
        r.kind = pending_[i].kind;
        r.lane = lane;
        r.object = pending_[i].object;
        r.value = pending_[i].value;
        r.cpuNs = now;
    }
    const uint32_t n = pendingCount_ + 1;
    pendingCount_ = 0;
    uint64_t first = tel->append(recs, n);
    if (bracketed_) {
        std::lock_guard lock(mutex_);
        pairs_[issued_ % kPairs] = {point, first, n};
        ++issued_;
    }
    bracketed_ = false;
}

void StreamTelemetry::hostWait(const Semaphore* s, uint64_t value, uint64_t t0, uint64_t t1) {
    Telemetry* tel = activeTelemetry(ctx_);
    if (!tel) return;
    batonTelemetryRecord r{};
    r.kind = batonTelemetryHostWait;
    r.lane = lane;
    r.object = s->handleId();
    r.value = value;
    r.cpuNs = t0;
    r.gpuStartNs = t0;
    r.gpuEndNs = t1;
    r.flags = 1;
    tel->append(&r, 1);
}

void StreamTelemetry::resolve() {
    Telemetry* tel = ctx_->telemetry.load(std::memory_order_acquire);
    if (!queries_ || !tel) return;
    std::lock_guard lock(mutex_);
    if (resolved_ == issued_) return;
    uint64_t done = 0;
    VkResult cr = ctx_->vkd.vkGetSemaphoreCounterValue(ctx_->device, timeline_, &done);
    if (cr != VK_SUCCESS) {  // nothing resolves; a loss is the context's to report (sticky)
        if (cr == VK_ERROR_DEVICE_LOST) ctx_->markLost("vkGetSemaphoreCounterValue (telemetry)");
        return;
    }
    const uint64_t now = monotonicNs();
    while (resolved_ < issued_) {
        const uint32_t i = static_cast<uint32_t>(resolved_ % kPairs);
        Pair& p = pairs_[i];
        if (p.point > done) break;
        uint64_t ticks[2] = {};
        VkResult r = ctx_->vkd.vkGetQueryPoolResults(ctx_->device, queries_, 2 * i, 2, sizeof ticks, ticks,
                                                      sizeof ticks[0], VK_QUERY_RESULT_64_BIT);
        if (r == VK_ERROR_DEVICE_LOST) {
            ctx_->markLost("vkGetQueryPoolResults (telemetry)");
            return;
        }
        if (r == VK_SUCCESS) {
            tel->observeCompletion(ticks[1], now);
            uint64_t b = tel->gpuToHost(ticks[0]), e = tel->gpuToHost(ticks[1]);
            if (p.count) tel->resolveSubmission(p.firstSeq, p.count, b, e, prevEnd_);
            prevEnd_ = e;
        }
        lastPoint_[i] = p.point;
        p = {};
        ++resolved_;
    }
}

}  // namespace baton
