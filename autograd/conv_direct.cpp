// Direct 3x3 convolution (stride 1, pad 1) for convs with few output
// channels: the U-Net's last (64 -> 1). Nine multiply-adds per output pixel
// and channel pair, read straight from the rows of the image. Winograd
// transforms all 64 input channels (and their gradients) to feed GEMMs with
// one row: conv9's forward and backward took 40 ms of a 2.4 s training
// step that way, 14 ms this way (Zen 3, 2 threads, batch 5 at 200x200).
// Few INPUT channels (the first conv, 1 -> 64) stay with im2col: its
// weight gradient is one good GEMM (K = the pixels), which these loops did
// not beat. See conv_kernels.h.
#include <algorithm>
#include <vector>

#include "autograd/conv_kernels.h"

namespace qat {
namespace {

// acc[x] += k[0] s[x-1] + k[1] s[x] + k[2] s[x+1] for x in [0, W), s zero
// outside [0, W). Always added in that order, so that the interior loop
// (which vectorises) and the two edges round the same way.
void add_row3(float* acc, const float* s, const float* k, int64_t W) {
  if (W == 1) {
    acc[0] += k[1] * s[0];
    return;
  }
  acc[0] = (acc[0] + k[1] * s[0]) + k[2] * s[1];
  for (int64_t x = 1; x < W - 1; ++x)
    acc[x] = ((acc[x] + k[0] * s[x - 1]) + k[1] * s[x]) + k[2] * s[x + 1];
  acc[W - 1] = (acc[W - 1] + k[0] * s[W - 2]) + k[1] * s[W - 1];
}

// out (N, O, H, W) = [out +] bias + sum_i k[o, i] correlated with in (N, I,
// H, W), 3x3, zero padding 1. One output row per task, its channels added
// in order: the result does not depend on the threads.
void correlate3x3(float* out, const float* in, const float* k, const float* bias, int64_t N,
                  int64_t I, int64_t O, int64_t H, int64_t W, bool accumulate) {
#pragma omp parallel
  {
    std::vector<float> acc(static_cast<size_t>(W));
#pragma omp for collapse(3) schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t y = 0; y < H; ++y) {
          float* dst = out + ((n * O + o) * H + y) * W;
          if (accumulate)
            std::copy_n(dst, W, acc.data());
          else
            std::fill(acc.begin(), acc.end(), bias ? bias[o] : 0.0f);
          for (int64_t i = 0; i < I; ++i)
            for (int64_t kh = 0; kh < 3; ++kh) {
              const int64_t iy = y + kh - 1;
              if (iy < 0 || iy >= H) continue;
              add_row3(acc.data(), in + ((n * I + i) * H + iy) * W, k + ((o * I + i) * 3 + kh) * 3,
                       W);
            }
          std::copy_n(acc.data(), W, dst);
        }
  }
}

// The nine tap sums of one (oc, c) pair of the weight gradient: 16 float
// lanes per tap (which vectorise without -ffast-math), added into doubles
// every kFlushRows rows so that long planes keep a double's accuracy.
struct TapSums {
  static constexpr int L = 16, kFlushRows = 4;
  float lane[9][L] = {};
  double total[9] = {};
  int rows = 0;

  // The taps (kh, 0..2) of output row go against input row s, both W long.
  void add_row(int kh, const float* go, const float* s, int64_t W) {
    float* l0 = lane[kh * 3];
    float* l1 = lane[kh * 3 + 1];
    float* l2 = lane[kh * 3 + 2];
    int64_t x = 1;  // columns 0 and W - 1 lack a neighbour: below
    for (; x + L <= W - 1; x += L)
      for (int l = 0; l < L; ++l) {
        const float gv = go[x + l];
        l0[l] += gv * s[x + l - 1];
        l1[l] += gv * s[x + l];
        l2[l] += gv * s[x + l + 1];
      }
    for (; x < W - 1; ++x) {
      l0[0] += go[x] * s[x - 1];
      l1[0] += go[x] * s[x];
      l2[0] += go[x] * s[x + 1];
    }
    l1[1] += go[0] * s[0];
    if (W > 1) {
      l2[1] += go[0] * s[1];
      l0[2] += go[W - 1] * s[W - 2];
      l1[2] += go[W - 1] * s[W - 1];
    }
  }
  void end_row() {
    if (++rows % kFlushRows == 0) flush();
  }
  void flush() {
    for (int t = 0; t < 9; ++t)
      for (int l = 0; l < L; ++l) total[t] += double(lane[t][l]), lane[t][l] = 0.0f;
  }
};

// dw[oc, c] += sum over images and pixels of dout[oc] times x[c] shifted by
// each tap. One (oc, c) pair per task, added in order: the result does not
// depend on the threads.
void weight_gradient(float* dw, const float* dout, const float* x, const ConvGeometry& g) {
  const int64_t H = g.H, W = g.W;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t c = 0; c < g.C; ++c) {
      TapSums sums;
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t y = 0; y < H; ++y) {
          const float* go = dout + ((n * g.OC + oc) * H + y) * W;
          for (int kh = 0; kh < 3; ++kh) {
            const int64_t iy = y + kh - 1;
            if (iy >= 0 && iy < H) sums.add_row(kh, go, x + ((n * g.C + c) * H + iy) * W, W);
          }
          sums.end_row();
        }
      sums.flush();
      for (int t = 0; t < 9; ++t) dw[(oc * g.C + c) * 9 + t] += float(sums.total[t]);
    }
}

}  // namespace

bool direct_applies(const ConvGeometry& g) {
  return winograd_applies(g) && g.OC <= 3;
}

void conv2d_direct_forward(float* out, const float* x, const float* w, const float* bias,
                           const ConvGeometry& g) {
  correlate3x3(out, x, w, bias, g.N, g.C, g.OC, g.H, g.W, /*accumulate=*/false);
}

void conv2d_direct_backward(float* dx, float* dw, float* dbias, const float* dout,
                            const float* x, const float* w, const ConvGeometry& g) {
  if (dx) {
    // dx[c] += sum_oc w[oc, c] flipped, correlated with dout[oc]: the
    // adjoint of a same-size 3x3 correlation is the correlation with the
    // kernel turned by 180 degrees, channels swapped.
    std::vector<float> k(size_t(g.C * g.OC * 9));
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t c = 0; c < g.C; ++c)
        for (int t = 0; t < 9; ++t) k[size_t((c * g.OC + oc) * 9 + t)] = w[(oc * g.C + c) * 9 + 8 - t];
    correlate3x3(dx, dout, k.data(), nullptr, g.N, g.OC, g.C, g.H, g.W, /*accumulate=*/true);
  }
  if (dw) weight_gradient(dw, dout, x, g);
  if (dbias) conv2d_bias_backward(dbias, dout, g);
}

}  // namespace qat
