#!/usr/bin/env bash
# The README's run command: installs what is missing (scripts/install-deps.sh), builds the
# sandbox and starts it: a window when there is a display, otherwise a headless run that
# writes a PNG of what the window would show and a JSON report, and says where they went.
#   scripts/sandbox.sh                 window (or headless without a display)
#   scripts/sandbox.sh --headless ...  headless; any other option goes to the sandbox (--help)
# BATON_SANDBOX_OUT=DIR picks the headless output directory (default ./sandbox-out).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scripts_dir="$root/scripts"
"$scripts_dir/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja >/dev/null
cmake --build "$root/build" --target baton-sandbox baton-sandbox-headless -j "$(nproc)"
headless=0
for a in "$@"; do [ "$a" = "--headless" ] && headless=1; done
if [ $headless -eq 0 ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$root/build/sandbox/baton-sandbox" "$@"
fi
args=()
for a in "$@"; do [ "$a" != "--headless" ] && args+=("$a"); done
out="${BATON_SANDBOX_OUT:-$PWD/sandbox-out}"
echo "no display: running headless, output in $out"
exec "$root/build/sandbox/baton-sandbox-headless" --out-dir "$out" "${args[@]}"
