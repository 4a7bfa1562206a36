// The building blocks of the U-Net: Conv2d, BatchNorm2d, Dropout2d and the
// activations (ReLU, Tanh, the paper's ternary tanh).
//
// Where quantizers plug in: a Conv2d passes its weight through
// `weight_quant` before using it, and a DownConv (unet.h) passes each
// activation through its `act_quant` after BatchNorm. Both are empty (full
// precision) until experiments/training/model.cpp fills them with the
// quantizers of quant/quantizers/.
#pragma once
#include <functional>

#include "autograd/ops.h"
#include "layers/init.h"
#include "layers/module.h"

namespace qat {

using TensorFn = std::function<Tensor(const Tensor&)>;

// in (N,C,H,W) -> out (N,OC,H',W'), weight (OC,C,K,K), bias (OC)
class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int kernel, int stride, int pad, bool bias = true);
  Tensor forward(const Tensor& x) const;
  void reset_parameters(Init kind, Rng& rng);  // weight ~ uniform; bias 0 (PyTorchDefault: uniform)

  Tensor weight, bias;
  int stride, pad;
  TensorFn weight_quant;  // applied to the weight on every forward
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Tensor forward(const Tensor& x);
  // forward(relu(x)) as one op; overwrites x with relu(x) (ops.h)
  Tensor forward_relu(const Tensor& x);

  Tensor weight, bias, running_mean, running_var;
  float momentum, eps;
  // Training on a batch split across processes: the statistics are summed
  // through this (autograd/cross_sum.h); nullptr: this process has it all.
  const CrossSum* across = nullptr;
};

class Dropout2d : public Module {
 public:
  Dropout2d(float p, Rng& rng) : p(p), rng_(&rng) {}
  Tensor forward(const Tensor& x) const { return dropout2d(x, p, training(), *rng_); }
  float p;

 private:
  Rng* rng_;  // shared with the model, so one seed fixes every mask
};

// y = 0.5*tanh(2*beta*x - beta) - 0.5*tanh(-2*beta*x - beta): a smooth
// step towards {-1, 0, 1} that sharpens as beta grows (SPEC.md).
Tensor ternary_tanh(const Tensor& x, float beta);

enum class Activation { ReLU, Tanh, TernaryTanh };
Activation parse_activation(const std::string& name);  // relu, tanh, ternary_tanh
Tensor activate(const Tensor& x, Activation kind, float beta);

}  // namespace qat
