/*
 * baton::imgui - the handoff profiler as a library that an engine draws in its own Dear ImGui
 * overlay. It reads only baton's public telemetry API (baton_telemetry.h) and owns no Vulkan
 * objects: the engine renders ImGui as it always does.
 *
 *     baton::imgui::Profiler profiler(ctx);      // once; turns telemetry on for ctx
 *     ...
 *     ImGui::NewFrame();
 *     profiler.update();                         // reads what telemetry recorded since last time
 *     profiler.draw();                           // the "baton profiler" window
 *     ImGui::Render();
 *
 * What it shows: the handoff latency of every channel frame (producer's ready signal ->
 * consumer's first command; produce start -> present) as a live histogram with p50/p99, and
 * a frame inspector: pause, a timeline of the last N frames with one lane per queue and per
 * process that zooms (mouse wheel) and pans (drag), flow arrows from each signal to the wait
 * it released, a zone's details on hover, and one frame's journey (produce, ready, acquire,
 * draw, release, present) on click.
 *
 * Memory: everything is sized in the constructor (ProfilerConfig); update() and draw()
 * allocate nothing. Threads: one Profiler is used from the thread that draws ImGui; the
 * baton calls it makes are thread-safe. The context must outlive the Profiler.
 */
#pragma once

#include <cstdint>

#include <baton/baton.h>
#include <baton/baton_telemetry.h>

namespace baton {
namespace imgui {

/** Sizes of the profiler's rings (fixed for its life). */
struct ProfilerConfig {
    unsigned records = 16384;     /**< Telemetry records kept for the inspector. */
    unsigned frames = 2048;       /**< Channel frames kept for the histogram and the timeline. */
    unsigned timelineFrames = 6;  /**< Frames the live timeline spans (paused: zoom freely). */
    bool enableTelemetry = true;  /**< Turn telemetry on for the context in the constructor. */
};

/** Handoff latency over the frames the profiler holds (microseconds). */
struct LatencySummary {
    unsigned long long frames = 0;  /**< Timed frames the figures are over. */
    double p50Us = 0, p99Us = 0, meanUs = 0, maxUs = 0;
    double presentP50Us = 0, presentP99Us = 0;  /**< Produce start -> present. */
};

class Profiler {
public:
    /** ctx: the baton context to profile (NULL: the calling thread's current context). */
    explicit Profiler(batonContext_t ctx, const ProfilerConfig& config = ProfilerConfig());
    ~Profiler();
    Profiler(const Profiler&) = delete;
    Profiler& operator=(const Profiler&) = delete;

    /** Reads the records and frames telemetry made since the last call (nothing while paused).
     *  Call once per frame, before draw(). */
    void update();

    /** Draws the profiler window (title, optional close button). Call between ImGui::NewFrame and
     *  ImGui::Render with the engine's context current; place it with ImGui::SetNextWindowPos/Size. */
    void draw(const char* title = "baton profiler", bool* open = nullptr);

    /** The window's parts, for an engine that lays out its own window (call inside Begin/End). */
    void drawControls();   /**< Pause, frames shown, zoom reset, CPU cost. */
    void drawLatency();    /**< Histogram with p50/p99. */
    void drawInspector();  /**< The timeline. */
    void drawJourney();    /**< The selected frame's journey. */

    bool paused() const;
    void setPaused(bool paused);
    /** Selects a frame for the journey (0: none). */
    void selectFrame(unsigned long long frame);
    unsigned long long selectedFrame() const;
    /** Shows [startNs, endNs] of CLOCK_MONOTONIC in the timeline (pauses the live view). */
    void setView(uint64_t startNs, uint64_t endNs);
    /** Selects frame and shows it in the timeline with `around` frames either side (pauses). */
    void showFrame(unsigned long long frame, unsigned around = 1);
    /** Zooms the timeline by factor (< 1: in) around the selected frame, or the view's centre. */
    void zoom(double factor);

    LatencySummary latency() const;
    /** The newest frame number held (0: none yet). */
    unsigned long long lastFrame() const;
    /** Where draw() put its window last (x, y, w, h), and the timeline's area in it. */
    const float* windowRect() const;
    const float* timelineRect() const;
    /** The pause button's rectangle (x, y, w, h) as last drawn: for scripted UI tests. */
    const float* pauseButtonRect() const;
    /** CPU time of the last update() + draw(), and the mean over the run, in microseconds. */
    double lastCostUs() const;
    double meanCostUs() const;

    struct State;

private:
    State* s_;
};

}  // namespace imgui
}  // namespace baton
