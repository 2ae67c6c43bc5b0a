#!/usr/bin/env bash
# H200 runs in named steps (the `device` tool), each time-boxed, compact logs to $OUT:
#   scripts/gpu-steps.sh cuda bench xbench "ctest:<regex>" "gtest:<binary>:<filter>" sweep:<filter>
# ctest: CTEST_J (jobs, 6), CTEST_T (seconds, 560), CTEST_E (more to leave out, a regex).
# Expects build-gpu/ (Release, -DBATON_BUILD_BENCHMARKS=ON, made on Debian 12) and .gl/ as
# scripts/gpu-check.sh describes. Validation is on for tests, off for the benchmarks.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/baton-gpu}; mkdir -p "$OUT" /work
[ -e /work/main ] || ln -s "$PWD" /work/main
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
B=$PWD/build-gpu
keep() {  # name: gzip the log without the validation layer's warnings, but for its state
          # timeouts (a layer wait that never ends: they would have named session 8's stress hang)
  awk '/state-timeout/ || !/^(\[validation warning\]|baton: warning)/' "/tmp/$1.log" | cut -c1-400 | head -c 4000000 \
    | gzip > "$OUT/$1.log.gz"; }
step() {  # name seconds command...
  local name=$1 t=$2; shift 2
  local t0=$(date +%s)
  timeout "$t" stdbuf -oL -eL "$@" > "/tmp/$name.log" 2>&1; local rc=$?
  echo "## $name rc=$rc $(( $(date +%s) - t0 ))s VUIDs=$(grep -cE 'VUID' "/tmp/$name.log")"
  keep "$name"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for s in "$@"; do
  case $s in
    cuda) OUT=$OUT scripts/gpu-cuda-interop.sh > /tmp/cuda.log 2>&1; echo "## cuda rc=$?"; tail -40 /tmp/cuda.log; keep cuda ;;
    bench) BATON_VALIDATION=0 step bench 240 "$B/tests/bench/bench_handoff" --quick; tail -60 /tmp/bench.log ;;
    benchspin) BATON_HOST_WAIT_SPIN_US=20 BATON_VALIDATION=0 step benchspin 240 "$B/tests/bench/bench_handoff" --quick; tail -40 /tmp/benchspin.log ;;
    xbench) BATON_VALIDATION=0 step xbench 200 "$B/tests/bench/bench_crossprocess" --iterations 10000; tail -40 /tmp/xbench.log ;;
    ctest:*) (cd "$B" && BATON_VALIDATION=1 step ctest "${CTEST_T:-560}" ctest -j "${CTEST_J:-6}" --timeout 300 --output-on-failure \
               -R "${s#ctest:}" -E "Window|Xvfb|embed|Installed${CTEST_E:+|$CTEST_E}");
             grep -E "tests passed|\*\*\*Failed|\*\*\*Timeout|Exception|Not Run|Passed +[0-9.]+ sec" /tmp/ctest.log | tail -60 ;;
    gtest:*) IFS=: read -r _ bin filt <<< "$s"; n=$(basename "$bin")
             BATON_VALIDATION=1 step "$n" 300 "$B/tests/$bin" --gtest_filter="$filt";
             grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[ +(OK|FAILED) |tests ran|VUID-|Failure|rror" "/tmp/$n.log" | sort | uniq -c | sort -rn | head -40 ;;
    *) echo "unknown step $s" ;;
  esac
done
