#include "experiments/cli/sweep_ranks.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "experiments/distributed/comm.h"

namespace qat {

namespace {
// Every rank runs the cells whose plan index % N is its rank (a static
// round-robin: no rank needs to know what the others did), each still a
// `qat train` of its own, on the cores Slurm gave the task or else this
// machine's divided among the ranks on it.
void share_among_ranks(distributed::Comm& world, SweepOptions& o) {
  o.rank = world.rank();
  o.ranks = world.size();
  const char* slurm = std::getenv("SLURM_CPUS_PER_TASK");
  o.cores = slurm ? std::max(1, std::atoi(slurm))
                  : std::max(1, int(std::thread::hardware_concurrency()) / world.local_size());
  distributed::forget_launcher_environment();  // the cells are not ranks
  std::printf("rank %d of %d: the cells whose index %% %d is %d, %d cores\n", o.rank, o.ranks,
              o.ranks, o.rank, o.cores);
}
}  // namespace

int64_t run_sweep_on_ranks(const Sweep& s, SweepOptions o) {
  distributed::Comm& world = distributed::Comm::world();  // one rank unless mpirun
  if (world.parallel()) share_among_ranks(world, o);
  const SweepSummary r = run_sweep(s, o);
  double failed = double(r.failed.size());
  world.sum(&failed, 1);  // also waits for the last rank to finish its cells
  return int64_t(failed);
}

}  // namespace qat
