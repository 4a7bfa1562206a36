#include "experiments/training/thread_governor.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>

namespace qat {

ThreadGovernor::ThreadGovernor(int threads, bool adapt)
    : threads_(threads), active_(threads), adapt_(adapt && threads > 1) {}

int ThreadGovernor::after_step(double wall, double cpu) {
  change_.clear();
  if (!adapt_ || wall <= 0) return active_;
  const double share = cpu / (wall * active_);
  char why[160];
  if (active_ > 1) {
    busy_in_row_ = share < kBusyShare ? busy_in_row_ + 1 : 0;
    // A probe that finds the machine still busy goes back at once.
    const bool probing = since_probe_ >= kProbeEvery;
    if (busy_in_row_ >= kBusySteps || (probing && busy_in_row_ > 0)) {
      std::snprintf(why, sizeof why,
                    "machine busy (%.2f of a core per thread): 1 thread instead of %d",
                    share, active_);
      if (!probing) change_ = why;  // a failed probe is not news
      active_ = 1, busy_in_row_ = 0, since_probe_ = 0;
    } else if (probing) {
      std::snprintf(why, sizeof why, "machine quiet again: back to %d threads", threads_);
      change_ = why, since_probe_ = 0;
    }
  } else if (++since_probe_ >= kProbeEvery) {
    active_ = threads_;  // try all threads for one step
  }
  return active_;
}

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
}  // namespace

StepClock::StepClock() : wall0_(now_seconds()), cpu0_(process_cpu_seconds()) {}
double StepClock::wall() const { return now_seconds() - wall0_; }
double StepClock::cpu() const { return process_cpu_seconds() - cpu0_; }

}  // namespace qat
