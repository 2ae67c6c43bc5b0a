#include "trace_check.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace batontest {

namespace {

// The value of "key": in one event's line: a string ("...") or a number.
std::string field(const std::string& line, const char* key) {
    const std::string k = std::string("\"") + key + "\":";
    const size_t at = line.find(k);
    if (at == std::string::npos) return "";
    size_t i = at + k.size();
    if (line[i] == '"') {
        const size_t end = line.find('"', i + 1);
        return line.substr(i + 1, end - i - 1);
    }
    size_t end = i;
    while (end < line.size() && line[end] != ',' && line[end] != '}') ++end;
    return line.substr(i, end - i);
}

bool balancedJson(const std::string& text) {
    int depth = 0;
    bool inString = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (inString) {
            if (c == '\\') ++i;
            else if (c == '"') inString = false;
            continue;
        }
        if (c == '"') inString = true;
        else if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') {
            if (--depth < 0) return false;
        }
    }
    return depth == 0 && !inString;
}

}  // namespace

bool TraceFile::read(const std::string& path, std::string* why) {
    std::ifstream in(path);
    if (!in) {
        *why = "cannot open " + path;
        return false;
    }
    std::stringstream all;
    all << in.rdbuf();
    const std::string text = all.str();
    balanced = balancedJson(text);
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find("\"ph\":") == std::string::npos) continue;
        TraceEvent e;
        e.ph = field(line, "ph");
        e.name = field(line, "name");
        e.id = field(line, "id");
        e.pid = static_cast<uint32_t>(std::strtoul(field(line, "pid").c_str(), nullptr, 10));
        e.tid = static_cast<uint32_t>(std::strtoul(field(line, "tid").c_str(), nullptr, 10));
        e.ts = std::strtod(field(line, "ts").c_str(), nullptr);
        e.dur = std::strtod(field(line, "dur").c_str(), nullptr);
        e.line = line;
        events.push_back(e);
    }
    return true;
}

HandoffFlows checkHandoffFlows(const TraceFile& trace, const std::string& sem) {
    HandoffFlows out;
    // Signal zones by "sem = value", flow starts and ends by id.
    std::map<std::string, const TraceEvent*> signals, starts;
    std::map<std::pair<uint32_t, uint32_t>, std::vector<const TraceEvent*>> ends;  // by lane, in ts order
    for (const TraceEvent& e : trace.events) {
        if (e.ph == "X" && e.name.rfind("signal ", 0) == 0) signals[e.name.substr(7)] = &e;
        if (e.ph == "s") starts[e.id] = &e;
        if (e.ph == "f") ends[{e.pid, e.tid}].push_back(&e);
        if (e.ph == "b") ++out.frames;
    }
    auto inside = [](const TraceEvent& z, const TraceEvent& p) {
        return z.pid == p.pid && z.tid == p.tid && p.ts >= z.ts - 1e-3 && p.ts <= z.ts + z.dur + 1e-3;
    };
    for (auto& [lane, v] : ends)
        std::sort(v.begin(), v.end(), [](const TraceEvent* a, const TraceEvent* b) { return a->ts < b->ts; });
    for (const auto& [key, s] : signals)
        if (sem.empty() || key.rfind(sem + " ", 0) == 0) ++out.signals;
    for (const TraceEvent& w : trace.events) {
        if (w.ph != "X" || w.name.rfind("wait ", 0) != 0) continue;
        const std::string key = w.name.substr(5);  // "0x34 >= 7"
        const size_t ge = key.find(" >= ");
        if (ge == std::string::npos) continue;
        const std::string object = key.substr(0, ge), value = key.substr(ge + 4);
        if (!sem.empty() && object != sem) continue;
        ++out.waits;
        bool found = false;
        auto sig = signals.find(object + " = " + value);
        auto lane = ends.find({w.pid, w.tid});
        if (lane != ends.end() && sig != signals.end()) {
            const auto& v = lane->second;
            auto it = std::lower_bound(v.begin(), v.end(), w.ts - 1e-3,
                                       [](const TraceEvent* f, double t) { return f->ts < t; });
            for (; it != v.end() && !found && inside(w, **it); ++it) {
                auto st = starts.find((*it)->id);
                found = st != starts.end() && inside(*sig->second, *st->second);
            }
        }
        if (sig != signals.end() && w.ts + w.dur < sig->second->ts - 50.0 && out.firstBeforeItsSignal.empty()) {
            char at[160];
            std::snprintf(at, sizeof at, " (ends at %.3f us, its signal at %.3f us)", w.ts + w.dur, sig->second->ts);
            out.firstBeforeItsSignal = w.name + at;
        }
        if (found) {
            ++out.withFlow;
        } else if (out.firstMissing.empty()) {  // what is there instead, to tell the causes apart
            char at[160];
            std::snprintf(at, sizeof at, " (zone at %.3f us, %.3f long; signal zone \"= %s\" %s; %zu flow ends in its lane)",
                          w.ts, w.dur, value.c_str(), sig == signals.end() ? "absent" : "present",
                          lane == ends.end() ? size_t(0) : lane->second.size());
            out.firstMissing = w.name + at;
        }
    }
    return out;
}

std::string firstGapInWaits(const TraceFile& trace) {
    std::map<std::string, std::vector<uint64_t>> waited;  // by semaphore
    for (const TraceEvent& w : trace.events) {
        if (w.ph != "X" || w.name.rfind("wait ", 0) != 0) continue;
        const size_t ge = w.name.find(" >= ");
        if (ge == std::string::npos) continue;
        waited[w.name.substr(5, ge - 5)].push_back(std::strtoull(w.name.c_str() + ge + 4, nullptr, 10));
    }
    for (auto& [object, values] : waited) {
        std::sort(values.begin(), values.end());
        for (size_t i = 1; i < values.size(); ++i)
            if (values[i] > values[i - 1] + 1) return object + " >= " + std::to_string(values[i - 1] + 1);
    }
    return {};
}

}  // namespace batontest
