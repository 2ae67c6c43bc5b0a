// What differs between the window and headless runs, behind one interface so that the run
// loop (app.h) is the same code for both.
#pragma once

#include "target.h"

namespace sandbox {

class Platform {
public:
    virtual ~Platform() = default;
    virtual const char* name() const = 0;  // "window" or "headless"
    virtual Target& target() = 0;
    // Processes events. False: the user asked to quit.
    virtual bool pump() = 0;
    // Nothing to draw into right now (minimised): the loop skips the frame.
    virtual bool minimized() = 0;
    // Hooks the platform's ImGui backend to the ImGui context (after ImGui::CreateContext)
    // and unhooks it (before ImGui::DestroyContext).
    virtual void initImGui() {}
    virtual void shutdownImGui() {}
    // Feeds ImGui the display size, time and input for the next frame.
    virtual void newImGuiFrame(double dtSeconds) = 0;
    // Present mode (window): vsync on = FIFO, off = mailbox or immediate.
    virtual void setVsync(bool vsync) = 0;
    virtual bool hasVsync() const = 0;
    // Resizes the window (tests); no-op headless.
    virtual void resize(int width, int height) = 0;
};

}  // namespace sandbox
