#include "layers/fold.h"

#include <cmath>

namespace qat {

void batchnorm_affine(const BatchNorm2d& bn, std::vector<float>& a, std::vector<float>& b) {
  const int64_t C = bn.weight.numel();
  a.resize(size_t(C));
  b.resize(size_t(C));
  for (int64_t c = 0; c < C; ++c) {
    a[size_t(c)] = bn.weight.data()[c] / std::sqrt(bn.running_var.data()[c] + bn.eps);
    b[size_t(c)] = bn.bias.data()[c] - a[size_t(c)] * bn.running_mean.data()[c];
  }
}

void fold_affine_into_conv(Conv2d& conv, const std::vector<float>& a,
                           const std::vector<float>& b, int64_t offset) {
  // weight (OC, C, KH, KW); the folded channels are [offset, offset + n)
  const int64_t OC = conv.weight.size(0), C = conv.weight.size(1);
  const int64_t K = conv.weight.size(2) * conv.weight.size(3), n = int64_t(a.size());
  QAT_CHECK(offset >= 0 && offset + n <= C, "fold: channels [", offset, ", ", offset + n,
            ") outside the conv's ", C, " input channels");
  QAT_CHECK(conv.bias.defined(), "fold: the conv needs a bias to absorb the shift");
  float* w = conv.weight.data();
  float* bias = conv.bias.data();
  for (int64_t o = 0; o < OC; ++o) {
    double shift = 0;  // sum over the folded channels and taps of W * b
    for (int64_t c = 0; c < n; ++c) {
      float* taps = w + (o * C + offset + c) * K;
      for (int64_t k = 0; k < K; ++k) {
        shift += double(taps[k]) * b[size_t(c)];
        taps[k] *= a[size_t(c)];
      }
    }
    bias[o] = float(bias[o] + shift);
  }
}

void fold_batchnorm(UNet& net) {
  QAT_CHECK(!net.training(), "fold_batchnorm: put the network in eval mode first");
  for (auto& [name, block] : net.blocks())
    if (block->act_quant1 || block->act_quant2)
      throw Error("fold_batchnorm: block " + name +
                  " quantizes its activations after BatchNorm; a BatchNorm cannot be folded "
                  "across a quantizer");
  const int64_t w = net.options.width;
  std::vector<float> a, b;
  auto fold = [&](BatchNorm2d& bn, const std::string& name, bool through_pool,
                  std::vector<std::pair<Conv2d*, int64_t>> consumers) {
    batchnorm_affine(bn, a, b);
    if (through_pool)
      for (size_t c = 0; c < a.size(); ++c)
        if (!(a[c] > 0))
          throw Error("fold_batchnorm: " + name + " channel " + std::to_string(c) +
                      " has scale " + std::to_string(a[c]) +
                      " <= 0, which does not commute with the max-pool after it");
    for (auto& [conv, offset] : consumers) fold_affine_into_conv(*conv, a, b, offset);
    bn.folded = true;
  };
  // Each block's bn1 feeds its own conv2.
  for (auto& [name, block] : net.blocks())
    fold(block->bn1, name + ".bn1", false, {{&block->conv2, 0}});
  // Encoder outputs: pooled into the next level, and skipped into a decoder
  // conv after the upsampled channels (the concat is [up, skip]).
  fold(net.conv1.bn2, "conv1.bn2", true, {{&net.conv2.conv1, 0}, {&net.up3.conv.conv1, 2 * w}});
  fold(net.conv2.bn2, "conv2.bn2", true, {{&net.conv3.conv1, 0}, {&net.up2.conv.conv1, 4 * w}});
  fold(net.conv3.bn2, "conv3.bn2", true, {{&net.conv4.conv1, 0}, {&net.up1.conv.conv1, 4 * w}});
  // Bottom and decoder outputs: upsampled into the next decoder conv.
  fold(net.conv4.bn2, "conv4.bn2", false, {{&net.up1.conv.conv1, 0}});
  fold(net.up1.conv.bn2, "up1.conv.bn2", false, {{&net.up2.conv.conv1, 0}});
  fold(net.up2.conv.bn2, "up2.conv.bn2", false, {{&net.up3.conv.conv1, 0}});
  fold(net.up3.conv.bn2, "up3.conv.bn2", false, {{&net.conv9, 0}});
}

}  // namespace qat
