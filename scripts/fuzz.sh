#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/, clang-14 with ASan + UBSan in
# build-fuzz/) and runs each for a given wall time, one after another.
#
#   scripts/fuzz.sh [--seconds N] [--build-only] [HARNESS ...]   (default: all, 60 s each)
#   SEED_BUILD=build scripts/fuzz.sh --seeds-only   (fills empty tests/fuzz/corpus/<h>/)
#   --no-build: run the programs already in build-fuzz/
#
# Cumulative: each harness's working corpus stays in build-fuzz/corpus/<h>/
# between runs and starts from the committed seeds in tests/fuzz/corpus/<h>/;
# after a run the committed corpus is replaced by the minimal set of both
# that keeps the coverage (-merge=1), so it stays small. Every run's CPU time
# (user + system, which on a shared machine is far less than its wall time)
# is appended to tests/fuzz/RUNS.md. Inputs that crash go to
# tests/fuzz/crashes/<h>-*; once the bug is fixed, move each to
# tests/fuzz/regressions/<h>/, which CI replays with the corpus.
# Run it niced (`nice -n 19 scripts/fuzz.sh`) to take only idle CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build_only=0
seeds_only=0
no_build=0
names=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --seeds-only) seeds_only=1; shift ;;
    --no-build) no_build=1; shift ;;
    -*) echo "usage: scripts/fuzz.sh [--seconds N] [--build-only|--seeds-only|--no-build] [HARNESS ...]" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
