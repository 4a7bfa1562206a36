// The integer engine's spatial ops on codes: max-pool 2x2 and bilinear x2
// upsampling (ReLU is applied to the accumulator inside the conv, and the
// concatenation is the up-block conv's two input parts: int_conv.h). A code tensor is
// (N,C,H,W) (or planes = N*C of H*W) of integers c meaning c * 2^-f, f its
// fraction bits. Each op says what it does to f.
#pragma once
#include <cstdint>

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

}  // namespace qat::quant
