#!/usr/bin/env bash
# Sets up the machine, builds qat and runs the whole test suite twice: once
# in the release build, once under AddressSanitizer + UndefinedBehaviorSanitizer.
# This is README's test command and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
sudo_if_needed bash scripts/setup.sh

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# The tests write under $TMPDIR (std::filesystem::temp_directory_path): a
# folder of this run's own, so that two runs on one machine do not share
# their files.
TMPDIR=$(mktemp -d -t qat-tests.XXXXXX)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

echo "== include directions"
bash scripts/check_includes.sh

[[ -f build/build.ninja ]] || meson setup build
ninja -C build
echo "== tests (release build)"
./build/tests/qat_tests

[[ -f build-asan/build.ninja ]] ||
  meson setup build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false
ninja -C build-asan tests/qat_tests experiments/cli/qat experiments/cli/qat-int  # the tests run qat too
echo "== tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1 \
  ./build-asan/tests/qat_tests
