#include "panel.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>

#include <imgui.h>

#include "gpu.h"
#include "telemetry.h"

namespace sandbox {
namespace {

constexpr double kTimelineSeconds = 2.0;
constexpr uint64_t kNoSignalWarnNs = 250'000'000;  // a wait pending this long with no signal in sight

ImU32 spanColor(const Span& s) {
    switch (s.kind) {
        case SpanKind::Work: return s.lane == Lane::GraphicsQueue ? IM_COL32(90, 150, 255, 255) : IM_COL32(60, 200, 170, 255);
        case SpanKind::Cost: return IM_COL32(240, 160, 60, 255);
        case SpanKind::Delay: return IM_COL32(170, 110, 230, 255);
        case SpanKind::Stall: return IM_COL32(235, 70, 70, 255);
        case SpanKind::Wait: return IM_COL32(230, 210, 80, 255);
        case SpanKind::Present: return IM_COL32(160, 160, 160, 255);
    }
    return IM_COL32_WHITE;
}

// Several series in one frame, each with its own colour, over a shared y range.
void plotSeries(const char* id, const std::vector<ValueSample>& v, size_t last, float height) {
    ImGui::PushID(id);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    const float w = ImGui::GetContentRegionAvail().x;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->AddRectFilled(p0, ImVec2(p0.x + w, p0.y + height), IM_COL32(20, 22, 30, 230), 3.0f);
    const size_t n = std::min(last, v.size());
    if (n >= 2) {
        const size_t b = v.size() - n;
        double lo = static_cast<double>(v[b].releasedCurrent), hi = static_cast<double>(v.back().readyPending);
        for (size_t i = b; i < v.size(); ++i) {
            lo = std::min(lo, static_cast<double>(v[i].releasedCurrent));
            hi = std::max(hi, static_cast<double>(v[i].readyPending));
        }
        if (hi - lo < 4) hi = lo + 4;
        const ImU32 colors[4] = {IM_COL32(60, 200, 170, 255), IM_COL32(60, 200, 170, 110), IM_COL32(235, 120, 90, 255),
                                 IM_COL32(235, 120, 90, 110)};
        for (int s = 3; s >= 0; --s) {
            ImVec2 prev{};
            for (size_t i = b; i < v.size(); ++i) {
                const uint64_t val = s == 0 ? v[i].readyCurrent : s == 1 ? v[i].readyPending
                                   : s == 2 ? v[i].releasedCurrent : v[i].releasedPending;
                ImVec2 p{p0.x + 2 + (w - 4) * static_cast<float>(i - b) / static_cast<float>(n - 1),
                         p0.y + height - 2 - (height - 4) * static_cast<float>((static_cast<double>(val) - lo) / (hi - lo))};
                if (i > b) dl->AddLine(prev, p, colors[s], s % 2 ? 1.0f : 1.8f);
                prev = p;
            }
        }
        char buf[48];
        std::snprintf(buf, sizeof buf, "%.0f", hi);
        dl->AddText(ImVec2(p0.x + 4, p0.y + 2), IM_COL32(200, 200, 200, 160), buf);
        std::snprintf(buf, sizeof buf, "%.0f", lo);
        dl->AddText(ImVec2(p0.x + 4, p0.y + height - 16), IM_COL32(200, 200, 200, 160), buf);
    }
    ImGui::Dummy(ImVec2(w, height));
    ImGui::PopID();
}

}  // namespace

void Panel::noteRect(const char* name, const float r[4]) {
    int i = 0;
    while (i < widgetCount_ && widgets_[i].name != name) ++i;
    if (i == kWidgets) return;
    if (i == widgetCount_) ++widgetCount_;
    widgets_[i] = {name, {r[0], r[1], r[2], r[3]}};
}

void Panel::noteWidget(const char* name) {
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    const float r[4] = {a.x, a.y, b.x - a.x, b.y - a.y};
    noteRect(name, r);
}

void Panel::draw(const PanelInputs& in, Settings* settings, bool* paused, PanelActions* actions) {
    const ImGuiIO& io = ImGui::GetIO();
    const float width = std::min(440.0f, io.DisplaySize.x * 0.5f);
    ImGui::SetNextWindowPos(ImVec2(10, 10), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(width, io.DisplaySize.y - 20), ImGuiCond_Always);
    ImGui::SetNextWindowBgAlpha(0.86f);
    ImGui::Begin("baton sandbox", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                                               ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings);
    const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
    rect_[0] = pos.x;
    rect_[1] = pos.y;
    rect_[2] = size.x;
    rect_[3] = size.y;

    ImGui::TextColored(ImVec4(0.55f, 0.85f, 1.0f, 1.0f), "%s", in.device);
    ImGui::Text("%s | %s%s | %s", in.mode, backendName(in.backendInUse),
                in.backendInUse == SemBackend::Keyed ? " mutexes" : " timelines",
                in.queueShared ? "one queue, shared (locked)" : "compute queue beside graphics");
    ImGui::Text("animation frame %llu   ring rebuilds %llu", static_cast<unsigned long long>(in.animFrame),
                static_cast<unsigned long long>(in.ringRebuilds));
    if (in.producerWhere == ProducerWhere::Process) {
        ImGui::TextDisabled("producer process %d, %s (its lanes: from the channel)", in.processPid,
                            in.processAlive ? "running" : "dead");
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("The child's produce calls, slot waits and GPU work come through the shared\n"
                              "channel's control page into baton's telemetry here (producer host, compute\n"
                              "queue lanes); its counters over the socket. Semaphore values are read live.");
    } else {
        ImGui::TextDisabled("producer: a thread of this process");
    }
    warnings(in);
    if (ImGui::CollapsingHeader("Semaphores", ImGuiTreeNodeFlags_DefaultOpen)) semaphoreSection(in);
    if (ImGui::CollapsingHeader("Queue timeline", ImGuiTreeNodeFlags_DefaultOpen)) timelineSection(in);
    if (ImGui::CollapsingHeader("Stalls", ImGuiTreeNodeFlags_DefaultOpen)) stallSection(in);
    if (ImGui::CollapsingHeader("Frames", ImGuiTreeNodeFlags_DefaultOpen)) frameSection(in);
    if (in.profiler && ImGui::CollapsingHeader("Handoff latency (baton telemetry)", ImGuiTreeNodeFlags_DefaultOpen))
        in.profiler->drawLatency();
    ImGui::End();

    // The controls in a window of their own, top right, so that everything fits at 720p.
    const float cw = std::min(400.0f, io.DisplaySize.x - width - 30);
    ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x - cw - 10, 10), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(cw, 0), ImGuiCond_Always);
    ImGui::SetNextWindowBgAlpha(0.80f);
    ImGui::Begin("controls", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                          ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_AlwaysAutoResize);
    controls(in, settings, paused, actions);
    const ImVec2 cpos = ImGui::GetWindowPos(), csize = ImGui::GetWindowSize();
    controlsRect_[0] = cpos.x;
    controlsRect_[1] = cpos.y;
    controlsRect_[2] = csize.x;
    controlsRect_[3] = csize.y;
    ImGui::End();
    inspector(in, settings);
}

