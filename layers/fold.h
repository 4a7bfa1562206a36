// Batch-norm folding for inference.
//
// In this U-Net a BatchNorm FOLLOWS the activation (conv -> act -> BN), so
// it cannot be folded backwards into its own conv (the activation is in the
// way). In eval mode it is a per-channel affine y = a*z + b, with
// a = gamma / sqrt(running_var + eps) and b = beta - a * running_mean, and
// it can be folded FORWARDS into every conv that reads it:
//   conv(W, a*z + b) = conv(W', z) + bias'   with W'[o,c] = W[o,c] * a[c],
//                                            bias'[o] = bias[o] + sum_{c,kh,kw} W[o,c,kh,kw] * b[c].
// Where this is exact and where it is not:
//  - exact (up to float rounding) at every output pixel whose 3x3 window
//    lies inside the image;
//  - NOT exact at the border: the conv's zero padding pads y = a*z + b with
//    zeros, while the folded conv pads z with zeros, which stands for
//    y = b. The folded bias adds W*b for taps that really saw 0. The error
//    at a border pixel is -sum over its outside taps of W[o,c,kh,kw]*b[c],
//    and later layers carry it inwards by one pixel per conv;
//  - through a 2x2 max-pool only where a[c] > 0 (max commutes with a
//    positive scale, not a negative one): fold_batchnorm refuses otherwise;
//  - through bilinear upsampling and concatenation: exact (both are linear
//    per channel, and a constant stays constant under bilinear weights);
//  - never across an activation quantizer (rounding is not linear):
//    fold_batchnorm refuses a network that has one.
#pragma once
#include "layers/unet.h"

namespace qat {

// Folds every BatchNorm of an eval-mode U-Net into the convs that read it
// and marks the BatchNorms folded (identity). Throws qat::Error naming the
// block if a quantizer or a negative scale before a max-pool forbids it.
void fold_batchnorm(UNet& net);

// The per-channel affine (a, b) of a BatchNorm in eval mode.
void batchnorm_affine(const BatchNorm2d& bn, std::vector<float>& a, std::vector<float>& b);

// Folds y = a*z + b (channels [offset, offset + a.size()) of conv's input)
// into conv's weight and bias.
void fold_affine_into_conv(Conv2d& conv, const std::vector<float>& a,
                           const std::vector<float>& b, int64_t offset);

}  // namespace qat
