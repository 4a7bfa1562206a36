// Results that do not depend on how many threads run.
//
// A kernel that cuts a sum into pieces and adds the pieces afterwards gets
// different float bits for different cuts. qat cuts such sums into a fixed
// number of parts, whatever the number of threads, and lets the threads
// that run work through the parts: a step on one thread gives the same bits
// as on two or four, so `threads` cannot change results (a run may resume
// with other threads) and the trainer may drop to one thread on a busy
// machine (experiments/training/thread_governor.h).
//
// The price: the Winograd weight gradient's chunks are cut into kWorkParts
// runs, each summed into its own buffer, so that part of the backward uses
// at most kWorkParts threads. Two, for the two cores of the machines this
// project runs on; each part's buffer holds a layer's whole transformed
// weight gradient (64 MiB for the deepest conv at width 64), so more parts
// cost memory.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "autograd/lane_sum.h"

namespace qat {

constexpr int kWorkParts = 2;
// The parts in use: kWorkParts unless a test set others (0: back to it).
void set_work_parts(int parts);
int work_parts();

// Sum of f(i) for i in [0, n), in pieces of a fixed size whatever the
// number of threads: the pieces are summed in parallel, then in order.
template <class F>
double fixed_sum(int64_t n, F f) {
  constexpr int64_t kPiece = 1 << 15;
  const int64_t pieces = (n + kPiece - 1) / kPiece;
  if (pieces <= 1) return lane_sum(n, f);
  std::vector<double> part(size_t(pieces), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < pieces; ++k) {
    const int64_t i0 = k * kPiece, len = std::min(kPiece, n - i0);
    part[size_t(k)] = lane_sum(len, [&f, i0](int64_t i) { return f(i0 + i); });
  }
  double total = 0.0;
  for (double p : part) total += p;
  return total;
}

}  // namespace qat
