// The model option requantize_upsample: its config key, the quantizer it
// puts after each up-block's upsampling (values and straight-through
// gradient), and the formats it refuses. The engine's side and its
// exactness: tests/quant/int_kernels/test_int_grid.cpp and
// tests/experiments/runtime/test_int_engine.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <yaml-cpp/yaml.h>

#include "autograd/ops.h"
#include "autograd/rng.h"
#include "experiments/training/config.h"
#include "experiments/training/model.h"
#include "quant/quantizers/quantize.h"

using namespace qat;
namespace fs = std::filesystem;

namespace {

std::string write_yaml(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / "qat_test_requantize_upsample";
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}

Config config(const std::string& quantization, int ai, int af, bool on,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> o{"quantization=" + quantization, "width=2",
                             "activation_i_width=" + std::to_string(ai),
                             "activation_f_width=" + std::to_string(af),
                             std::string("requantize_upsample=") + (on ? "true" : "false")};
  o.insert(o.end(), extra.begin(), extra.end());
  return load_config(write_yaml("base.yaml", "lr: 0.01\n"), o);
}

Tensor uniform(const Shape& shape, Rng& rng, float span) {
  Tensor t = Tensor::empty(shape);
  for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] = rng.uniform(-span, span);
  return t;
}

}  // namespace

TEST_CASE("requantize_upsample: the key loads, is checked, and round-trips") {
  CHECK_FALSE(load_config(write_yaml("off.yaml", "lr: 0.01\n")).requantize_upsample);
  CHECK(load_config(write_yaml("on.yaml", "requantize_upsample: true\n")).requantize_upsample);
  CHECK_THROWS_WITH_AS(load_config(write_yaml("bad.yaml", "requantize_upsample: maybe\n")),
                       doctest::Contains("bad.yaml: key 'requantize_upsample': expected true "
                                         "or false, found 'maybe'"),
                       Error);
  CHECK_THROWS_WITH_AS(load_config(write_yaml("typo.yaml", "requantise_upsample: true\n")),
                       doctest::Contains("did you mean requantize_upsample?"), Error);
  // written back only when on: resolved configs of runs without it unchanged
  const Config off = config("fixed_twos", 6, 0, false), on = config("fixed_twos", 6, 0, true);
  CHECK_FALSE(config_to_yaml(off)["requantize_upsample"]);
  CHECK(config_to_yaml(on)["requantize_upsample"].as<bool>());
  CHECK(parse_config(config_to_yaml(on), "round trip").requantize_upsample);
}

TEST_CASE("requantize_upsample: up-blocks quantize their upsampled input as its source layer") {
  for (const auto& [q, ai, af] : {std::tuple{"fixed_twos", 6, 0}, std::tuple{"FIXED", 6, 0},
                                  std::tuple{"fixed_twos", 0, 4}, std::tuple{"fixed_gm", 8, 0}}) {
    Model m = build_model(config(q, ai, af, true));
    Model plain = build_model(config(q, ai, af, false));
    CHECK(m.requantize_upsample);
    CHECK_FALSE(plain.requantize_upsample);
    Rng rng(5);
    for (auto& [name, block] : m.net->blocks()) {
      const bool up = name.rfind("up", 0) == 0;
      INFO(q, " Q", ai, ".", af, " ", name);
      CHECK(bool(block->up_quant) == up);
      CHECK_FALSE(plain.net->block(name).up_quant);
      if (!up) continue;
      CHECK(upsample_source(name) ==
            std::string(name == "up1.conv" ? "conv4.conv2" : name == "up2.conv" ? "up1.conv.conv2"
                                                                              : "up2.conv.conv2"));
      // the activation format of conv4 / up1 / up2's second conv, by its own quantizer
      NoGrad no_grad;
      const Tensor x = uniform({2, 3, 4, 4}, rng, 80.0f);
      const Tensor want = m.net->block(upsample_source(name).substr(
                                           0, upsample_source(name).rfind('.')))
                              .act_quant2(x);
      CHECK(block->up_quant(x).to_vector() == want.to_vector());
    }
  }
}

TEST_CASE("requantize_upsample: the straight-through gradient of the upsample quantizer") {
  // d/dx sum(up_quant(x) * r) is r (identity STE, the default of the fixed
  // formats), or r inside the format's range and 0 outside (ste: clipped,
  // fixed_twos Q6.0: [-32, 31])
  for (const std::string ste : {"identity", "clipped"}) {
    Model m = build_model(config("fixed_twos", 6, 0, true, {"ste=" + ste}));
    Rng rng(9);
    Tensor x = uniform({1, 2, 3, 5}, rng, 50.0f), r = uniform({1, 2, 3, 5}, rng, 1.0f);
    x.requires_grad_();
    sum(mul(m.net->block("up2.conv").up_quant(x), r)).backward();
    for (int64_t k = 0; k < x.numel(); ++k) {
      const float v = x.data()[k];
      const bool inside = v >= -32.0f && v <= 31.0f;
      INFO(ste, " x=", v);
      CHECK(x.grad().data()[k] == (ste == "identity" || inside ? r.data()[k] : 0.0f));
    }
  }
}

TEST_CASE("requantize_upsample: a whole U-Net forward and backward with it") {
  // the gradient reaches the encoder through the quantized upsampling
  Model m = build_model(config("fixed_twos", 6, 0, true));
  Rng rng(11);
  Tensor x = uniform({1, 1, 16, 16}, rng, 1.0f);
  sum(m.net->forward(x)).backward();
  float g = 0.0f;
  for (float v : m.net->block("conv4").conv2.weight.grad().to_vector()) g += std::fabs(v);
  CHECK(g > 0.0f);
}

TEST_CASE("requantize_upsample: formats without a fixed grid are refused naming the layer") {
  CHECK_THROWS_WITH_AS(build_model(config("INT", 8, 0, true)),
                       doctest::Contains("key 'requantize_upsample': up1.conv upsamples the "
                                         "output of conv4.conv2, whose activations are"),
                       Error);
  CHECK_THROWS_WITH_AS(build_model(config("BNN", 8, 0, true)),
                       doctest::Contains("only fixed_twos, fixed and fixed_gm"), Error);
  CHECK_THROWS_WITH_AS(build_model(config("Normal", 8, 0, true)),
                       doctest::Contains("up1.conv upsamples the output of conv4.conv2"), Error);
  CHECK_NOTHROW(build_model(config("INT", 8, 0, false)));
}
