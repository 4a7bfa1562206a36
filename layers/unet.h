// The paper's U-Net (SPEC.md "The network"), base width w (64 in the paper),
// built from the table in layers/topology/unet_topology.h: seven blocks
// (conv1 .. conv4 down, up1 .. up3 up, joined by 2x2 max-pools and
// [bilinear x2, skip] concatenations) and conv9, a conv3x3 w -> 1 giving the
// logits (sigmoid gives the probability).
//
// DownConv: conv3x3 -> act -> BatchNorm -> [dropout2d] -> act_quant, twice.
// The activation comes BEFORE BatchNorm, as in the paper's code.
// Input (N,1,H,W) with H and W divisible by 8 -> logits (N,1,H,W).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "layers/layers.h"
#include "layers/topology/unet_topology.h"

namespace qat {

struct UNetOptions {
  int64_t in_channels = 1;
  int64_t width = 64;
  Activation activation = Activation::ReLU;
  bool first_block_relu = true;  // the GM code keeps ReLU in conv1 for Tanh runs
  float dropout = 0.0f;          // Dropout2d rate after each BN; 0 disables
  Init init = Init::Glorot;
  uint64_t seed = 0;             // initialisation and dropout masks
};

class DownConv : public Module {
 public:
  DownConv(int64_t in, int64_t out, Activation act, float dropout, Rng& rng);
  Tensor forward(const Tensor& x);

  Conv2d conv1, conv2;
  BatchNorm2d bn1, bn2;
  Dropout2d drop;
  Activation act;
  float beta = 3.0f;  // ternary tanh only
  TensorFn act_quant1, act_quant2;  // after bn1 and bn2
  // Up-blocks only: applied to the bilinear x2 upsampled input before the
  // concatenation with the skip (the model option requantize_upsample).
  TensorFn up_quant;

 private:
  Tensor activate_normalise(const Tensor& conv_out, BatchNorm2d& bn) const;
};

class UNet : public Module {
 public:
  explicit UNet(const UNetOptions& options);
  Tensor forward(const Tensor& x);  // -> logits

  // Every conv with its dotted name, in forward order ("conv1.conv1", ...,
  // "conv9"), and every DownConv ("conv1", ..., "up3.conv").
  std::vector<std::pair<std::string, Conv2d*>> convs();
  std::vector<std::pair<std::string, DownConv*>> blocks();
  // The block called name (a topology::kBlocks name); qat::Error if none.
  DownConv& block(std::string_view name);
  void set_beta(float beta);  // ternary tanh sharpness for every block

  const UNetOptions options;
  Rng rng;  // dropout masks; declared before the blocks that point at it

 private:
  std::vector<std::unique_ptr<DownConv>> blocks_;  // topology::kBlocks order

 public:
  Conv2d conv9;  // topology::kHead
};

}  // namespace qat
