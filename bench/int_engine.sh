#!/bin/bash
# Integer inference against float inference, qat's and PyTorch's, in one run.
#
#   [BENCH_ARGS="..."] bench/int_engine.sh [build-dir] [reps] [threads...]
#                       (default: build-int, 5 reps, threads 1 and 2)
#
# For each thread count: bench_int_engine (qat float model, fake-quant
# simulation, integer engine; width 64, 1x200x200, batch 1, eval, medians of
# reps after a warm-up; BENCH_ARGS go to it, e.g. "--quantization FIXED
# --act 6.0 --weight 0.4"), then torch_int_inference.py (PyTorch float and
# PyTorch's own int8 model, FX + onednn, of the same U-Net, eval, no_grad,
# the same threads), then ONNX Runtime (npm onnxruntime-node, scripts/setup.sh)
# on the same model's two ONNX exports (all graph optimisations,
# intra_op_num_threads = the thread count): the exact QDQ graph (qat export
# --format onnx), whose convs ONNX Runtime runs in float, and --ort-int8's,
# which it runs as int8 QLinearConv (each prints the op counts of the graph
# ONNX Runtime ran), then one table row with the ratios. Targets: issue #6,
# float qat / int >= 2 and PyTorch float / int > 1; issue #13, qat int /
# PyTorch int8 <= 0.7.
# Timings are printed, never asserted. On a shared machine, stop the other
# jobs for the run (SIGSTOP, then SIGCONT) to get numbers
# worth quoting.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-int}
reps=${2:-5}
shift $(( $# > 2 ? 2 : $# ))
threads=("$@")
(( ${#threads[@]} )) || threads=(1 2)
qat=$build/bench/bench_int_engine
[[ -x $qat ]] || { echo "no $qat: build it with ninja -C $build bench/bench_int_engine" >&2; exit 1; }

ratio() { [[ $1 == - || $2 == - ]] && echo - || awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for t in "${threads[@]}"; do
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of words
  onnx_dir=$(mktemp -d)
  out=$(OMP_NUM_THREADS=$t "$qat" --threads "$t" --reps "$reps" --portable 0 --onnx "$onnx_dir" ${BENCH_ARGS:-})
  echo "$out"
  read -r f s i <<<"$(awk '/^RESULT/ {print $3, $5, $7}' <<<"$out")"
  [[ $f == 0.0 ]] && f=- s=-  # --float 0: not timed
  p=- q=-
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    out=$(/usr/bin/python3 bench/torch_int_inference.py --threads "$t" --reps "$reps")
    echo "$out"
    read -r p q <<<"$(awk '/^RESULT/ {print $3, $5}' <<<"$out")"
  else
    echo "python3-torch is missing (apt-get install python3-torch): no PyTorch column"
  fi
  o=- o8=-
  if [[ -f tests/onnx/node_modules/onnxruntime-node/package.json ]]; then
    for m in model model_ort_int8; do
      [[ -f $onnx_dir/$m.onnx ]] || continue  # the export refused this format
      out=$(node tests/onnx/run_ort.js "$onnx_dir/$m.onnx" "$onnx_dir" --threads "$t" --opt all \
              --bench "$reps" --optimized "$onnx_dir/$m.optimized.onnx")
      echo "ONNX Runtime, $m.onnx: $out"
      ms=$(awk '$1 == "x" {print $2}' <<<"$out")
      if [[ $m == model ]]; then o=$ms; else o8=$ms; fi
    done
  else
    echo "onnxruntime-node is missing (bash scripts/setup.sh): no ONNX Runtime column"
  fi
  rm -rf "$onnx_dir"
  rows+=("| $t | $i | $q | $o8 | $o | $p | $f | $s | **$(ratio "$i" "$q")** | $(ratio "$o8" "$q") | $(ratio "$o8" "$i") | $(ratio "$f" "$i") | $(ratio "$p" "$i") |")
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "qat: ${BENCH_ARGS:-fixed_twos Q8.0/Q0.8}"
echo "| threads | qat integer ms | PyTorch int8 ms | ONNX Runtime int8 (--ort-int8) ms | ONNX Runtime exact QDQ (float convs) ms | PyTorch float ms | qat float ms | qat fake-quant ms | qat int / PyTorch int8 | ORT int8 / PyTorch int8 | ORT int8 / qat int | qat float / int | PyTorch float / int |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
