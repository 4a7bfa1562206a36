#!/usr/bin/env bash
# A training step quiet, then with one CPU-bound process per core
# (`stress-ng --cpu 2`), for each binary given (issue 12 part 5):
#
#   bench/busy_machine.sh BENCH_TRAIN_STEP [BENCH_TRAIN_STEP...] [-- ARGS]
#
# ARGS go to every bench_train_step (default: --size small --steps 7
# --warmup 3: the governor needs two busy steps to act, which the warm-up
# holds). Prints one line per binary: quiet s/step, busy s/step, slowdown.
# Asserts nothing; run it with nothing else on the machine.
set -euo pipefail
bins=()
while [[ $# -gt 0 && $1 != -- ]]; do bins+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--size small --steps 7 --warmup 3)
command -v stress-ng >/dev/null || { echo "busy_machine.sh: stress-ng not found (apt-get install stress-ng)" >&2; exit 2; }

seconds() { "$@" 2>&1 | awk '/^RESULT/ {print $5}'; }

echo "$(date -u '+%F %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| binary | quiet s/step | stress-ng --cpu 2 s/step | slowdown |\n|---|---|---|---|\n'
for b in "${bins[@]}"; do
  quiet=$(seconds "$b" "${args[@]}")
  stress-ng --cpu 2 --quiet & hog=$!
  sleep 1
  busy=$(seconds "$b" "${args[@]}")
  kill "$hog"; wait "$hog" 2>/dev/null || true
  awk -v b="$b" -v q="$quiet" -v s="$busy" 'BEGIN { printf "| %s | %s | %s | %.1fx |\n", b, q, s, s / q }'
done
