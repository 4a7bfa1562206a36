// Every differentiable op of the engine. Each returns a new tensor and, when
// an input requires a gradient, records its backward (see tensor.h).
// Letters: N batch, C channels, H height, W width, OC output channels,
// K kernel size.
#pragma once
#include <vector>

#include "autograd/cross_sum.h"
#include "autograd/rng.h"
#include "autograd/tensor.h"

namespace qat {

// ---- elementwise, with broadcasting (numpy rules; e.g. (1,C,1,1) over NCHW)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, float s);
Tensor mul(const Tensor& a, float s);
Tensor rsub(float s, const Tensor& a);  // s - a
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, float s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, float s) { return mul(a, 1.0f / s); }
inline Tensor operator+(float s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(float s, const Tensor& a) { return rsub(s, a); }
inline Tensor operator*(float s, const Tensor& a) { return mul(a, s); }
inline Tensor operator-(const Tensor& a) { return mul(a, -1.0f); }

// The shape both broadcast to; throws naming op and both shapes if none.
Shape broadcast_shape(const Shape& a, const Shape& b, const char* op);
// Sums g (of a broadcast shape) down to `shape`: undoes any broadcast.
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---- activations
Tensor relu(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);

// ---- reductions to a scalar (shape ())
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

// ---- convolution: x (N,C,H,W), w (OC,C,KH,KW), optional bias (OC)
//      -> (N, OC, (H+2*pad-KH)/stride+1, (W+2*pad-KW)/stride+1)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias,
              int stride, int pad);

// ---- spatial
Tensor max_pool2d(const Tensor& x, int kernel, int stride);  // no padding
Tensor upsample_bilinear2x(const Tensor& x);  // align_corners=False
Tensor cat_channels(const std::vector<Tensor>& xs);  // along dim 1
// cat_channels({upsample_bilinear2x(x), skip}) without the upsampled tensor
// in between (it would stay alive until the backward, as the cat's input).
Tensor upsample_cat(const Tensor& x, const Tensor& skip);

// ---- normalisation and regularisation
// Training: normalise with the batch statistics and update the running ones
// in place (running_var with the unbiased batch variance, as PyTorch).
// Eval: normalise with the running statistics.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    Tensor& running_mean, Tensor& running_var, bool training,
                    float momentum, float eps, const CrossSum* across = nullptr);
// batch_norm2d(relu(x)) in one op, for the U-Net's "activation before
// BatchNorm". IN PLACE: x's values are replaced by relu(x) (as PyTorch's
// ReLU(inplace=True)), so pass a tensor nothing else reads, such as a conv's
// output: the ReLU output is all its backward needs.
Tensor relu_batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                         Tensor& running_mean, Tensor& running_var, bool training,
                         float momentum, float eps, const CrossSum* across = nullptr);
// Zero each element (dropout) or each (n, c) channel map (dropout2d) with
// probability p, scale the rest by 1/(1-p). Identity when !training.
Tensor dropout(const Tensor& x, float p, bool training, Rng& rng);
Tensor dropout2d(const Tensor& x, float p, bool training, Rng& rng);

// ---- losses (mean over all elements; targets in [0, 1])
// `across` (cross_sum.h): the batch is split across processes; the
// training-mode statistics and the losses' sums are then over all of it.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target,
                       const CrossSum* across = nullptr);
// 1 - (2*sum(p*t) + eps) / (sum(p) + sum(t) + eps), over the whole batch.
Tensor soft_dice_loss(const Tensor& prob, const Tensor& target,
                      float eps = 1e-4f, const CrossSum* across = nullptr);

}  // namespace qat
