// Max-pool 2x2 and bilinear x2 upsampling on codes;
// see int_ops.h. x (planes, H, W), a plane being one (n, c) image.
#include "quant/int_kernels/int_ops.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "autograd/check.h"

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

}  // namespace

// x (planes, H, W) at f -> out (planes, 2H, 2W) at f + 4.
template <class TIn, class TOut>
void upsample_bilinear2x_codes(TOut* out, const TIn* x, int64_t planes, int64_t H, int64_t W) {
  QAT_CHECK(H >= 1 && W >= 1, "upsample_bilinear2x_codes: empty plane ", H, "x", W);
  const int64_t OH = 2 * H, OW = 2 * W;
  const std::vector<Tap> rows = taps_x2(H), cols = taps_x2(W);
#pragma omp parallel
  {
    std::vector<int32_t> tmp(size_t(H * OW));  // column pass, in quarters
#pragma omp for
    for (int64_t p = 0; p < planes; ++p) {
      const TIn* in = x + p * H * W;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Tap& c = cols[size_t(ow)];
          tmp[size_t(h * OW + ow)] =
              c.w0 * int32_t(in[h * W + c.i0]) + c.w1 * int32_t(in[h * W + c.i1]);
        }
      for (int64_t oh = 0; oh < OH; ++oh) {  // row pass: quarters of quarters
        const Tap& r = rows[size_t(oh)];
        const int32_t* a = tmp.data() + r.i0 * OW;
        const int32_t* b = tmp.data() + r.i1 * OW;
        TOut* dst = out + (p * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = TOut(r.w0 * a[ow] + r.w1 * b[ow]);
      }
    }
  }
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

}  // namespace qat::quant
