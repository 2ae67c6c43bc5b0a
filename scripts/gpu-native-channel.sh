#!/usr/bin/env bash
# H200 run of the frame channel across processes (issue 11), native timelines first: the
# every-pixel / SIGKILL / scribbled-page / telemetry / bad-message cases of test_channel_xproc
# for native, then the portable and keyed ones (never run on the H200 before), the sandbox's
# process mode (native by default there now), bench_crossprocess's rows, and headless PNGs of
# process mode with native timelines (one with a kill and a restart). Compact logs to $OUT.
# Needs a Release build in build-gpu/ with these targets built: test_channel_xproc
# channel_peer bench_crossprocess test_sandbox baton-sandbox-headless baton-sandbox-producer.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/baton-gpu}; mkdir -p "$OUT" /work
[ -e /work/main ] || ln -s "$PWD" /work/main  # build-gpu's absolute paths (test_sandbox's SANDBOX_BIN_DIR)
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
cd build-gpu
export BATON_VALIDATION=1
run() { local name=$1 t=$2; shift 2; timeout $t stdbuf -oL -eL "$@" > "/tmp/$name.log" 2>&1; echo "$name rc=$? $(grep -cE 'VUID' "/tmp/$name.log") VUIDs; $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "/tmp/$name.log" | head -4 | cut -c1-200 | tr '\n' ' ')";
  grep -v '^\[validation warning\]' "/tmp/$name.log" | cut -c1-400 | head -c 4000000 | gzip > "$OUT/$name.log.gz"; }
run xproc_native 400 tests/channel/test_channel_xproc --gtest_filter='*Native*:ChannelXprocBadInput.*'
run xproc_others 500 tests/channel/test_channel_xproc --gtest_filter='-*Native*:ChannelXprocBadInput.*'
run sandbox_process 300 tests/test_sandbox --gtest_filter='SandboxProcess.*:SandboxHeadless.KeyedMutexWithProducerProcess'
# (reports in /tmp: $OUT brings back 8 files at most; their key fields are printed)
run sbx_native 120 sandbox/baton-sandbox-headless --producer process --backend native --frames 200 --png "$OUT/process-native.png" --report /tmp/sbx_native.json --quiet
run sbx_native_kill 120 sandbox/baton-sandbox-headless --backend native --frames 240 --kill-producer-at 60 --restart-producer --png "$OUT/process-native-kill.png" --report /tmp/sbx_native_kill.json --quiet
for r in /tmp/sbx_native.json /tmp/sbx_native_kill.json; do
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); p=r.get('producer_process',{}); print(sys.argv[1], 'fresh', r.get('fresh'), 'validation', r.get('validation_errors'), 'exit', p.get('exit'), 'started', p.get('started'), 'fds', p.get('fds_before_first_ring'), p.get('fds_after_last_teardown'))" "$r" 2>&1 | head -3
done
unset BATON_VALIDATION  # the bench measures without the layer
run bench 500 tests/bench/bench_crossprocess --iterations 10000 --frame-rounds 10000
grep -E '^(16x16|1920x1080|keyed|timeline)' /tmp/bench.log
