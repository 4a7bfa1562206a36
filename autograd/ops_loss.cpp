// Losses. Both reduce over every element of the batch to one scalar.
#include <cmath>

#include "autograd/ops.h"
#include "autograd/work_parts.h"

namespace qat {

namespace {
void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  QAT_CHECK(a.shape() == b.shape(), op, ": prediction ", to_string(a.shape()),
            " and target ", to_string(b.shape()), " differ");
}
}  // namespace

// mean( max(x,0) - x*t + log(1 + exp(-|x|)) ): the stable form of
// -[t log sigmoid(x) + (1-t) log(1 - sigmoid(x))], finite for any x.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target, const CrossSum* across) {
  check_same_shape(logits, target, "bce_with_logits");
  const float *x = logits.data(), *t = target.data();
  const int64_t n = logits.numel();
  double total = fixed_sum(n, [x, t](int64_t i) {
    return std::max(x[i], 0.0f) - x[i] * t[i] + std::log1p(std::exp(-std::abs(x[i])));
  });
  double count = double(n);  // of the whole batch, over every process
  if (across) {
    double sums[2] = {total, count};
    (*across)(sums, 2);
    total = sums[0], count = sums[1];
  }
  Tensor out = Tensor::scalar(float(total / count));
  if (needs_grad({logits, target})) {
    QAT_CHECK(!target.requires_grad(), "bce_with_logits: no gradient to target");
    record(out, "bce_with_logits", {logits}, [logits, target, count](const Tensor& dout) {
      const float *x = logits.data(), *t = target.data();
      float* dx = grad_buffer(logits);
      const int64_t n = logits.numel();
      const float k = dout.item() / float(count);
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i)
        dx[i] += k * (1.0f / (1.0f + std::exp(-x[i])) - t[i]);
    });
  }
  return out;
}

Tensor soft_dice_loss(const Tensor& prob, const Tensor& target, float eps,
                      const CrossSum* across) {
  check_same_shape(prob, target, "soft_dice_loss");
  const float *p = prob.data(), *t = target.data();
  const int64_t n = prob.numel();
  double inter = fixed_sum(n, [p, t](int64_t i) { return p[i] * t[i]; }),
         sum_p = fixed_sum(n, [p](int64_t i) { return p[i]; }),
         sum_t = fixed_sum(n, [t](int64_t i) { return t[i]; });
  if (across) {  // the Dice of the whole batch needs its sums, not each part's
    double sums[3] = {inter, sum_p, sum_t};
    (*across)(sums, 3);
    inter = sums[0], sum_p = sums[1], sum_t = sums[2];
  }
  const double num = 2.0 * inter + eps, den = sum_p + sum_t + eps;
  Tensor out = Tensor::scalar(float(1.0 - num / den));
  if (needs_grad({prob, target})) {
    QAT_CHECK(!target.requires_grad(), "soft_dice_loss: no gradient to target");
    record(out, "soft_dice_loss", {prob}, [prob, target, num, den](const Tensor& dout) {
      // d/dp_i of -num/den = -(2 t_i den - num) / den^2
      const float* t = target.data();
      float* dp = grad_buffer(prob);
      const int64_t n = prob.numel();
      const double g = dout.item();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i)
        dp[i] += float(g * -(2.0 * t[i] * den - num) / (den * den));
    });
  }
  return out;
}

}  // namespace qat
