// The generator and reference model: see program.h.
#include "program.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include <baton/baton.h>

namespace stress {

int streamsOf(int proc) { return proc == 0 ? kStreamsP0 : kStreamsP1; }
int firstStreamOf(int proc) { return proc == 0 ? 0 : kStreamsP0; }

namespace {

constexpr int kStreams = kStreamsP0 + kStreamsP1;
constexpr uint32_t kAcquireTimeoutMs = 20000;
constexpr uint32_t kHostWaitMs = 30000;

// What is known complete at a point: per stream the last position, per semaphore the value.
struct Clock {
    uint32_t pos[kStreams] = {};
    std::vector<uint64_t> sem;
    uint64_t at(uint32_t id) const { return id < sem.size() ? sem[id] : 0; }
    void raise(uint32_t id, uint64_t v) {
        if (id >= sem.size()) sem.resize(id + 1, 0);
        sem[id] = std::max(sem[id], v);
    }
    void join(const Clock& o) {
        for (int i = 0; i < kStreams; ++i) pos[i] = std::max(pos[i], o.pos[i]);
        for (uint32_t i = 0; i < o.sem.size(); ++i)
            if (o.sem[i]) raise(i, o.sem[i]);
    }
    bool covers(int stream, uint32_t seq) const { return pos[stream] >= seq; }
};

struct Position {
    int stream;
    uint32_t seq;
};

struct StreamState {
    uint32_t seq = 0;        // operations enqueued so far; the last one's position
    uint32_t hostFns = 0;    // host functions enqueued so far
    int32_t lastSignal = -1; // the timeline the last operation signaled, if it was a signal
    Clock clock;             // what the next operation on it may rely on
    std::vector<RecordCheck> records;
    std::vector<uint32_t> recordSeq;  // position of each record
};

struct TimelineState {
    uint64_t pending = 0;    // highest value signaled (program order)
};

struct BinaryState {
    std::vector<Position> epoch;      // signals since the last wait
    std::vector<Position> previous;   // the previous epoch's signals and its wait
    bool residual = false;            // a signal may be left over (an epoch with two signals)
};

struct MutexState {
    uint64_t key = 0;                 // key of the last release (program order)
    uint64_t keys = 0;                // keys handed out so far
    int32_t holder = -1;              // handle (sem id) with an acquire not yet released
    int holderStream = -1;
    Clock released;                   // what its last release had seen
};

struct EventState {
    bool recorded = false;
    int stream = -1;
    uint32_t seq = 0;
    Clock clock;
};

struct HostState {
    Clock clock;
    uint32_t verified[kStreams] = {};  // records checked up to this position, per stream
};

class Generator {
public:
    explicit Generator(const Config& c) : rng_(c.seed * 0x9E3779B97F4A7C15ull + 12345) {
        prog_.config = c;
        setUp();
    }
    Program run() {
        while (prog_.ops.size() < prog_.config.ops) step();
        finish();
        return std::move(prog_);
    }

private:
    // ---- setup ---------------------------------------------------------------------------
    uint32_t addSem(SemSpec s) {
        s.id = static_cast<uint32_t>(prog_.sems.size());
        prog_.sems.push_back(s);
        live_.push_back(true);
        tl_.emplace_back();
        bin_.emplace_back();
        failedAcquire_.push_back(false);
        return s.id;
    }
    void addLocal(int proc, SemKind k, bool native) {
        SemSpec s;
        s.kind = k;
        s.native = native;
        s.owner = static_cast<uint8_t>(proc);
        s.procMask = static_cast<uint8_t>(1u << proc);
        slots_.push_back(addSem(s));
    }
    void addMutex(bool shared) {
        int m = static_cast<int>(mutexes_.size());
        mutexes_.emplace_back();
        SemSpec a;
        a.kind = SemKind::Keyed;
        a.mutex = m;
        a.shared = shared;
        uint32_t first = addSem(a);
        SemSpec b = a;
        if (shared) {
            // One party per process: process 0 exports it, process 1 receives its own handle.
            prog_.sems[first].procMask = 1;
            b.procMask = 2;
            b.owner = 1;
            b.shared = true;
            b.importOf = static_cast<int32_t>(first);
        } else {
            b.importOf = static_cast<int32_t>(first);  // a second party in the same process
        }
        addSem(b);
    }
    void setUp() {
        const Config& c = prog_.config;
        for (int i = 0; i < 3; ++i) addLocal(0, SemKind::Timeline, false);
        for (int i = 0; i < 2; ++i) addLocal(0, SemKind::Binary, false);
        if (c.native) {
            for (int i = 0; i < 2; ++i) addLocal(0, SemKind::Timeline, true);
            addLocal(0, SemKind::Binary, true);
        }
        addMutex(false);
        if (c.cross) {
            for (int owner = 0; owner < 2; ++owner) {
                SemSpec s;
                s.shared = true;
                s.owner = static_cast<uint8_t>(owner);
                s.procMask = 3;
                addSem(s);
            }
            if (c.native) {
                SemSpec s;
                s.shared = true;
                s.native = true;
                s.procMask = 3;
                addSem(s);
            }
            addMutex(true);
            addLocal(1, SemKind::Timeline, false);
            addLocal(1, SemKind::Binary, false);
        }
        for (auto& s : prog_.sems) s.initial = true;
    }

