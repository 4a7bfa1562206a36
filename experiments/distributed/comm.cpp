#include "experiments/distributed/comm.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "autograd/check.h"

extern char** environ;

namespace qat::distributed {

namespace {

// Variables OpenMPI's mpirun (OMPI_*), PMIx (srun --mpi=pmix, PMIX_*) and
// PMI-1/2 (PMI_*) give each rank.
const char* const kLauncherPrefixes[] = {"OMPI_", "PMIX_", "PMI_"};

void check(int rc, const char* call, int rank) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(std::string(call) + " failed on rank " + std::to_string(rank) + ": " +
              std::string(text, size_t(length)) + " (did another rank stop?)");
}

// MPI counts are ints: large buffers go in pieces of at most 2^30 values.
constexpr int64_t kPiece = int64_t(1) << 30;

}  // namespace

bool started_by_launcher() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") ||
         std::getenv("PMI_RANK");
}

Comm::Comm() {
  if (!started_by_launcher()) return;
  // MPI is called from the main thread only; OpenMP and the loader's
  // prefetch thread never call it.
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread", -1);
  initialised_ = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type", rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

Comm::~Comm() {
  if (initialised_) MPI_Finalize();
}

Comm& Comm::world() {
  static Comm comm;
  return comm;
}

// MPI_Allreduce with MPI_SUM rather than gathering every rank's buffer and
// summing in rank order: the gather costs N times the memory and network
// volume (64 ranks x 19 MB at width 64). OpenMPI's collectives pick their
// algorithm from the job size and the message size alone and reduce in a
// fixed schedule, never in arrival order, so a fixed job layout gives the
// same sums on every run (as the MPI standard advises implementations to
// do); with 2 ranks there is only one sum, a + b. tests/experiments/
// distributed/test_mpi.cpp checks that two runs are bit-identical.
void Comm::sum(double* values, int64_t count) {
  if (!parallel()) return;
  for (int64_t at = 0; at < count; at += kPiece)
    check(MPI_Allreduce(MPI_IN_PLACE, values + at, int(std::min(kPiece, count - at)), MPI_DOUBLE,
                        MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce", rank_);
}

void Comm::sum(float* values, int64_t count) {
  if (!parallel()) return;
  for (int64_t at = 0; at < count; at += kPiece)
    check(MPI_Allreduce(MPI_IN_PLACE, values + at, int(std::min(kPiece, count - at)), MPI_FLOAT,
                        MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce", rank_);
}

std::vector<uint64_t> Comm::all_gather(uint64_t value) {
  std::vector<uint64_t> all(size_t(size_), value);
  if (!parallel()) return all;
  check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD),
        "MPI_Allgather", rank_);
  return all;
}

void Comm::barrier() {
  if (parallel()) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier", rank_);
}

void abort_job(int code) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised && Comm::world().parallel()) MPI_Abort(MPI_COMM_WORLD, code);
}

void forget_launcher_environment() {
  std::vector<std::string> names;
  for (char** e = environ; *e; ++e)
    for (const char* prefix : kLauncherPrefixes)
      if (std::strncmp(*e, prefix, std::strlen(prefix)) == 0)
        names.emplace_back(*e, std::strchr(*e, '=') - *e);
  for (const auto& n : names) unsetenv(n.c_str());
}

}  // namespace qat::distributed