// baton's frame inspector (baton::imgui), in the space right of the panel and below the
// controls.
void Panel::inspector(const PanelInputs& in, Settings* s) {
    for (float& v : inspectorRect_) v = 0;
    if (!in.profiler || !s->inspector) return;
    const ImGuiIO& io = ImGui::GetIO();
    const float x = rect_[0] + rect_[2] + 10, y = controlsRect_[1] + controlsRect_[3] + 10;
    ImGui::SetNextWindowPos(ImVec2(x, y), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(std::max(io.DisplaySize.x - x - 10, 200.0f), std::max(io.DisplaySize.y - y - 10, 150.0f)),
                             ImGuiCond_Always);
    ImGui::SetNextWindowBgAlpha(0.90f);
    in.profiler->draw("frame inspector", &s->inspector);
    const float* r = in.profiler->windowRect();
    for (int i = 0; i < 4; ++i) inspectorRect_[i] = r[i];
    noteRect("inspector_pause", in.profiler->pauseButtonRect());
    noteRect("inspector_timeline", in.profiler->timelineRect());
}

void Panel::warnings(const PanelInputs& in) {
    const Telemetry& t = *in.telemetry;
    if (in.producerWhere == ProducerWhere::Process && !in.processAlive) {
        ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.35f, 1.0f), "! producer %d %s: repeating the last frame",
                           in.processPid, in.processExit.empty() ? "is gone" : in.processExit.c_str());
        return;  // nothing it would have signaled is waited for any more
    }
    SemaphoreView sems[2];
    if (in.handoff->semaphores(sems, 2) < 2) return;
    batonExternalSemaphoreInfo ready{}, released{};
    batonExternalSemaphoreGetInfo(sems[0].sem, &ready);
    batonExternalSemaphoreGetInfo(sems[1].sem, &released);
    const uint64_t now = nowNs();
    const uint64_t cw = t.consumerWants.load(), cs = t.consumerWantsSince.load();
    if (cw && ready.pendingValue < cw && cs && now - cs > kNoSignalWarnNs)
        ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.35f, 1.0f), "! graphics waits for ready >= %llu: no signal pending for %.0f ms",
                           static_cast<unsigned long long>(cw), static_cast<double>(now - cs) * 1e-6);
    const uint64_t pw = t.producerWants.load(), ps = t.producerWantsSince.load();
    if (pw && released.pendingValue < pw && ps && now - ps > kNoSignalWarnNs)
        ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.35f, 1.0f),
                           "! stream waits for released >= %llu: no signal pending for %.0f ms (consumer not presenting?)",
                           static_cast<unsigned long long>(pw), static_cast<double>(now - ps) * 1e-6);
}

