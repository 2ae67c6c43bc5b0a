#!/usr/bin/env bash
# H200 run: the fault sweep, then the CTest suite (no sweep, no sandbox/embed), compact logs to $OUT.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/baton-gpu}; mkdir -p "$OUT" /work
[ -e /work/main ] || ln -s "$PWD" /work/main
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
cd build-gpu
export BATON_VALIDATION=1
run() { local name=$1 t=$2; shift 2; timeout $t stdbuf -oL -eL "$@" > "/tmp/$name.log" 2>&1; echo "$name rc=$? $(grep -cE 'VUID' "/tmp/$name.log") VUIDs; $(grep -E '^\[  (PASSED|FAILED) ' "/tmp/$name.log" | head -3 | cut -c1-200 | tr '\n' ' ')";
  grep -v '^\[validation warning\]' "/tmp/$name.log" | grep -v "^baton: warning" | cut -c1-400 | head -c 4000000 | gzip > "$OUT/$name.log.gz"; }
run sweepA 140 tests/fault/test_fault_sweep --gtest_filter='*vkQueueSubmit2*' &
run sweepB 140 tests/fault/test_fault_sweep --gtest_filter='*vkWaitSemaphores_DEVICE_LOST:*vkGetSemaphoreFdKHR*:*vkCreateImage*' &
wait
