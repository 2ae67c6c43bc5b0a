#!/usr/bin/env bash
# The Vulkan-CUDA interop program (tests/gpu/cuda_vk_interop.cu) on the NVIDIA GPU machine:
# the interop side built against the real CUDA 13 runtime and against baton, driven by the
# same renderer, and the bad-input probes compared call by call. Expects what gpu-check.sh
# expects (a build in $BUILD, the .gl/ debs and Vulkan headers in .gl/include).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
OUT=${OUT:-/tmp/baton-gpu}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvcc -O2 -std=c++17 -o /tmp/cuda_vk_interop tests/gpu/cuda_vk_interop.cu tests/cuda/baton_kernel.cpp \
     tests/cuda/vk_renderer.cpp -Iplugin/include -Itests/cuda -I.gl/include -L"$BUILD/plugin" -lbaton \
     -l:libvulkan.so.1 -Xlinker -rpath -Xlinker "$PWD/$BUILD/plugin" 2>&1 | tee "$OUT/cuda-vk-interop-build.log" || exit 1
BATON_VALIDATION=1 timeout 300 /tmp/cuda_vk_interop 2>&1 | grep -v "^baton: error" | tee "$OUT/cuda-vk-interop.log"