    // ---- helpers -------------------------------------------------------------------------
    uint64_t rnd(uint64_t n) { return n ? rng_() % n : 0; }
    bool chance(unsigned percent) { return rnd(100) < percent; }
    int pickStream(int proc) { return firstStreamOf(proc) + static_cast<int>(rnd(streamsOf(proc))); }
    int pickStreamOther(int proc, int not_) {
        int s = pickStream(proc);
        if (s == not_) s = firstStreamOf(proc) + (s - firstStreamOf(proc) + 1) % streamsOf(proc);
        return s;
    }
    bool usable(uint32_t id, int proc) const { return live_[id] && (prog_.sems[id].procMask >> proc & 1); }
    // A random live semaphore of kind k usable by proc (and signalable by it if owned).
    int pick(int proc, SemKind k, bool mustOwn) {
        std::vector<uint32_t> c;
        for (const auto& s : prog_.sems)
            if (s.kind == k && usable(s.id, proc) && (!mustOwn || s.owner == proc)) c.push_back(s.id);
        if (c.empty()) return -1;
        return static_cast<int>(c[rnd(c.size())]);
    }
    Op& push(Kind k, int proc, int stream = -1) {
        prog_.ops.emplace_back();
        Op& op = prog_.ops.back();
        op.kind = k;
        op.proc = static_cast<uint8_t>(proc);
        op.stream = static_cast<int16_t>(stream);
        return op;
    }
    // The operation just pushed occupies the next position of its stream.
    uint32_t enqueue(int stream) {
        StreamState& st = streams_[stream];
        const Op& op = prog_.ops.back();
        st.lastSignal = op.kind == Kind::Signal ? op.sem : -1;
        st.clock.pos[stream] = ++st.seq;
        return st.seq;
    }
    bool covered(const std::vector<Position>& ps, const Clock& c) const {
        for (const auto& p : ps)
            if (!c.covers(p.stream, p.seq)) return false;
        return true;
    }
    // Values a clock says must be visible to proc now (max: the pending value where proc is
    // the only signaler and the check runs in program order).
    void addValues(Op& op, const Clock& c, int proc, bool withMax) {
        for (uint32_t id = 0; id < c.sem.size(); ++id) {
            if (!c.sem[id] || !usable(id, proc) || prog_.sems[id].kind != SemKind::Timeline) continue;
            uint64_t max = withMax && prog_.sems[id].owner == proc ? tl_[id].pending : kNoMax;
            op.values.push_back({id, c.sem[id], max});
        }
    }
    // The newest record of every stream of proc that c covers (host functions: a sample).
    void addNewestRecords(Op& op, const Clock& c, int proc) {
        for (int g = firstStreamOf(proc); g < firstStreamOf(proc) + streamsOf(proc); ++g) {
            const StreamState& st = streams_[g];
            for (size_t i = st.records.size(); i-- > 0;)
                if (c.covers(g, st.recordSeq[i])) {
                    op.records.push_back(st.records[i]);
                    break;
                }
        }
    }
    // Everything the host of proc knows now and has not checked yet.
    void addHostChecks(Op& op, int proc) {
        HostState& h = host_[proc];
        addValues(op, h.clock, proc, true);
        for (int g = firstStreamOf(proc); g < firstStreamOf(proc) + streamsOf(proc); ++g) {
            const StreamState& st = streams_[g];
            for (size_t i = 0; i < st.records.size(); ++i)
                if (st.recordSeq[i] > h.verified[g] && h.clock.covers(g, st.recordSeq[i])) op.records.push_back(st.records[i]);
            h.verified[g] = std::max(h.verified[g], std::min(h.clock.pos[g], st.seq));
        }
    }

