// 2-D convolution as im2col + one OpenBLAS GEMM per image.
// x (N,C,H,W), w (OC,C,KH,KW), bias (OC) -> out (N,OC,OH,OW);
// col (C*KH*KW, OH*OW) holds, for each output pixel, the input patch it sees.
#include <cblas.h>

#include <cstring>

#include "autograd/ops.h"

namespace qat {
namespace {

struct ConvGeometry {
  int64_t N, C, H, W, OC, KH, KW, OH, OW;
  int stride, pad;
  int64_t patch() const { return C * KH * KW; }  // rows of col
  int64_t pixels() const { return OH * OW; }     // columns of col
};

// col[(c,kh,kw), (oh,ow)] = x[c, oh*stride-pad+kh, ow*stride-pad+kw], 0 outside.
void im2col(float* col, const float* x, const ConvGeometry& g) {
#pragma omp parallel for collapse(2)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * g.pixels();
        const float* plane = x + c * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          float* dst = row + oh * g.OW;
          if (ih < 0 || ih >= g.H) {
            std::memset(dst, 0, size_t(g.OW) * sizeof(float));
            continue;
          }
          const float* src = plane + ih * g.W;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            dst[ow] = (iw >= 0 && iw < g.W) ? src[iw] : 0.0f;
          }
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
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          const float* src = row + oh * g.OW;
          float* dst = plane + ih * g.W;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            if (iw >= 0 && iw < g.W) dst[iw] += src[ow];
          }
        }
      }
  }
}

// out (N,OC,OH,OW) = conv(x, w) + bias
void conv2d_forward(float* out, const float* x, const float* w,
                    const float* bias, float* col, const ConvGeometry& g) {
  for (int64_t n = 0; n < g.N; ++n) {
    im2col(col, x + n * g.C * g.H * g.W, g);
    float* o = out + n * g.OC * g.pixels();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(g.OC),
                int(g.pixels()), int(g.patch()), 1.0f, w, int(g.patch()), col,
                int(g.pixels()), 0.0f, o, int(g.pixels()));
    if (bias) {
#pragma omp parallel for
      for (int64_t oc = 0; oc < g.OC; ++oc)
        for (int64_t p = 0; p < g.pixels(); ++p) o[oc * g.pixels() + p] += bias[oc];
    }
  }
}

// dx += conv^T(dout, w), dw += dout * x^T, dbias += sum(dout); null skips.
void conv2d_backward(float* dx, float* dw, float* dbias, const float* dout,
                     const float* x, const float* w, float* col,
                     const ConvGeometry& g) {
  for (int64_t n = 0; n < g.N; ++n) {
    const float* go = dout + n * g.OC * g.pixels();
    if (dw) {
      im2col(col, x + n * g.C * g.H * g.W, g);
      // dw (OC, patch) += go (OC, pixels) * col^T (pixels, patch)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(g.OC),
                  int(g.patch()), int(g.pixels()), 1.0f, go, int(g.pixels()),
                  col, int(g.pixels()), 1.0f, dw, int(g.patch()));
    }
    if (dx) {
      // col (patch, pixels) = w^T (patch, OC) * go (OC, pixels)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(g.patch()),
                  int(g.pixels()), int(g.OC), 1.0f, w, int(g.patch()), go,
                  int(g.pixels()), 0.0f, col, int(g.pixels()));
      col2im(dx + n * g.C * g.H * g.W, col, g);
    }
    if (dbias) {
#pragma omp parallel for
      for (int64_t oc = 0; oc < g.OC; ++oc) {
        float s = 0.0f;
        for (int64_t p = 0; p < g.pixels(); ++p) s += go[oc * g.pixels() + p];
        dbias[oc] += s;
      }
    }
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
              int pad) {
  QAT_CHECK(x.dim() == 4, "conv2d: input must be (N,C,H,W), got ",
            to_string(x.shape()));
  QAT_CHECK(w.dim() == 4, "conv2d: weight must be (OC,C,KH,KW), got ",
            to_string(w.shape()));
  QAT_CHECK(w.size(1) == x.size(1), "conv2d: weight ", to_string(w.shape()),
            " expects ", w.size(1), " input channels, input ",
            to_string(x.shape()), " has ", x.size(1));
  QAT_CHECK(stride >= 1 && pad >= 0, "conv2d: stride ", stride, " and pad ",
            pad, " must be >= 1 and >= 0");
  if (bias.defined())
    QAT_CHECK(bias.shape() == Shape{w.size(0)}, "conv2d: bias ",
              to_string(bias.shape()), " does not match weight ",
              to_string(w.shape()));
  ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0),
                 w.size(2), w.size(3), 0,         0,         stride, pad};
  g.OH = (g.H + 2 * pad - g.KH) / stride + 1;
  g.OW = (g.W + 2 * pad - g.KW) / stride + 1;
  QAT_CHECK(g.H + 2 * pad >= g.KH && g.W + 2 * pad >= g.KW, "conv2d: kernel ",
            to_string(w.shape()), " larger than padded input ",
            to_string(x.shape()));

  Tensor out = Tensor::empty({g.N, g.OC, g.OH, g.OW});
  {
    Tensor col = Tensor::empty({g.patch(), g.pixels()});
    conv2d_forward(out.data(), x.data(), w.data(),
                   bias.defined() ? bias.data() : nullptr, col.data(), g);
  }
  if (needs_grad({x, w, bias})) {
    std::vector<Tensor> inputs{x, w};
    if (bias.defined()) inputs.push_back(bias);
    record(out, "conv2d", inputs, [x, w, bias, g](const Tensor& dout) {
      Tensor col = Tensor::empty({g.patch(), g.pixels()});
      conv2d_backward(x.requires_grad() ? grad_buffer(x) : nullptr,
                      w.requires_grad() ? grad_buffer(w) : nullptr,
                      bias.requires_grad() ? grad_buffer(bias) : nullptr,
                      dout.data(), x.data(), w.data(), col.data(), g);
    });
  }
  return out;
}

}  // namespace qat
