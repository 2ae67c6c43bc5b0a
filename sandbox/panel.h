// The Dear ImGui profiler panel: reads the telemetry and the semaphores, edits the
// settings. Immediate mode: it owns no state but its scratch buffers and plot history.
#pragma once

#include <string>
#include <vector>

#include <baton/baton.h>
#include <baton/baton_imgui.h>

#include "handoff.h"
#include "settings.h"
#include "telemetry.h"

namespace sandbox {

struct PanelInputs {
    const Telemetry* telemetry = nullptr;
    Handoff* handoff = nullptr;
    const char* device = "";
    const char* mode = "";          // "window" / "headless"
    bool queueShared = false;
    bool nativeAvailable = false;
    bool vsyncAvailable = false;
    SemBackend backendInUse = SemBackend::Portable;
    uint64_t animFrame = 0;
    uint64_t burnLoops = 0;
    uint64_t ringRebuilds = 0;
    std::string status;              // last saved file, errors
    ProducerWhere producerWhere = ProducerWhere::Thread;  // of the ring in use
    int processPid = -1;             // the producer process (process mode)
    bool processAlive = false;
    std::string processExit;         // how it ended, "" while running
    baton::imgui::Profiler* profiler = nullptr;  // baton's profiler: latency histogram, frame inspector
};

struct PanelActions {
    bool screenshot = false;
    bool trace = false;
    bool killProducer = false;       // SIGKILL the producer process
    bool restartProducer = false;    // start a new one after it died
    bool resetView = false;          // the fractal's pan/zoom back to the whole frame
};

class Panel {
public:
    // Draws the panel; edits *settings and *paused in place.
    void draw(const PanelInputs& in, Settings* settings, bool* paused, PanelActions* actions);
    // Where the panel was drawn last (x, y, w, h), for tests.
    const float* rect() const { return rect_; }
    const float* controlsRect() const { return controlsRect_; }
    const float* inspectorRect() const { return inspectorRect_; }
    // Named widgets as last drawn (x, y, w, h), for scripted UI tests (--ui-map).
    struct Widget {
        const char* name;
        float rect[4];
    };
    const Widget* widgets(int* count) const {
        *count = widgetCount_;
        return widgets_;
    }

private:
    void semaphoreSection(const PanelInputs& in);
    void timelineSection(const PanelInputs& in);
    void stallSection(const PanelInputs& in);
    void frameSection(const PanelInputs& in);
    void warnings(const PanelInputs& in);
    void controls(const PanelInputs& in, Settings* s, bool* paused, PanelActions* a);
    void inspector(const PanelInputs& in, Settings* s);

    float rect_[4] = {};
    float controlsRect_[4] = {};
    float inspectorRect_[4] = {};  // 0 while the inspector is closed
    void noteWidget(const char* name);  // the last item
    void noteRect(const char* name, const float r[4]);
    static constexpr int kWidgets = 8;
    Widget widgets_[kWidgets] = {};
    int widgetCount_ = 0;
    std::vector<Span> spans_;
    std::vector<ValueSample> values_;
    std::vector<float> frameTimes_;
};

}  // namespace sandbox
