#include "trace.h"

#include <cstdio>
#include <vector>

namespace sandbox {

const char* laneName(Lane lane) {
    switch (lane) {
        case Lane::ProducerHost: return "producer host";
        case Lane::ComputeQueue: return "compute queue (baton stream)";
        case Lane::GraphicsQueue: return "graphics queue";
        case Lane::RendererHost: return "renderer host";
        default: return "?";
    }
}

const char* spanKindName(SpanKind kind) {
    switch (kind) {
        case SpanKind::Work: return "work";
        case SpanKind::Cost: return "cost knob";
        case SpanKind::Delay: return "injected delay";
        case SpanKind::Stall: return "stall";
        case SpanKind::Wait: return "host wait";
        case SpanKind::Present: return "present";
    }
    return "?";
}

bool writeTrace(const std::string& path, const Telemetry& telemetry) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    std::vector<Span> spans;
    telemetry.spans(spans, 0);
    std::vector<ValueSample> values;
    telemetry.values(values);
    const uint64_t t0 = telemetry.startNs.load();
    auto us = [&](uint64_t ns) { return ns > t0 ? static_cast<double>(ns - t0) * 1e-3 : 0.0; };
    std::fprintf(f, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n");
    std::fprintf(f, "{\"ph\": \"M\", \"pid\": 1, \"name\": \"process_name\", \"args\": {\"name\": \"baton-sandbox\"}}");
    for (int l = 0; l < static_cast<int>(Lane::Count); ++l)
        std::fprintf(f, ",\n{\"ph\": \"M\", \"pid\": 1, \"tid\": %d, \"name\": \"thread_name\", \"args\": {\"name\": \"%s\"}}",
                     l + 1, laneName(static_cast<Lane>(l)));
    for (const Span& s : spans)
        std::fprintf(f, ",\n{\"ph\": \"X\", \"pid\": 1, \"tid\": %d, \"name\": \"%s\", \"ts\": %.3f, \"dur\": %.3f, "
                        "\"args\": {\"frame\": %llu}}",
                     static_cast<int>(s.lane) + 1, spanKindName(s.kind), us(s.t0), us(s.t1) - us(s.t0),
                     static_cast<unsigned long long>(s.frame));
    for (const ValueSample& v : values)
        std::fprintf(f, ",\n{\"ph\": \"C\", \"pid\": 1, \"name\": \"ready\", \"ts\": %.3f, \"args\": {\"current\": %llu, "
                        "\"pending\": %llu}},\n{\"ph\": \"C\", \"pid\": 1, \"name\": \"released\", \"ts\": %.3f, "
                        "\"args\": {\"current\": %llu, \"pending\": %llu}}",
                     us(v.t), static_cast<unsigned long long>(v.readyCurrent),
                     static_cast<unsigned long long>(v.readyPending), us(v.t),
                     static_cast<unsigned long long>(v.releasedCurrent), static_cast<unsigned long long>(v.releasedPending));
    std::fprintf(f, "\n]}\n");
    return std::fclose(f) == 0;
}

}  // namespace sandbox
