#!/usr/bin/env bash
# README's first command: set up the machine, build qat, pack the Colin27/AAL
# brain set from Debian's mricron-data, train the quickstart experiment, and
# print its validation Dice beside an intensity threshold's, with the overlay
# pictures of its predictions.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -eq 0 ]]; then bash scripts/setup.sh; else sudo bash scripts/setup.sh; fi
[[ -f build/build.ninja ]] || meson setup build
ninja -C build

config=experiments/configs/quickstart.yaml
[[ -f data/colin27.h5 ]] || ./build/experiments/cli/qat data colin27 data/colin27.h5
./build/experiments/cli/qat train "$config" "$@"
echo "== the floor to beat: one intensity threshold"
./build/experiments/cli/qat baseline "$config" "$@"
./build/experiments/cli/qat predict "$config" "$@"
