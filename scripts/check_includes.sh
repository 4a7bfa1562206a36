#!/usr/bin/env bash
# Dependencies point one way: every #include "..." of a folder's sources must
# name a header of the folder itself or of a folder it may depend on (the
# table below, README "Layout"). Linking alone would not catch a header-only
# include against the direction, since every header is reachable from the
# project root. Exits 1 listing each offending line. Run by scripts/test.sh.
set -euo pipefail
set -f  # the table holds "*", which must not expand to file names
cd "$(dirname "$0")/.."

# folder: the folders its sources may include (besides its own)
declare -A allowed=(
  [autograd/gemm]="autograd/check.h"
  [autograd]="autograd/gemm"
  [optim]="autograd"
  [quant/quantizers]="autograd"
  [quant/int_kernels]="autograd quant/quantizers"
  [layers/topology]=""
  [layers]="autograd layers/topology"
  [data]="autograd/check.h autograd/rng.h"
  [experiments/distributed]="autograd layers layers/topology data"
  [experiments/training]="autograd optim quant/quantizers layers layers/topology data experiments/distributed"
  [experiments/studies]="autograd optim quant/quantizers layers layers/topology data experiments/distributed experiments/training"
  [experiments/runtime]="autograd quant/quantizers quant/int_kernels layers/topology data"
  [experiments/export]="autograd quant/quantizers quant/int_kernels layers layers/topology data experiments/distributed experiments/training experiments/runtime"
  [experiments/onnx]="autograd quant/quantizers quant/int_kernels layers/topology data experiments/runtime"
  [experiments/predict]="autograd quant/quantizers quant/int_kernels layers layers/topology data experiments/distributed experiments/training experiments/runtime experiments/export"
  [experiments/cli]="*"
  [bench]="*"
  [tests]="*"
)

# The table's folder holding path: the longest folder that is a prefix.
folder_of() {
  local best="" f
  for f in "${!allowed[@]}"; do
    if [[ "$1" == "$f/"* && ${#f} -gt ${#best} ]]; then best=$f; fi
  done
  echo "$best"
}

# May a file of folder $1 include header $2?
may_include() {
  local from=$1 header=$2 target a
  target=$(folder_of "$header")
  [[ "$target" == "$from" ]] && return 0
  for a in ${allowed[$from]}; do
    [[ "$a" == "*" || "$a" == "$target" || "$a" == "$header" ]] && return 0
  done
  return 1
}

bad=0
while IFS= read -r file; do
  from=$(folder_of "$file")
  if [[ -z "$from" ]]; then
    echo "check_includes: $file is in no folder of the table (scripts/check_includes.sh)"
    bad=1
    continue
  fi
  while IFS=: read -r line header; do
    if ! may_include "$from" "$header"; then
      echo "check_includes: $file:$line includes \"$header\": $from may not depend on $(folder_of "$header")"
      bad=1
    fi
  done < <(grep -n '^#include "' "$file" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
done < <(git ls-files '*.h' '*.cpp')
if (( bad )); then exit 1; fi
echo "check_includes: every include points the allowed way"
