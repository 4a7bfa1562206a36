#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/, clang-14 with ASan + UBSan in
# build-fuzz/) and runs each for a given time, one after another.
#
#   scripts/fuzz.sh [--cpu-seconds N] [--seconds N] [--build-only] [HARNESS ...]
#     --cpu-seconds N: stop each fuzzer once it has used N s of CPU (user +
#                      system). The measure of work on a shared machine.
#     --seconds N:     stop each fuzzer after N s of wall time (libFuzzer's
#                      -max_total_time). Default 60 s when no CPU budget is given.
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
# Interrupted (Ctrl-C, SIGTERM): the running fuzzer stops, its corpus is
# merged and its row written, and no further harness starts.
# Run it niced (`nice -n 15 scripts/fuzz.sh`) to take mostly idle CPU; two
# instances with different harnesses can run side by side. Where the kernel
# groups processes by session (/proc/sys/kernel/sched_autogroup_enabled = 1,
# Debian's default), nice orders processes only within one session and each
# session gets an equal share: start it in a session of its own and lower
# that session's weight, so that it takes only what others leave:
#   setsid sh -c 'echo 19 > /proc/self/autogroup; exec nice -n 15 scripts/fuzz.sh \
#     --cpu-seconds 1200 tiff' > fuzz.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=
cpu_seconds=
build_only=0
seeds_only=0
no_build=0
names=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --cpu-seconds) cpu_seconds=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --seeds-only) seeds_only=1; shift ;;
    --no-build) no_build=1; shift ;;
    -*) echo "usage: scripts/fuzz.sh [--cpu-seconds N] [--seconds N] [--build-only|--seeds-only|--no-build] [HARNESS ...]" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
# No budget at all: a minute of wall time. A CPU budget alone: no wall limit.
[[ -n $seconds || -n $cpu_seconds ]] || seconds=60
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

# 2 GB of memory in use stops a fuzzer (an allocation sized by the file that
# qat should have bounded). A single malloc may be larger, up to 4.5 GB:
# HDF5 1.10.8 sizes some allocations by a damaged file's 32-bit fields
# before it checks them against the file (a local heap of 4 GB in a 150 KB
# file, tests/fuzz/upstream/int_model/), which qat cannot check first.
memory_limits="-rss_limit_mb=2048 -malloc_limit_mb=4608"
# Full malloc stacks, so that lsan.supp's H5F_open matches past libhdf5's frames.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp  # HDF5's own leak, see the file
mkdir -p tests/fuzz/crashes
[[ -f tests/fuzz/RUNS.md ]] || printf '%s\n' '# Fuzzing runs (scripts/fuzz.sh appends a row per run)' '' \
  '| date (UTC) | commit | harness | wall s | CPU s | execs | corpus files | new crashes |' \
  '|---|---|---|---|---|---|---|---|' > tests/fuzz/RUNS.md

# The CPU time (user + system, s) a running process has had so far.
cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) / hz) }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Waits for the fuzzer under /usr/bin/time (pid $1) and, with a CPU budget,
# interrupts it once it has had that much CPU: libFuzzer's -max_total_time
# counts wall time, and here a fuzzer gets a fraction of a core (training at
# nice 19, builds, the benchmark lock stopping it for minutes). SIGTERM makes
# libFuzzer print its final stats and exit, like -max_total_time.
watch_fuzzer() {
  local timer=$1 fuzzer=
  while kill -0 "$timer" 2>/dev/null; do
    [[ -n $fuzzer ]] || fuzzer=$(cat "/proc/$timer/task/$timer/children" 2>/dev/null | awk '{print $1}')
    if ((interrupted)) || [[ -n $cpu_seconds && -n $fuzzer && $(cpu_of "$fuzzer") -ge $cpu_seconds ]]; then
      kill -TERM "$fuzzer" 2>/dev/null || true
    fi
    sleep 2 & wait $! 2>/dev/null || true
  done
  wait "$timer" 2>/dev/null || true
}