void Panel::semaphoreSection(const PanelInputs& in) {
    SemaphoreView sems[10];
    const uint32_t n = in.handoff->semaphores(sems, 10);
    if (ImGui::BeginTable("sems", 5, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV)) {
        ImGui::TableSetupColumn("semaphore");
        ImGui::TableSetupColumn("backend");
        ImGui::TableSetupColumn("current");
        ImGui::TableSetupColumn("pending");
        ImGui::TableSetupColumn("in flight");
        ImGui::TableHeadersRow();
        for (uint32_t i = 0; i < n; ++i) {
            batonExternalSemaphoreInfo info{};
            batonExternalSemaphoreGetInfo(sems[i].sem, &info);
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextColored(i == 0 ? ImVec4(0.24f, 0.78f, 0.67f, 1) : ImVec4(0.92f, 0.47f, 0.35f, 1), "%s", sems[i].name);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(info.type == batonExternalSemaphoreHandleTypeKeyedMutex ? "keyed mutex"
                                   : info.backend == batonSemaphoreBackendNative                ? "native"
                                                                                                : "portable");
            ImGui::TableNextColumn();
            if (info.type == batonExternalSemaphoreHandleTypeKeyedMutex) {  // current: last key; pending: held
                ImGui::Text("key %llu", info.currentValue);
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(info.pendingValue ? "held" : "free");
                ImGui::TableNextColumn();
                continue;
            }
            ImGui::Text("%llu", info.currentValue);
            ImGui::TableNextColumn();
            ImGui::Text("%llu", info.pendingValue);
            ImGui::TableNextColumn();
            ImGui::Text("%llu", info.pendingValue - std::min(info.pendingValue, info.currentValue));
        }
        ImGui::EndTable();
    }
    in.telemetry->values(values_);
    plotSeries("values", values_, 240, 70.0f);
    ImGui::TextDisabled("values, last 240 frames: bright = current, faint = pending");
}

void Panel::timelineSection(const PanelInputs& in) {
    const uint64_t now = nowNs(), window = static_cast<uint64_t>(kTimelineSeconds * 1e9);
    const uint64_t start = now - window;
    in.telemetry->spans(spans_, start);
    const int lanes = static_cast<int>(Lane::Count);
    const float laneH = 17.0f, gap = 3.0f;
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    const float w = ImGui::GetContentRegionAvail().x;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    for (int l = 0; l < lanes; ++l) {
        const float y = p0.y + static_cast<float>(l) * (laneH + gap);
        dl->AddRectFilled(ImVec2(p0.x, y), ImVec2(p0.x + w, y + laneH), IM_COL32(20, 22, 30, 230), 2.0f);
    }
    // Labels in a column of their own, spans to the right of it.
    const float labelW = 118.0f, x0 = p0.x + labelW, spanW = w - labelW;
    for (const Span& s : spans_) {
        if (s.t1 <= start || s.t0 >= now) continue;
        const float y = p0.y + static_cast<float>(static_cast<int>(s.lane)) * (laneH + gap);
        float a = x0 + spanW * static_cast<float>(static_cast<double>(std::max(s.t0, start) - start) / static_cast<double>(window));
        float b = x0 + spanW * static_cast<float>(static_cast<double>(std::min(s.t1, now) - start) / static_cast<double>(window));
        b = std::max(b, a + 1.0f);
        dl->AddRectFilled(ImVec2(a, y + 2), ImVec2(b, y + laneH - 2), spanColor(s));
    }
    static const char* shortNames[] = {"producer host", "compute queue", "graphics queue", "renderer host"};
    for (int l = 0; l < lanes; ++l) {
        const float y = p0.y + static_cast<float>(l) * (laneH + gap);
        dl->AddText(ImVec2(p0.x + 4, y + 2), IM_COL32(220, 220, 220, 230), shortNames[l]);
    }
    ImGui::Dummy(ImVec2(w, static_cast<float>(lanes) * (laneH + gap)));
    const struct { const char* name; ImU32 c; } legend[] = {
        {"work", IM_COL32(60, 200, 170, 255)}, {"cost", IM_COL32(240, 160, 60, 255)},
        {"delay", IM_COL32(170, 110, 230, 255)}, {"stall", IM_COL32(235, 70, 70, 255)},
        {"host wait", IM_COL32(230, 210, 80, 255)}};
    for (const auto& e : legend) {
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(e.c), "%s", e.name);
        ImGui::SameLine();
    }
    ImGui::TextDisabled("| last %.0f s", kTimelineSeconds);
}

