#include "layers/layers.h"

#include <algorithm>
#include <cmath>

#include "autograd/vector_math.h"

namespace qat {

Conv2d::Conv2d(int64_t in, int64_t out, int kernel, int stride, int pad, bool has_bias)
    : stride(stride), pad(pad) {
  weight = add_parameter("weight", Tensor::zeros({out, in, kernel, kernel}));
  if (has_bias) bias = add_parameter("bias", Tensor::zeros({out}));
}

Tensor Conv2d::forward(const Tensor& x) const {
  const Tensor w = weight_quant ? weight_quant(weight) : weight;
  return conv2d(x, w, bias, stride, pad);
}

void Conv2d::reset_parameters(Init kind, Rng& rng) {
  init_uniform(weight, kind, rng);
  if (!bias.defined()) return;
  // PyTorch draws the bias from the weight's bound; the others start at zero.
  const float a = kind == Init::PyTorchDefault ? init_bound(kind, weight.shape()) : 0.0f;
  float* b = bias.data();
  for (int64_t i = 0; i < bias.numel(); ++i) b[i] = a > 0.0f ? rng.uniform(-a, a) : 0.0f;
}

BatchNorm2d::BatchNorm2d(int64_t channels, float momentum, float eps)
    : momentum(momentum), eps(eps) {
  weight = add_parameter("weight", Tensor::full({channels}, 1.0f));
  bias = add_parameter("bias", Tensor::zeros({channels}));
  running_mean = add_buffer("running_mean", Tensor::zeros({channels}));
  running_var = add_buffer("running_var", Tensor::full({channels}, 1.0f));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  return batch_norm2d(x, weight, bias, running_mean, running_var, training(),
                      momentum, eps, across);
}

Tensor BatchNorm2d::forward_relu(const Tensor& x) {
  return relu_batch_norm2d(x, weight, bias, running_mean, running_var,
                           training(), momentum, eps, across);
}

namespace {
// a = tanh(2*beta*x - beta) and b = tanh(-2*beta*x - beta) for the n <= kBlock
// values of x: the two halves of the ternary tanh, vectorised by tanh_array.
constexpr int64_t kBlock = 1024;
void ternary_halves(const float* x, int64_t n, float beta, float* a, float* b) {
  for (int64_t k = 0; k < n; ++k) {
    a[k] = 2 * beta * x[k] - beta;
    b[k] = -2 * beta * x[k] - beta;
  }
  tanh_array(a, a, n);
  tanh_array(b, b, n);
}
}  // namespace

Tensor ternary_tanh(const Tensor& x, float beta) {
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* o = out.data();
  const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i += kBlock) {
    float a[kBlock], b[kBlock];
    const int64_t m = std::min(kBlock, n - i);
    ternary_halves(px + i, m, beta, a, b);
    for (int64_t k = 0; k < m; ++k) o[i + k] = 0.5f * a[k] - 0.5f * b[k];
  }
  if (needs_grad({x})) {
    record(out, "ternary_tanh", {x}, [x, beta](const Tensor& dout) {
      // d/dx = beta * (sech^2(2bx - b) + sech^2(-2bx - b)), recomputed
      // rather than kept: two more activation-sized buffers otherwise
      const float *px = x.data(), *g = dout.data();
      float* dx = grad_buffer(x);
      const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; i += kBlock) {
        float a[kBlock], b[kBlock];
        const int64_t m = std::min(kBlock, n - i);
        ternary_halves(px + i, m, beta, a, b);
        for (int64_t k = 0; k < m; ++k)
          dx[i + k] += g[i + k] * beta * ((1 - a[k] * a[k]) + (1 - b[k] * b[k]));
      }
    });
  }
  return out;
}

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::ReLU;
  if (name == "tanh") return Activation::Tanh;
  if (name == "ternary_tanh") return Activation::TernaryTanh;
  throw Error("unknown activation '" + name +
              "' (expected relu, tanh or ternary_tanh)");
}

Tensor activate(const Tensor& x, Activation kind, float beta) {
  switch (kind) {
    case Activation::ReLU: return relu(x);
    case Activation::Tanh: return tanh(x);
    case Activation::TernaryTanh: return ternary_tanh(x, beta);
  }
  return x;
}

}  // namespace qat
