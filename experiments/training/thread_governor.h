// Fewer threads while the machine is busy.
//
// OpenMP threads meet at a barrier at the end of every parallel loop, and a
// training step has hundreds of them. When other processes keep the cores
// busy, each barrier waits until the scheduler gives the descheduled
// partner its turn, and two threads end up slower than one (measured on
// the small step under `stress-ng --cpu 2`: 2 threads 1.80 s, 1 thread
// 0.54 s; bench/README.md). The governor watches how much CPU the process
// got per thread during each step and drops to one thread when it is far
// below a core per thread; now and then it tries all threads again for one
// step to see whether the machine has become quiet.
//
// Results do not change: the kernels cut their sums into the run's
// `threads` parts whatever number of threads runs (autograd/work_parts.h).
#pragma once
#include <string>

namespace qat {

class ThreadGovernor {
 public:
  // `threads`: what the run asked for; adapt false keeps it always.
  ThreadGovernor(int threads, bool adapt);

  // After a step that took `wall` seconds and `cpu` seconds of the
  // process's CPU time on active() threads: the threads for the next step.
  int after_step(double wall, double cpu);
  int active() const { return active_; }
  int threads() const { return threads_; }
  // What the last after_step changed, or "" if nothing.
  const std::string& change() const { return change_; }

  // A thread's share of a core below this counts as a busy machine; quiet,
  // two threads get about 0.85 each, under stress-ng --cpu 2 about 0.15.
  static constexpr double kBusyShare = 0.5;
  static constexpr int kBusySteps = 2;     // in a row before dropping
  static constexpr int kProbeEvery = 20;   // steps on one thread between tries

 private:
  int threads_, active_;
  bool adapt_;
  int busy_in_row_ = 0, since_probe_ = 0;
  std::string change_;
};

// Wall and CPU time of the process around one step; CPU from getrusage.
class StepClock {
 public:
  StepClock();
  double wall() const;  // seconds since construction
  double cpu() const;   // CPU seconds of the whole process since construction
 private:
  double wall0_, cpu0_;
};

}  // namespace qat
