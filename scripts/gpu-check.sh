#!/usr/bin/env bash
# Runs baton's checks on the NVIDIA GPU machine (the `device` tool) and writes logs to $OUT.
# Expects: a build in $BUILD (default build-gpu, made on the Debian machine with
# -DBATON_BUILD_SANDBOX=OFF), and in .gl/ the Debian .debs of libvulkan1, the validation
# layers and the glvnd/X client libraries the NVIDIA ICD needs, plus Vulkan headers in
# .gl/include (for nvcc). Steps:
#   1. the whole CTest suite on the NVIDIA driver, validation layer on (native backend active)
#   2. the CUDA interop program (nvcc), where CUDA is found
#   3. benchmarks, where built
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
OUT=${OUT:-/tmp/baton-gpu}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export BATON_VALIDATION=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

echo "=== ctest (NVIDIA driver, validation on)"
(cd "$BUILD" && ctest --output-on-failure -j 8 --timeout 600 -LE gpu_skip) > "$OUT/ctest.log" 2>&1
echo "ctest exit $?"; grep -E "tests passed|tests failed|Skipped|Failed|\*\*\*" "$OUT/ctest.log" | head -40
(cd "$BUILD" && BATON_VALIDATION=0 tests/test_native 2>&1 | grep -E "figure|OK|FAILED" | sed 's/^/[no validation] /') | tee "$OUT/native.log"

if command -v nvcc >/dev/null; then
  echo "=== CUDA interop"
  nvcc -O2 -std=c++17 -o "$OUT/cuda_interop" tests/gpu/cuda_interop.cu -Iplugin/include -I.gl/include \
       -L"$BUILD/plugin" -lbaton -Xlinker -rpath -Xlinker "$PWD/$BUILD/plugin" > "$OUT/nvcc.log" 2>&1 \
    || { echo "nvcc failed"; cat "$OUT/nvcc.log"; }
  # Correctness with the validation layer on; figures from a second run with it off (the
  # layer serialises driver calls behind global locks, so its timings mean nothing).
  [ -x "$OUT/cuda_interop" ] && "$OUT/cuda_interop" 2>&1 | tee "$OUT/cuda.log"
  [ -x "$OUT/cuda_interop" ] && BATON_VALIDATION=0 "$OUT/cuda_interop" 2>&1 | grep -E "figure|round trip" | sed 's/^/[no validation] /' | tee -a "$OUT/cuda.log"
else
  echo "=== CUDA interop skipped: nvcc not found"
fi

for b in "$BUILD"/tests/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "=== $(basename "$b")"
  BATON_VALIDATION=0 "$b" 2>&1 | tee "$OUT/$(basename "$b").log" | tail -40
done
