// `mpirun -np N qat sweep`: the sweep's cells shared among the ranks
// (README, "Training on more than one machine").
#pragma once
#include "experiments/studies/sweep.h"

namespace qat {

// Runs this rank's share of the sweep (all of it without mpirun) and waits
// for every rank to finish; the number of failed cells over all ranks.
int64_t run_sweep_on_ranks(const Sweep& s, SweepOptions o);

}  // namespace qat
