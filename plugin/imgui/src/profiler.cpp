// baton::imgui::Profiler: reading telemetry into the rings, the window, the controls.
#include <algorithm>
#include <ctime>

#include <imgui.h>

#include "profiler_state.h"

namespace baton {
namespace imgui {

namespace {

constexpr uint64_t kResolveWindow = 4096;  // records re-read at most this far back for their GPU times

uint64_t threadCpuNs() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec);
}

}  // namespace

Profiler::Profiler(batonContext_t ctx, const ProfilerConfig& config) : s_(new State) {
    s_->ctx = ctx;
    s_->config = config;
    s_->records.assign(std::max(config.records, 1024u), batonTelemetryRecord{});
    s_->scratch.assign(1024, batonTelemetryRecord{});
    s_->frames.assign(std::max(config.frames, 64u), batonTelemetryFrame{});
    s_->frameScratch.assign(256, batonTelemetryFrame{});
    s_->signals.reserve(s_->records.size());
    s_->lanes.reserve(64);
    s_->bins.assign(48, 0.0f);
    s_->sortScratch.reserve(s_->frames.size());
    if (config.enableTelemetry) batonTelemetryEnable(ctx, 1);
}

Profiler::~Profiler() { delete s_; }

// Reads from the oldest record still unresolved (its GPU times come later) or the newest
// one seen, whichever is first, so that a copy gets its times once telemetry has them.
void Profiler::State::read() {
    uint64_t from = std::min(firstUnresolved, newestRecord + 1);
    if (newestRecord > kResolveWindow && from < newestRecord - kResolveWindow) from = newestRecord - kResolveWindow;
    if (from < oldestRecord()) from = oldestRecord();
    uint64_t unresolved = 0;
    for (;;) {
        unsigned n = 0;
        if (batonTelemetryRead(ctx, from - 1, scratch.data(), static_cast<unsigned>(scratch.size()), &n) != batonSuccess)
            break;
        for (unsigned i = 0; i < n; ++i) {
            const batonTelemetryRecord& r = scratch[i];
            records[r.seq % records.size()] = r;
            newestRecord = std::max<uint64_t>(newestRecord, r.seq);
            // Submissions, waits, signals and consumer zones get GPU times later.
            const bool pending = !(r.flags & 1) && r.kind != batonTelemetryProduce;
            if (pending && !unresolved) unresolved = r.seq;
        }
        if (n < scratch.size()) break;
        from = scratch[n - 1].seq + 1;
    }
    firstUnresolved = unresolved ? unresolved : newestRecord + 1;
    for (;;) {
        unsigned n = 0;
        if (batonTelemetryReadFrames(ctx, newestFrame, frameScratch.data(), static_cast<unsigned>(frameScratch.size()),
                                     &n) != batonSuccess)
            break;
        for (unsigned i = 0; i < n; ++i) frames[frameScratch[i].seq % frames.size()] = frameScratch[i];
        if (n) newestFrame = frameScratch[n - 1].seq;
        if (n < frameScratch.size()) break;
    }
}

const batonTelemetryFrame* Profiler::State::findFrame(unsigned long long frame) const {
    for (uint64_t seq = newestFrame; seq >= oldestFrame() && seq; --seq)
        if (const batonTelemetryFrame* f = frameBySeq(seq); f && f->frame == frame) return f;
    return nullptr;
}

void Profiler::State::followLive() {
    if (viewSet || !newestFrame) {
        if (!viewSet && newestRecord) {  // no channel frames: the last 20 ms of records
            const batonTelemetryRecord* r = record(newestRecord);
            const uint64_t end = r ? std::max<uint64_t>(r->gpuEndNs, r->cpuNs) : 0;
            if (end) axis.set(end > 20'000'000 ? end - 20'000'000 : 0, end);
        }
        return;
    }
    const uint64_t n = std::min<uint64_t>(config.timelineFrames, newestFrame - oldestFrame() + 1);
    const batonTelemetryFrame* last = frameBySeq(newestFrame);
    const batonTelemetryFrame* first = frameBySeq(newestFrame - n + 1);
    if (!last || !first) return;
    const uint64_t start = first->produceStartNs ? first->produceStartNs : first->produceCpuNs;
    const uint64_t end = std::max(last->consumeEndNs, start + 1000);
    const uint64_t margin = (end - start) / 20;
    axis.set(start > margin ? start - margin : 0, end + margin);
}

void Profiler::update() {
    const uint64_t t0 = threadCpuNs();
    if (!s_->paused) s_->read();
    s_->lastCostUs = static_cast<double>(threadCpuNs() - t0) * 1e-3;
}

void Profiler::draw(const char* title, bool* open) {
    const uint64_t t0 = threadCpuNs();
    if (ImGui::Begin(title, open)) {
        const ImVec2 p = ImGui::GetWindowPos(), sz = ImGui::GetWindowSize();
        s_->windowRect[0] = p.x;
        s_->windowRect[1] = p.y;
        s_->windowRect[2] = sz.x;
        s_->windowRect[3] = sz.y;
        drawControls();
        if (ImGui::BeginTable("##baton_profiler", 2, ImGuiTableFlags_Resizable | ImGuiTableFlags_BordersInnerV)) {
            ImGui::TableSetupColumn("inspector", ImGuiTableColumnFlags_WidthStretch, 3.0f);
            ImGui::TableSetupColumn("latency", ImGuiTableColumnFlags_WidthStretch, 1.0f);
            ImGui::TableNextColumn();
            drawInspector();
            ImGui::TableNextColumn();
            drawLatency();
            drawJourney();
            ImGui::EndTable();
        }
    }
    ImGui::End();
    // The update before counts too: the profiler's whole CPU cost per frame.
    s_->lastCostUs += static_cast<double>(threadCpuNs() - t0) * 1e-3;
    s_->costSumUs += s_->lastCostUs;
    ++s_->costSamples;
}

