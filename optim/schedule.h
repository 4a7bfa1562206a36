// Learning-rate schedules: pure functions of the step (or the epoch: the
// caller chooses the unit and calls optimizer.set_lr(schedule.lr(t))).
//
//   constant   lr(t) = lr0
//   cosine     lr(t) = lr_min + (lr0 - lr_min) * (1 + cos(pi * t / T)) / 2
//              for 0 <= t <= T (PyTorch CosineAnnealingLR's closed form,
//              T = T_max), and lr_min after T (PyTorch's would rise again).
//   multistep  lr(t) = lr0 * gamma^(number of milestones <= t)
//              (PyTorch MultiStepLR: the decay applies from the milestone on)
//
// Optional linear warm-up over the first W steps, for any kind:
// lr(t) = lr0 * (t + 1) / W for t < W, so step 0 already moves and step W
// reaches lr0. The cosine then runs over the remaining T - W steps:
// t -> t - W, T -> T - W, reaching lr_min at step T. Multistep milestones
// stay absolute step numbers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/check.h"

namespace qat {

struct Schedule {
  enum class Kind { constant, cosine, multistep };

  Kind kind = Kind::constant;
  float lr0 = 1e-3f;
  int64_t warmup = 0;               // W
  float lr_min = 0.0f;              // cosine
  int64_t total = 0;                // cosine: T, the step that reaches lr_min
  float gamma = 0.1f;               // multistep
  std::vector<int64_t> milestones;  // multistep, increasing

  static Schedule constant(float lr0, int64_t warmup = 0);
  static Schedule cosine(float lr0, float lr_min, int64_t total, int64_t warmup = 0);
  static Schedule multistep(float lr0, std::vector<int64_t> milestones, float gamma,
                            int64_t warmup = 0);
  // Decay by gamma every `period` steps up to `total`: milestones period,
  // 2*period, ... below total. The paper's EM code: x0.1 every epochs/5.
  static Schedule step_every(float lr0, int64_t period, int64_t total, float gamma);

  // Throws qat::Error naming the field if the parameters make no schedule.
  void validate() const;
  float lr(int64_t step) const;
};

// "constant", "cosine", "multistep" (for config files and logs).
std::string to_string(Schedule::Kind kind);
Schedule::Kind schedule_kind(const std::string& name);  // throws on others

}  // namespace qat
