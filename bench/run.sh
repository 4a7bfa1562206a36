#!/bin/bash
# qat's training step beside PyTorch's, in one run, as a table.
#
#   bench/run.sh [build-dir] [steps]     (default: build-bench, 5 steps)
#
# Each size runs in its own process (peak RSS is per process), qat first,
# then PyTorch with glibc's default allocator, then PyTorch with memory kept
# (MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000: no page faults
# from returning freed blocks; set before Python starts, hence a subprocess).
# The ratio that counts is qat / PyTorch with the default allocator. Timings
# are printed, never asserted: this is not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
steps=${2:-5}
qat=$build/bench/bench_train_step
[[ -x $qat ]] || { echo "no $qat: build it with ninja -C $build" >&2; exit 1; }
export OMP_NUM_THREADS=2

have_torch=1
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  have_torch=0
  echo "python3-torch is missing (apt-get install python3-torch): qat's numbers only"
fi

# result <output> -> "s/step GFLOP/s peak_MiB cpu_s/step" from its RESULT line
result() { awk '/^RESULT/ {print $5, $7, $9, $11}' <<<"$1"; }
ratio() { [[ $2 == - ]] && echo - || awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OMP_NUM_THREADS=$OMP_NUM_THREADS, median of $steps steps after 1 warm-up"
declare -A row
for size in small full; do
  out=$("$qat" --size $size --steps "$steps" --warmup 1)
  echo "$out"
  read -r q_s q_gf q_rss q_cpu <<<"$(result "$out")"
  t_s=- t_gf=- t_rss=- t_cpu=- k_s=- k_rss=-
  if (( have_torch )); then
    out=$(/usr/bin/python3 bench/torch_train_step.py --size $size --steps "$steps" --warmup 1)
    echo "$out"
    read -r t_s t_gf t_rss t_cpu <<<"$(result "$out")"
    out=$(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 \
          /usr/bin/python3 bench/torch_train_step.py --size $size --steps "$steps" --warmup 1)
    echo "(kept memory) $out"
    read -r k_s _ k_rss _ <<<"$(result "$out")"
  fi
  row[$size]="$q_s $q_gf $q_cpu $q_rss $t_s $t_gf $t_cpu $t_rss $k_s $k_rss"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# s/step: wall-clock median; cpu: user+system seconds of the process per
# step (steadier than wall time when other jobs share the cores).
echo
echo "| size | qat s/step | qat GFLOP/s | qat cpu s | torch s/step | torch GFLOP/s | torch cpu s | torch kept-memory s/step | qat/torch s/step | qat/torch cpu | qat peak RSS | torch peak RSS (kept) | RSS qat/torch |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for size in small full; do
  read -r q_s q_gf q_cpu q_rss t_s t_gf t_cpu t_rss k_s k_rss <<<"${row[$size]}"
  echo "| $size | $q_s | $q_gf | $q_cpu | $t_s | $t_gf | $t_cpu | $k_s | $(ratio "$q_s" "$t_s") | $(ratio "$q_cpu" "$t_cpu") | $q_rss MiB | $t_rss MiB ($k_rss) | $(ratio "$q_rss" "$t_rss") |"
done