void Profiler::drawControls() {
    if (ImGui::Button(s_->paused ? "resume" : "pause")) setPaused(!s_->paused);
    const ImVec2 b0 = ImGui::GetItemRectMin(), b1 = ImGui::GetItemRectMax();
    s_->pauseRect[0] = b0.x;
    s_->pauseRect[1] = b0.y;
    s_->pauseRect[2] = b1.x - b0.x;
    s_->pauseRect[3] = b1.y - b0.y;
    ImGui::SameLine();
    int n = static_cast<int>(s_->config.timelineFrames);
    ImGui::SetNextItemWidth(120);
    if (ImGui::SliderInt("frames shown", &n, 1, 64)) {
        s_->config.timelineFrames = static_cast<unsigned>(n);
        s_->viewSet = false;
    }
    ImGui::SameLine();
    if (ImGui::Button("follow live")) {
        s_->viewSet = false;
        s_->paused = false;
    }
    ImGui::SameLine();
    const LatencySummary l = latency();
    ImGui::Text("handoff p50 %.1f us  p99 %.1f us  (%llu frames)   profiler %.0f us/frame", l.p50Us, l.p99Us, l.frames,
                meanCostUs());
}

bool Profiler::paused() const { return s_->paused; }
void Profiler::setPaused(bool p) {
    s_->paused = p;
    if (!p) s_->viewSet = false;
}
void Profiler::selectFrame(unsigned long long frame) { s_->selected = frame; }
unsigned long long Profiler::selectedFrame() const { return s_->selected; }

void Profiler::setView(uint64_t startNs, uint64_t endNs) {
    s_->axis.set(startNs, endNs);
    s_->viewSet = true;
    s_->paused = true;
}

void Profiler::showFrame(unsigned long long frame, unsigned around) {
    s_->selected = frame;
    uint64_t start = UINT64_MAX, end = 0;
    for (unsigned long long k = frame > around ? frame - around : 1; k <= frame + around; ++k)
        if (const batonTelemetryFrame* f = s_->findFrame(k); f && (f->flags & BATON_TELEMETRY_FRAME_TIMED)) {
            start = std::min<uint64_t>(start, f->produceStartNs);
            end = std::max<uint64_t>(end, f->consumeEndNs);
        }
    if (end <= start) return;
    const uint64_t margin = (end - start) / 20;
    setView(start - margin, end + margin);
}

void Profiler::zoom(double factor) {
    float px = static_cast<float>((s_->axis.pixels.x + s_->axis.pixels.y) / 2);
    if (const batonTelemetryFrame* f = s_->selected ? s_->findFrame(s_->selected) : nullptr)
        px = (s_->axis.x(f->readyNs) + s_->axis.x(f->consumeStartNs)) / 2;
    s_->axis.zoomAt(px, factor);
    s_->viewSet = true;
    s_->paused = true;
}

LatencySummary Profiler::latency() const {
    LatencySummary out;
    std::vector<double>& v = s_->sortScratch;  // reserved for every frame: no allocation
    v.clear();
    double sum = 0;
    for (uint64_t seq = s_->oldestFrame(); seq && seq <= s_->newestFrame; ++seq) {
        const batonTelemetryFrame* f = s_->frameBySeq(seq);
        if (!f || !(f->flags & BATON_TELEMETRY_FRAME_TIMED)) continue;
        const double us = static_cast<double>(f->handoffNs) * 1e-3;
        v.push_back(us);
        sum += us;
        out.maxUs = std::max(out.maxUs, us);
    }
    out.frames = v.size();
    if (v.empty()) return out;
    out.meanUs = sum / static_cast<double>(v.size());
    auto pct = [&](double p) {
        const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
        return v[k];
    };
    out.p50Us = pct(0.5);
    out.p99Us = pct(0.99);
    v.clear();
    for (uint64_t seq = s_->oldestFrame(); seq && seq <= s_->newestFrame; ++seq)
        if (const batonTelemetryFrame* f = s_->frameBySeq(seq); f && (f->flags & BATON_TELEMETRY_FRAME_TIMED))
            v.push_back(static_cast<double>(f->frameNs) * 1e-3);
    out.presentP50Us = pct(0.5);
    out.presentP99Us = pct(0.99);
    return out;
}

unsigned long long Profiler::lastFrame() const {
    const batonTelemetryFrame* f = s_->newestFrame ? s_->frameBySeq(s_->newestFrame) : nullptr;
    return f ? f->frame : 0;
}

const float* Profiler::windowRect() const { return s_->windowRect; }
const float* Profiler::timelineRect() const { return s_->timelineRect; }
const float* Profiler::pauseButtonRect() const { return s_->pauseRect; }
double Profiler::lastCostUs() const { return s_->lastCostUs; }
double Profiler::meanCostUs() const { return s_->costSamples ? s_->costSumUs / static_cast<double>(s_->costSamples) : 0; }

}  // namespace imgui
}  // namespace baton
