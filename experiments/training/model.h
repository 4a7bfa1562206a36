// From a config to a U-Net with its quantizers in place.
//
// Layers are named by their conv ("conv1.conv1", ..., "up3.conv.conv2",
// "conv9"). A layer's weight quantizer acts on that conv's weight; its
// activation quantizer acts after the BatchNorm that follows the conv (conv9
// has none: its output is the logits). As the paper's code:
//  - activations are quantized after every BatchNorm, the first block's too;
//  - weights are quantized in every conv but the first block's two convs
//    (`first_layer: full`) and conv9 (`last_layer: full`);
//  - `layers:` overrides any layer's weight or activation format by name.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "experiments/training/config.h"
#include "layers/unet.h"
#include "quant/quantizers/spec.h"

namespace qat {

struct LayerQuant {
  std::string name;        // the conv's name
  Conv2d* conv = nullptr;
  quant::QuantSpec weight;      // Format::None: full precision
  quant::QuantSpec activation;  // after the BN that follows; None for conv9
  bool has_activation = true;
  float binary_scale = 1.0f;    // BinaryConnect H for binary weights
};

class Telemetry;  // telemetry.h

struct Model {
  std::unique_ptr<UNet> net;
  std::vector<LayerQuant> layers;  // forward order; the input image stays float
  // Config requantize_upsample: each up-block's upsampled input quantized
  // with the activation format of the layer it was upsampled from
  // (upsample_source), by DownConv::up_quant.
  bool requantize_upsample = false;
};

// The layer whose output an up-block's upsampled input is: the previous
// block's conv2 ("conv4.conv2" for "up1.conv").
std::string upsample_source(std::string_view up_block);

UNetOptions unet_options(const Config& c);
// The per-layer formats the config asks for; throws qat::Error naming the
// key for an override of a layer that does not exist (listing the names).
std::vector<LayerQuant> plan_layers(const Config& c, UNet& net);
// Builds the network and plugs in its quantizers. Telemetry may be null.
// With requantize_upsample, qat::Error naming the up-block and the source
// layer if the source's activation format has no fixed grid.
Model build_model(const Config& c, Telemetry* telemetry = nullptr);

// The ternary tanh's beta for an epoch: linear from beta_start at epoch 0 to
// beta_end at the last epoch (SPEC.md).
float beta_for_epoch(const Config& c, int64_t epoch);

quant::QuantSpec to_spec(const QuantChoice& q, const std::string& ste);

}  // namespace qat
