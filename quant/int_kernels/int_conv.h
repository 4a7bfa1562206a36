// Integer conv2d on codes with the integer GEMM (int_gemm.h), int32
// accumulators out. The engine's conv (conv2d_codes_parts) packs the GEMM's
// panels straight from a zero-padded window of input rows; conv2d_codes is
// the plain im2col + GEMM it is checked and timed against. Layout as the
// float conv (autograd/conv_kernels.h):
//   x (N,C,H,W), w (OC,C,KH,KW), bias (OC) -> acc (N,OC,OH,OW)
//   col (C*KH*KW, OH*OW), the input patch each output pixel sees
//
// Formats: x codes at f_in fraction bits, w codes at f_w; the accumulator
// holds sum x*w at f_in + f_w fraction bits, so the bias must come in that
// scale: bias_code(b, f_in + f_w) = round_half_even(b * 2^(f_in+f_w)). Zero
// padding is the code 0 (the value 0 in every format). Whether the sum can
// overflow int32 is the caller's question to int_bound.h; the result is
// mod 2^32 like the GEMM.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "autograd/conv_kernels.h"
#include "quant/int_kernels/int_gemm.h"

namespace qat::quant {

// round_half_even(bias * 2^frac_bits); qat::Error if it lies beyond int32
// or is not finite.
int32_t bias_code(float bias, int frac_bits);
// round_half_even(bias / scale * 2^frac_bits) for a weight scale that is not
// a power of two (binary H, ternary alpha_c): the quotient in double, rounded
// once, then to the nearest integer. Equals bias_code(bias, frac_bits - e)
// for scale = 2^e. qat::Error beyond int32, or if scale <= 0.
int32_t bias_code_scaled(float bias, float scale, int frac_bits);

// Conv as im2col + one GEMM. The engine runs conv2d_codes_parts below
// instead; this stays as the plain baseline that bench_int_gemm times the
// GEMM against and the tests check conv2d_codes_parts with.
// T = int8_t or int16_t (x and w alike; int_gemm.h says which formats need
// which), instantiated in int_conv.cpp. bias may be null (no bias). g.OH,
// g.OW filled in by the caller as in conv2d (autograd/ops_conv.cpp).
template <class T>
void conv2d_codes(int32_t* acc, const T* x, const T* w, const int32_t* bias,
                  const ConvGeometry& g);
// The same with the weights packed once (pack_a(w, OC, C*KH*KW), int_gemm.h),
// for an engine that runs a layer many times.
template <class T>
void conv2d_codes(int32_t* acc, const T* x, const PackedA<T>& w, const int32_t* bias,
                  const ConvGeometry& g);

// ## A conv in parts, with its epilogue fused
// The engine's layers: the input channels may come in parts of different
// code types and fraction bits (an up-block's first conv reads [upsampled
// int16 at f+4, skip int8 at f]), and the accumulator goes straight on to
// ReLU and requantisation. conv2d_codes_parts computes, per chunk of output
// rows of one image,
//   acc (OC, rows*OW) = sum over parts of (conv(x_part, w_part) << shift) + bias
// (mod 2^32 like the GEMM; exact when the layer's bound fits int32, which the
// caller checks) and hands it to epilogue(acc, n, oh0, oh1) while it is in
// cache. No accumulator of the whole layer exists, and no im2col: the GEMM
// reads each chunk's zero-padded input window directly (int_conv.cpp), so
// stride 1 only (the engine's 3x3, pad 1 convs). Parallel over chunks; the
// epilogue runs on the thread that computed the chunk.
struct ConvPart {
  const int8_t* x8 = nullptr;               // (N, C, H, W) codes: one of x8, x16
  const int16_t* x16 = nullptr;
  int64_t C = 0;
  int64_t image_stride = 0;                 // codes from one image to the next; 0: C*H*W
                                            // (a channel range of a wider tensor: its C*H*W)
  // int8 only: further inputs read by the same GEMM, their channels after
  // x8's in w8's rows, so that w8 is (OC, (C + sum of more's C)*KH*KW). An
  // up-block's [upsampled, skip] on one grid (requantize_upsample) is one
  // GEMM this way: one pass over K instead of two accumulators added.
  struct More {
    const int8_t* x8 = nullptr;
    int64_t C = 0, image_stride = 0;        // as above
  };
  std::vector<More> more;
  const PackedA<int8_t>* w8 = nullptr;      // (OC, C*KH*KW), with x8
  const PackedA<int16_t>* w16 = nullptr;    // with x16
  int shift = 0;                            // left shift of this part's sum
};
using ConvEpilogue = std::function<void(int32_t* acc, int64_t n, int64_t oh0, int64_t oh1)>;
// g.C is ignored (the parts' C add up to the input); bias may be null.
void conv2d_codes_parts(const std::vector<ConvPart>& parts, const int32_t* bias,
                        const ConvGeometry& g, const ConvEpilogue& epilogue);

// The widened conv, for a layer whose accumulator bound exceeds int32
// (int_bound.h): acc (N,OC,OH,OW) += conv(x, w) * 2^shift in int64, exact
// for any |sum| < 2^62. Portable loops (no GEMM), OpenMP over (n, oc): the
// path of wide formats (Q8.8) and of the rare layers past int32, not of the
// fast ones. x (N,C,H,W) and w (OC,C,KH,KW) int32 codes.
void conv2d_codes_wide(int64_t* acc, const int32_t* x, const int32_t* w, int shift,
                       const ConvGeometry& g);

// The reference: seven nested loops in int64, truncated to int32.
template <class T>
void conv2d_codes_naive(int32_t* acc, const T* x, const T* w, const int32_t* bias,
                        const ConvGeometry& g);

}  // namespace qat::quant
