// The frame inspector's timeline: one lane per (process, queue) seen in view plus a frames
// lane, zones from telemetry records, flow arrows from each signal to the wait it released,
// a zone's details on hover, zoom (wheel) and pan (drag) through TimeAxis, click to select
// a frame.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdint>

#include <imgui.h>

#include "profiler_state.h"

namespace baton {
namespace imgui {

namespace {

constexpr float kLabelWidth = 150.0f, kRow = 20.0f, kRuler = 18.0f;

bool timed(const batonTelemetryRecord& r) { return (r.flags & 1) && r.gpuEndNs; }
uint64_t laneKey(const batonTelemetryRecord& r) { return (uint64_t(r.pid) << 32) | r.lane; }

void laneLabel(uint64_t key, char* out, size_t n) {
    const uint32_t pid = static_cast<uint32_t>(key >> 32), lane = static_cast<uint32_t>(key);
    if (lane == BATON_TELEMETRY_LANE_HOST) std::snprintf(out, n, "pid %u host", pid);
    else if ((lane & 0xFFFF) == 0x8000) std::snprintf(out, n, "pid %u consumer q%u", pid, lane >> 16);
    else std::snprintf(out, n, "pid %u stream q%u.%u", pid, lane >> 16, lane & 0xFFFF);
}

ImU32 kindColor(batonTelemetryKind k) {
    switch (k) {
        case batonTelemetrySubmit: return IM_COL32(60, 190, 165, 255);
        case batonTelemetryWait: return IM_COL32(235, 140, 60, 255);
        case batonTelemetryHostWait: return IM_COL32(225, 200, 80, 255);
        case batonTelemetryConsume: return IM_COL32(90, 150, 255, 255);
        case batonTelemetrySignal: return IM_COL32(240, 240, 240, 255);
        case batonTelemetryDrop: return IM_COL32(235, 70, 70, 255);
        default: return IM_COL32(170, 170, 170, 255);
    }
}

const char* kindName(batonTelemetryKind k) {
    switch (k) {
        case batonTelemetrySubmit: return "GPU work";
        case batonTelemetrySignal: return "signal";
        case batonTelemetryWait: return "wait";
        case batonTelemetryHostWait: return "host wait";
        case batonTelemetryPublish: return "publish";
        case batonTelemetryProduce: return "produce";
        case batonTelemetryConsume: return "consume";
        case batonTelemetryDrop: return "drop";
    }
    return "?";
}

// A record's span on the timeline (signals and instants get a minimum width when drawn).
void spanOf(const batonTelemetryRecord& r, uint64_t* a, uint64_t* b) {
    if (r.kind == batonTelemetryProduce || r.kind == batonTelemetryDrop || !timed(r)) {
        *a = *b = r.cpuNs;
        return;
    }
    *a = r.kind == batonTelemetrySignal ? r.gpuEndNs : r.gpuStartNs;
    *b = r.gpuEndNs;
}

bool signalLess(const batonTelemetryRecord* a, const batonTelemetryRecord* b) {
    return a->object != b->object ? a->object < b->object : a->value < b->value;
}

void drawRuler(ImDrawList* dl, const TimeAxis& ax, ImVec2 p0, float w) {
    const double span = ax.span();
    double step = std::pow(10.0, std::floor(std::log10(span / 8)));
    if (span / step > 40) step *= 5;
    else if (span / step > 16) step *= 2;
    // Labelled from the view's left edge: what matters is how long things took.
    const double first = std::ceil(ax.view.x / step) * step;
    for (double t = first; t <= ax.view.y; t += step) {
        const double since = t - ax.view.x;
        const float x = static_cast<float>(glm::mix(ax.pixels.x, ax.pixels.y, (t - ax.view.x) / span));
        dl->AddLine(ImVec2(x, p0.y + kRuler - 5), ImVec2(x, p0.y + kRuler), IM_COL32(160, 160, 160, 255));
        char buf[32];
        if (step >= 1e6) std::snprintf(buf, sizeof buf, "+%.0f ms", since / 1e6);
        else if (step >= 1e3) std::snprintf(buf, sizeof buf, "+%.0f us", since / 1e3);
        else std::snprintf(buf, sizeof buf, "+%.2f us", since / 1e3);
        if (x + 50 < p0.x + w) dl->AddText(ImVec2(x + 2, p0.y), IM_COL32(160, 160, 160, 255), buf);
    }
}

void arrow(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 col) {
    const float dy = (b.y - a.y) * 0.5f;
    dl->AddBezierCubic(a, ImVec2(a.x, a.y + dy), ImVec2(b.x, b.y - dy), b, col, 1.5f);
    const float s = 5.0f, dir = b.y >= a.y ? 1.0f : -1.0f;
    dl->AddTriangleFilled(b, ImVec2(b.x - s * 0.7f, b.y - s * dir), ImVec2(b.x + s * 0.7f, b.y - s * dir), col);
}

// What one drawing of the timeline needs: where it is, the lanes, the mouse, the selection.
struct Canvas {
    Profiler::State& s;
    ImDrawList* dl;
    ImVec2 origin, area0, area1;  // the whole widget; the time area right of the labels
    float framesTop, lanesTop;
    ImVec2 mouse;
    bool overArea, clicked;
    const batonTelemetryFrame* sel;
    const batonTelemetryFrame* hoverFrame = nullptr;
    const batonTelemetryRecord* hoverRec = nullptr;

