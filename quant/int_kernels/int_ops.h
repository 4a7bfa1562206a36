// The integer engine's spatial ops on codes: max-pool 2x2 and bilinear x2
// upsampling (ReLU is applied to the accumulator inside the conv, and the
// concatenation is the up-block conv's two input parts: int_conv.h). A code tensor is
// (N,C,H,W) (or planes = N*C of H*W) of integers c meaning c * 2^-f, f its
// fraction bits. Each op says what it does to f.
#pragma once
#include <algorithm>
#include <cstdint>

#include "quant/quantizers/spec.h"

namespace qat::quant {

// Instantiated in int_ops.cpp for the types listed at each op.

// x (planes, H, W) -> out (planes, H/2, W/2), kernel 2 stride 2, an odd last
// row/column dropped (as max_pool2d). The max of codes of one format is the
// code of the max: exact, f unchanged. T = int8_t, int16_t, int32_t.
template <class T>
void max_pool2x2_codes(T* out, const T* x, int64_t planes, int64_t H, int64_t W);

// Bilinear x2 at align_corners=False, as upsample_bilinear2x
// (autograd/ops_spatial.cpp): output row o reads input rows
//   o = 2j:    j-1 and j with weights 1/4, 3/4   (o = 0: row 0 with weight 1)
//   o = 2j+1:  j and j+1 with weights 3/4, 1/4   (last: row H-1 twice)
// and columns likewise. Every weight is a multiple of 1/4, so the output is
//   (sum of row weight * column weight * code) in 16ths:
//   out = 9a + 3b + 3c + d (interior; the borders' weights sum to 16 too)
// an exact integer at f + 4 fraction bits: no rounding, the output format
// has 4 more fraction bits than the input. |out| <= 16 |in|, so int8 codes
// come out as int16 (|out| <= 2048) and int16 codes as int32.
// Two passes, columns then rows, the order PyTorch and autograd's float op
// nest the weights in. In float the order does not matter either: every
// partial sum is an integer times 2^-(f+4) of magnitude <= 16 |code|, exact
// in float32's 24-bit significand for |code| < 2^20, so upsample_bilinear2x
// on code * 2^-f gives exactly out * 2^-(f+4) (tests/quant/int_kernels/test_int_ops.cpp).
// (TIn, TOut) = (int8_t, int16_t), (int16_t, int32_t) or (int32_t, int32_t)
// (codes below 2^27).
template <class TIn, class TOut>
void upsample_bilinear2x_codes(TOut* out, const TIn* x, int64_t planes, int64_t H,
                               int64_t W);

// ---- the upsampled codes back on the activation grid (requantize_upsample)
//
// With the model option requantize_upsample the simulation quantizes the
// float upsampled tensor with the format it was upsampled from (quant::quantize
// after upsample_bilinear2x). Its values are u * 2^-(f+4) exactly (above), so
// the format's rounding of them is a rounding of the integer u / 16:
//   fixed_twos: c = clamp(round_half_even(u / 16), lo, hi)
//   fixed, fixed_gm (sign-magnitude, quant/quantizers/fixed.cpp): with
//     a = |u|, s = f + 4: integer part I = a >> s, fraction r = a mod 2^s
//     (in 16ths of a code), c = sign(u) * (min(I, 2^i - 1) * 2^f +
//     round_half_even(r / 16)), the fraction dropped for fixed_gm at f = 0.
// round_half_even(v / 16) = floor((v + 7 + b) / 16), b = bit 4 of v (the
// parity of q = floor(v / 16)): with v = 16q + r, 0 <= r < 16, the sum
// reaches 16(q + 1) exactly when r > 8, or r = 8 and q is odd.
// tests/quant/int_kernels/test_int_grid.cpp checks both against
// quant::quantize on every u the formats' codes give.
struct GridRounding {
  bool sign_magnitude = false;  // fixed, fixed_gm; else fixed_twos
  bool drop_fraction = false;   // fixed_gm at f = 0: the fraction truncated
  int frac_bits = 0;            // f
  int32_t int_max = 0;          // sign-magnitude: 2^i - 1, the integer part's clamp
  int32_t lo = 0, hi = 0;       // two's complement: the saturation
};

// The grid of format s; qat::Error naming s for a format without one (only
// fixed_twos, fixed and fixed_gm have a fixed grid of codes).
GridRounding grid_rounding(const QuantSpec& s);

inline int32_t round_half_even_sixteenth(int32_t v) { return (v + 7 + ((v >> 4) & 1)) >> 4; }

// u, a code at f + 4 -> the code at f of g's format.
inline int32_t round_to_grid(int32_t u, const GridRounding& g) {
  if (!g.sign_magnitude) return std::clamp(round_half_even_sixteenth(u), g.lo, g.hi);
  const int32_t a = u < 0 ? -u : u;
  const int s = g.frac_bits + 4;
  const int32_t fraction = g.drop_fraction ? 0 : round_half_even_sixteenth(a & ((1 << s) - 1));
  const int32_t m = (std::min(a >> s, g.int_max) << g.frac_bits) + fraction;
  return u < 0 ? -m : m;
}

// upsample_bilinear2x_codes, then round_to_grid: codes at f in and out, of
// the same type T = int8_t, int16_t or int32_t (|code| < 2^26).
template <class T>
void upsample_bilinear2x_to_grid(T* out, const T* x, int64_t planes, int64_t H, int64_t W,
                                 const GridRounding& g);

}  // namespace qat::quant
