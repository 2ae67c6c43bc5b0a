// A Chrome / Perfetto trace (JSON) of what the sandbox measured: one track per lane (producer
// host, compute queue, graphics queue, renderer host) and counter tracks for the semaphore
// values. Written from the sandbox's own timestamps until baton's telemetry exists.
#pragma once

#include <string>

#include "telemetry.h"

namespace sandbox {

bool writeTrace(const std::string& path, const Telemetry& telemetry);

const char* laneName(Lane lane);
const char* spanKindName(SpanKind kind);

}  // namespace sandbox
