// Data-parallel training: what the trainer (experiments/training/train.cpp)
// needs so that the N ranks of a job take the optimizer step one process
// would take on the whole batch.
//
//  - each rank builds only its part of every global batch (the global order
//    and augmentation are the single process's: data/loader.h);
//  - BatchNorm's statistics and the losses' sums are totalled over the
//    ranks in the forward and backward (autograd/cross_sum.h);
//  - after the backward, every gradient is summed over the ranks, so every
//    rank has the whole batch's gradient and takes the same step;
//  - rank 0 alone validates and writes logs and checkpoints.
// With one rank every call does nothing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/cross_sum.h"
#include "data/loader.h"
#include "experiments/distributed/comm.h"
#include "layers/unet.h"

namespace qat::distributed {

class DataParallel {
 public:
  // Throws qat::Error, on every rank, when the ranks resolved different
  // configs (config_yaml), when a global batch of `batch` (of a split of
  // `train_size`) leaves a rank without samples, or with dropout (its masks
  // are drawn per process: not the single-process step).
  DataParallel(UNet& net, const std::string& config_yaml, int64_t batch, int64_t train_size,
               bool dropout);

  bool parallel() const { return comm_.parallel(); }
  bool writer() const { return comm_.rank() == 0; }  // logs, checkpoints, validation
  const CrossSum* across() const { return parallel() ? &across_ : nullptr; }
  // This rank's part of every batch.
  void shard(data::LoaderOptions& o) const;
  // How much of a split to hold in memory (data::kDefaultMaxBytes); none
  // on ranks: each reads only its own samples, as the loader asks for them.
  static int64_t split_max_bytes();
  // Every parameter's gradient summed over the ranks, through one flat
  // buffer in the parameters' registration order.
  void sum_gradients();
  // "ranks N, step ... ms of which allreduce ... ms" over the steps so far.
  std::string timing(int64_t steps, double train_seconds) const;

 private:
  Comm& comm_;
  UNet& net_;
  CrossSum across_;
  std::vector<float> flat_;
  double gradient_seconds_ = 0, statistics_seconds_ = 0;
};

// FNV-1a of the text: what the ranks compare at start-up.
uint64_t text_hash(const std::string& text);

}  // namespace qat::distributed
