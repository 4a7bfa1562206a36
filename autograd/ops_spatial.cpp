// Max pooling, bilinear x2 upsampling and channel concatenation.
// x (N,C,H,W); "plane" is one (n, c) image of H*W values.
#include <algorithm>
#include <cstring>
#include <limits>

#include "autograd/ops.h"

namespace qat {

// ---- max pooling: out (N,C,OH,OW), OH = (H-K)/S+1; argmax remembers, for
// each output, which input it copied (the first maximum, as PyTorch).
namespace {
void max_pool_forward(float* out, int32_t* argmax, const float* x,
                      int64_t planes, int64_t H, int64_t W, int K, int S,
                      int64_t OH, int64_t OW) {
#pragma omp parallel for
  for (int64_t p = 0; p < planes; ++p) {
    const float* in = x + p * H * W;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        int32_t at = int32_t((oh * S) * W + ow * S);
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            const int32_t i = int32_t((oh * S + kh) * W + ow * S + kw);
            if (in[i] > best) best = in[i], at = i;
          }
        out[(p * OH + oh) * OW + ow] = best;
        argmax[(p * OH + oh) * OW + ow] = at;
      }
  }
}
}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride) {
  QAT_CHECK(x.dim() == 4, "max_pool2d: input must be (N,C,H,W), got ",
            to_string(x.shape()));
  QAT_CHECK(kernel >= 1 && stride >= 1 && x.size(2) >= kernel &&
                x.size(3) >= kernel,
            "max_pool2d: kernel ", kernel, " stride ", stride,
            " do not fit input ", to_string(x.shape()));
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = (H - kernel) / stride + 1, OW = (W - kernel) / stride + 1;
  Tensor out = Tensor::empty({N, C, OH, OW});
  auto argmax = std::make_shared<std::vector<int32_t>>(size_t(out.numel()));
  max_pool_forward(out.data(), argmax->data(), x.data(), N * C, H, W, kernel,
                   stride, OH, OW);
  if (needs_grad({x})) {
    record(out, "max_pool2d", {x}, [x, argmax, H, W, OH, OW](const Tensor& dout) {
      float* dx = grad_buffer(x);
      const float* g = dout.data();
      const int64_t planes = x.size(0) * x.size(1);
#pragma omp parallel for
      for (int64_t p = 0; p < planes; ++p)
        for (int64_t o = 0; o < OH * OW; ++o)
          dx[p * H * W + (*argmax)[size_t(p * OH * OW + o)]] += g[p * OH * OW + o];
    });
  }
  return out;
}

// ---- bilinear x2 upsampling, align_corners=False: output pixel o reads
// input coordinate (o + 0.5) / 2 - 0.5, clamped at 0 (as PyTorch), i.e.
// weights 3/4 and 1/4 of its two nearest inputs.
namespace {
struct Tap {
  int64_t i0, i1;
  float w0, w1;
};

std::vector<Tap> bilinear_taps(int64_t in, int64_t out) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const float src = std::max(0.0f, (float(o) + 0.5f) * 0.5f - 0.5f);
    const int64_t i0 = std::min(int64_t(src), in - 1);
    const float frac = src - float(i0);
    taps[size_t(o)] = {i0, std::min(i0 + 1, in - 1), 1.0f - frac, frac};
  }
  return taps;
}

// The adjoint of the taps along one axis, as a gather: input i collects
// sum_k weight[4i + k] * g[2i - 1 + k] from the (at most) four outputs
// 2i-1 .. 2i+2 whose taps reach it (edges fold in the clamped ones).
std::vector<float> gather_weights(const std::vector<Tap>& taps, int64_t in) {
  std::vector<float> weight(size_t(4 * in), 0.0f);
  for (int64_t o = 0; o < int64_t(taps.size()); ++o) {
    const Tap& t = taps[size_t(o)];
    for (auto [i, w] : {std::pair{t.i0, t.w0}, std::pair{t.i1, t.w1}}) {
      if (w == 0.0f) continue;
      const int64_t k = o - (2 * i - 1);
      QAT_CHECK(k >= 0 && k < 4, "bilinear_taps: output ", o, " reaches input ", i);
      weight[size_t(4 * i + k)] += w;
    }
  }
  return weight;
}

