// The latency histogram (handoff latency of the frames held, with p50/p99 marked) and the
// selected frame's journey.
#include <algorithm>
#include <cfloat>
#include <cinttypes>
#include <cstdio>

#include <imgui.h>

#include "profiler_state.h"

namespace baton {
namespace imgui {

void Profiler::drawLatency() {
    State& s = *s_;
    const LatencySummary l = latency();
    ImGui::Text("handoff latency (ready -> first command)");
    ImGui::Text("p50 %.1f us   p99 %.1f us   max %.1f us", l.p50Us, l.p99Us, l.maxUs);
    ImGui::Text("produce -> present: p50 %.1f us  p99 %.1f us", l.presentP50Us, l.presentP99Us);
    // Bins from 0 to a little past p99, the last bin takes the rest.
    const double top = std::max(l.p99Us * 1.25, 1.0);
    std::fill(s.bins.begin(), s.bins.end(), 0.0f);
    const size_t nb = s.bins.size();
    for (uint64_t seq = s.oldestFrame(); seq && seq <= s.newestFrame; ++seq) {
        const batonTelemetryFrame* f = s.frameBySeq(seq);
        if (!f || !(f->flags & BATON_TELEMETRY_FRAME_TIMED)) continue;
        const double us = static_cast<double>(f->handoffNs) * 1e-3;
        s.bins[std::min(nb - 1, static_cast<size_t>(us / top * static_cast<double>(nb)))] += 1.0f;
    }
    const float w = std::max(ImGui::GetContentRegionAvail().x, 100.0f);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    char overlay[48];
    std::snprintf(overlay, sizeof overlay, "%llu frames, 0..%.0f us", l.frames, top);
    ImGui::PlotHistogram("##latency", s.bins.data(), static_cast<int>(nb), 0, overlay, 0.0f, FLT_MAX, ImVec2(w, 90));
    // p50 and p99 markers over the histogram.
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImGuiStyle& st = ImGui::GetStyle();
    const float x0 = p0.x + st.FramePadding.x, x1 = p0.x + w - st.FramePadding.x;
    auto mark = [&](double us, ImU32 col, const char* name) {
        if (!l.frames) return;
        const float x = x0 + (x1 - x0) * static_cast<float>(us / top);
        dl->AddLine(ImVec2(x, p0.y + 2), ImVec2(x, p0.y + 88), col, 2.0f);
        dl->AddText(ImVec2(x + 3, p0.y + 14), col, name);
    };
    mark(l.p50Us, IM_COL32(80, 220, 120, 255), "p50");
    mark(l.p99Us, IM_COL32(240, 90, 90, 255), "p99");
}

void Profiler::drawJourney() {
    State& s = *s_;
    ImGui::Separator();
    const batonTelemetryFrame* f = s.selected ? s.findFrame(s.selected) : nullptr;
    if (!f) {
        ImGui::TextDisabled(s.selected ? "frame %llu is no longer held" : "click a frame in the timeline for its journey",
                            s.selected);
        return;
    }
    ImGui::Text("frame %llu  (channel 0x%" PRIx64 ", producer pid %u)", f->frame, f->channel, f->producerPid);
    const uint64_t o = f->produceCpuNs ? std::min(f->produceCpuNs, f->produceStartNs) : f->produceStartNs;
    struct Step {
        const char* name;
        uint64_t ns;
        const char* where;
    } steps[] = {{"produce (enqueue)", f->produceCpuNs, "producer CPU"},
                 {"produce start", f->produceStartNs, "producer GPU"},
                 {"ready", f->readyNs, "producer GPU"},
                 {"acquire", f->acquireCpuNs, "consumer CPU"},
                 {"draw (first command)", f->consumeStartNs, "consumer GPU"},
                 {"release / present", f->consumeEndNs, "consumer GPU"}};
    if (ImGui::BeginTable("##journey", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp)) {
        ImGui::TableSetupColumn("step");
        ImGui::TableSetupColumn("t (us)");
        ImGui::TableSetupColumn("where");
        ImGui::TableHeadersRow();
        for (const Step& st : steps) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(st.name);
            ImGui::TableNextColumn();
            if (st.ns) ImGui::Text("%+.2f", static_cast<double>(static_cast<int64_t>(st.ns - o)) * 1e-3);
            else ImGui::TextDisabled("-");
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(st.where);
        }
        ImGui::EndTable();
    }
    ImGui::Text("handoff %.2f us   produce->present %.2f us   stall %.2f us", f->handoffNs * 1e-3, f->frameNs * 1e-3,
                f->stallNs * 1e-3);
    ImGui::Text("ready semaphore 0x%" PRIx64 " = %llu", f->ready, f->frame);
}

}  // namespace imgui
}  // namespace baton
