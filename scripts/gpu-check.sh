#!/usr/bin/env bash
# Runs baton's checks on the NVIDIA GPU machine (the `device` tool) and writes results to $OUT.
# Expects: a build in $BUILD (default build-gpu, made on Debian 12 with benchmarks and the
# sandbox on), and in .gl/ the Debian .debs of libvulkan1, the validation layers and the
# glvnd/X client libraries the NVIDIA ICD needs, plus Vulkan headers in .gl/include (for nvcc).
# Steps, each time-boxed so that one hang cannot eat the others:
#   1. the CUDA interop program (nvcc), validation on, then its figures with validation off
#   2. bench_handoff (channel vs raw Vulkan vs host fence) and bench_crossprocess
#   3. the sandbox headless at 1920x1080, native and portable (PNG + JSON reports)
#   4. the CTest suite on the NVIDIA driver, validation on (native backend active)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
OUT=${OUT:-/tmp/baton-gpu}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
LOG="$OUT/gpu-check.log"
exec > >(tee "$LOG") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

if command -v nvcc >/dev/null; then
  echo "=== CUDA interop"
  nvcc -O2 -std=c++17 -o /tmp/cuda_interop tests/gpu/cuda_interop.cu -Iplugin/include -I.gl/include \
       -L"$BUILD/plugin" -lbaton -Xlinker -rpath -Xlinker "$PWD/$BUILD/plugin" || echo "FAIL nvcc"
  # Correctness with the validation layer on; figures from a second run with it off (the
  # layer serialises driver calls behind global locks, so its timings mean nothing).
  BATON_VALIDATION=1 timeout 120 /tmp/cuda_interop 2>&1 | grep -v "^baton: error" | tail -8
  BATON_VALIDATION=0 timeout 120 /tmp/cuda_interop 2>&1 | grep -E "figure|round trip" | sed 's/^/[no validation] /'
else
  echo "=== CUDA interop skipped: nvcc not found"
fi

echo "=== bench_handoff"
BATON_VALIDATION=0 timeout 240 "$BUILD/tests/bench/bench_handoff" --frames 20000 --hd-frames 2000 --iterations 64 2>&1 | tail -45
echo "=== bench_handoff --long 1000000 (memory must stay flat)"
BATON_VALIDATION=0 timeout 150 "$BUILD/tests/bench/bench_handoff" --long 1000000 2>&1 | tail -14
echo "=== bench_crossprocess"
BATON_VALIDATION=0 timeout 120 "$BUILD/tests/bench/bench_crossprocess" --iterations 10000 2>&1 | tail -15

echo "=== sandbox headless 1920x1080"
for backend in native portable; do
  BATON_VALIDATION=0 timeout 120 "$BUILD/sandbox/baton-sandbox-headless" --frames 600 --size 1920x1080 \
    --backend $backend --out-dir /tmp/sb-$backend 2>&1 | tail -3
  cp /tmp/sb-$backend/sandbox-report.json "$OUT/sandbox-$backend.json" 2>/dev/null
done
cp /tmp/sb-native/sandbox.png "$OUT/sandbox-h200.png" 2>/dev/null
BATON_VALIDATION=1 timeout 120 "$BUILD/sandbox/baton-sandbox-headless" --frames 300 --size 1920x1080 --delay 4 \
  --jitter 3 --cost 2 --out-dir /tmp/sb-valid > /tmp/sb-valid.log 2>&1
echo "sandbox with validation: exit $?"; tail -3 /tmp/sb-valid.log
grep -o "VUID-[A-Za-z0-9_-]*" /tmp/sb-valid.log | sort | uniq -c
cp /tmp/sb-valid/sandbox-report.json "$OUT/sandbox-validation.json" 2>/dev/null
echo "=== sandbox headless, producer in a separate process, killed at 150 and restarted (validation on)"
BATON_VALIDATION=1 timeout 120 "$BUILD/sandbox/baton-sandbox-headless" --frames 400 --size 1920x1080 --producer process \
  --kill-producer-at 150 --restart-producer --out-dir /tmp/sb-proc > /tmp/sb-proc.log 2>&1
echo "sandbox process mode: exit $?"; tail -4 /tmp/sb-proc.log
grep -o "VUID-[A-Za-z0-9_-]*" /tmp/sb-proc.log | sort | uniq -c
cp /tmp/sb-proc/sandbox-report.json "$OUT/sandbox-process.json" 2>/dev/null
cp /tmp/sb-proc/sandbox.png "$OUT/sandbox-process.png" 2>/dev/null

echo "=== ctest (NVIDIA driver, validation on; window/Xvfb and build-system cases excluded)"
(cd "$BUILD" && BATON_VALIDATION=1 timeout 400 ctest -j 6 --timeout 240 --output-on-failure -LE "embed" \
   -E "Window|Xvfb|EveryPixelOfEveryFrame" > "$OUT/ctest.log" 2>&1; echo "ctest exit $?")
# The 10,000-frame channel cases, 3 of them (the rest take minutes each on a shared run).
(cd "$BUILD" && BATON_VALIDATION=1 timeout 150 ctest -j 3 --timeout 140 --output-on-failure \
   -R "EveryPixelOfEveryFrame/(Fifo3|Mailbox3|Fifo2) " > "$OUT/ctest-channel.log" 2>&1; echo "channel ctest exit $?")
grep -E "tests passed|\*\*\*Failed|\*\*\*Timeout" "$OUT/ctest-channel.log"
grep -E "tests passed|\*\*\*Failed|\*\*\*Timeout|Exception|Not Run" "$OUT/ctest.log" | head -40
(cd "$BUILD" && BATON_VALIDATION=0 timeout 60 tests/test_native 2>&1 | grep -E "figure" | sed 's/^/[no validation] /')