    int laneRow(uint64_t key) const {
        auto it = std::lower_bound(s.lanes.begin(), s.lanes.end(), key);
        return it != s.lanes.end() && *it == key ? static_cast<int>(it - s.lanes.begin()) : -1;
    }
    float rowY(int row) const { return lanesTop + kRow * static_cast<float>(row); }
    bool under(float x0, float x1, float y) const {
        return overArea && mouse.x >= x0 && mouse.x <= x1 && mouse.y >= y && mouse.y < y + kRow;
    }
};

// The lanes with something in view, in a stable order (s.lanes is reserved: no allocation).
void collectLanes(Profiler::State& s) {
    s.lanes.clear();
    for (uint64_t seq = s.oldestRecord(); seq && seq <= s.newestRecord; ++seq) {
        const batonTelemetryRecord* r = s.record(seq);
        if (!r || r->kind == batonTelemetryPublish) continue;  // not drawn
        uint64_t a, b;
        spanOf(*r, &a, &b);
        const uint64_t k = laneKey(*r);
        if (s.axis.visible(a, b) && s.lanes.size() < s.lanes.capacity() &&
            std::find(s.lanes.begin(), s.lanes.end(), k) == s.lanes.end())
            s.lanes.push_back(k);
    }
    std::sort(s.lanes.begin(), s.lanes.end());
}

// The widget itself and what the mouse does on it: the wheel zooms about the cursor, a drag
// pans (both pause the live view), a click without a drag selects.
void layoutAndInput(Canvas& c) {
    Profiler::State& s = c.s;
    c.origin = ImGui::GetCursorScreenPos();
    const float width = std::max(ImGui::GetContentRegionAvail().x, 200.0f);
    c.framesTop = c.origin.y + kRuler;
    c.lanesTop = c.framesTop + 2 * kRow + 4;
    const float height = c.lanesTop - c.origin.y + kRow * static_cast<float>(std::max<size_t>(s.lanes.size(), 1)) + 4;
    c.area0 = ImVec2(c.origin.x + kLabelWidth, c.origin.y);
    c.area1 = ImVec2(c.origin.x + width, c.origin.y + height);
    s.axis.pixels = glm::dvec2(c.area0.x, c.area1.x);
    s.timelineRect[0] = c.area0.x;
    s.timelineRect[1] = c.area0.y;
    s.timelineRect[2] = c.area1.x - c.area0.x;
    s.timelineRect[3] = c.area1.y - c.area0.y;

    ImGui::InvisibleButton("##timeline", ImVec2(width, height));
    const ImGuiIO& io = ImGui::GetIO();
    c.mouse = io.MousePos;
    c.overArea = ImGui::IsItemHovered() && c.mouse.x >= c.area0.x;
    if (c.overArea && io.MouseWheel != 0.0f) {
        s.axis.zoomAt(c.mouse.x, io.MouseWheel > 0 ? 0.8 : 1.25);
        s.viewSet = s.paused = true;
    }
    if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 3.0f)) {
        s.axis.pan(io.MouseDelta.x);
        s.viewSet = s.paused = true;
    }
    c.clicked = c.overArea && ImGui::IsMouseReleased(ImGuiMouseButton_Left) &&
                ImGui::GetMouseDragDelta(ImGuiMouseButton_Left, 3.0f).x == 0.0f;
    c.dl = ImGui::GetWindowDrawList();
}

void drawBackground(const Canvas& c) {
    ImDrawList* dl = c.dl;
    dl->AddRectFilled(c.origin, c.area1, IM_COL32(18, 20, 28, 235), 3.0f);
    drawRuler(dl, c.s.axis, ImVec2(c.area0.x, c.origin.y), c.area1.x - c.area0.x);
    dl->AddText(ImVec2(c.origin.x + 4, c.framesTop + 3), IM_COL32(200, 200, 200, 255), "frames");
    char label[64];
    for (size_t i = 0; i < c.s.lanes.size(); ++i) {
        laneLabel(c.s.lanes[i], label, sizeof label);
        const float y = c.rowY(static_cast<int>(i));
        dl->AddText(ImVec2(c.origin.x + 4, y + 3), IM_COL32(200, 200, 200, 255), label);
        dl->AddLine(ImVec2(c.area0.x, y + kRow), ImVec2(c.area1.x, y + kRow), IM_COL32(50, 55, 70, 255));
    }
}

// Frames: produce start -> present, the handoff part (ready -> first command) in orange,
// alternating between two rows (they overlap).
void drawFrames(Canvas& c) {
    const TimeAxis& ax = c.s.axis;
    char label[32];
    for (uint64_t seq = c.s.oldestFrame(); seq && seq <= c.s.newestFrame; ++seq) {
        const batonTelemetryFrame* f = c.s.frameBySeq(seq);
        if (!f || !(f->flags & BATON_TELEMETRY_FRAME_TIMED) || !ax.visible(f->produceStartNs, f->consumeEndNs)) continue;
        const float y = c.framesTop + kRow * static_cast<float>(f->frame % 2);
        const float x0 = ax.x(f->produceStartNs), x1 = std::max(ax.x(f->consumeEndNs), x0 + 2);
        const float xr = ax.x(f->readyNs), xc = ax.x(f->consumeStartNs);
        c.dl->AddRectFilled(ImVec2(x0, y + 3), ImVec2(x1, y + kRow - 3), IM_COL32(70, 80, 110, 255), 2.0f);
        c.dl->AddRectFilled(ImVec2(xr, y + 3), ImVec2(std::max(xc, xr + 1), y + kRow - 3), IM_COL32(235, 120, 90, 255));
        if (x1 - x0 > 50) {
            std::snprintf(label, sizeof label, "%llu", f->frame);
            c.dl->AddText(ImVec2(x0 + 3, y + 3), IM_COL32(230, 230, 230, 255), label);
        }
        if (c.sel == f)
            c.dl->AddRect(ImVec2(x0 - 1, y + 2), ImVec2(x1 + 1, y + kRow - 2), IM_COL32(255, 230, 0, 255), 2.0f, 0, 2.0f);
        if (c.under(x0, x1, y)) c.hoverFrame = f;
    }
}

// One record's zone or instant; its hit box goes back in x0/x1.
void drawZone(Canvas& c, const batonTelemetryRecord& r, float y, float* x0, float* x1) {
    const ImU32 col = kindColor(r.kind);
    if (r.kind == batonTelemetryProduce || r.kind == batonTelemetryDrop) {
        c.dl->AddTriangleFilled(ImVec2(*x0, y + kRow - 3), ImVec2(*x0 - 4, y + 3), ImVec2(*x0 + 4, y + 3), col);
        *x0 -= 4;
        *x1 += 4;
    } else if (r.kind == batonTelemetrySignal) {
        c.dl->AddRectFilled(ImVec2(*x0 - 1, y + 1), ImVec2(*x0 + 1, y + kRow - 1), col);
        *x0 -= 3;
        *x1 += 3;
    } else {
        const float inset = r.kind == batonTelemetrySubmit ? 2.0f : 5.0f;  // waits sit inside work
        *x1 = std::max(*x1, *x0 + 3);  // a zone shorter than a pixel still shows (and can be hovered)
        c.dl->AddRectFilled(ImVec2(*x0, y + inset), ImVec2(*x1, y + kRow - inset), col, 1.0f);
    }
}

// Zones and instants, in two passes: GPU work and waits first, then what sits on them
// (consumer zones, signals, instants), so that a long wait never hides a frame's draw. The
// signals are collected for the flows on the way (s.signals is reserved).
void drawZones(Canvas& c) {
    Profiler::State& s = c.s;
    s.signals.clear();
    for (int pass = 0; pass < 2; ++pass)
        for (uint64_t seq = s.oldestRecord(); seq && seq <= s.newestRecord; ++seq) {
            const batonTelemetryRecord* r = s.record(seq);
            if (!r) continue;
            const bool below = r->kind == batonTelemetrySubmit || r->kind == batonTelemetryWait ||
                               r->kind == batonTelemetryHostWait;
            if (below != (pass == 0)) continue;
            if (r->kind == batonTelemetrySignal && timed(*r)) s.signals.push_back(r);
            uint64_t a, b;
            spanOf(*r, &a, &b);
            const int row = c.laneRow(laneKey(*r));
            if (row < 0 || !s.axis.visible(a, b) || r->kind == batonTelemetryPublish) continue;
            if (!timed(*r) && r->kind != batonTelemetryProduce && r->kind != batonTelemetryDrop) continue;
            const float y = c.rowY(row);
            float x0 = s.axis.x(a), x1 = s.axis.x(b);
            drawZone(c, *r, y, &x0, &x1);
            const batonTelemetryFrame* sel = c.sel;
            if (sel && r->value == sel->frame && (r->object == sel->ready || r->object == sel->released || r->object == sel->channel))
                c.dl->AddRect(ImVec2(x0 - 1, y + 1), ImVec2(std::max(x1, x0 + 1) + 1, y + kRow - 1), IM_COL32(255, 230, 0, 255),
                              1.0f, 0, 2.0f);
            if (c.under(x0, std::max(x1, x0 + 1), y) && (!c.hoverRec || r->kind != batonTelemetrySubmit))
                c.hoverRec = r;  // the innermost zone
        }
}

// Flow arrows: each wait from the signal with the smallest value >= the wait's, same semaphore
// (the one that released it).
void drawFlows(Canvas& c) {
    Profiler::State& s = c.s;
    const TimeAxis& ax = s.axis;
    std::sort(s.signals.begin(), s.signals.end(), signalLess);
    for (uint64_t seq = s.oldestRecord(); seq && seq <= s.newestRecord; ++seq) {
        const batonTelemetryRecord* w = s.record(seq);
        if (!w || (w->kind != batonTelemetryWait && w->kind != batonTelemetryHostWait) || !timed(*w)) continue;
        auto it = std::lower_bound(s.signals.begin(), s.signals.end(), w, signalLess);
        if (it == s.signals.end() || (*it)->object != w->object) continue;
        const batonTelemetryRecord* sg = *it;
        if (!ax.visible(std::min(sg->gpuEndNs, w->gpuEndNs), std::max(sg->gpuEndNs, w->gpuEndNs))) continue;
        const int rs = c.laneRow(laneKey(*sg)), rw = c.laneRow(laneKey(*w));
        if (rs < 0 || rw < 0) continue;
        const bool mine = c.sel && w->value == c.sel->frame && w->object == c.sel->ready;
        arrow(c.dl, ImVec2(ax.x(sg->gpuEndNs), c.rowY(rs) + kRow * 0.5f),
              ImVec2(ax.x(w->gpuEndNs), c.rowY(rw) + (rw >= rs ? 3.0f : kRow - 3.0f)),
              mine ? IM_COL32(255, 230, 0, 255) : IM_COL32(255, 255, 255, 170));
    }
}

// The hovered zone's or frame's details; a click selects its frame.
void hoverDetails(Canvas& c) {
    Profiler::State& s = c.s;
    const TimeAxis& ax = s.axis;
    // Times from the view's left edge, as the ruler shows them.
    auto rel = [&ax](uint64_t ns) { return ns ? (ax.rel(ns) - ax.view.x) * 1e-3 : 0.0; };
    if (c.hoverRec) {
        const batonTelemetryRecord& r = *c.hoverRec;
        const batonTelemetryFrame* f = s.findFrame(r.value);
        const bool ofFrame = f && (r.object == f->ready || r.object == f->released || r.object == f->channel);
        ImGui::BeginTooltip();
        ImGui::Text("%s", kindName(r.kind));
        if (ofFrame) ImGui::Text("frame %llu", r.value);
        ImGui::Text("%s 0x%" PRIx64 "  value %llu", r.kind == batonTelemetrySubmit ? "stream timeline" : "semaphore",
                    r.object, r.value);
        ImGui::Text("CPU enqueue  %.2f us", rel(r.cpuNs));
        if (timed(r)) ImGui::Text("GPU start %.2f us  end %.2f us", rel(r.gpuStartNs), rel(r.gpuEndNs));
        if ((r.kind == batonTelemetryWait || r.kind == batonTelemetryHostWait) && timed(r))
            ImGui::Text("stall %.2f us", static_cast<double>(r.gpuEndNs - r.gpuStartNs) * 1e-3);
        ImGui::Text("pid %u", r.pid);
        ImGui::EndTooltip();
        if (c.clicked && ofFrame) s.selected = r.value;
    } else if (c.hoverFrame) {
        const batonTelemetryFrame& f = *c.hoverFrame;
        ImGui::BeginTooltip();
        ImGui::Text("frame %llu", f.frame);
        ImGui::Text("handoff %.2f us   produce->present %.2f us", f.handoffNs * 1e-3, f.frameNs * 1e-3);
        ImGui::Text("stall %.2f us", f.stallNs * 1e-3);
        ImGui::EndTooltip();
        if (c.clicked) s.selected = f.frame;
    }
}

}  // namespace

void Profiler::drawInspector() {
    State& s = *s_;
    if (!s.paused && !s.viewSet) s.followLive();
    collectLanes(s);
    Canvas c{s, nullptr, {}, {}, {}, 0, 0, {}, false, false, s.selected ? s.findFrame(s.selected) : nullptr};
    layoutAndInput(c);
    c.dl->PushClipRect(c.origin, c.area1, true);
    drawBackground(c);
    c.dl->PushClipRect(c.area0, c.area1, true);
    drawFrames(c);
    drawZones(c);
    drawFlows(c);
    c.dl->PopClipRect();
    c.dl->PopClipRect();
    hoverDetails(c);
}

}  // namespace imgui
}  // namespace baton
