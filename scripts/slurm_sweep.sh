#!/usr/bin/env bash
# Slurm batch script: a sweep's cells shared among the nodes of one job,
# then its table. By default the paper-scale Colin27 table (README,
# "Training on more than one machine"):
#
#   sbatch scripts/slurm_sweep.sh
#   sbatch --nodes=4 --export=ALL,SWEEP=experiments/configs/sweeps/main_colin27_quick.yaml scripts/slurm_sweep.sh
#
# Needs qat built in ./build on a file system every node sees (the cells'
# folders, the dataset and the table live there), and the OpenMPI qat was
# built with on every node. One rank per node: each rank runs its cells one
# after another (round-robin by cell index), each cell a `qat train` on the
# node's cores. A cell whose node died is resumed from its checkpoint by
# submitting the script again; finished cells are skipped.
#SBATCH --job-name=qat-sweep
#SBATCH --nodes=8
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=32
#SBATCH --time=48:00:00
#SBATCH --output=slurm-qat-sweep-%j.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"

SWEEP="${SWEEP:-experiments/configs/sweeps/main_colin27_paper.yaml}"
OUT="${OUT:-experiments/results/$(basename "$SWEEP" .yaml)}"
QAT="${QAT:-./build/experiments/cli/qat}"
# srun starts the ranks through Slurm's PMIx; where Slurm lacks it,
# LAUNCH=mpirun works inside the allocation too (OpenMPI reads it).
LAUNCH="${LAUNCH:-srun --mpi=pmix}"

[[ -f data/colin27.h5 ]] || "$QAT" data colin27 data/colin27.h5
$LAUNCH "$QAT" sweep "$SWEEP"
"$QAT" table "$SWEEP" --metrics dice,iou,precision,recall,hausdorff --out "$OUT"
