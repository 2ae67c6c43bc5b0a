// How a renderer embeds baton: attach to the renderer's own device, lending it one compute
// queue (and, where that queue is also the graphics queue, lock callbacks around the
// renderer's queue mutex).
#pragma once

#include <baton/baton.h>

#include "gpu.h"

namespace sandbox {

// Attaches baton to gpu and makes the new context current on the calling thread. Aborts
// with baton's message if the device lacks what baton needs.
batonContext_t attachBaton(Gpu& gpu);

}  // namespace sandbox
