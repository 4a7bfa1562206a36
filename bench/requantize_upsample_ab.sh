#!/bin/bash
# bench/requantize_upsample_ab.sh "name|bench_int_engine args" ...: the A/B of
# requantize_upsample against PyTorch int8 (bench/README.md, issue 13 session 3).
# one benchmark run: models given as "name|args"; each off (with PyTorch's
# columns, bench/int_engine.sh) then on (bench_int_engine alone, the same
# arguments and reps, compared with the PyTorch int8 time just measured).
# qat's float model is not timed unless the args say --float 1 (it is the
# same float model in every row).
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE
echo "commit $(git rev-parse --short HEAD), $(lscpu | grep -E 'Model name|CPU family|^Model:' | sed 's/  */ /g' | tr '\n' ' '), OPENBLAS_CORETYPE unset"
for spec in "$@"; do
  name=${spec%%|*}; args=${spec#*|}
  echo "=== $name requantize_upsample=0"
  BENCH_ARGS="--float 0 $args" bash bench/int_engine.sh build 5 1 2
  for t in 1 2; do
    echo "=== $name requantize_upsample=1 threads $t"
    OMP_NUM_THREADS=$t build/bench/bench_int_engine --threads $t --reps 5 --portable 0 --float 0 $args --requantize-upsample 1
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%H:%M UTC')"