// dst[i] = sum_k weight[4i + k] * g[2i - 1 + k] for i in [0, in): g has 2*in
// values; the first and last i skip the g outside (their weight is 0).
void gather_row(float* dst, const float* g, const float* weight, int64_t in) {
  auto edge = [&](int64_t i) {
    float v = 0.0f;
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t o = 2 * i - 1 + k;
      if (o >= 0 && o < 2 * in) v += weight[4 * i + k] * g[o];
    }
    dst[i] = v;
  };
  edge(0);
  for (int64_t i = 1; i < in - 1; ++i) {
    const float* w = weight + 4 * i;
    const float* p = g + 2 * i - 1;
    dst[i] = w[0] * p[0] + w[1] * p[1] + w[2] * p[2] + w[3] * p[3];
  }
  if (in > 1) edge(in - 1);
}
}  // namespace

namespace {
// Image n, channel c of x (N,C,H,W) upsampled into channel c of image n of
// out, which has `out_channels` >= C channels of 2H x 2W.
void upsample_into(float* out, int64_t out_channels, const Tensor& x,
                   const std::vector<Tap>& rows, const std::vector<Tap>& cols) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = 2 * H, OW = 2 * W;
  const float* in = x.data();
#pragma omp parallel for
  for (int64_t p = 0; p < N * C; ++p) {
    const float* plane = in + p * H * W;
    float* o = out + ((p / C) * out_channels + p % C) * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const Tap& r = rows[size_t(oh)];
      const float* a = plane + r.i0 * W;
      const float* b = plane + r.i1 * W;
      float* dst = o + oh * OW;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Tap& c = cols[size_t(ow)];
        dst[ow] = r.w0 * (c.w0 * a[c.i0] + c.w1 * a[c.i1]) +
                  r.w1 * (c.w0 * b[c.i0] + c.w1 * b[c.i1]);
      }
    }
  }
}

// The adjoint: x's gradient += the upsampling's adjoint of the first C
// channels of dout (N, out_channels, 2H, 2W). Columns first (each output row
// gathered into a row of W), then rows (that row added into the two input
// rows its taps name).
void upsample_adjoint_from(const Tensor& x, const float* dout, int64_t out_channels,
                           const std::vector<Tap>& rows, const std::vector<float>& colw) {
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), OH = 2 * H, OW = 2 * W;
  const int64_t planes = x.size(0) * C;
  float* dx = grad_buffer(x);
#pragma omp parallel
  {
    std::vector<float> row(static_cast<size_t>(W));
#pragma omp for
    for (int64_t p = 0; p < planes; ++p) {
      float* plane = dx + p * H * W;
      const float* g = dout + ((p / C) * out_channels + p % C) * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        gather_row(row.data(), g + oh * OW, colw.data(), W);
        const Tap& r = rows[size_t(oh)];
        float* a = plane + r.i0 * W;
        float* b = plane + r.i1 * W;
        for (int64_t i = 0; i < W; ++i) a[i] += r.w0 * row[size_t(i)];
        for (int64_t i = 0; i < W; ++i) b[i] += r.w1 * row[size_t(i)];
      }
    }
  }
}
}  // namespace

Tensor upsample_bilinear2x(const Tensor& x) {
  QAT_CHECK(x.dim() == 4, "upsample_bilinear2x: input must be (N,C,H,W), got ",
            to_string(x.shape()));
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const auto rows = bilinear_taps(H, 2 * H), cols = bilinear_taps(W, 2 * W);
  Tensor out = Tensor::empty({N, C, 2 * H, 2 * W});
  upsample_into(out.data(), C, x, rows, cols);
  if (needs_grad({x}))
    record(out, "upsample_bilinear2x", {x},
           [x, rows, colw = gather_weights(cols, W)](const Tensor& dout) {
             upsample_adjoint_from(x, dout.data(), x.size(1), rows, colw);
           });
  return out;
}

