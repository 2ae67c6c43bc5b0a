#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine: installs what is missing, builds
# from scratch and runs every test through CTest with the Khronos validation layer on
# (lavapipe where there is no GPU), then again under AddressSanitizer+UndefinedBehavior-
# Sanitizer, then the concurrency tests under ThreadSanitizer, then each libFuzzer target
# (tests/fuzz) for a bounded time from its corpus, built with clang-14.
#   scripts/test.sh            all three
#   scripts/test.sh --quick    the plain build only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
export BATON_VALIDATION=1

run_suite() {  # name, cmake args..., then ctest args after --
  local name=$1; shift
  local cm=() ct=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cm+=("$1"); shift; done
  [ $# -gt 0 ] && shift && ct=("$@")
  echo "=== $name"
  cmake -S . -B "build/$name" -G Ninja "${cm[@]}" >/dev/null
  cmake --build "build/$name" -j "$jobs"
  (cd "build/$name" && ctest --output-on-failure -j "$jobs" --timeout 900 "${ct[@]}")
}

run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo
[ "${1:-}" = "--quick" ] && exit 0
# Under the sanitizers (5-15x slower) the channel's every-pixel cases run 1,000 frames
# instead of 10,000: the plain run above already did the full count.
export BATON_CHANNEL_FRAMES=1000
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite asan -DCMAKE_BUILD_TYPE=Debug -DBATON_SANITIZE=address,undefined -DBATON_BUILD_SANDBOX=OFF \
  -DBATON_BUILD_BENCHMARKS=OFF -- -LE no_sanitizer
export TSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/tsan.supp:halt_on_error=1:second_deadlock_stack=1
run_suite tsan -DCMAKE_BUILD_TYPE=Debug -DBATON_SANITIZE=thread -DBATON_BUILD_SANDBOX=OFF \
  -DBATON_BUILD_BENCHMARKS=OFF -- -L concurrency -LE no_sanitizer

# libFuzzer (tests/fuzz/README.md): a clang-14 build of the fuzz targets only (the core is
# compiled with coverage, ASan and UBSan), each run for BATON_FUZZ_SECONDS (20) from the
# corpus in the repo. A crash, UB, a leaked fd or a failed property aborts the run; the input
# that did it is kept as build/fuzz/crash-*.
echo "=== fuzz"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DBATON_FUZZ=ON -DBATON_BUILD_SANDBOX=OFF -DBATON_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/fuzz -j "$jobs" --target baton_fuzz
unset BATON_VALIDATION  # the targets' own context runs without the layer: it is the fuzzed code that is checked
for t in fuzz_transport_message fuzz_import fuzz_shared_page; do
  work=$(mktemp -d)
  if ! build/fuzz/tests/fuzz/$t -max_total_time="${BATON_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=build/fuzz/ "$work" "tests/fuzz/corpus/$t" >"build/fuzz/$t.log" 2>&1; then
    tail -n 60 "build/fuzz/$t.log"
    echo "fuzz: $t failed (log: build/fuzz/$t.log)"
    exit 1
  fi
  echo "$t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "build/fuzz/$t.log" | grep -o '[0-9]*$') inputs, no crash"
  rm -rf "$work"
done
