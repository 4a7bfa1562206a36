#!/bin/bash
# qat's training step beside PyTorch's, in one run, as a table.
#
#   bench/run.sh [build-dir] [steps] [sizes]   (default: build-bench, 5 steps, "small full")
#
# Each size and step kind runs in its own process (peak RSS is per process):
# qat's float, Q6.0/Q0.4 (FIXED) and BNN steps, PyTorch's float and
# fake-quant steps with glibc's default allocator, then PyTorch's float step
# with memory kept
# (MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000: no page faults
# from returning freed blocks; set before Python starts, hence a subprocess).
# The ratio that counts is qat / PyTorch with the default allocator.
# What the quantizers cost comes from paired steps (bench_train_step
# --paired 1: float and quantized steps alternating in one process), since
# two runs a minute apart differ by up to 40% on the drifting machines of
# bench/README.md. Then qat's float step with OPENBLAS_CORETYPE forced to
# other kernels (Haswell, Prescott, and SkylakeX on AVX-512 CPUs), each run
# straight after a fresh run with it unset, against that run. Timings are
# printed, never asserted: this is not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
steps=${2:-5}
sizes=${3:-small full}
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
for size in $sizes; do
  # qat: float, the paper's Q6.0/Q0.4 (FIXED) and BNN
  for q in float fixed bnn; do
    out=$("$qat" --size $size --quant $q --steps "$steps" --warmup 1)
    echo "$out"
    row[$size.qat.$q]=$(result "$out")
  done
  for q in fixed bnn; do  # the quantizers' cost: paired steps, median [range]
    out=$("$qat" --size $size --quant $q --paired 1 --steps "$steps" --warmup 1)
    echo "$out"
    row[$size.paired.$q]=$(awk '/^RESULT/ {printf "%.2f [%.2f-%.2f]", $6, $8, $10}' <<<"$out")
  done
  row[$size.paired.float]="1.00"
  for q in float fixed bnn; do row[$size.torch.$q]="- - - -"; done
  row[$size.kept]="- - - -"
  if (( have_torch )); then
    for q in float fixed bnn; do  # fixed and bnn: fake-quant with STE Functions
      out=$(/usr/bin/python3 bench/torch_train_step.py --size $size --quant $q --steps "$steps" --warmup 1)
      echo "$out"
      row[$size.torch.$q]=$(result "$out")
    done
    out=$(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 \
          /usr/bin/python3 bench/torch_train_step.py --size $size --steps "$steps" --warmup 1)
    echo "(kept memory) $out"
    row[$size.kept]=$(result "$out")
  fi
done
# qat's float step under other OpenBLAS kernel choices: Prescott is the SSE3
# fallback an unknown CPU gets; qat's GEMMs are its own (autograd/gemm/),
# so the column should stay near 1.00.
coretypes="Haswell Prescott"
grep -q avx512f /proc/cpuinfo && coretypes="SkylakeX $coretypes"
declare -A core
for size in $sizes; do
  for ct in $coretypes; do
    out=$(env -u OPENBLAS_CORETYPE "$qat" --size $size --quant float --steps "$steps" --warmup 1)
    core[$size.$ct.unset]=$(result "$out")
    out=$(OPENBLAS_CORETYPE=$ct "$qat" --size $size --quant float --steps "$steps" --warmup 1)
    core[$size.$ct]=$(result "$out")
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# s/step: wall-clock median; cpu: user+system seconds of the process per
# step (steadier than wall time when other jobs share the cores).
echo
echo "| size | step | qat s/step | qat GFLOP/s | qat cpu s | qat peak RSS | torch s/step | torch cpu s | torch peak RSS | qat/torch s/step | qat/torch cpu | qat / qat float, paired steps |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for size in $sizes; do
  for q in float fixed bnn; do
    read -r q_s q_gf q_rss q_cpu <<<"${row[$size.qat.$q]}"
    read -r t_s _ t_rss t_cpu <<<"${row[$size.torch.$q]}"
    echo "| $size | $q | $q_s | $q_gf | $q_cpu | $q_rss MiB | $t_s | $t_cpu | $t_rss MiB | $(ratio "$q_s" "$t_s") | $(ratio "$q_cpu" "$t_cpu") | ${row[$size.paired.$q]} |"
  done
  read -r k_s _ k_rss _ <<<"${row[$size.kept]}"
  read -r q_s _ _ _ <<<"${row[$size.qat.float]}"
  echo "| $size | float, torch memory kept | | | | | $k_s | | $k_rss MiB | $(ratio "$q_s" "$k_s") | | |"
done

echo
echo "| size | qat float, OPENBLAS_CORETYPE | s/step | cpu s | unset, the run before | forced / unset |"
echo "|---|---|---|---|---|---|"
for size in $sizes; do
  read -r u_s _ _ u_cpu <<<"${row[$size.qat.float]}"
  echo "| $size | ${OPENBLAS_CORETYPE:-unset} (the table above) | $u_s | $u_cpu | | |"
  for ct in $coretypes; do
    read -r c_s _ _ c_cpu <<<"${core[$size.$ct]}"
    read -r b_s _ _ _ <<<"${core[$size.$ct.unset]}"
    echo "| $size | $ct | $c_s | $c_cpu | $b_s | $(ratio "$c_s" "$b_s") |"
  done
done
