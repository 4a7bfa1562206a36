// Batch normalisation (alone or after a fused ReLU) and dropout.
// x (N,C,H,W); M = N*H*W values per channel; per-channel vectors are (C).
#include <algorithm>
#include <cmath>
#include <memory>

#include "autograd/lane_sum.h"
#include "autograd/ops.h"

namespace qat {

namespace {
// Per-channel mean and biased variance of x, two passes (the one-pass
// E[x^2] - E[x]^2 cancels badly when the mean is large). With `across`, x is
// this process's part of the batch: each pass's sums (and the count) are
// totalled over every process, so the statistics are the whole batch's.
// count: values per channel in the whole batch.
void channel_stats(const float* x, int64_t N, int64_t C, int64_t HW, const CrossSum* across,
                   std::vector<double>& mean, std::vector<double>& var, double& count) {
  std::vector<double> sum(size_t(C) + 1, 0.0);  // per channel, then the count
#pragma omp parallel for
  for (int64_t c = 0; c < C; ++c) {
    double s = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float* p = x + (n * C + c) * HW;
      s += lane_sum(HW, [p](int64_t i) { return p[i]; });
    }
    sum[size_t(c)] = s;
  }
  sum[size_t(C)] = double(N * HW);
  if (across) (*across)(sum.data(), C + 1);
  count = sum[size_t(C)];
  mean.assign(size_t(C), 0.0);
  var.assign(size_t(C), 0.0);
#pragma omp parallel for
  for (int64_t c = 0; c < C; ++c) {
    const double m = sum[size_t(c)] / count;
    const float mf = float(m);
    double v = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float* p = x + (n * C + c) * HW;
      v += lane_sum(HW, [p, mf](int64_t i) { return (p[i] - mf) * (p[i] - mf); });
    }
    mean[size_t(c)] = m;
    var[size_t(c)] = v;
  }
  if (across) (*across)(var.data(), C);
  for (auto& v : var) v /= count;
}

// Shared by batch_norm2d and relu_batch_norm2d.
Tensor batch_norm(const Tensor& x, bool relu, const Tensor& gamma,
                  const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                  bool training, float momentum, float eps, const CrossSum* across) {
  const char* op = relu ? "relu_batch_norm2d" : "batch_norm2d";
  QAT_CHECK(x.dim() == 4, op, ": input must be (N,C,H,W), got ",
            to_string(x.shape()));
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var})
    QAT_CHECK(t->shape() == Shape{C}, op, ": per-channel tensor ",
              to_string(t->shape()), " does not match input ",
              to_string(x.shape()), " (expected (", C, "))");
  const int64_t M = N * HW;

  // With relu, x's values are replaced by max(x, 0) in place (as
  // PyTorch's ReLU(inplace=True)): the ReLU output is what the backward needs
  // (its mask is output > 0), and no third activation-sized buffer is kept.
  if (relu) {
    float* v = x.data();
    const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
  }

  // mean and 1/sqrt(var + eps) used to normalise, per channel
  auto mean = std::make_shared<std::vector<float>>(size_t(C));
  auto invstd = std::make_shared<std::vector<float>>(size_t(C));
  double count = double(M);  // values per channel in the whole batch
  if (training) {
    QAT_CHECK(M > 1, op, ": training needs more than one value per "
                     "channel, input is ", to_string(x.shape()));
    std::vector<double> m, v;
    channel_stats(x.data(), N, C, HW, across, m, v, count);
    float* rm = running_mean.data();
    float* rv = running_var.data();
    for (int64_t c = 0; c < C; ++c) {
      (*mean)[size_t(c)] = float(m[size_t(c)]);
      (*invstd)[size_t(c)] = float(1.0 / std::sqrt(v[size_t(c)] + eps));
      const double unbiased = v[size_t(c)] * count / (count - 1.0);
      rm[c] = float((1.0 - momentum) * rm[c] + momentum * m[size_t(c)]);
      rv[c] = float((1.0 - momentum) * rv[c] + momentum * unbiased);
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      (*mean)[size_t(c)] = running_mean.data()[c];
      (*invstd)[size_t(c)] = 1.0f / std::sqrt(running_var.data()[c] + eps);
    }
  }

  Tensor out = Tensor::empty(x.shape());
  const float *px = x.data(), *g = gamma.data(), *b = beta.data();
  float* o = out.data();
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float m = (*mean)[size_t(c)], s = (*invstd)[size_t(c)];
      const float* p = px + (n * C + c) * HW;
      float* q = o + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) q[i] = (p[i] - m) * s * g[c] + b[c];
    }

  if (needs_grad({x, gamma, beta})) {
    record(out, op, {x, gamma, beta},
           [x, relu, gamma, beta, mean, invstd, training, count, across](const Tensor& dout) {
      const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
      const float *px = x.data(), *gy = dout.data(), *g = gamma.data();
      bool fresh = false;
      float* dx = x.requires_grad() ? grad_buffer_for_write(x, fresh) : nullptr;
      float* dg = gamma.requires_grad() ? grad_buffer(gamma) : nullptr;
      float* db = beta.requires_grad() ? grad_buffer(beta) : nullptr;
      // sum(dy) and sum(dy * xhat) of channel c over this process's batch
      auto sums_of = [&](int64_t c, double& sum_dy, double& sum_dy_xhat) {
        const float m = (*mean)[size_t(c)], s = (*invstd)[size_t(c)];
        sum_dy = sum_dy_xhat = 0.0;
        for (int64_t n = 0; n < N; ++n) {
          const float* p = px + (n * C + c) * HW;
          const float* d = gy + (n * C + c) * HW;
          sum_dy += lane_sum(HW, [d](int64_t i) { return d[i]; });
          sum_dy_xhat += lane_sum(HW, [p, d, m, s](int64_t i) { return d[i] * ((p[i] - m) * s); });
        }
        // this process's share: the gradients are summed over processes later
        if (dg) dg[c] += float(sum_dy_xhat);
        if (db) db[c] += float(sum_dy);
      };
      // Training: the batch statistics depend on x too, which subtracts
      // the mean of dy and its projection on xhat (over the whole batch).
      auto write_dx = [&](int64_t c, double sum_dy, double sum_dy_xhat) {
        const float m = (*mean)[size_t(c)], s = (*invstd)[size_t(c)];
        const float k = g[c] * s;
        const float mean_dy = training ? float(sum_dy / count) : 0.0f;
        const float mean_dy_xhat = training ? float(sum_dy_xhat / count) : 0.0f;
        for (int64_t n = 0; n < N; ++n) {
          const float* p = px + (n * C + c) * HW;
          const float* d = gy + (n * C + c) * HW;
          float* q = dx + (n * C + c) * HW;
          for (int64_t i = 0; i < HW; ++i) {
            const float xhat = (p[i] - m) * s;
            const float dxi = k * (d[i] - mean_dy - xhat * mean_dy_xhat);
            // ReLU's backward: pass where its output was positive
            const float v = relu ? (p[i] > 0.0f ? dxi : 0.0f) : dxi;
            q[i] = fresh ? v : q[i] + v;
          }
        }
      };
      if (!across || !training) {  // one pass per channel while it is in cache
#pragma omp parallel for
        for (int64_t c = 0; c < C; ++c) {
          double sum_dy, sum_dy_xhat;
          sums_of(c, sum_dy, sum_dy_xhat);
          if (dx) write_dx(c, sum_dy, sum_dy_xhat);
        }
        return;
      }
      std::vector<double> sums(size_t(2 * C));  // sum_dy of every channel, then sum_dy_xhat
#pragma omp parallel for
      for (int64_t c = 0; c < C; ++c) sums_of(c, sums[size_t(c)], sums[size_t(C + c)]);
      if (!dx) return;
      (*across)(sums.data(), 2 * C);
#pragma omp parallel for
      for (int64_t c = 0; c < C; ++c) write_dx(c, sums[size_t(c)], sums[size_t(C + c)]);
    });
  }
  return out;
}
}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    Tensor& running_mean, Tensor& running_var, bool training,
                    float momentum, float eps, const CrossSum* across) {
  return batch_norm(x, /*relu=*/false, gamma, beta, running_mean, running_var,
                    training, momentum, eps, across);
}

