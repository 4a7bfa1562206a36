#!/usr/bin/env bash
# Installs every Debian 12 package qat needs to build, test and run.
# Idempotent: apt-get skips what is already installed. Needs root.
# `scripts/setup.sh --reference` also installs PyTorch and h5py, used only by
# hand to regenerate test fixtures and to run the PyTorch side of bench/
# (and stress-ng for bench/busy_machine.sh).
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config
  libopenblas-openmp-dev      # export's double GEMM and bench's reference (training has its own, autograd/gemm/)
  libhdf5-dev                 # datasets, checkpoints, fixtures
  libyaml-cpp-dev             # experiment configs
  doctest-dev                 # tests
  libcli11-dev                # the qat command line
  libpng-dev libtiff-dev      # PNG overlays, TIFF stacks (ISBI)
  libnifti2-dev               # NIfTI volumes
  mricron-data                # Colin27 T1 + AAL atlas: the quickstart dataset
  gnuplot-nox                 # plots
  libopenmpi-dev openmpi-bin  # data-parallel training and sweeps across machines (mpirun)
  libonnx-dev libprotobuf-dev # qat export --format onnx (protobuf classes, onnx::checker)
  nodejs                      # tests/onnx/run_ort.js drives ONNX Runtime (npm, below)
  clang-14 libclang-rt-14-dev libomp-14-dev  # the libFuzzer harnesses (scripts/fuzz.sh)
)
if [[ "${1:-}" == "--reference" ]]; then
  packages+=(python3-torch python3-h5py python3-numpy stress-ng)  # stress-ng: bench/busy_machine.sh
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime for the ONNX export's test (tests/onnx/run_ort.js): npm's
# onnxruntime-node, CPU runtime inside the package; --ignore-scripts because
# its install script downloads GPU files from elsewhere and fails.
command -v npm >/dev/null || apt-get install -y --no-install-recommends npm
ort_dir="$(dirname "$0")/../tests/onnx"
if [[ ! -f $ort_dir/node_modules/onnxruntime-node/package.json ]]; then
  npm install --prefix "$ort_dir" --ignore-scripts --no-audit --no-fund
fi
