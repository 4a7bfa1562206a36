#include "layers/unet.h"

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
  Tensor h;
  if (!training() && eval_step1) {
    h = eval_step1(x);
  } else {
    h = drop.forward(activate_normalise(conv1.forward(x), bn1));
    if (act_quant1) h = act_quant1(h);
  }
  if (!training() && eval_step2) return eval_step2(h);
  h = drop.forward(activate_normalise(conv2.forward(h), bn2));
  if (act_quant2) h = act_quant2(h);
  return h;
}

UpConv::UpConv(int64_t in, int64_t out, Activation act, float dropout, Rng& rng)
    : conv(in, out, act, dropout, rng) {
  add_module("conv", conv);
}

Tensor UpConv::forward(const Tensor& x, const Tensor& skip) {
  return conv.forward(upsample_cat(x, skip));
}

UNet::UNet(const UNetOptions& o)
    : options(o),
      rng(o.seed),
      conv1(o.in_channels, o.width,
            o.first_block_relu ? Activation::ReLU : o.activation, o.dropout, rng),
      conv2(o.width, 2 * o.width, o.activation, o.dropout, rng),
      conv3(2 * o.width, 4 * o.width, o.activation, o.dropout, rng),
      conv4(4 * o.width, 4 * o.width, o.activation, o.dropout, rng),
      up1(8 * o.width, 4 * o.width, o.activation, o.dropout, rng),
      up2(6 * o.width, 2 * o.width, o.activation, o.dropout, rng),
      up3(3 * o.width, o.width, o.activation, o.dropout, rng),
      conv9(o.width, 1, 3, /*stride=*/1, /*pad=*/1) {
  QAT_CHECK(o.width >= 1 && o.in_channels >= 1, "UNet: width ", o.width,
            " and in_channels ", o.in_channels, " must be >= 1");
  add_module("conv1", conv1);
  add_module("conv2", conv2);
  add_module("conv3", conv3);
  add_module("conv4", conv4);
  add_module("up1", up1);
  add_module("up2", up2);
  add_module("up3", up3);
  add_module("conv9", conv9);
  // Initialise in forward order from a stream of its own, so that the
  // dropout stream does not depend on how many weights there are.
  Rng init_rng = rng.split();
  for (auto& [name, conv] : convs()) conv->reset_parameters(o.init, init_rng);
}

Tensor UNet::forward(const Tensor& x) {
  QAT_CHECK(x.dim() == 4 && x.size(1) == options.in_channels &&
                x.size(2) % 8 == 0 && x.size(3) % 8 == 0,
            "UNet: input must be (N,", options.in_channels,
            ",H,W) with H and W divisible by 8 (three 2x2 poolings), got ",
            to_string(x.shape()));
  Tensor x1 = conv1.forward(x);
  Tensor x2 = conv2.forward(max_pool2d(x1, 2, 2));
  Tensor x3 = conv3.forward(max_pool2d(x2, 2, 2));
  Tensor x4 = conv4.forward(max_pool2d(x3, 2, 2));
  Tensor y = up1.forward(x4, x3);
  y = up2.forward(y, x2);
  y = up3.forward(y, x1);
  return conv9.forward(y);
}

std::vector<std::pair<std::string, DownConv*>> UNet::blocks() {
  return {{"conv1", &conv1},     {"conv2", &conv2},     {"conv3", &conv3},
          {"conv4", &conv4},     {"up1.conv", &up1.conv}, {"up2.conv", &up2.conv},
          {"up3.conv", &up3.conv}};
}

std::vector<std::pair<std::string, Conv2d*>> UNet::convs() {
  std::vector<std::pair<std::string, Conv2d*>> out;
  for (auto& [name, block] : blocks()) {
    out.emplace_back(name + ".conv1", &block->conv1);
    out.emplace_back(name + ".conv2", &block->conv2);
  }
  out.emplace_back("conv9", &conv9);
  return out;
}

void UNet::set_beta(float beta) {
  for (auto& [name, block] : blocks()) block->beta = beta;
}

}  // namespace qat
