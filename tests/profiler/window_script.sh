#!/usr/bin/env bash
# Drives the windowed sandbox with xdotool under Xvfb (started by test_window_script.cpp via
# xvfb-run): pause the frame inspector, zoom its timeline with the mouse wheel, hover zones,
# switch the backend; F12 saves a screenshot after each step (sandbox-screenshot-N.png).
# Ends the run with SIGTERM (the trace, report and settings are written then).
#   window_script.sh SANDBOX DIR
set -u
sandbox=$1
dir=$2
cd "$dir" || exit 2
export XDG_CONFIG_HOME="$dir/config" BATON_VALIDATION=1
"$sandbox" --cpu --size 1280x720 --inspector --ui-map ui.txt --report report.json --trace trace.json \
  > sandbox.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  grep -qs inspector_timeline ui.txt && break
  sleep 0.1
done
wid=$(xdotool search --sync --onlyvisible --name "baton sandbox" | head -1)
[ -n "$wid" ] || { echo "no sandbox window"; kill "$pid"; exit 3; }
xdotool windowfocus --sync "$wid" 2>/dev/null || true
center() { awk -v n="$1" '$1 == n { printf "%d %d", $2 + $4 / 2, $3 + $5 / 2 }' ui.txt; }
at() { awk -v n="$1" -v fx="$2" -v fy="$3" '$1 == n { printf "%d %d", $2 + $4 * fx, $3 + $5 * fy }' ui.txt; }
n=0
press() {  # a click on widget $1, held across frames; its place is read again just before (a
           # status line can move the layout for a frame or two after a screenshot)
  sleep 1
  read -r x y <<< "$(center "$1")"; xdotool mousemove --window "$wid" "$x" "$y"
  sleep 0.5
  read -r x y <<< "$(center "$1")"; xdotool mousemove --window "$wid" "$x" "$y"
  sleep 0.3
  xdotool mousedown 1
  sleep 0.4
  xdotool mouseup 1
  sleep 0.4
}
shot() {  # F12 held until the file appears (ImGui 1.86 polls key state once a frame; a loaded
          # machine can take longer than any fixed press), then released
  n=$((n + 1))
  xdotool keydown F12
  for _ in $(seq 1 200); do [ -s "sandbox-screenshot-$n.png" ] && break; sleep 0.05; done
  xdotool keyup F12
  sleep 0.3
  echo "shot $n: $1 (mouse $(xdotool getmouselocation))" >> steps.txt
}
sleep 2
read -r x y <<< "$(at inspector_timeline 0.5 -0.3)"; xdotool mousemove --window "$wid" "$x" "$y"
shot live
# Pause, checked through the ui map's state line (a click on a loaded machine can fall
# between layout updates): at most three tries.
for _ in 1 2 3; do
  press inspector_pause
  sleep 1
  grep -qs "^inspector_paused 1" ui.txt && break
done
read -r x y <<< "$(at inspector_timeline 0.5 -0.3)"; xdotool mousemove --window "$wid" "$x" "$y"
shot paused
sleep 0.5
shot "paused, nothing done"
read -r x y <<< "$(at inspector_timeline 0.35 0.6)"; xdotool mousemove --window "$wid" "$x" "$y"
sleep 0.4
for _ in 1 2 3 4; do xdotool click 4; sleep 0.2; done
read -r x y <<< "$(at inspector_timeline 0.5 -0.3)"; xdotool mousemove --window "$wid" "$x" "$y"
shot zoomed
# Hover along the first lane (the stream queue's zones): one step per screenshot.
for fx in 0.15 0.25 0.35 0.45 0.55; do
  read -r x y <<< "$(at inspector_timeline "$fx" 0)"
  xdotool mousemove --window "$wid" "$x" "$((y + 72))"
  echo "hover $x $((y + 72))" >> steps.txt
  sleep 0.3
  shot "hover $fx"
done
press backend_keyed
sleep 3
read -r x y <<< "$(at inspector_timeline 0.5 -0.3)"; xdotool mousemove --window "$wid" "$x" "$y"
shot keyed
# The fractal: three wheel clicks over it (between the panel and the controls) zoom the view.
read -r x y <<< "$(at panel 1.1 0.15)"; xdotool mousemove --window "$wid" "$x" "$y"
for _ in 1 2 3; do xdotool click 4; sleep 0.15; done
sleep 0.3
kill -TERM "$pid"
wait "$pid"
echo "sandbox exit $?" >> steps.txt
