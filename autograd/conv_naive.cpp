// The convolution as its definition, for tests to hold the fast paths against:
//   out[n,oc,oh,ow] = bias[oc] + sum_{c,kh,kw} w[oc,c,kh,kw] *
//                     x[n, c, oh*stride-pad+kh, ow*stride-pad+kw]  (0 outside)
// Slow on purpose: no blocking, no threads; sums in double.
#include <cstddef>
#include <vector>

#include "autograd/conv_kernels.h"

namespace qat {
namespace {
// Calls f(out index, x index, w index) for every multiply-add of the
// convolution whose input pixel lies inside the image.
template <class F>
void for_each_tap(const ConvGeometry& g, F f) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow)
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = oh * g.stride - g.pad + kh;
                const int64_t iw = ow * g.stride - g.pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                f(((n * g.OC + oc) * g.OH + oh) * g.OW + ow,
                  ((n * g.C + c) * g.H + ih) * g.W + iw,
                  ((oc * g.C + c) * g.KH + kh) * g.KW + kw);
              }
}
}  // namespace

void conv2d_naive_forward(float* out, const float* x, const float* w,
                          const float* bias, const ConvGeometry& g) {
  const int64_t n_out = g.N * g.OC * g.pixels();
  std::vector<double> acc(size_t(n_out), 0.0);
  for_each_tap(g, [&](int64_t o, int64_t i, int64_t k) {
    acc[size_t(o)] += double(w[k]) * double(x[i]);
  });
  for (int64_t o = 0; o < n_out; ++o)
    out[o] = float(acc[size_t(o)] + (bias ? bias[(o / g.pixels()) % g.OC] : 0.0));
}

void conv2d_naive_backward(float* dx, float* dw, float* dbias, const float* dout,
                           const float* x, const float* w, const ConvGeometry& g) {
  std::vector<double> ax(size_t(dx ? g.N * g.C * g.H * g.W : 0), 0.0);
  std::vector<double> aw(size_t(dw ? g.OC * g.patch() : 0), 0.0);
  for_each_tap(g, [&](int64_t o, int64_t i, int64_t k) {
    if (dx) ax[size_t(i)] += double(dout[o]) * double(w[k]);
    if (dw) aw[size_t(k)] += double(dout[o]) * double(x[i]);
  });
  for (size_t i = 0; i < ax.size(); ++i) dx[i] += float(ax[i]);
  for (size_t k = 0; k < aw.size(); ++k) dw[k] += float(aw[k]);
  if (dbias)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t oc = 0; oc < g.OC; ++oc) {
        double s = 0.0;
        for (int64_t p = 0; p < g.pixels(); ++p)
          s += dout[(n * g.OC + oc) * g.pixels() + p];
        dbias[oc] += float(s);
      }
}

}  // namespace qat
