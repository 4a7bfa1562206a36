// Convolution as im2col + one GEMM per image (autograd/gemm/sgemm.h): the general path
// (any kernel, stride, padding). col (C*KH*KW, OH*OW) holds, for each output
// pixel, the input patch it sees.
#include <algorithm>
#include <cstring>

#include "autograd/conv_kernels.h"
#include "autograd/gemm/sgemm.h"
#include "autograd/lane_sum.h"
#include "autograd/storage.h"

namespace qat {
namespace {

// The output columns [lo, hi) of one col row whose input column
// ow*stride-pad+kw lies inside the image; the rest read padding.
struct Span {
  int64_t lo, hi;
};
Span inside(const ConvGeometry& g, int64_t kw) {
  const int64_t off = kw - g.pad;  // input column of ow = 0
  const int64_t lo =
      std::min(g.OW, off >= 0 ? 0 : (-off + g.stride - 1) / g.stride);
  const int64_t hi = off >= g.W ? 0 : std::min(g.OW, (g.W - 1 - off) / g.stride + 1);
  return {lo, std::max(lo, hi)};
}

// col[(c,kh,kw), (oh,ow)] = x[c, oh*stride-pad+kh, ow*stride-pad+kw], 0 outside.
void im2col(float* col, const float* x, const ConvGeometry& g) {
#pragma omp parallel for collapse(2)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * g.pixels();
        const float* plane = x + c * g.H * g.W;
        const Span s = inside(g, kw);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          float* dst = row + oh * g.OW;
          if (ih < 0 || ih >= g.H) {
            std::fill_n(dst, g.OW, 0.0f);
            continue;
          }
          const float* src = plane + ih * g.W + kw - g.pad;  // at ow = 0
          std::fill_n(dst, s.lo, 0.0f);
          if (g.stride == 1)
            std::memcpy(dst + s.lo, src + s.lo, size_t(s.hi - s.lo) * sizeof(float));
          else
            for (int64_t ow = s.lo; ow < s.hi; ++ow) dst[ow] = src[ow * g.stride];
          std::fill(dst + s.hi, dst + g.OW, 0.0f);
        }
      }
}

// The adjoint of im2col: dx[c, ih, iw] += every col entry that read it.
// Parallel over channels only: different (kh, kw) of one channel write the
// same pixels.
void col2im(float* dx, const float* col, const ConvGeometry& g) {
#pragma omp parallel for
  for (int64_t c = 0; c < g.C; ++c) {
    float* plane = dx + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const float* row = col + ((c * g.KH + kh) * g.KW + kw) * g.pixels();
        const Span s = inside(g, kw);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          const float* src = row + oh * g.OW;
          float* dst = plane + ih * g.W + kw - g.pad;  // at ow = 0
          for (int64_t ow = s.lo; ow < s.hi; ++ow) dst[ow * g.stride] += src[ow];
        }
      }
  }
}

// A 1x1 conv with stride 1 and no padding reads each pixel once: its col
// is x itself, so no copy is made.
bool col_is_input(const ConvGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.stride == 1 && g.pad == 0;
}

}  // namespace

void conv2d_im2col_forward(float* out, const float* x, const float* w,
                           const float* bias, const ConvGeometry& g) {
  const bool direct = col_is_input(g);
  Storage col(direct ? 0 : size_t(g.patch() * g.pixels()));
  for (int64_t n = 0; n < g.N; ++n) {
    const float* image = x + n * g.C * g.H * g.W;
    if (!direct) im2col(col.data(), image, g);
    float* o = out + n * g.OC * g.pixels();
    // o (OC, pixels) = w (OC, patch) * col (patch, pixels)
    gemm::sgemm_parallel({.M = g.OC, .N = g.pixels(), .K = g.patch(), .A = w,
                          .lda = g.patch(), .B = direct ? image : col.data(),
                          .ldb = g.pixels(), .C = o, .ldc = g.pixels()});
    if (bias) {
#pragma omp parallel for
      for (int64_t oc = 0; oc < g.OC; ++oc)
        for (int64_t p = 0; p < g.pixels(); ++p) o[oc * g.pixels() + p] += bias[oc];
    }
  }
}

void conv2d_im2col_backward(float* dx, float* dw, float* dbias, const float* dout,
                            const float* x, const float* w, const ConvGeometry& g) {
  Storage col(size_t(g.patch() * g.pixels()));
  const bool direct = col_is_input(g);  // dw reads x itself; dx still needs col
  for (int64_t n = 0; n < g.N; ++n) {
    const float* go = dout + n * g.OC * g.pixels();
    if (dw) {
      const float* image = x + n * g.C * g.H * g.W;
      if (!direct) im2col(col.data(), image, g);
      // dw (OC, patch) += go (OC, pixels) * col^T (pixels, patch)
      gemm::sgemm_parallel({.tb = true, .M = g.OC, .N = g.patch(), .K = g.pixels(),
                            .A = go, .lda = g.pixels(), .B = direct ? image : col.data(),
                            .ldb = g.pixels(), .C = dw, .ldc = g.patch(),
                            .accumulate = true});
    }
    if (dx) {
      // col (patch, pixels) = w^T (patch, OC) * go (OC, pixels)
      gemm::sgemm_parallel({.ta = true, .M = g.patch(), .N = g.pixels(), .K = g.OC,
                            .A = w, .lda = g.patch(), .B = go, .ldb = g.pixels(),
                            .C = col.data(), .ldc = g.pixels()});
      col2im(dx + n * g.C * g.H * g.W, col.data(), g);
    }
  }
  if (dbias) conv2d_bias_backward(dbias, dout, g);
}

void conv2d_bias_backward(float* dbias, const float* dout, const ConvGeometry& g) {
#pragma omp parallel for
  for (int64_t oc = 0; oc < g.OC; ++oc) {
    double s = 0.0;
    for (int64_t n = 0; n < g.N; ++n) {
      const float* go = dout + (n * g.OC + oc) * g.pixels();
      s += lane_sum(g.pixels(), [go](int64_t p) { return go[p]; });
    }
    dbias[oc] += float(s);
  }
}

}  // namespace qat