# Replaces the committed corpus by the smallest set of it and the working
# corpus with the same coverage. An interrupted fuzzer's inputs are all in
# the working corpus (libFuzzer writes each as it finds it), so its run
# merges like any other. Only a finished merge replaces the committed
# corpus, by a rename within tests/fuzz/corpus/: a merge interrupted in turn
# leaves it as it was.
merge_corpus() {
  local h=$1 min=tests/fuzz/corpus/.$1.merged signals=$interrupted
  rm -rf "$min" && mkdir "$min"
  if "$build/tests/fuzz/fuzz_$h" -merge=1 -timeout=60 $memory_limits "$min" \
      "tests/fuzz/corpus/$h" "$build/corpus/$h" > "$build/merge-$h.log" 2>&1 &&
      ((interrupted == signals)); then
    mv "tests/fuzz/corpus/$h" "tests/fuzz/corpus/.$h.old"
    mv "$min" "tests/fuzz/corpus/$h"
    rm -rf "tests/fuzz/corpus/.$h.old"
  else
    echo "   merge of $h's corpus did not finish: committed corpus unchanged (see $build/merge-$h.log)"
    rm -rf "$min"
  fi
}

# Ctrl-C or SIGTERM: stop the fuzzer gracefully, keep its row, start no other.
interrupted=0
trap 'interrupted=$((interrupted + 1))' INT TERM

for h in "${names[@]}"; do
  work=$build/corpus/$h
  mkdir -p "$work" "tests/fuzz/regressions/$h"
  dict=()
  [[ $h == config || $h == sweep ]] && dict=(-dict=tests/fuzz/yaml.dict)
  max_len=65536  # the model seeds are a few hundred KB: mutate them whole
  [[ $h == checkpoint || $h == int_model ]] && max_len=524288
  before=$(ls tests/fuzz/crashes | grep -cE "^$h-(crash|leak|oom|timeout)-" || true)
  log=$build/fuzz-$h.log
  echo "== fuzz_$h for ${cpu_seconds:-any} CPU s, ${seconds:-any} wall s (log: $log)"
  start=$(date +%s)
  # -fork would spread over cores; one process at a time leaves them to others.
  # -timeout counts wall time too, and the benchmark lock can stop a fuzzer
  # for tens of seconds: 60 s, and every timeout is replayed by hand.
  /usr/bin/time -f '%U %S' -o "$build/cpu-$h" "$build/tests/fuzz/fuzz_$h" \
    -max_total_time="${seconds:-0}" -timeout=60 $memory_limits -max_len="$max_len" \
    -artifact_prefix="tests/fuzz/crashes/$h-" -print_final_stats=1 "${dict[@]}" \
    "$work" "tests/fuzz/corpus/$h" "tests/fuzz/regressions/$h" > "$log" 2>&1 &
  watch_fuzzer $!
  wall=$(($(date +%s) - start))
  cpu=$(tail -1 "$build/cpu-$h" | awk '{printf "%.0f", $1 + $2}')
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  after=$(ls tests/fuzz/crashes | grep -cE "^$h-(crash|leak|oom|timeout)-" || true)
  merge_corpus "$h"
  files=$(ls "tests/fuzz/corpus/$h" | wc -l)
  # Two instances may append at once: one row at a time.
  flock tests/fuzz/RUNS.md -c "echo '| $(date -u '+%F %H:%M') | $(git describe --always --dirty) | $h | $wall | $cpu | ${execs:-0} | $files | $((after - before)) |' >> tests/fuzz/RUNS.md"
  tail -1 tests/fuzz/RUNS.md
  ((!interrupted)) || { echo "interrupted: no further harness"; break; }
done
echo "CPU seconds per harness so far:"
awk -F'|' '$6 ~ /^ *[0-9]+ *$/ { cpu[$4] += $6 } END { for (h in cpu) printf "  %-16s %6.1f min\n", h, cpu[h] / 60 }' \
  tests/fuzz/RUNS.md
