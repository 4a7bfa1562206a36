#include "experiments/training/write_faults.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>

namespace qat {

namespace {

long kill_at() {
  static const long n = [] {
    const char* env = std::getenv("QAT_FAULT_KILL_AT_WRITE");
    return env ? std::atol(env) : 0L;
  }();
  return n;
}

}  // namespace

bool write_faults_armed() { return kill_at() > 0; }

void write_fault_point() {
  static std::atomic<long> count{0};
  if (kill_at() > 0 && ++count == kill_at()) ::raise(SIGKILL);
}

}  // namespace qat
