// Checkpoints (HDF5): everything a stopped run needs to continue exactly
// where it was: parameters, BatchNorm running statistics, optimizer state,
// the epoch and step counters, the dropout generator's state, the best
// validation score so far, and the resolved config as YAML text.
//
// Layout: /params/<name>, /buffers/<name> (float32, the tensor's shape);
// /optimizer/<slot>/<index> (float32) with attributes kind, lr, steps and
// dataset /optimizer/param_steps (int64); /rng (uint64[4]); root attributes
// format, epoch, step, best_score, best_epoch, config and provenance
// (version, commit, data fingerprint: provenance.h).
//
// A checkpoint is written to <path>.tmp and renamed over <path>, so a run
// killed while writing leaves the previous checkpoint intact.
#pragma once
#include <string>

#include "layers/unet.h"
#include "optim/optimizer.h"

namespace qat {

struct TrainState {
  int64_t epoch = 0;  // epochs completed
  int64_t step = 0;   // optimizer steps taken
  double best_score = -1.0;  // best validation Dice so far
  int64_t best_epoch = -1;
  std::string config_yaml;
  std::string provenance_yaml;  // provenance.h; "" in checkpoints older than it
};

void save_checkpoint(const std::string& path, const UNet& net,
                     const Optimizer* optimizer, const TrainState& state);
// Loads into net (and optimizer, if given) in place. Throws qat::Error
// naming the file and the first parameter whose name or shape differs
// (a checkpoint from another architecture).
TrainState load_checkpoint(const std::string& path, UNet& net,
                           Optimizer* optimizer);
// Only the counters and the config text, without a model.
TrainState read_checkpoint_state(const std::string& path);

}  // namespace qat