Tensor relu_batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                         Tensor& running_mean, Tensor& running_var, bool training,
                         float momentum, float eps, const CrossSum* across) {
  return batch_norm(x, /*relu=*/true, gamma, beta, running_mean, running_var,
                    training, momentum, eps, across);
}

namespace {
// out = x * mask, where mask repeats each of its values over `group`
// consecutive elements (1 for dropout, H*W for dropout2d).
Tensor apply_mask(const Tensor& x, std::shared_ptr<std::vector<float>> mask,
                  int64_t group, const char* op) {
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* o = out.data();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = px[i] * (*mask)[size_t(i / group)];
  if (needs_grad({x})) {
    record(out, op, {x}, [x, mask, group](const Tensor& dout) {
      float* dx = grad_buffer(x);
      const float* g = dout.data();
      const int64_t n = x.numel();
      for (int64_t i = 0; i < n; ++i) dx[i] += g[i] * (*mask)[size_t(i / group)];
    });
  }
  return out;
}

// Each entry kept with probability 1-p and scaled by 1/(1-p), else 0.
std::shared_ptr<std::vector<float>> bernoulli_mask(int64_t count, float p,
                                                   Rng& rng) {
  QAT_CHECK(p >= 0.0f && p <= 1.0f, "dropout: p = ", p, " outside [0, 1]");
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  auto mask = std::make_shared<std::vector<float>>(size_t(count));
  for (auto& m : *mask) m = rng.uniform() < p ? 0.0f : scale;
  return mask;
}
}  // namespace

Tensor dropout(const Tensor& x, float p, bool training, Rng& rng) {
  if (!training || p == 0.0f) return x;
  return apply_mask(x, bernoulli_mask(x.numel(), p, rng), 1, "dropout");
}

Tensor dropout2d(const Tensor& x, float p, bool training, Rng& rng) {
  QAT_CHECK(x.dim() == 4, "dropout2d: input must be (N,C,H,W), got ",
            to_string(x.shape()));
  if (!training || p == 0.0f) return x;
  return apply_mask(x, bernoulli_mask(x.size(0) * x.size(1), p, rng),
                    x.size(2) * x.size(3), "dropout2d");
}

}  // namespace qat