    // ---- operations ----------------------------------------------------------------------
    bool signal(int proc) {
        int t = pick(proc, SemKind::Timeline, true);
        if (t < 0) return false;
        int s = pickStream(proc);
        if (!prog_.config.timelineTwiceInARow && streams_[s].lastSignal == t) return false;
        Op& op = push(Kind::Signal, proc, s);
        op.sem = t;
        op.value = tl_[t].pending + 1 + rnd(3);
        tl_[t].pending = op.value;
        enqueue(s);
        streams_[s].clock.raise(t, op.value);
        return true;
    }
    bool wait(int proc) {
        int t = pick(proc, SemKind::Timeline, false);
        if (t < 0) return false;
        uint64_t pending = tl_[t].pending;
        int s = pickStream(proc);
        Op& op = push(Kind::Wait, proc, s);
        op.sem = t;
        if (pending == 0 || chance(3)) op.value = 0;  // needs no signal
        else op.value = pending - rnd(std::min<uint64_t>(pending, 6));
        enqueue(s);
        streams_[s].clock.raise(t, op.value);
        return true;
    }
    bool binarySignal(int proc) {
        int b = pick(proc, SemKind::Binary, true);
        if (b < 0) return false;
        BinaryState& st = bin_[b];
        if (prog_.sems[b].native && !st.epoch.empty()) return false;  // Vulkan: no signal of a signaled binary
        if (!prog_.config.binarySignaledTwice && !st.epoch.empty()) return false;
        int s = pickStream(proc);
        if (!prog_.config.binaryFromSeveralStreams && !st.epoch.empty()) s = st.epoch.front().stream;
        if (!covered(st.previous, streams_[s].clock) && !covered(st.previous, host_[proc].clock)) return false;
        Op& op = push(Kind::BinarySignal, proc, s);
        op.sem = b;
        st.epoch.push_back({s, enqueue(s)});
        return true;
    }
    bool binaryWait(int proc) {
        int b = pick(proc, SemKind::Binary, true);
        if (b < 0) return false;
        BinaryState& st = bin_[b];
        if (st.epoch.empty()) return false;
        // Vulkan: a native binary wait is submitted after its signal; known once the host saw it complete.
        if (prog_.sems[b].native && !covered(st.epoch, host_[proc].clock)) return false;
        int s = pickStream(proc);
        // The previous epoch's wait must have completed first: a wait consumes any signal, so
        // a later wait that ran before it could take the signal meant for it.
        if (!covered(st.previous, streams_[s].clock) && !covered(st.previous, host_[proc].clock)) return false;
        Op& op = push(Kind::BinaryWait, proc, s);
        op.sem = b;
        if (st.epoch.size() > 1) st.residual = true;
        st.previous = st.epoch;
        st.previous.push_back({s, enqueue(s)});
        st.epoch.clear();
        return true;
    }
    bool binaryHost(int proc) {
        int b = pick(proc, SemKind::Binary, true);
        if (b < 0) return false;
        BinaryState& st = bin_[b];
        const Clock& h = host_[proc].clock;
        if (!st.epoch.empty() && (prog_.sems[b].native || chance(50))) {
            // A signal without a wait after it: the semaphore becomes signaled and stays so.
            Op& op = push(Kind::BinaryHostWait, proc);
            op.sem = b;
            op.value = 0;
            op.expect = prog_.sems[b].native ? batonErrorNotSupported : batonSuccess;
            op.binary = prog_.sems[b].native ? kBinNone : kBinOne;
            return true;
        }
        Op& op = push(Kind::BinaryObserve, proc);
        op.sem = b;
        bool epochSeen = false;
        for (const auto& p : st.epoch) epochSeen = epochSeen || h.covers(p.stream, p.seq);
        if (epochSeen) op.binary = kBinOne;
        else if (st.epoch.empty() && covered(st.previous, h)) op.binary = st.residual ? kBinZeroOrOne : kBinZero;
        else op.binary = kBinZeroOrOne;
        return true;
    }
    bool keyedAcquire(int proc) {
        int h = pick(proc, SemKind::Keyed, false);
        if (h < 0) return false;
        MutexState& m = mutexes_[prog_.sems[h].mutex];
        if (m.holder >= 0) return false;
        int s = pickStream(proc);
        if (!prog_.config.keyedOnSeveralStreams) s = firstStreamOf(proc) + static_cast<int>(h % streamsOf(proc));
        Op& op = push(Kind::KeyedAcquire, proc, s);
        op.sem = h;
        op.value = m.key;
        op.timeoutMs = kAcquireTimeoutMs;
        m.holder = h;
        m.holderStream = s;
        failedAcquire_[h] = false;
        enqueue(s);
        if (prog_.config.keyedReleaseOrder) streams_[s].clock.join(m.released);
        return true;
    }
    bool keyedRelease(int proc) {
        for (auto& m : mutexes_) {
            if (m.holder < 0 || !usable(static_cast<uint32_t>(m.holder), proc)) continue;
            Op& op = push(Kind::KeyedRelease, proc, m.holderStream);
            op.sem = m.holder;
            // A key no release used before: an acquire can only be satisfied by the one release
            // the model gives it (with a repeated key, an acquire on another stream or in the
            // other process could take that release first, whatever the program order).
            op.value = ++m.keys;
            m.key = op.value;
            enqueue(m.holderStream);
            m.released = streams_[m.holderStream].clock;
            m.holder = -1;
            return true;
        }
        return false;
    }
    bool keyedRefused(int proc) {
        int h = pick(proc, SemKind::Keyed, false);
        if (h < 0) return false;
        const MutexState& m = mutexes_[prog_.sems[h].mutex];
        // After a failed acquire a release is accepted and does nothing (the header: "its
        // release (if already enqueued) does nothing"): not a refusal to check.
        if (m.holder != h && failedAcquire_[h]) return false;
        Op& op = push(Kind::KeyedRefused, proc);
        op.sem = h;
        op.expect = batonErrorIllegalState;
        if (m.holder == h) {
            if (chance(50)) {  // acquire twice
                op.stream = static_cast<int16_t>(pickStream(proc));
                op.acquire = true;
                op.value = m.key;
                op.timeoutMs = 1;
            } else {  // release on another stream than the acquire's
                op.stream = static_cast<int16_t>(pickStreamOther(proc, m.holderStream));
                op.value = 1;
            }
        } else {  // release without an acquire
            op.stream = static_cast<int16_t>(pickStream(proc));
            op.value = 1;
        }
        return true;
    }
    bool keyedTimeout(int proc) {
        int h = pick(proc, SemKind::Keyed, false);
        if (!prog_.config.keyedTimeout || h < 0 || mutexes_[prog_.sems[h].mutex].holder == h) return false;
        int s = pickStream(proc);
        Op& op = push(Kind::KeyedTimeout, proc, s);
        op.sem = h;
        op.value = kNeverKey;
        op.timeoutMs = 2;
        failedAcquire_[h] = true;
        enqueue(s);
        // The timeout is reported by the stream's next call: synchronize it at once.
        streamSync(proc, s, batonErrorTimeout);
        return true;
    }
    bool hostFn(int proc) {
        int s = pickStream(proc);
        Op& op = push(Kind::HostFn, proc, s);
        op.value = streams_[s].hostFns++;
        prog_.hostFns[proc]++;
        const Clock& c = streams_[s].clock;  // what is complete before it runs
        addValues(op, c, proc, false);
        addNewestRecords(op, c, proc);
        enqueue(s);
        return true;
    }
    bool record(int proc) {
        int s = pickStream(proc);
        Op& op = push(Kind::Record, proc, s);
        op.word = prog_.words[proc]++;
        op.fill = static_cast<uint32_t>(rng_()) | 1u;
        uint32_t seq = enqueue(s);
        streams_[s].records.push_back({op.word, op.fill, static_cast<uint32_t>(prog_.ops.size() - 1)});
        streams_[s].recordSeq.push_back(seq);
        return true;
    }
    EventState& event(int proc, int e) { return events_[proc * kEventsPerProc + e]; }
    bool eventOp(int proc) {
        int e = static_cast<int>(rnd(kEventsPerProc));
        EventState& ev = event(proc, e);
        const HostState& h = host_[proc];
        unsigned r = static_cast<unsigned>(rnd(10));
        if (r < 4) {
            int s = pickStream(proc);
            push(Kind::EventRecord, proc, s).event = e;
            ev.seq = enqueue(s);
            ev.stream = s;
            ev.recorded = true;
            ev.clock = streams_[s].clock;
        } else if (r < 7) {
            if (!prog_.config.eventWait) return false;
            int s = pickStream(proc);
            push(Kind::EventWait, proc, s).event = e;
            enqueue(s);
            if (ev.recorded) streams_[s].clock.join(ev.clock);
        } else if (r < 9) {
            Op& op = push(Kind::EventQuery, proc);
            op.event = e;
            op.expect = !ev.recorded || h.clock.covers(ev.stream, ev.seq) ? batonSuccess : kEither;
            addValues(op, ev.clock, proc, true);
        } else {
            push(Kind::EventSync, proc).event = e;
            if (ev.recorded) host_[proc].clock.join(ev.clock);
            addHostChecks(prog_.ops.back(), proc);
        }
        return true;
    }
    bool hostWait(int proc) {
        int t = pick(proc, SemKind::Timeline, false);
        if (t < 0) return false;
        const SemSpec& s = prog_.sems[t];
        if (s.owner == proc && chance(30)) {
            // Nobody signals above pending (proc is the only signaler and calls in program order).
            Op& op = push(Kind::HostWaitTimeout, proc);
            op.sem = t;
            op.value = tl_[t].pending + 1;
            op.timeoutMs = 1;
            op.expect = batonErrorTimeout;
            return true;
        }
        if (tl_[t].pending == 0) return false;
        Op& op = push(Kind::HostWait, proc);
        op.sem = t;
        op.value = tl_[t].pending - rnd(std::min<uint64_t>(tl_[t].pending, 4));
        op.timeoutMs = kHostWaitMs;
        host_[proc].clock.raise(t, op.value);
        addValues(op, host_[proc].clock, proc, true);
        return true;
    }
    void streamSync(int proc, int s, int expect = batonSuccess) {
        Op& op = push(Kind::StreamSync, proc, s);
        op.expect = expect;
        op.value = streams_[s].hostFns;
        host_[proc].clock.join(streams_[s].clock);
        addHostChecks(op, proc);
    }
    bool syncOp(int proc) {
        unsigned r = static_cast<unsigned>(rnd(10));
        int s = pickStream(proc);
        if (r < 5) {
            streamSync(proc, s);
        } else if (r < 9) {
            Op& op = push(Kind::StreamQuery, proc, s);
            op.expect = host_[proc].clock.covers(s, streams_[s].seq) ? batonSuccess : kEither;
            op.value = streams_[s].hostFns;
            addValues(op, streams_[s].clock, proc, true);
        } else {
            deviceSync(proc);
        }
        return true;
    }
    void deviceSync(int proc) {
        Op& op = push(Kind::DeviceSync, proc);
        for (int g = firstStreamOf(proc); g < firstStreamOf(proc) + streamsOf(proc); ++g)
            host_[proc].clock.join(streams_[g].clock);
        addHostChecks(op, proc);
    }
    bool destroy(int proc) {
        // A local timeline or binary semaphore, whatever is pending on it.
        if (!prog_.config.destroyWithPending) return false;
        std::vector<size_t> c;
        for (size_t i = 0; i < slots_.size(); ++i)
            if (prog_.sems[slots_[i]].owner == proc) c.push_back(i);
        if (c.empty()) return false;
        size_t slot = c[rnd(c.size())];
        uint32_t old = slots_[slot];
        SemSpec repl = prog_.sems[old];
        repl.initial = false;
        uint32_t fresh = addSem(repl);
        prog_.sems[fresh].initial = false;
        live_[old] = false;
        slots_[slot] = fresh;
        Op& op = push(Kind::Destroy, proc);
        op.sem = static_cast<int32_t>(old);
        op.newSem = static_cast<int32_t>(fresh);
        return true;
    }
    bool refused(int proc) {
        int t = pick(proc, SemKind::Timeline, true);
        if (t < 0) return false;
        int s = pickStream(proc);
        unsigned r = static_cast<unsigned>(rnd(4));
        Op& op = push(r == 3 ? Kind::RefusedWait : Kind::RefusedSignal, proc, s);
        op.sem = t;
        op.expect = batonErrorInvalidValue;
        op.value2 = tl_[t].pending;
        if (r == 0) {
            op.value = rnd(tl_[t].pending + 1);  // 0 or not above pending
        } else if (r == 1) {
            op.value = tl_[t].pending + 1;
            op.flags = 1;
        } else if (r == 2) {
            // An array whose second element is refused: the first must not be enqueued either.
            // The same semaphore twice with the same value is refused too ("earlier in the array").
            int t2 = pick(proc, SemKind::Timeline, true);
            op.sem2 = t2;
            op.value3 = tl_[t2].pending + 1;
            op.value4 = tl_[t2].pending;
            op.value = t2 == t ? op.value3 : rnd(tl_[t].pending + 1);
        } else {
            op.value = 1;
            op.flags = 1;
        }
        return true;
    }

