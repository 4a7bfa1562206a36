// Integer conv2d: im2col on codes, one integer GEMM per image, bias added
// in the accumulator's scale. Letters as in int_conv.h.
#include "quant/int_conv.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/check.h"
#include "quant/int_gemm.h"

namespace qat::quant {
namespace {

// col[(c,kh,kw), (oh,ow)] = x[c, oh*stride-pad+kh, ow*stride-pad+kw], 0 outside.
template <class T>
void im2col_codes(T* col, const T* x, const ConvGeometry& g) {
#pragma omp parallel for collapse(2)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = col + ((c * g.KH + kh) * g.KW + kw) * g.pixels();
        const T* plane = x + c * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            row[oh * g.OW + ow] = inside ? plane[ih * g.W + iw] : T(0);
          }
        }
      }
}

}  // namespace

template <class T>
void conv2d_codes(int32_t* acc, const T* x, const T* w, const int32_t* bias,
                       const ConvGeometry& g) {
  std::vector<T> col(size_t(g.patch() * g.pixels()));
  for (int64_t n = 0; n < g.N; ++n) {
    im2col_codes(col.data(), x + n * g.C * g.H * g.W, g);
    int32_t* o = acc + n * g.OC * g.pixels();
    // o (OC, pixels) = w (OC, patch) * col (patch, pixels)
    gemm(o, w, col.data(), g.OC, g.pixels(), g.patch());
    if (bias) {
#pragma omp parallel for
      for (int64_t oc = 0; oc < g.OC; ++oc)
        for (int64_t p = 0; p < g.pixels(); ++p)  // wraps mod 2^32, as the GEMM
          o[oc * g.pixels() + p] = static_cast<int32_t>(
              uint32_t(o[oc * g.pixels() + p]) + uint32_t(bias[oc]));
    }
  }
}

template <class T>
void conv2d_codes_naive(int32_t* acc, const T* x, const T* w,
                             const int32_t* bias, const ConvGeometry& g) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t s = bias ? bias[oc] : 0;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = oh * g.stride - g.pad + kh;
                const int64_t iw = ow * g.stride - g.pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                s += int64_t(x[((n * g.C + c) * g.H + ih) * g.W + iw]) *
                     w[((oc * g.C + c) * g.KH + kh) * g.KW + kw];
              }
          acc[((n * g.OC + oc) * g.OH + oh) * g.OW + ow] = static_cast<int32_t>(s);
        }
}

int32_t bias_code(float bias, int frac_bits) {
  // bias * 2^f is exact in double (a float times a power of two), and so is
  // nearbyint (ties to even under the default rounding mode).
  const double scaled = std::nearbyint(std::ldexp(double(bias), frac_bits));
  if (!std::isfinite(scaled) || scaled < -2147483648.0 || scaled > 2147483647.0)
    throw Error(detail::concat("integer conv: bias ", bias, " at ", frac_bits,
                               " fraction bits is the code ", scaled,
                               ", expected a code within int32"));
  return int32_t(scaled);
}

template void conv2d_codes<int8_t>(int32_t*, const int8_t*, const int8_t*,
                                   const int32_t*, const ConvGeometry&);
template void conv2d_codes<int16_t>(int32_t*, const int16_t*, const int16_t*,
                                    const int32_t*, const ConvGeometry&);
template void conv2d_codes_naive<int8_t>(int32_t*, const int8_t*, const int8_t*,
                                         const int32_t*, const ConvGeometry&);
template void conv2d_codes_naive<int16_t>(int32_t*, const int16_t*, const int16_t*,
                                          const int32_t*, const ConvGeometry&);

}  // namespace qat::quant
