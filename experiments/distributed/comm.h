// The one place qat talks MPI: a process's view of the job it belongs to.
//
// Started by a launcher (mpirun, or Slurm's srun with PMIx), world() calls
// MPI_Init on first use and the job has size() ranks. Started any other way
// it is a job of one: rank 0 of 1, every call returns at once, and MPI is
// never initialised, so plain `qat train` and `qat sweep` run as before.
//
// Errors: MPI_ERRORS_RETURN is set, and a failed call throws qat::Error
// naming the call and this rank. When a rank dies, OpenMPI's mpirun ends
// the whole job and names the rank that died; abort_job() is how a rank
// that cannot go on ends the others (they would wait forever otherwise).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qat::distributed {

class Comm {
 public:
  static Comm& world();
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool parallel() const { return size_ > 1; }
  int local_size() const { return local_size_; }  // ranks on this machine

  // In place: each value becomes the sum of that value over every rank.
  // For a fixed job size the result does not depend on timing (comm.cpp).
  void sum(double* values, int64_t count);
  void sum(float* values, int64_t count);
  // Every rank's `value`, in rank order.
  std::vector<uint64_t> all_gather(uint64_t value);
  void barrier();

  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  ~Comm();

 private:
  Comm();
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool initialised_ = false;
};

// True when a launcher started this process as one rank of a job.
bool started_by_launcher();
// Ends every rank of the job with `code` when MPI runs (after an error
// this rank cannot recover from); returns when it does not.
void abort_job(int code);
// Removes the launcher's variables from this process's environment, so
// that the programs it starts (a sweep's cells) are jobs of their own.
void forget_launcher_environment();

}  // namespace qat::distributed
