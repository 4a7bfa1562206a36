// An experiment's configuration: every key a YAML file may set, with the
// paper's settings (SPEC.md) as defaults. The paper's own keys (lr,
// num_epochs, quantization, activation_i_width, ...) mean what they meant in
// its released code; the rest are what qat needs besides.
//
// Loading merges, in order: the file's `extends:` chain (a base config,
// relative to the file), the file itself, then `--set key=value` overrides
// (dotted keys reach into sections). Unknown keys, wrong types and
// out-of-range values are errors that name the file and the key.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace qat {

// A quantizer in the config's short form: "none", "fixed:6.0",
// "fixed_gm:6.0", "fixed_pow2:0.4", "fixed_twos:0.8", "int:8", "binary",
// "ternary".
struct QuantChoice {
  std::string format = "none";
  int int_bits = 0, frac_bits = 0, bits = 0;
  std::string text() const;  // back to the short form
};

struct LayerOverride {
  bool has_weight = false, has_activation = false;
  QuantChoice weight, activation;
};

struct Config {
  std::string source;  // the file it came from, for messages

  // ---- the paper's keys
  std::string dataset = "colin27";  // a name for logs and tables
  float lr = 1e-3f;
  int64_t num_epochs = 200;
  std::string model_type = "unet";
  // glorot | binaryconnect | paper: what the released code runs (SPEC.md):
  // quantized convs U(-1, 1) with zero bias, float convs PyTorch's default.
  std::string init_type = "glorot";
  std::string quantization = "Normal";  // INT | BNN | Normal | FIXED | Ternary, or ours
  int activation_i_width = 8, activation_f_width = 0;
  int weight_i_width = 0, weight_f_width = 8;
  bool dropout = false;  // `dropout: enable|disable`
  std::string trained_model;   // best model path; default <run dir>/best.h5
  std::string experiment_name = "quickstart";
  std::string log_output_dir = "runs";
  std::string operation_mode = "normal";  // normal | retrain | inference | visualize

  // ---- qat's keys
  std::string data = "data/colin27.h5";  // the packed HDF5 dataset
  int64_t batch_size = 5;
  int64_t crop = 200;           // centre crop (square); multiple of 8
  int64_t width = 64;           // U-Net base width
  uint64_t seed = 0;
  int threads = 2;
  bool adapt_threads = true;  // 1 thread while the machine is busy (thread_governor.h)
  std::string optimizer = "adam";  // adam | sgd
  float momentum = 0.9f;           // sgd
  bool nesterov = false;           // sgd
  float weight_decay = 0.0f;
  std::string schedule = "cosine";  // cosine | multistep | constant
  float lr_min = 0.0f;              // cosine
  int64_t warmup_epochs = 0;        // cosine
  std::vector<int64_t> milestones;  // multistep; default every num_epochs/5
  float gamma = 0.1f;               // multistep
  std::string loss = "bce_dice";    // dice | bce | bce_dice (0.5 each)
  float threshold = 0.5f;           // the paper's code used 0.999
  bool augment = true;
  float dropout_rate = 0.4f;
  std::string activation = "relu";  // relu | tanh | ternary_tanh
  float beta_start = 3.0f, beta_end = 8.0f;  // ternary tanh, linear over epochs
  // H of binary weights, sign(w) * H: BinaryConnect's sqrt(1.5 / fans), or
  // one (the paper's code passes H = 1).
  std::string binary_weight_scale = "binaryconnect";
  std::string ste = "default";  // default (clipped for binary, else identity) | identity | clipped
  std::string weight_quant;      // overrides `quantization` for weights
  std::string activation_quant;  // ... and for activations
  std::string first_layer = "full";  // full | quantized: the first block conv1
  std::string last_layer = "full";   // full | quantized | a format for conv9
  std::map<std::string, LayerOverride> layers;  // per-layer overrides by name
  // Quantize each up-block's bilinear x2 upsampled input with the format of
  // the activations it was upsampled from (so that the integer engine's
  // decoder convs read byte codes; layers/unet.h DownConv::up_quant).
  bool requantize_upsample = false;
  int64_t steps_per_epoch = 0;  // 0: the whole train split each epoch
  int64_t val_batches = 0;      // 0: the whole val split
  bool telemetry = true;
  std::string predict_split = "val";
  int64_t predict_count = 4;  // overlay PNGs written by `qat predict`

  std::string run_dir() const { return log_output_dir + "/" + experiment_name; }
};

// Throws a one-line qat::Error unless path names a regular file: missing
// ("<path>: <kind> not found"), a directory, or a name the system refuses
// (too long, a loop of links: std::filesystem would throw its own error).
void require_file(const std::string& path, const std::string& kind);

// Reads path (following `extends:`), applies overrides ("key=value"), and
// validates. Throws qat::Error naming the file and key on any problem.
Config load_config(const std::string& path,
                   const std::vector<std::string>& overrides = {});
// The same from an already merged YAML map (tests, checkpoints).
Config parse_config(const YAML::Node& root, const std::string& source);
// The resolved config as YAML: what a run writes to its folder.
YAML::Node config_to_yaml(const Config& c);
QuantChoice parse_quant_choice(const std::string& text, const std::string& where);

}  // namespace qat
