#!/bin/bash
# bench/int_engine.sh for each model of README's issue-13 tables: fixed_twos
# Q8.0/Q0.8 and Q6.0/Q0.4, the paper's FIXED Q6.0/Q0.4 and Q8.0/Q0.8, each
# without and with requantize_upsample (qat float timed for the first only).
#
#   bench/int_engine_formats.sh [build-dir] [reps]   (default: build, 7 reps; threads 1 and 2)
#
# Prints the CPU, the commit and OPENBLAS_CORETYPE, then per model the
# engine's split (float first block, integer part, conv9) and the table row
# of int_engine.sh. Stop the machine's other jobs while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-7}
lscpu | grep -E 'Model name|Model:'
echo "commit $(git rev-parse --short HEAD), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
formats=("" "--act 6.0 --weight 0.4" "--quantization FIXED --act 6.0 --weight 0.4"
         "--quantization FIXED --act 8.0 --weight 0.8")
for upsample in 0 1; do
  for f in "${formats[@]}"; do
    args="$f"
    [[ $upsample == 1 ]] && args+=" --requantize-upsample 1"
    [[ -n $f || $upsample == 1 ]] && args+=" --float 0"
    echo "=== BENCH_ARGS: $args"
    BENCH_ARGS="$args" bash bench/int_engine.sh "$build" "$reps" 1 2 |
      grep -E 'integer engine|of which|^\| [12] |date'
  done
done
