#include "layers/unet.h"

#include <algorithm>

namespace qat {

DownConv::DownConv(int64_t in, int64_t out, Activation act, float dropout, Rng& rng)
    : conv1(in, out, 3, /*stride=*/1, /*pad=*/1),
      conv2(out, out, 3, /*stride=*/1, /*pad=*/1),
      bn1(out),
      bn2(out),
      drop(dropout, rng),
      act(act) {
  add_module("conv1", conv1);
  add_module("bn1", bn1);
  add_module("conv2", conv2);
  add_module("bn2", bn2);
  add_module("drop", drop);  // no parameters; follows train/eval
}

// The activation, then BatchNorm (the paper's order). ReLU and BatchNorm run
// as one op: one pass over memory fewer each way, one buffer fewer kept.
Tensor DownConv::activate_normalise(const Tensor& conv_out, BatchNorm2d& bn) const {
  if (act == Activation::ReLU) return bn.forward_relu(conv_out);
  return bn.forward(activate(conv_out, act, beta));
}

Tensor DownConv::forward(const Tensor& x) {
  Tensor h = drop.forward(activate_normalise(conv1.forward(x), bn1));
  if (act_quant1) h = act_quant1(h);
  h = drop.forward(activate_normalise(conv2.forward(h), bn2));
  if (act_quant2) h = act_quant2(h);
  return h;
}

UNet::UNet(const UNetOptions& o)
    : options(o),
      rng(o.seed),
      conv9(o.width, topology::kHeadChannels, 3, /*stride=*/1, /*pad=*/1) {
  QAT_CHECK(o.width >= 1 && o.in_channels >= 1, "UNet: width ", o.width,
            " and in_channels ", o.in_channels, " must be >= 1");
  for (const topology::Block& b : topology::kBlocks) {
    const bool first = b.join == topology::Join::Image;
    // The GM code keeps ReLU in the first block of its Tanh runs.
    const Activation act = first && o.first_block_relu ? Activation::ReLU : o.activation;
    const int64_t in = first ? o.in_channels : b.in * o.width;
    blocks_.push_back(std::make_unique<DownConv>(in, b.out * o.width, act, o.dropout, rng));
    // A dotted name ("up1.conv") gives the state_dict names PyTorch's
    // nested UpConv module has.
    add_module(std::string(b.name), *blocks_.back());
  }
  add_module(std::string(topology::kHead), conv9);
  // Initialise in forward order from a stream of its own, so that the
  // dropout stream does not depend on how many weights there are.
  Rng init_rng = rng.split();
  for (auto& [name, conv] : convs()) conv->reset_parameters(o.init, init_rng);
}

// The blocks in topology order; an output that a later skip reads is kept
// until that block has read it.
Tensor UNet::forward(const Tensor& x) {
  QAT_CHECK(x.dim() == 4 && x.size(1) == options.in_channels &&
                x.size(2) % topology::kSizeMultiple == 0 &&
                x.size(3) % topology::kSizeMultiple == 0,
            "UNet: input must be (N,", options.in_channels,
            ",H,W) with H and W divisible by 8 (three 2x2 poolings), got ",
            to_string(x.shape()));
  std::vector<std::pair<std::string_view, Tensor>> kept;
  Tensor h = x;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const topology::Block& b = topology::kBlocks[i];
    if (b.join == topology::Join::Pooled) h = max_pool2d(h, 2, 2);
    if (b.join == topology::Join::UpConcat) {
      auto skip = std::find_if(kept.begin(), kept.end(),
                               [&](const auto& k) { return k.first == b.skip; });
      QAT_CHECK(skip != kept.end(), "UNet: block ", b.name, " reads ", b.skip,
                ", which does not come before it");
      const TensorFn& q = blocks_[i]->up_quant;
      h = q ? cat_channels({q(upsample_bilinear2x(h)), skip->second})
            : upsample_cat(h, skip->second);
      kept.erase(skip);
    }
    h = blocks_[i]->forward(h);
    if (topology::feeds_skip(b.name)) kept.emplace_back(b.name, h);
  }
  return conv9.forward(h);
}

DownConv& UNet::block(std::string_view name) {
  const int i = topology::block_index(name);
  if (i < 0) throw Error("UNet: no block '" + std::string(name) + "'");
  return *blocks_[size_t(i)];
}

std::vector<std::pair<std::string, DownConv*>> UNet::blocks() {
  std::vector<std::pair<std::string, DownConv*>> out;
  for (size_t i = 0; i < blocks_.size(); ++i)
    out.emplace_back(std::string(topology::kBlocks[i].name), blocks_[i].get());
  return out;
}

std::vector<std::pair<std::string, Conv2d*>> UNet::convs() {
  std::vector<std::pair<std::string, Conv2d*>> out;
  for (auto& [name, block] : blocks()) {
    out.emplace_back(name + ".conv1", &block->conv1);
    out.emplace_back(name + ".conv2", &block->conv2);
  }
  out.emplace_back(std::string(topology::kHead), &conv9);
  return out;
}

void UNet::set_beta(float beta) {
  for (auto& [name, block] : blocks()) block->beta = beta;
}

}  // namespace qat
