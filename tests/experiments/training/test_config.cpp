// Configs: the paper's keys, ours, `extends`, --set, and the errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "experiments/training/config.h"
#include "experiments/training/model.h"

using namespace qat;
namespace fs = std::filesystem;

namespace {
// Writes `text` to a fresh file in a temporary folder; returns its path.
std::string write_yaml(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / "qat_test_config";
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_CASE("the paper's config keys load and mean what they meant") {
  const std::string p = write_yaml("paper.yaml", R"(
dataset: 'emdataset'
lr: 0.001
num_epochs: 200
model_type: "unet"
init_type: glorot
quantization: "FIXED"
activation_f_width: 0
activation_i_width: 6
weight_f_width: 4
weight_i_width: 0
gpu_core_num: 1
trained_model: "/tmp/em_a6_0_w0_4.h5"
experiment_name: "em_a6_0_w0_4"
log_output_dir: "/tmp/out"
operation_mode: "normal"
dropout: disable
)");
  const Config c = load_config(p);
  CHECK(c.quantization == "FIXED");
  CHECK(c.activation_i_width == 6);
  CHECK(c.weight_f_width == 4);
  CHECK_FALSE(c.dropout);
  CHECK(c.run_dir() == "/tmp/out/em_a6_0_w0_4");

  Config small = c;
  small.width = 2;
  UNet net(unet_options(small));
  const auto layers = plan_layers(small, net);
  REQUIRE(layers.size() == 15);
  // first block and last conv keep full-precision weights, as the paper
  CHECK(layers[0].name == "conv1.conv1");
  CHECK(layers[0].weight.format == quant::Format::None);
  CHECK(layers[0].activation.name() == "Q6.0");
  CHECK(layers[2].name == "conv2.conv1");
  CHECK(layers[2].weight.name() == "Q0.4");
  CHECK(layers[14].name == "conv9");
  CHECK(layers[14].weight.format == quant::Format::None);
  CHECK_FALSE(layers[14].has_activation);
}

TEST_CASE("first/last layer switches and per-layer overrides") {
  const std::string p = write_yaml("layers.yaml", R"(
quantization: FIXED
weight_i_width: 0
weight_f_width: 2
activation_i_width: 4
activation_f_width: 0
first_layer: quantized
last_layer: fixed:0.8
layers:
  up3.conv.conv2: {weight: "fixed:0.8", activation: none}
)");
  Config c = load_config(p);
  c.width = 2;
  UNet net(unet_options(c));
  const auto layers = plan_layers(c, net);
  CHECK(layers[0].weight.name() == "Q0.2");
  CHECK(layers[13].name == "up3.conv.conv2");
  CHECK(layers[13].weight.name() == "Q0.8");
  CHECK(layers[13].activation.format == quant::Format::None);
  CHECK(layers[14].weight.name() == "Q0.8");
}

TEST_CASE("an override naming no layer is an error listing the layers") {
  const std::string p = write_yaml("badlayer.yaml", "layers:\n  conv5.conv1: {weight: binary}\n");
  Config c = load_config(p);
  c.width = 2;
  UNet net(unet_options(c));
  CHECK_THROWS_WITH_AS(plan_layers(c, net),
                       doctest::Contains("key 'layers.conv5.conv1': no layer named 'conv5.conv1' "
                                         "(layers: conv1.conv1"),
                       Error);
}

TEST_CASE("unknown keys, wrong types and out-of-range values name the file and key") {
  const std::string unknown = write_yaml("unknown.yaml", "lr: 0.1\nlearning_rate: 0.1\n");
  CHECK_THROWS_WITH_AS(load_config(unknown),
                       doctest::Contains("unknown.yaml: unknown key 'learning_rate' (the keys are "
                                         "listed in experiments/training/config.h)"),
                       Error);
  // a typo is answered with the key that was meant, not the list of fifty
  const std::string typo = write_yaml("typo.yaml", "num_epoch: 3\n");
  CHECK_THROWS_WITH_AS(load_config(typo),
                       doctest::Contains("unknown key 'num_epoch' (did you mean num_epochs?)"),
                       Error);
  CHECK_THROWS_WITH_AS(load_config(write_yaml("typo_set.yaml", "lr: 0.1\n"), {"Batch_sise=2"}),
                       doctest::Contains("unknown key 'Batch_sise' (did you mean batch_size?)"),
                       Error);
  const std::string type = write_yaml("type.yaml", "lr: fast\n");
  CHECK_THROWS_WITH_AS(load_config(type),
                       doctest::Contains("type.yaml: key 'lr': expected a number, found 'fast'"),
                       Error);
  const std::string range = write_yaml("range.yaml", "num_epochs: 0\n");
  CHECK_THROWS_WITH_AS(load_config(range),
                       doctest::Contains("key 'num_epochs': expected a whole number >= 1, found '0'"),
                       Error);
  const std::string crop = write_yaml("crop.yaml", "crop: 100\n");
  CHECK_THROWS_WITH_AS(load_config(crop), doctest::Contains("key 'crop': expected a multiple of 8"),
                       Error);
  const std::string mode = write_yaml("mode.yaml", "operation_mode: fly\n");
  CHECK_THROWS_WITH_AS(load_config(mode),
                       doctest::Contains("expected one of normal, retrain, inference, visualize, "
                                         "found 'fly'"),
                       Error);
  CHECK_THROWS_WITH_AS(load_config("/nonexistent/qat.yaml"),
                       doctest::Contains("config file not found"), Error);
  // --set reaching into a section the file holds as a value (fuzz_config)
  const std::string flat = write_yaml("flat.yaml", "layers: fixed:0.8\n");
  CHECK_THROWS_WITH_AS(load_config(flat, {"layers.conv9.weight=fixed:0.8"}),
                       doctest::Contains("--set 'layers.conv9.weight=fixed:0.8': 'layers' is a "
                                         "value in the config, not a section of keys"),
                       Error);
  // a name longer than the system takes (fuzz_sweep found one, as a sweep's
  // base): a one-line qat::Error, not std::filesystem's exception
  const std::string long_name = "/tmp/" + std::string(300, 'x') + ".yaml";
  CHECK_THROWS_WITH_AS(load_config(long_name), doctest::Contains(": File name too long"), Error);
  // `extends` naming a folder (an empty name, as fuzz_config found)
  const std::string folder = write_yaml("folder.yaml", "extends: ''\n");
  CHECK_THROWS_WITH_AS(load_config(folder), doctest::Contains(": a directory, expected a config file"),
                       Error);
  const std::string broken = write_yaml("broken.yaml", "lr: [1, 2\n");
  CHECK_THROWS_WITH_AS(load_config(broken), doctest::Contains("not valid YAML"), Error);
}

TEST_CASE("quantizer strings: widths checked with the reason") {
  CHECK(parse_quant_choice("fixed:6.0", "x").text() == "fixed:6.0");
  CHECK(parse_quant_choice("int:8", "x").bits == 8);
  CHECK(parse_quant_choice("binary", "x").format == "binary");
  CHECK(parse_quant_choice("fixed_gm:6.0", "x").text() == "fixed_gm:6.0");
  CHECK_THROWS_WITH_AS(parse_quant_choice("fixed:0.0", "k"), doctest::Contains("has zero bits"), Error);
  CHECK_THROWS_WITH_AS(parse_quant_choice("fixed:-1.2", "k"), doctest::Contains("negative"), Error);
  CHECK_THROWS_WITH_AS(parse_quant_choice("fixed:16.10", "k"),
                       doctest::Contains("more than 24 bits"), Error);
  CHECK_THROWS_WITH_AS(parse_quant_choice("float8", "k"), doctest::Contains("is unknown"), Error);
  CHECK_THROWS_WITH_AS(parse_quant_choice("binary:1.0", "k"), doctest::Contains("takes no widths"),
                       Error);
}

TEST_CASE("extends merges a base; --set overrides any key, dotted into sections") {
  write_yaml("base.yaml", "lr: 0.01\nwidth: 8\nseed: 3\n");
  const std::string child = write_yaml("child.yaml", "extends: base.yaml\nwidth: 4\n");
  Config c = load_config(child, {"seed=9", "layers.up1.conv.conv1.weight=fixed:0.8"});
  CHECK(c.lr == doctest::Approx(0.01));
  CHECK(c.width == 4);
  CHECK(c.seed == 9);
  REQUIRE(c.layers.count("up1.conv.conv1"));
  CHECK(c.layers.at("up1.conv.conv1").weight.text() == "fixed:0.8");
  CHECK_THROWS_WITH_AS(load_config(child, {"sede=1"}), doctest::Contains("unknown key 'sede'"),
                       Error);
  CHECK_THROWS_WITH_AS(load_config(child, {"seed"}), doctest::Contains("expected key=value"), Error);
}

TEST_CASE("a resolved config round-trips through YAML") {
  const std::string p = write_yaml("round.yaml", "quantization: BNN\nwidth: 4\nmilestones: [2, 4]\n");
  const Config a = load_config(p);
  const Config b = parse_config(config_to_yaml(a), "resolved");
  CHECK(b.quantization == "BNN");
  CHECK(b.width == 4);
  CHECK(b.milestones == std::vector<int64_t>{2, 4});
  CHECK(YAML::Dump(config_to_yaml(a)) == YAML::Dump(config_to_yaml(b)));
}

TEST_CASE("beta rises linearly from beta_start to beta_end over the epochs") {
  Config c;
  c.num_epochs = 11;
  CHECK(beta_for_epoch(c, 0) == doctest::Approx(3.0));
  CHECK(beta_for_epoch(c, 5) == doctest::Approx(5.5));
  CHECK(beta_for_epoch(c, 10) == doctest::Approx(8.0));
}
