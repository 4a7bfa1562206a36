#!/bin/bash
# bench/requantize_upsample_ab.sh "name|bench_int_engine args" ...: the A/B of
# requantize_upsample against PyTorch int8 (bench/README.md, issue 13 session 3).
# one benchmark run: models given as "name|args"; each off (with PyTorch's
# columns, bench/int_engine.sh) then on (bench_int_engine alone, the same
# arguments and reps, compared with the PyTorch int8 time just measured)
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE
echo "commit $(git rev-parse --short HEAD), $(lscpu | grep 'Model name' | sed 's/  */ /g')"
for spec in "$@"; do
  name=${spec%%|*}; args=${spec#*|}
  echo "=== $name requantize_upsample=0"
  BENCH_ARGS="$args --float 0" bash bench/int_engine.sh build 5 1 2
  for t in 1 2; do
    echo "=== $name requantize_upsample=1 threads $t"
    OMP_NUM_THREADS=$t build/bench/bench_int_engine --threads $t --reps 5 --portable 0 $args --float 0 --requantize-upsample 1
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%H:%M UTC')"
