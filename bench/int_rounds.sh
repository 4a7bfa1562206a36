#!/bin/bash
# qat's integer engine against PyTorch's int8 model in alternating rounds.
#
#   [BENCH_ARGS="..."] bench/int_rounds.sh [build-dir] [rounds] [reps] [threads]
#                       (default: build, 5 rounds, 5 reps, 1 thread)
#
# bench/int_engine.sh times qat, then PyTorch, then ONNX Runtime, a minute
# or more apart; on a machine whose speed drifts by 30% within minutes (the
# Intel Xeon of bench/README.md) the ratio of two such medians is mostly
# the drift. Here each round times qat's engine (bench_int_engine --float 0,
# median of reps) and straight after it PyTorch's int8 model
# (torch_int_inference.py --int8-only, median of reps), prints the round's
# ratio, and ends with the median and range of the per-round ratios.
# Timings are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-5}
reps=${3:-5}
t=${4:-1}
qat=$build/bench/bench_int_engine
[[ -x $qat ]] || { echo "no $qat: ninja -C $build bench/bench_int_engine" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null ||
  { echo "python3-torch is missing (bash scripts/setup.sh --reference)" >&2; exit 1; }
lscpu | grep -E 'Model name|Model:'
echo "commit $(git rev-parse --short HEAD), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}," \
     "$(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "qat: ${BENCH_ARGS:-fixed_twos Q8.0/Q0.8}, $t threads, median of $reps per round"
ratios=()
for r in $(seq "$rounds"); do
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of words
  i=$(OMP_NUM_THREADS=$t "$qat" --threads "$t" --reps "$reps" --portable 0 --float 0 ${BENCH_ARGS:-} |
      awk '/^RESULT/ {print $7}')
  q=$(/usr/bin/python3 bench/torch_int_inference.py --threads "$t" --reps "$reps" --int8-only |
      awk '/^RESULT/ {print $5}')
  ratio=$(awk -v a="$i" -v b="$q" 'BEGIN {printf "%.2f", a / b}')
  ratios+=("$ratio")
  echo "round $r: qat int $i ms, PyTorch int8 $q ms, qat / PyTorch $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR] = $1} END {
  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "qat int / PyTorch int8: median %.2f over %d rounds, range %s-%s\n", m, NR, v[1], v[NR]}'
