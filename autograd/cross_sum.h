// Sums that reach past this process. Data-parallel training splits a batch
// across processes (experiments/distributed/), and an op whose result
// depends on the whole batch (BatchNorm's statistics, the losses' means and
// Dice sums) hands its per-process partial sums to one of these, which
// replaces them in place by their totals over every process.
//
// The ops take a `const CrossSum*`; nullptr (the default) means this
// process holds the whole batch and nothing is summed.
#pragma once
#include <cstdint>
#include <functional>

namespace qat {

using CrossSum = std::function<void(double* values, int64_t count)>;

}  // namespace qat
