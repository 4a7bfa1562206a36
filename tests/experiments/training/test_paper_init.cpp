// init_type: paper and binary_weight_scale: one, the released code's
// initialisation (SPEC.md, Training): quantized convs U(-1, 1) with zero
// bias, float convs nn.Conv2d's default, binary weights +-1.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "experiments/training/config.h"
#include "experiments/training/model.h"

using namespace qat;

namespace {

Config fixed_q04(const std::string& init) {
  Config c;
  c.quantization = "FIXED";
  c.weight_i_width = 0;
  c.weight_f_width = 4;
  c.width = 4;
  c.init_type = init;
  return c;
}

float max_abs(const Tensor& t) {
  float m = 0.0f;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data()[i]));
  return m;
}

const LayerQuant& layer(const Model& m, const std::string& name) {
  return *std::find_if(m.layers.begin(), m.layers.end(),
                       [&](const LayerQuant& l) { return l.name == name; });
}

}  // namespace

TEST_CASE("init_type paper: quantized convs U(-1, 1), zero bias; float convs PyTorch's default") {
  const Model m = build_model(fixed_q04("paper"));
  const LayerQuant& quantized = layer(m, "conv2.conv1");  // 4 -> 8 channels, 3x3
  REQUIRE(quantized.weight.format != quant::Format::None);
  CHECK(max_abs(quantized.conv->weight) <= 1.0f);
  CHECK(max_abs(quantized.conv->weight) > 0.95f);  // 288 draws of U(-1, 1)
  CHECK(max_abs(quantized.conv->bias) == 0.0f);
  const LayerQuant& head = layer(m, "conv9");  // float: fan_in 4 * 9 = 36
  REQUIRE(head.weight.format == quant::Format::None);
  CHECK(max_abs(head.conv->weight) <= 1.0f / 6.0f);
  CHECK(max_abs(head.conv->bias) > 0.0f);
  CHECK(max_abs(head.conv->bias) <= 1.0f / 6.0f);
  const LayerQuant& first = layer(m, "conv1.conv2");  // float: fan_in 36
  CHECK(max_abs(first.conv->weight) <= 1.0f / 6.0f);
  CHECK(max_abs(first.conv->weight) > 0.9f / 6.0f);
}

TEST_CASE("init_type glorot is unchanged by the paper option and differs from it") {
  const Model glorot = build_model(fixed_q04("glorot"));
  const Model paper = build_model(fixed_q04("paper"));
  const Tensor& g = layer(glorot, "conv2.conv1").conv->weight;
  // Glorot bound for (8, 4, 3, 3): sqrt(6 / (36 + 72))
  CHECK(max_abs(g) <= std::sqrt(6.0f / 108.0f));
  CHECK(max_abs(layer(glorot, "conv9").conv->bias) == 0.0f);
  CHECK(max_abs(layer(paper, "conv2.conv1").conv->weight) > 2.0f * max_abs(g));
}

TEST_CASE("binary_weight_scale: BinaryConnect's H by default, 1 with 'one'") {
  Config c;
  c.quantization = "BNN";
  c.width = 4;
  const Model bc = build_model(c);
  const float h = layer(bc, "conv2.conv1").binary_scale;
  CHECK(h == doctest::Approx(std::sqrt(1.5 / 108.0)));
  c.binary_weight_scale = "one";
  CHECK(layer(build_model(c), "conv2.conv1").binary_scale == 1.0f);
}