all=(config sweep dataset_bytes dataset_values nifti tiff png checkpoint int_model)
((${#names[@]})) || names=("${all[@]}")

build=build-fuzz
if [[ ! -f $build/build.ninja ]]; then
  CC=clang-14 CXX=clang++-14 meson setup "$build" -Dfuzzing=true \
    --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false
fi
if ((!seeds_only && !no_build)); then
  ninja -C "$build" $(printf 'tests/fuzz/fuzz_%s ' "${names[@]}")
  ((build_only)) && exit 0
fi

# Seeds, made once: the project's own small files (SEED_BUILD=build makes
# them with the release build, faster than build-fuzz's).
seed_build=${SEED_BUILD:-$build}
seed_corpora() {
  local c=tests/fuzz/corpus tmp
  tmp=$(mktemp -d)
  mkdir -p $c/{config,sweep,dataset_bytes,dataset_values,nifti,tiff,png,checkpoint,int_model}
  [[ -n $(ls -A $c/config) ]] || {
    cp tests/experiments/training/tiny.yaml $c/config/tiny.yaml
    cp experiments/configs/quickstart.yaml $c/config/quickstart.yaml
    printf 'extends: base.yaml\nquantization: FIXED\nlayers: {conv9: {weight: "fixed:0.8"}}\n--\n' \
      > $c/config/extends.yaml
    cat tests/experiments/training/tiny.yaml >> $c/config/extends.yaml
    printf '\n--\nnum_epochs=2\n--\nlayers.conv9.weight=fixed_twos:1.7\n' >> $c/config/extends.yaml
  }
  [[ -n $(ls -A $c/sweep) ]] || {
    { sed -e 's|config: ../colin27/quick/[a-z0-9_-]*.yaml, ||' -e 's|^output:.*|base: base.yaml|' \
        experiments/configs/sweeps/smoke.yaml; printf -- '\n--\n'
      cat tests/experiments/training/tiny.yaml; } > $c/sweep/smoke.yaml
    printf 'base: base.yaml\nseeds: [1]\nrows:\n  - {name: a}\n--\nwidth: 4\n' > $c/sweep/one.yaml
  }
  for d in dataset_bytes nifti tiff png; do
    [[ -n $(ls -A $c/$d) ]] || { "$seed_build/tests/fuzz/qat_make_seeds" "$tmp"; break; }
  done
  [[ -n $(ls -A $c/dataset_bytes) ]] || cp "$tmp/dataset.h5" $c/dataset_bytes/
  [[ -n $(ls -A $c/dataset_values) ]] || {
    printf '\x3f\x01\x02\x02\x00' > $c/dataset_values/small
    head -c 300 /dev/urandom > $c/dataset_values/random
  }
  [[ -n $(ls -A $c/nifti) ]] || cp "$tmp/volume.nii" $c/nifti/
  [[ -n $(ls -A $c/tiff) ]] || cp "$tmp/stack.tif" $c/tiff/
  [[ -n $(ls -A $c/png) ]] || cp "$tmp/image.png" $c/png/
  if [[ -z $(ls -A $c/checkpoint) || -z $(ls -A $c/int_model) ]]; then
    local qat=$seed_build/experiments/cli/qat
    "$qat" data synthetic-em "$tmp/em.h5" --train 4 --val 2 --size 16 > /dev/null
    "$qat" train tests/experiments/training/tiny.yaml --set data="$tmp/em.h5" --set crop=16 \
      --set num_epochs=1 --set steps_per_epoch=1 --set quantization=fixed_twos \
      --set activation_i_width=8 --set activation_f_width=0 --set weight_i_width=0 \
      --set weight_f_width=4 --set log_output_dir="$tmp" --set experiment_name=run > /dev/null
    cp "$tmp/run/checkpoint.h5" $c/checkpoint/
    "$qat" export "$tmp/run/checkpoint.h5" --out $c/int_model/model.int.h5 > /dev/null
  fi
  rm -rf "$tmp"
}
seed_corpora
((seeds_only)) && exit 0

# Full malloc stacks, so that lsan.supp's H5F_open matches past libhdf5's frames.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp  # HDF5's own leak, see the file
mkdir -p tests/fuzz/crashes
[[ -f tests/fuzz/RUNS.md ]] || printf '%s\n' '# Fuzzing runs (scripts/fuzz.sh appends a row per run)' '' \
  '| date (UTC) | commit | harness | wall s | CPU s | execs | corpus files | new crashes |' \
  '|---|---|---|---|---|---|---|---|' > tests/fuzz/RUNS.md

for h in "${names[@]}"; do
  work=$build/corpus/$h
  mkdir -p "$work" "tests/fuzz/regressions/$h"
  dict=()
  [[ $h == config || $h == sweep ]] && dict=(-dict=tests/fuzz/yaml.dict)
  max_len=65536  # the model seeds are a few hundred KB: mutate them whole
  [[ $h == checkpoint || $h == int_model ]] && max_len=524288
  before=$(ls tests/fuzz/crashes | grep -cE "^$h-(crash|leak|oom|timeout)-" || true)
  log=$build/fuzz-$h.log
  echo "== fuzz_$h for $seconds s (log: $log)"
  start=$(date +%s)
  # -fork would spread over cores; one process at a time leaves them to others.
  /usr/bin/time -f '%U %S' -o "$build/cpu-$h" "$build/tests/fuzz/fuzz_$h" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len="$max_len" \
    -artifact_prefix="tests/fuzz/crashes/$h-" -print_final_stats=1 "${dict[@]}" \
    "$work" "tests/fuzz/corpus/$h" "tests/fuzz/regressions/$h" > "$log" 2>&1 || true
  wall=$(($(date +%s) - start))
  cpu=$(tail -1 "$build/cpu-$h" | awk '{printf "%.0f", $1 + $2}')
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  after=$(ls tests/fuzz/crashes | grep -cE "^$h-(crash|leak|oom|timeout)-" || true)
  # Keep the committed corpus minimal: the smallest set with the same coverage.
  min=$(mktemp -d)
  "$build/tests/fuzz/fuzz_$h" -merge=1 -timeout=20 -rss_limit_mb=2048 "$min" \
    "tests/fuzz/corpus/$h" "$work" > "$build/merge-$h.log" 2>&1 && {
    rm -f "tests/fuzz/corpus/$h"/*
    cp "$min"/* "tests/fuzz/corpus/$h/" 2>/dev/null || true
  }
  rm -rf "$min"
  files=$(ls "tests/fuzz/corpus/$h" | wc -l)
  echo "| $(date -u '+%F %H:%M') | $(git describe --always --dirty) | $h | $wall | $cpu | ${execs:-0} | $files | $((after - before)) |" \
    >> tests/fuzz/RUNS.md
  tail -1 tests/fuzz/RUNS.md
done
echo "CPU seconds per harness so far:"
awk -F'|' '$6 ~ /^ *[0-9]+ *$/ { cpu[$4] += $6 } END { for (h in cpu) printf "  %-16s %6.1f min\n", h, cpu[h] / 60 }' \
  tests/fuzz/RUNS.md