    void step() {
        int proc = prog_.config.cross && chance(30) ? 1 : 0;
        unsigned r = static_cast<unsigned>(rnd(1000));
        bool ok;
        if (r < 180) ok = signal(proc);
        else if (r < 340) ok = wait(proc);
        else if (r < 400) ok = binarySignal(proc);
        else if (r < 440) ok = binaryWait(proc);
        else if (r < 455) ok = binaryHost(proc);
        else if (r < 500) ok = keyedAcquire(proc);
        else if (r < 545) ok = keyedRelease(proc);
        else if (r < 555) ok = keyedRefused(proc);
        else if (r < 558) ok = keyedTimeout(proc);
        else if (r < 640) ok = hostFn(proc);
        else if (r < 720) ok = record(proc);
        else if (r < 800) ok = eventOp(proc);
        else if (r < 830) ok = hostWait(proc);
        else if (r < 900) ok = syncOp(proc);
        else if (r < 905) ok = destroy(proc);
        else if (r < 925) ok = refused(proc);
        else ok = signal(proc) || wait(proc);
        (void)ok;
    }

    // Releases every held mutex, synchronizes every process and checks exact final values.
    void finish() {
        for (int proc = 0; proc < (prog_.config.cross ? 2 : 1); ++proc) {
            while (keyedRelease(proc)) {
            }
        }
        for (int proc = 0; proc < (prog_.config.cross ? 2 : 1); ++proc) {
            deviceSync(proc);
            Op& op = push(Kind::Final, proc);
            for (const auto& s : prog_.sems) {
                if (!usable(s.id, proc)) continue;
                if (s.kind == SemKind::Timeline && s.owner == proc)
                    op.values.push_back({s.id, tl_[s.id].pending, tl_[s.id].pending});
            }
        }
    }

