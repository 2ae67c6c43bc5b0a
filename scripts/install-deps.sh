#!/usr/bin/env bash
# Installs baton's build and test dependencies from Debian 12 (bookworm) packages, only the
# ones missing. Needs root (or sudo) when anything is missing.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libvulkan-dev libvulkan-volk-dev vulkan-validationlayers mesa-vulkan-drivers vulkan-tools
      glslc libglfw3-dev libimgui-dev libstb-dev libglm-dev
      libgtest-dev libbenchmark-dev xvfb xauth xdotool fonts-dejavu-core python3 doxygen
      clang-14 libclang-rt-14-dev)  # the libFuzzer targets (tests/fuzz)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
