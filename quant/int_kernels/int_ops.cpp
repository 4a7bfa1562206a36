// Max-pool 2x2 and bilinear x2 upsampling on codes;
// see int_ops.h. x (planes, H, W), a plane being one (n, c) image.
#include "quant/int_kernels/int_ops.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "autograd/check.h"
#include "quant/int_kernels/int_bound.h"

namespace qat::quant {

template <class T>
void max_pool2x2_codes(T* out, const T* x, int64_t planes, int64_t H, int64_t W) {
  QAT_CHECK(H >= 2 && W >= 2, "max_pool2x2_codes: plane ", H, "x", W,
            " smaller than the 2x2 kernel");
  const int64_t OH = H / 2, OW = W / 2;
#pragma omp parallel for
  for (int64_t p = 0; p < planes; ++p) {
    const T* in = x + p * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const T* r0 = in + 2 * oh * W;
      const T* r1 = r0 + W;
      T* dst = out + (p * OH + oh) * OW;
      for (int64_t ow = 0; ow < OW; ++ow)
        dst[ow] = std::max(std::max(r0[2 * ow], r0[2 * ow + 1]),
                           std::max(r1[2 * ow], r1[2 * ow + 1]));
    }
  }
}

namespace {

// Output index o of a x2 upsampling of n inputs reads inputs i0, i1 with
// weights w0, w1 in quarters (w0 + w1 = 4); int_ops.h lists the cases.
struct Tap {
  int64_t i0, i1;
  int32_t w0, w1;
};
std::vector<Tap> taps_x2(int64_t n) {
  std::vector<Tap> t(size_t(2 * n));
  for (int64_t j = 0; j < n; ++j) {
    const int64_t next = std::min(j + 1, n - 1);
    t[size_t(2 * j)] = j == 0 ? Tap{0, next, 4, 0} : Tap{j - 1, j, 1, 3};
    t[size_t(2 * j + 1)] = Tap{j, next, 3, 1};
  }
  return t;
}

// x (planes, H, W) at f -> out (planes, 2H, 2W): store(16ths) of each output.
template <class TIn, class TOut, class Store>
void upsample_planes(TOut* out, const TIn* x, int64_t planes, int64_t H, int64_t W,
                     Store store) {
  QAT_CHECK(H >= 1 && W >= 1, "upsample_bilinear2x_codes: empty plane ", H, "x", W);
  const int64_t OH = 2 * H, OW = 2 * W;
  const std::vector<Tap> rows = taps_x2(H);
#pragma omp parallel
  {
    // Locals, not the captured or shared copies: an int8_t store may alias
    // any memory the compiler cannot see is private, so it would reload the
    // store's parameters and the row weights per element and not vectorise.
    const Store st = store;
    std::vector<int32_t> tmp(size_t(H * OW));  // column pass, in quarters
#pragma omp for
    for (int64_t p = 0; p < planes; ++p) {
      const TIn* in = x + p * H * W;
      for (int64_t h = 0; h < H; ++h) {
        const TIn* src = in + h * W;
        int32_t* t = tmp.data() + h * OW;
        // cols' taps, written out so that the compiler vectorises the
        // interior: output 2j reads j-1 and j, 2j+1 reads j and j+1 (W = 1:
        // the loop is empty and both outputs are 4 * src[0])
        t[0] = 4 * int32_t(src[0]);
        for (int64_t j = 0; j + 1 < W; ++j) {
          const int32_t a = int32_t(src[j]), b = int32_t(src[j + 1]);
          t[2 * j + 1] = 3 * a + b;
          t[2 * j + 2] = a + 3 * b;
        }
        t[OW - 1] = 4 * int32_t(src[W - 1]);
      }
      for (int64_t oh = 0; oh < OH; ++oh) {  // row pass: quarters of quarters
        const Tap r = rows[size_t(oh)];
        const int32_t* a = tmp.data() + r.i0 * OW;
        const int32_t* b = tmp.data() + r.i1 * OW;
        TOut* dst = out + (p * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = TOut(st(r.w0 * a[ow] + r.w1 * b[ow]));
      }
    }
  }
}

}  // namespace

// x (planes, H, W) at f -> out (planes, 2H, 2W) at f + 4.
template <class TIn, class TOut>
void upsample_bilinear2x_codes(TOut* out, const TIn* x, int64_t planes, int64_t H, int64_t W) {
  upsample_planes(out, x, planes, H, W, [](int32_t v) { return v; });
}

GridRounding grid_rounding(const QuantSpec& s) {
  GridRounding g;
  g.frac_bits = s.frac_bits;
  if (s.format == Format::FixedTwos) {
    const CodeRange r = code_range(s);
    g.lo = int32_t(r.lo), g.hi = int32_t(r.hi);
    return g;
  }
  if (s.format != Format::Fixed && s.format != Format::FixedGm)
    throw Error("format " + s.name() + " has no fixed grid of codes to round the upsampled "
                "tensor to (requantize_upsample needs fixed_twos, fixed or fixed_gm)");
  QAT_CHECK(s.int_bits + s.frac_bits <= 26, "grid_rounding: ", s.name(), " too wide");
  g.sign_magnitude = true;
  g.drop_fraction = s.format == Format::FixedGm && s.frac_bits == 0;
  g.int_max = (int32_t(1) << s.int_bits) - 1;
  return g;
}

// x (planes, H, W) at f -> out (planes, 2H, 2W) at f, rounded to g's grid.
// The two roundings are separate loops, each branch-free inside.
template <class T>
void upsample_bilinear2x_to_grid(T* out, const T* x, int64_t planes, int64_t H, int64_t W,
                                 const GridRounding& g) {
  if (g.sign_magnitude)
    upsample_planes(out, x, planes, H, W, [g](int32_t v) { return round_to_grid(v, g); });
  else
    upsample_planes(out, x, planes, H, W, [lo = g.lo, hi = g.hi](int32_t v) {
      return std::clamp(round_half_even_sixteenth(v), lo, hi);
    });
}

template void max_pool2x2_codes<int8_t>(int8_t*, const int8_t*, int64_t, int64_t, int64_t);
template void max_pool2x2_codes<int16_t>(int16_t*, const int16_t*, int64_t, int64_t, int64_t);
template void max_pool2x2_codes<int32_t>(int32_t*, const int32_t*, int64_t, int64_t, int64_t);
template void upsample_bilinear2x_codes<int8_t, int16_t>(int16_t*, const int8_t*, int64_t,
                                                         int64_t, int64_t);
template void upsample_bilinear2x_codes<int16_t, int32_t>(int32_t*, const int16_t*, int64_t,
                                                          int64_t, int64_t);
template void upsample_bilinear2x_codes<int32_t, int32_t>(int32_t*, const int32_t*, int64_t,
                                                          int64_t, int64_t);
template void upsample_bilinear2x_to_grid<int8_t>(int8_t*, const int8_t*, int64_t, int64_t,
                                                  int64_t, const GridRounding&);
template void upsample_bilinear2x_to_grid<int16_t>(int16_t*, const int16_t*, int64_t, int64_t,
                                                   int64_t, const GridRounding&);
template void upsample_bilinear2x_to_grid<int32_t>(int32_t*, const int32_t*, int64_t, int64_t,
                                                   int64_t, const GridRounding&);

}  // namespace qat::quant