void Panel::stallSection(const PanelInputs& in) {
    const StallStats p = in.telemetry->producerStalls(), c = in.telemetry->consumerStalls();
    const float w = (ImGui::GetContentRegionAvail().x - 8) * 0.5f;
    char overlay[96];
    ImGui::BeginGroup();
    std::snprintf(overlay, sizeof overlay, "p95 %.2f ms", p.percentile(0.95));
    ImGui::PushStyleColor(ImGuiCol_PlotHistogram, ImVec4(0.24f, 0.78f, 0.67f, 1));
    ImGui::PlotHistogram("##pstall", p.bins.data(), StallStats::kBins, 0, overlay, 0, FLT_MAX, ImVec2(w, 54));
    ImGui::PopStyleColor();
    ImGui::Text("producer: %llu of %llu", static_cast<unsigned long long>(p.nonZero), static_cast<unsigned long long>(p.count));
    ImGui::Text("mean %.2f  max %.1f ms", p.count ? p.sumMs / static_cast<double>(p.count) : 0.0, p.maxMs);
    ImGui::EndGroup();
    ImGui::SameLine();
    ImGui::BeginGroup();
    std::snprintf(overlay, sizeof overlay, "p95 %.2f ms", c.percentile(0.95));
    ImGui::PushStyleColor(ImGuiCol_PlotHistogram, ImVec4(0.36f, 0.59f, 1.0f, 1));
    ImGui::PlotHistogram("##cstall", c.bins.data(), StallStats::kBins, 0, overlay, 0, FLT_MAX, ImVec2(w, 54));
    ImGui::PopStyleColor();
    ImGui::Text("consumer: %llu of %llu", static_cast<unsigned long long>(c.nonZero), static_cast<unsigned long long>(c.count));
    ImGui::Text("mean %.2f  max %.1f ms", c.count ? c.sumMs / static_cast<double>(c.count) : 0.0, c.maxMs);
    ImGui::EndGroup();
    ImGui::TextDisabled("0..50 ms in 2 ms bins");
}

void Panel::frameSection(const PanelInputs& in) {
    const Telemetry& t = *in.telemetry;
    in.telemetry->frameTimes(frameTimes_);
    const size_t n = std::min<size_t>(frameTimes_.size(), 240);
    const float* data = frameTimes_.data() + (frameTimes_.size() - n);
    float mean = 0;
    for (size_t i = 0; i < n; ++i) mean += data[i];
    mean = n ? mean / static_cast<float>(n) : 0;
    char overlay[64];
    std::snprintf(overlay, sizeof overlay, "%.2f ms  %.1f fps", mean, mean > 0 ? 1000.0f / mean : 0.0f);
    ImGui::PlotLines("##ft", data, static_cast<int>(n), 0, overlay, 0.0f, std::max(34.0f, mean * 2.5f),
                     ImVec2(ImGui::GetContentRegionAvail().x, 50));
    ImGui::Text("presented %llu  fresh %llu  repeats %llu  drops %llu", static_cast<unsigned long long>(t.presented.load()),
                static_cast<unsigned long long>(t.fresh.load()), static_cast<unsigned long long>(t.repeats.load()),
                static_cast<unsigned long long>(t.drops.load()));
    ImGui::Text("GPU: produce %.2f ms  cost %.2f ms  draw %.2f ms", t.producerGpuMs.load(), t.producerCostMs.load(),
                t.graphicsGpuMs.load());
}

