#!/usr/bin/env bash
# The trusted-core checks on the NVIDIA GPU machine (the `device` tool): the whole CTest suite
# on the NVIDIA driver with validation on (defects, fault sweep incl. the semaphore-fd calls
# lavapipe lacks, hostile peers, stress with native semaphores, fork), then a short
# bench_handoff. Expects a Release build in build-gpu made here on Debian 12 at /work/main
# (CTest files hold absolute paths: linked back) and .gl/ as scripts/gpu-check.sh describes.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/baton-gpu}
mkdir -p "$OUT" /work
[ -e /work/main ] || ln -s "$PWD" /work/main
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
(cd build-gpu && BATON_VALIDATION=1 timeout 420 ctest -j 8 --timeout 200 -LE "embed|sandbox" -E "Window|Xvfb|EveryPixelOfEveryFrame" \
   > "$OUT/ctest.log" 2>&1; echo "ctest exit $?")
grep -E "tests passed|\*\*\*Failed|\*\*\*Timeout|Exception|Not Run|Skipped" "$OUT/ctest.log" | head -40
BATON_VALIDATION=0 timeout 90 build-gpu/tests/bench/bench_handoff --frames 20000 --hd-frames 500 --iterations 32 2>&1 | tail -30