    Program prog_;
    std::mt19937_64 rng_;
    std::vector<bool> live_;
    std::vector<bool> failedAcquire_;  // keyed handles whose last acquire timed out
    std::vector<TimelineState> tl_;
    std::vector<BinaryState> bin_;
    std::vector<MutexState> mutexes_;
    std::vector<uint32_t> slots_;  // local timelines and binaries that Destroy may replace
    StreamState streams_[kStreams];
    EventState events_[kProcs * kEventsPerProc];
    HostState host_[kProcs];
};

}  // namespace

Program generate(const Config& c) { return Generator(c).run(); }

const char* kindName(Kind k) {
    switch (k) {
    case Kind::Signal: return "Signal";
    case Kind::Wait: return "Wait";
    case Kind::BinarySignal: return "BinarySignal";
    case Kind::BinaryWait: return "BinaryWait";
    case Kind::BinaryHostWait: return "BinaryHostWait";
    case Kind::BinaryObserve: return "BinaryObserve";
    case Kind::KeyedAcquire: return "KeyedAcquire";
    case Kind::KeyedRelease: return "KeyedRelease";
    case Kind::KeyedRefused: return "KeyedRefused";
    case Kind::KeyedTimeout: return "KeyedTimeout";
    case Kind::HostFn: return "HostFn";
    case Kind::Record: return "Record";
    case Kind::EventRecord: return "EventRecord";
    case Kind::EventWait: return "EventWait";
    case Kind::EventQuery: return "EventQuery";
    case Kind::EventSync: return "EventSync";
    case Kind::HostWait: return "HostWait";
    case Kind::HostWaitTimeout: return "HostWaitTimeout";
    case Kind::StreamSync: return "StreamSync";
    case Kind::StreamQuery: return "StreamQuery";
    case Kind::DeviceSync: return "DeviceSync";
    case Kind::Destroy: return "Destroy";
    case Kind::RefusedSignal: return "RefusedSignal";
    case Kind::RefusedWait: return "RefusedWait";
    case Kind::Final: return "Final";
    }
    return "?";
}

std::string describe(const Program& p, size_t index) {
    if (index >= p.ops.size()) return "(end)";
    const Op& op = p.ops[index];
    char buf[256];
    std::string sem = "-";
    if (op.sem >= 0) {
        const SemSpec& s = p.sems[op.sem];
        sem = std::to_string(op.sem) + (s.kind == SemKind::Timeline ? ":timeline" : s.kind == SemKind::Binary ? ":binary" : ":keyed") +
              (s.native ? "/native" : "/portable") + (s.shared ? "/shared" : "");
    }
    std::snprintf(buf, sizeof buf, "op %zu: %s proc %d stream %d sem %s value %llu event %d%s", index, kindName(op.kind),
                  op.proc, op.stream, sem.c_str(), static_cast<unsigned long long>(op.value), op.event,
                  op.sem2 >= 0 ? (" sem2 " + std::to_string(op.sem2)).c_str() : "");
    return buf;
}

}  // namespace stress