void Panel::controls(const PanelInputs& in, Settings* s, bool* paused, PanelActions* a) {
    ImGui::PushItemWidth(ImGui::GetContentRegionAvail().x * 0.55f);
    ImGui::TextUnformatted("backend");
    ImGui::SameLine();
    int backend = s->backend == SemBackend::Native ? 0 : s->backend == SemBackend::Keyed ? 2 : 1;
    ImGui::BeginDisabled(!in.nativeAvailable);
    ImGui::RadioButton("native", &backend, 0);
    noteWidget("backend_native");
    ImGui::EndDisabled();
    if (!in.nativeAvailable && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
        ImGui::SetTooltip("this driver exports no semaphore fds");
    ImGui::SameLine();
    ImGui::RadioButton("portable", &backend, 1);
    noteWidget("backend_portable");
    ImGui::SameLine();
    ImGui::RadioButton("keyed", &backend, 2);
    noteWidget("backend_keyed");
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("one baton keyed mutex per slot (batonChannelFlagKeyedMutex): producer acquire 0 /\n"
                          "release 1, consumer acquire 1 / release 0; in this process or across two");
    s->backend = backend == 0 ? SemBackend::Native : backend == 2 ? SemBackend::Keyed : SemBackend::Portable;

    ImGui::TextUnformatted("pick   ");
    ImGui::SameLine();
    int pick = s->pick == PickMode::Fifo ? 0 : 1;
    ImGui::RadioButton("FIFO", &pick, 0);
    ImGui::SameLine();
    ImGui::RadioButton("mailbox", &pick, 1);
    s->pick = pick == 0 ? PickMode::Fifo : PickMode::Mailbox;
    ImGui::SameLine();
    ImGui::BeginDisabled(!in.vsyncAvailable);
    ImGui::Checkbox("vsync", &s->vsync);
    ImGui::EndDisabled();

    ImGui::SliderInt("ring depth", &s->ringDepth, 2, 8);
    ImGui::SliderFloat("compute cost (ms)", &s->costMs, 0.0f, 50.0f, "%.1f");
    ImGui::SliderFloat("producer delay (ms)", &s->delayMs, 0.0f, 200.0f, "%.1f");
    ImGui::SliderFloat("jitter (ms)", &s->jitterMs, 0.0f, 100.0f, "%.1f");
    ImGui::PopItemWidth();
    ImGui::Checkbox("pause producer", paused);
    ImGui::SameLine();
    ImGui::TextDisabled("cost loops %llu", static_cast<unsigned long long>(in.burnLoops));

    ImGui::TextUnformatted("producer");
    ImGui::SameLine();
    int where = s->producer == ProducerWhere::Process ? 1 : 0;
    ImGui::RadioButton("in this process", &where, 0);
    ImGui::SameLine();
    ImGui::RadioButton("separate process", &where, 1);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("baton-sandbox-producer: its own baton context and VkDevice; the frame channel\n"
                          "handed over a Unix socket in one message (batonChannelSend / batonChannelReceive)");
    s->producer = where == 1 ? ProducerWhere::Process : ProducerWhere::Thread;
    if (in.producerWhere == ProducerWhere::Process) {
        if (in.processAlive) {
            ImGui::Text("process %d running", in.processPid);
            ImGui::SameLine();
            ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.65f, 0.18f, 0.15f, 1.0f));
            if (ImGui::Button("kill (SIGKILL)")) a->killProducer = true;
            ImGui::PopStyleColor();
        } else {
            ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.35f, 1.0f), "process %d %s", in.processPid,
                               in.processExit.empty() ? "gone" : in.processExit.c_str());
            ImGui::SameLine();
            if (ImGui::Button("restart")) a->restartProducer = true;
        }
    }

    ImGui::Checkbox("frame inspector", &s->inspector);
    noteWidget("inspector_checkbox");
    ImGui::SameLine();
    if (ImGui::Button("capture trace")) a->trace = true;
    ImGui::SameLine();
    if (ImGui::Button("save screenshot")) a->screenshot = true;
    ImGui::SameLine();
    if (ImGui::Button("reset view")) a->resetView = true;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("mouse over the fractal: wheel zooms, drag pans, double click resets");
    // Always a status line, empty or not, so that the windows below do not jump when one comes.
    ImGui::TextWrapped("%s", in.status.empty() ? " " : in.status.c_str());
}

}  // namespace sandbox
