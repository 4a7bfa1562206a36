// Integer conv2d on codes: im2col + the integer GEMM (int_gemm.h), int32
// accumulators out. Layout as the float conv (autograd/conv_kernels.h):
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

#include "autograd/conv_kernels.h"
#include "quant/int_gemm.h"

namespace qat::quant {

// round_half_even(bias * 2^frac_bits); qat::Error if it lies beyond int32
// or is not finite.
int32_t bias_code(float bias, int frac_bits);

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

// The reference: seven nested loops in int64, truncated to int32.
template <class T>
void conv2d_codes_naive(int32_t* acc, const T* x, const T* w, const int32_t* bias,
                        const ConvGeometry& g);

}  // namespace qat::quant
