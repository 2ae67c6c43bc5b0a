/* What a C caller may do: pass any int where the API takes an enum (legal in C). */
#include <baton/baton_telemetry.h>

batonError_t apiTestGetApiStatsWithInt(int api, batonTelemetryApiStats* stats) {
    return batonTelemetryGetApiStats(NULL, (batonTelemetryApi)api, stats);
}
