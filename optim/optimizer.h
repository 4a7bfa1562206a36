// Optimizers: SGD and Adam with exactly PyTorch's update rules.
//
// An optimizer holds handles to the parameters (leaf tensors that require a
// gradient; backward() fills their .grad()) and, per parameter, the state of
// its update rule in vectors parallel to the parameter list. step() reads
// each parameter's gradient and changes its data in place; a parameter whose
// gradient is undefined (backward never reached it) is skipped and its state
// left untouched, as PyTorch does.
//
// zero_grad() sets every gradient back to undefined (PyTorch's
// set_to_none=True). For a U-Net every parameter gets a gradient each step, so
// this equals PyTorch 1.x's zero-filling default there.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace qat {

// Everything step() depends on besides the parameters and their gradients:
// a plain value a checkpoint writer can store and load_state() can restore.
struct OptimizerState {
  std::string kind;                  // "sgd" or "adam"; a load checks it
  float lr = 0.0f;                   // the learning rate last set
  int64_t steps = 0;                 // calls of step()
  std::vector<int64_t> param_steps;  // per parameter: updates it received
  // Named per-parameter buffers, "<slot>/<parameter index>", e.g.
  // "exp_avg/3". A buffer not created yet (no update so far) is absent.
  std::vector<std::pair<std::string, std::vector<float>>> buffers;
};

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, float lr, std::string kind,
            std::vector<std::string> slots);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void zero_grad();
  void step();

  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }
  int64_t steps() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }

  OptimizerState state() const;
  // Throws qat::Error naming the mismatch if the state was saved by another
  // kind of optimizer or for other parameter shapes.
  void load_state(const OptimizerState& state);

 protected:
  // One parameter's update. p, g (n): its data and gradient. slot(s, i) is
  // buffer s of parameter i, sized n; param_steps_[i] was already increased,
  // so it is 1 on the parameter's first update.
  virtual void update(size_t i, float* p, const float* g, int64_t n) = 0;
  std::vector<float>& slot(size_t s, size_t i) { return state_[s][i]; }

  std::vector<int64_t> param_steps_;

 private:
  std::vector<Tensor> params_;
  float lr_;
  std::string kind_;
  std::vector<std::string> slot_names_;
  // state_[s][i]: slot s of parameter i; empty until its first update.
  std::vector<std::vector<std::vector<float>>> state_;
  int64_t steps_ = 0;
};

struct SgdOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // L2: wd * p added to the gradient
};

// torch.optim.SGD:
//   d = g + wd*p
//   buf = d on the first update, else momentum*buf + (1-dampening)*d
//   d = nesterov ? d + momentum*buf : buf        (when momentum != 0)
//   p = p - lr*d
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Tensor> params, const SgdOptions& options);

 private:
  void update(size_t i, float* p, const float* g, int64_t n) override;
  SgdOptions o_;
};

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // L2 added to the gradient (not AdamW)
};

// torch.optim.Adam (1.13, single-tensor path), t = this parameter's step:
//   d = g + wd*p
//   m = beta1*m + (1-beta1)*d;  v = beta2*v + (1-beta2)*d*d
//   denom = sqrt(v)/sqrt(1-beta2^t) + eps
//   p = p - lr/(1-beta1^t) * m/denom
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);

 private:
  void update(size_t i, float* p, const float* g, int64_t n) override;
  AdamOptions o_;
};

}  // namespace qat