namespace {
// t (N,Ct,H,W) copied into channels [offset, offset+Ct) of out (N,total,H,W).
void copy_channels_into(float* out, int64_t total, int64_t offset, const Tensor& t) {
  const int64_t N = t.size(0), block = t.size(1) * t.size(2) * t.size(3);
  const int64_t HW = t.size(2) * t.size(3);
  for (int64_t n = 0; n < N; ++n)
    std::memcpy(out + (n * total + offset) * HW, t.data() + n * block,
                size_t(block) * sizeof(float));
}

// The adjoint: t's gradient gets channels [offset, offset+Ct) of dout.
void channel_grad_from(const Tensor& t, const float* dout, int64_t total, int64_t offset) {
  const int64_t N = t.size(0), block = t.size(1) * t.size(2) * t.size(3);
  const int64_t HW = t.size(2) * t.size(3);
  bool fresh = false;
  float* dt = grad_buffer_for_write(t, fresh);
  for (int64_t n = 0; n < N; ++n) {
    const float* src = dout + (n * total + offset) * HW;
    float* dst = dt + n * block;
    if (fresh)
      std::memcpy(dst, src, size_t(block) * sizeof(float));
    else
      for (int64_t i = 0; i < block; ++i) dst[i] += src[i];
  }
}
}  // namespace

Tensor upsample_cat(const Tensor& x, const Tensor& skip) {
  QAT_CHECK(x.dim() == 4 && skip.dim() == 4 && skip.size(0) == x.size(0) &&
                skip.size(2) == 2 * x.size(2) && skip.size(3) == 2 * x.size(3),
            "upsample_cat: skip ", to_string(skip.shape()),
            " must be (N,C2,2H,2W) for input ", to_string(x.shape()));
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t CS = skip.size(1);
  const auto rows = bilinear_taps(H, 2 * H), cols = bilinear_taps(W, 2 * W);
  Tensor out = Tensor::empty({N, C + CS, 2 * H, 2 * W});
  upsample_into(out.data(), C + CS, x, rows, cols);
  copy_channels_into(out.data(), C + CS, C, skip);
  if (needs_grad({x, skip}))
    record(out, "upsample_cat", {x, skip},
           [x, skip, rows, colw = gather_weights(cols, W)](const Tensor& dout) {
             const int64_t C = x.size(1), CS = skip.size(1);
             if (x.requires_grad()) upsample_adjoint_from(x, dout.data(), C + CS, rows, colw);
             if (skip.requires_grad()) channel_grad_from(skip, dout.data(), C + CS, C);
           });
  return out;
}

// ---- concatenation along channels: out (N, C1+C2+..., H, W)
Tensor cat_channels(const std::vector<Tensor>& xs) {
  QAT_CHECK(!xs.empty(), "cat_channels: no inputs");
  const Shape& s0 = xs[0].shape();
  QAT_CHECK(s0.size() == 4, "cat_channels: inputs must be (N,C,H,W), got ",
            to_string(s0));
  int64_t C = 0;
  for (const Tensor& t : xs) {
    QAT_CHECK(t.dim() == 4 && t.size(0) == s0[0] && t.size(2) == s0[2] &&
                  t.size(3) == s0[3],
              "cat_channels: shapes ", to_string(s0), " and ",
              to_string(t.shape()), " differ outside the channel dimension");
    C += t.size(1);
  }
  Tensor out = Tensor::empty({s0[0], C, s0[2], s0[3]});
  int64_t offset = 0;  // channels before this input
  for (const Tensor& t : xs) {
    copy_channels_into(out.data(), C, offset, t);
    offset += t.size(1);
  }
  bool any = false;
  for (const Tensor& t : xs) any = any || t.requires_grad();
  if (any && grad_enabled()) {
    record(out, "cat_channels", xs, [xs, C](const Tensor& dout) {
      int64_t offset = 0;
      for (const Tensor& t : xs) {
        if (t.requires_grad()) channel_grad_from(t, dout.data(), C, offset);
        offset += t.size(1);
      }
    });
  }
  return out;
}

}  // namespace qat
