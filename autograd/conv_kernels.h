// 2-D convolution kernels on raw pointers, three ways of computing the same
// thing. conv2d() in ops_conv.cpp picks one; the tests hold them against the
// naive loops.
//
// Letters: x (N,C,H,W), w (OC,C,KH,KW), bias (OC) -> out (N,OC,OH,OW),
// OH = (H+2*pad-KH)/stride+1, OW likewise. Gradient buffers are prefixed d
// and accumulated with +=; a null gradient pointer skips that gradient.
#pragma once
#include <cstdint>

namespace qat {

struct ConvGeometry {
  int64_t N, C, H, W, OC, KH, KW, OH, OW;
  int stride, pad;
  // The geometry of a KH x KW conv, its output size derived.
  static ConvGeometry of(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t KH,
                         int64_t KW, int stride, int pad) {
    return {N, C, H, W, OC, KH, KW, (H + 2 * pad - KH) / stride + 1,
            (W + 2 * pad - KW) / stride + 1, stride, pad};
  }
  // The U-Net's conv: 3x3, stride 1, padding 1, output the input's size.
  static ConvGeometry same3x3(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC) {
    return of(N, C, H, W, OC, /*KH=*/3, /*KW=*/3, /*stride=*/1, /*pad=*/1);
  }
  int64_t patch() const { return C * KH * KW; }  // rows of an im2col matrix
  int64_t pixels() const { return OH * OW; }     // output pixels per image
};

// The reference: the definition as seven nested loops, accumulated in double.
void conv2d_naive_forward(float* out, const float* x, const float* w,
                          const float* bias, const ConvGeometry& g);
void conv2d_naive_backward(float* dx, float* dw, float* dbias, const float* dout,
                           const float* x, const float* w, const ConvGeometry& g);

// im2col + one GEMM per image (gemm::sgemm_parallel): any kernel, stride
// and padding.
void conv2d_im2col_forward(float* out, const float* x, const float* w,
                           const float* bias, const ConvGeometry& g);
void conv2d_im2col_backward(float* dx, float* dw, float* dbias, const float* dout,
                            const float* x, const float* w, const ConvGeometry& g);

// dbias[oc] += sum of dout over the batch and the pixels (shared by the paths)
void conv2d_bias_backward(float* dbias, const float* dout, const ConvGeometry& g);

// Direct 3x3, stride 1, pad 1, for at most 3 output channels (the U-Net's
// last conv): 9 multiply-adds per pixel and channel pair straight from the
// image's rows (conv_direct.cpp).
bool direct_applies(const ConvGeometry& g);
void conv2d_direct_forward(float* out, const float* x, const float* w,
                           const float* bias, const ConvGeometry& g);
void conv2d_direct_backward(float* dx, float* dw, float* dbias, const float* dout,
                            const float* x, const float* w, const ConvGeometry& g);

// Winograd F(tile x tile, 3x3), tile 2 or 4: 3x3 kernels, stride 1, pad 1
// only (the U-Net's convs). 4 (tile 2) or 2.25 (tile 4) multiplications per
// output pixel instead of 9, in all three passes (conv_winograd.cpp).
// chunk_rows: tile rows (`tile` output rows of one image) per chunk; 0 picks
// it from the memory budget (tests pass small values to cross chunk borders).
bool winograd_applies(const ConvGeometry& g);
void conv2d_winograd_forward(float* out, const float* x, const float* w,
                             const float* bias, const ConvGeometry& g, int tile,
                             int64_t chunk_rows = 0);
void conv2d_winograd_backward(float* dx, float* dw, float* dbias,
                              const float* dout, const float* x, const float* w,
                              const ConvGeometry& g, int tile, int64_t chunk_rows = 0);

}  // namespace qat
