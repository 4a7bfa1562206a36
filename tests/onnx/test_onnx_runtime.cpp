// `qat export --format onnx` run in ONNX Runtime (npm onnxruntime-node,
// driven by tests/onnx/run_ort.js): fixed_twos Q6.0/Q0.4 and Q8.0/Q0.8
// U-Nets trained with the quickstart config (two epochs, to stay fast; masks
// with foreground, which is checked) give the integer engine's mask on every
// one of the 29 Colin27 validation images but for pixels whose logit is
// within float rounding of the threshold (conv9 is a float conv), with ONNX
// Runtime's graph optimisations off and on; given the engine's input codes,
// the integer part gives the engine's int8 codes on every layer, bit for
// bit; the same for a model trained with requantize_upsample and for an
// edited model with negative multipliers. --ort-int8 runs as 12
// QLinearConvs, its differences reported. Formats
// that cannot be exported are refused naming the layer.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/dataset.h"
#include "data/packers.h"
#include "data/pipeline.h"
#include "experiments/onnx/onnx_export.h"
#include "experiments/runtime/int_engine.h"
#include "experiments/runtime/qat_runtime.h"
#include "experiments/training/train.h"
#include "tests/run_qat.h"

using namespace qat;
namespace fs = std::filesystem;
using qat::testing::read_file;
using qat::testing::run_qat;

namespace {

const fs::path kRoot = fs::temp_directory_path() / "qat_test_onnx";
const std::string kQuickstart = QAT_TESTS "/../experiments/configs/quickstart.yaml";

std::string colin27() {
  static const std::string path = [] {
    fs::remove_all(kRoot);
    fs::create_directories(kRoot);
    const std::string h5 = (kRoot / "colin27.h5").string();
    data::pack_colin27(h5, data::Colin27Options{});
    return h5;
  }();
  return path;
}

// The quickstart config, fixed_twos Q(ai.af) activations and Q(wi.wf)
// weights, two epochs: the first epoch's masks are nearly empty (val Dice
// 0.04% for Q6.0/Q0.4), the second's are not (37.5%), so that equal masks
// mean something (QAT_ONNX_EPOCHS=8 in the environment: the quickstart's
// eight, as README reports); returns the best checkpoint. QAT_ONNX_RUNS=DIR:
// no training, DIR/RUN/best.h5 of runs trained by hand (README "ONNX export").
std::string trained(const std::string& run, int ai, int af, int wi, int wf,
                    const std::vector<std::string>& extra) {
  const std::string data = colin27();  // also makes kRoot
  if (const char* runs = std::getenv("QAT_ONNX_RUNS")) return std::string(runs) + "/" + run + "/best.h5";
  const char* epochs = std::getenv("QAT_ONNX_EPOCHS");
  std::vector<std::string> set = {
      "data=" + data, "log_output_dir=" + kRoot.string(), "experiment_name=" + run,
      "num_epochs=" + std::string(epochs ? epochs : "2"), "quantization=fixed_twos",
      "activation_i_width=" + std::to_string(ai), "activation_f_width=" + std::to_string(af),
      "weight_i_width=" + std::to_string(wi), "weight_f_width=" + std::to_string(wf)};
  set.insert(set.end(), extra.begin(), extra.end());
  return train(load_config(kQuickstart, set)).run_dir + "/best.h5";
}

// The engine's logits and codes (by layer) of every validation image.
struct Outputs {
  std::vector<std::vector<float>> logits;
  std::map<std::string, std::vector<std::vector<int32_t>>> codes;
};

template <class T>
void write_raw(const fs::path& p, const std::vector<T>& v) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(v.data()), std::streamsize(sizeof(T) * v.size()));
}

// Runs the engine on the 29 validation images (centre crop 176, as the
// quickstart evaluates) and writes them for run_ort.js: the images to
// dir/image, the engine's input codes (the first block's last quantizer)
// to dir/codes.
Outputs run_engine(const std::string& int_model, const fs::path& dir) {
  IntEngine engine(read_int_model(int_model));
  Outputs out;
  engine.observe = [&](const std::string& name, const CodeTensor& t) {
    std::vector<int32_t>& v = out.codes[name].emplace_back(size_t(t.numel()));
    for (int64_t k = 0; k < t.numel(); ++k) v[size_t(k)] = t.code(k);
  };
  const data::Split val = data::read_split(colin27(), "val");
  data::PipelineOptions po;
  po.crop_h = po.crop_w = 176;
  const data::Pipeline pipeline(po);
  for (const char* d : {"image", "codes", "codes_u8"}) fs::create_directories(dir / d);
  std::ofstream images(dir / "image" / "manifest.txt"), codes(dir / "codes" / "manifest.txt"),
      codes_u8(dir / "codes_u8" / "manifest.txt");
  for (int64_t i = 0; i < val.n; ++i) {
    const data::Sample s = pipeline.eval(val.sample(i));
    out.logits.push_back(engine.logits(Tensor::from(s.image, {1, s.c, s.h, s.w})).to_vector());
    const std::string name = "val_" + std::to_string(i);
    write_raw(dir / "image" / (name + ".f32"), s.image);
    images << name << " 1 " << s.c << " " << s.h << " " << s.w << "\n";
    const std::vector<int32_t>& in = out.codes.at("conv1.conv2").back();
    write_raw(dir / "codes" / (name + ".i8"), std::vector<int8_t>(in.begin(), in.end()));
    std::vector<uint8_t> u8(in.size());  // --ort-int8's input: code + 128
    for (size_t k = 0; k < in.size(); ++k) u8[k] = uint8_t(in[k] + 128);
    write_raw(dir / "codes_u8" / (name + ".u8"), u8);
    const std::string dims = " 1 " + std::to_string(in.size() / size_t(s.h * s.w)) + " " +
                             std::to_string(s.h) + " " + std::to_string(s.w);
    codes << name << dims << " int8\n";
    codes_u8 << name << dims << " uint8\n";
  }
  return out;
}

template <class T>
std::vector<T> read_raw(const fs::path& p) {
  const std::string bytes = read_file(p.string());
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}

bool mask_of(float logit) { return 1.0f / (1.0f + std::exp(-logit)) >= 0.5f; }

// conv9 is a float conv in every runtime: ONNX Runtime adds its sums in its
// own order, which moves a logit by a few 1e-6 (measured: at most 8e-6), so
// a pixel whose logit is that close to 0 may change mask on the same codes
// (one did, in a 2-epoch Q6.0/Q0.4 model). Those are counted apart.
constexpr float kAtThreshold = 1e-4f;

struct Diff {
  int64_t pixels = 0, codes = 0, code_values = 0;
  // differing pixels whose logit (qat's) is within kAtThreshold of 0
  int64_t at_threshold = 0;
  int64_t foreground = 0;   // qat's mask pixels that are 1 (of 29 * 176 * 176)
  float max_logit_diff = 0;  // the largest |ONNX Runtime's logit - qat's|
  std::string layers;        // "layer: n" for each layer with differing codes
  std::map<std::string, std::pair<int64_t, int64_t>> per_layer;  // layer: differing, of
  std::map<std::string, int32_t> max_step;  // layer: the largest |ONNX Runtime's code - qat's|
  std::string input_layer;   // the layer whose codes are the graph's input (--integer-part)
  std::string ops;           // ONNX Runtime's optimised graph, nodes by op type
};

// ONNX Runtime on the inputs in dir at one optimisation level, against
// qat: masks, and the codes of every layer the graph outputs (u8: uint8,
// code + 128, as --ort-int8 writes them).
Diff compare(const std::string& onnx, const fs::path& dir, const Outputs& qat,
             const std::string& opt, bool u8 = false) {
  const std::string log = (dir / "ort.log").string();
  const std::string cmd = "node " QAT_TESTS "/onnx/run_ort.js " + onnx + " " + dir.string() +
                          " --threads 2 --opt " + opt + " --optimized " +
                          (dir / "optimized.onnx").string() + " > " + log + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(read_file(log));
  REQUIRE(rc == 0);
  Diff d;
  std::ifstream ort_log(log);
  for (std::string line; std::getline(ort_log, line);)
    if (line.rfind("ops: ", 0) == 0) d.ops = line.substr(5);
  std::map<std::string, int64_t> per_layer;
  for (size_t i = 0; i < qat.logits.size(); ++i) {
    const std::string name = "ort_val_" + std::to_string(i);
    const std::vector<float> l = read_raw<float>(dir / (name + ".logits.bin"));
    REQUIRE(l.size() == qat.logits[i].size());
    for (size_t p = 0; p < l.size(); ++p) {
      const bool differs = mask_of(l[p]) != mask_of(qat.logits[i][p]);
      d.pixels += differs;
      d.at_threshold += differs && std::abs(qat.logits[i][p]) <= kAtThreshold;
      d.foreground += mask_of(qat.logits[i][p]);
      d.max_logit_diff = std::max(d.max_logit_diff, std::abs(l[p] - qat.logits[i][p]));
    }
    for (const auto& [layer, per_image] : qat.codes) {
      const fs::path file = dir / (name + ".codes." + layer + ".bin");
      if (!fs::exists(file)) {  // the graph's input (--integer-part)
        d.input_layer = layer;
        continue;
      }
      const std::vector<uint8_t> c = read_raw<uint8_t>(file);
      REQUIRE(c.size() == per_image[i].size());
      int32_t& step = d.max_step[layer];
      for (size_t k = 0; k < c.size(); ++k) {
        const int32_t ort = u8 ? int32_t(c[k]) - 128 : int32_t(int8_t(c[k]));
        per_layer[layer] += ort != per_image[i][k];
        step = std::max(step, std::abs(ort - per_image[i][k]));
      }
      d.per_layer[layer].second += int64_t(c.size());
      d.code_values += int64_t(c.size());
    }
  }
  for (const auto& [layer, n] : per_layer) {
    d.codes += n;
    d.per_layer[layer].first = n;
    if (n) d.layers += " " + layer + ": " + std::to_string(n) + ";";
  }
  return d;
}

// How many nodes of type op ONNX Runtime's optimised graph has ("QLinearConv 12, Max 12, ...").
int64_t op_count(const std::string& ops, const std::string& op) {
  const std::string list = ", " + ops;
  const size_t at = list.find(", " + op + " ");
  return at == std::string::npos ? 0 : std::stoll(list.substr(at + op.size() + 3));
}

void report(const std::string& what, const Diff& d) {
  MESSAGE(what << ", 29 images: " << d.pixels << " differing mask pixels (" << d.at_threshold
               << " of them with |logit| <= " << kAtThreshold << "; qat's masks: "
               << d.foreground << " foreground pixels), " << d.codes << " of " << d.code_values
               << " codes differ" << d.layers << "; largest logit difference "
               << d.max_logit_diff << "; ONNX Runtime ran " << d.ops);
}

// --ort-int8 in ONNX Runtime: its 12 integer convs run as int8 QLinearConv
// (none in float), and the approximation moves some codes and pixels
// (reported; README "ONNX export" has the numbers).
void check_ort_int8(const std::string& run, const std::string& ckpt, const fs::path& dir,
                    const Outputs& qat) {
  const std::string onnx = (kRoot / (run + ".ort_int8.onnx")).string();
  const std::string part = (kRoot / (run + ".ort_int8.integer_part.onnx")).string();
  const std::string err = (kRoot / (run + ".err")).string();
  REQUIRE(run_qat({"export", ckpt, "--format", "onnx", "--ort-int8", "--expose-codes", "--out",
                   onnx}, err) == 0);
  REQUIRE(run_qat({"export", ckpt, "--format", "onnx", "--ort-int8", "--expose-codes",
                   "--integer-part", "--out", part}, err) == 0);
  const Diff whole = compare(onnx, dir / "image", qat, "all", /*u8=*/true);
  report(run + " --ort-int8 whole model in ONNX Runtime", whole);
  const Diff integer = compare(part, dir / "codes_u8", qat, "all", /*u8=*/true);
  report(run + " --ort-int8 integer part in ONNX Runtime", integer);
  for (const Diff* d : {&whole, &integer}) {
    CHECK(op_count(d->ops, "QLinearConv") == 12);
    CHECK(op_count(d->ops, "Conv") + op_count(d->ops, "FusedConv") == (d == &whole ? 3 : 1));
    CHECK(d->code_values > 0);
    CHECK(d->foreground > 0);
    // The first integer layer, on the engine's input codes, differs only
    // where the rounded BatchNorm offset moves a code (under 1%: 0 for
    // Q6.0/Q0.4, 0.03-0.34% for Q8.0/Q0.8); a wrong sign or scale moves most.
    const auto [differ, of] = d->per_layer.at("conv2.conv1");
    CHECK(differ * 100 < of);
    // The masks: 8 epochs, 0.7% (Q6.0/Q0.4) and 1.5% (Q8.0/Q0.8) of the
    // 29 * 176 * 176 pixels differ; the suite's 2-epoch models, whose logits
    // lie closer to 0, up to 6.6%. Under a fifth.
    CHECK(d->pixels * 5 < int64_t(qat.logits.size() * qat.logits[0].size()));
  }
}

// A BatchNorm with a negative gamma gives a channel a negative multiplier.
// --ort-int8 then negates its weight codes, or, where one is -128 (which int8
// cannot negate), puts the sign into a negative weight scale. The 2-epoch
// models have neither, so both are made here: conv2.conv1's channels 0 and 1
// get their multiplier's sign flipped, channel 0 also a -128 weight code
// (inside Q0.8's range, so the layer's bounds still hold). The engine runs
// the edited model; ONNX Runtime runs its exact and its --ort-int8 export.
void check_negative_scales(const std::string& run, const std::string& int_model,
                           const fs::path& dir) {
  IntModel m = read_int_model(int_model);
  IntLayer& l = m.layers.at(0);
  REQUIRE(l.name == "conv2.conv1");
  for (int c : {0, 1}) l.requant[size_t(c)].multiplier = -l.requant[size_t(c)].multiplier;
  l.weight_codes[0] = -128;
  const std::string edited = (kRoot / (run + ".negative.int.h5")).string();
  write_int_model(edited, m);
  const Outputs qat = run_engine(edited, dir);
  const std::vector<int32_t>& first = qat.codes.at("conv2.conv1")[0];
  const size_t plane = first.size() / size_t(l.out_channels);
  for (size_t c : {0, 1}) {  // the flipped channels are not constant
    const auto [lo, hi] = std::minmax_element(first.begin() + c * plane, first.begin() + (c + 1) * plane);
    CHECK(*lo < *hi);
  }
  OnnxExportOptions o;
  o.expose_codes = o.integer_part = true;
  const std::string exact = (kRoot / (run + ".negative.onnx")).string();
  write_onnx(exact, m, o);
  const Diff d_exact = compare(exact, dir / "codes", qat, "all");
  report(run + " negative multipliers, integer part in ONNX Runtime", d_exact);
  CHECK(d_exact.code_values > 0);
  CHECK(d_exact.codes == 0);
  o.ort_int8 = true;
  const std::string int8 = (kRoot / (run + ".negative.ort_int8.onnx")).string();
  write_onnx(int8, m, o);
  const Diff d = compare(int8, dir / "codes_u8", qat, "all", /*u8=*/true);
  report(run + " negative multipliers, --ort-int8 integer part in ONNX Runtime", d);
  CHECK(op_count(d.ops, "QLinearConv") == 12);
  // two wrong channels of conv2.conv1's 16 would move far more than 1%
  const auto [differ, of] = d.per_layer.at("conv2.conv1");
  CHECK(of > 0);
  CHECK(differ * 100 < of);
}

void check_format(const std::string& run, int ai, int af, int wi, int wf,
                  const std::vector<std::string>& extra = {}) {
  const std::string ckpt = trained(run, ai, af, wi, wf, extra);
  const fs::path dir = kRoot / (run + "_ort");
  const std::string int_model = (kRoot / (run + ".int.h5")).string();
  const std::string onnx = (kRoot / (run + ".onnx")).string();
  const std::string part = (kRoot / (run + ".integer_part.onnx")).string();
  const std::string err = (kRoot / (run + ".err")).string();
  REQUIRE(run_qat({"export", ckpt, "--out", int_model}, err) == 0);
  REQUIRE(run_qat({"export", ckpt, "--format", "onnx", "--expose-codes", "--out", onnx}, err) == 0);
  REQUIRE(run_qat({"export", ckpt, "--format", "onnx", "--expose-codes", "--integer-part",
                   "--out", part}, err) == 0);
  // an ONNX file, whole or truncated, where verify-int wants an integer model
  const std::string cut = (kRoot / (run + ".cut.onnx")).string();
  std::ofstream(cut, std::ios::binary) << read_file(onnx).substr(0, 1000);
  for (const std::string& bad : {onnx, cut}) {
    CHECK(run_qat({"verify-int", bad}, err) == 1);
    const std::string msg = read_file(err);
    CHECK(msg.find(bad + ": not an HDF5 file") != std::string::npos);
    CHECK(msg.find('\n') == msg.size() - 1);  // one line
    qat_model* m = nullptr;  // and to the C API
    CHECK(qat_model_load(bad.c_str(), &m) == QAT_ERR_FILE);
    CHECK(m == nullptr);
    CHECK(std::string(qat_last_error()).find(bad) == 0);
  }
  const Outputs qat = run_engine(int_model, dir);
  REQUIRE(qat.logits.size() == 29);
  for (const std::string opt : {"disabled", "all"}) {
    // The integer part on the engine's own input codes: bit for bit.
    const Diff integer = compare(part, dir / "codes", qat, opt);
    report(run + " integer part in ONNX Runtime (optimisation " + opt + ")", integer);
    CHECK(integer.code_values > 0);
    CHECK(integer.codes == 0);
    CHECK(integer.pixels == integer.at_threshold);
    // The whole model: its float first block adds in ONNX Runtime's order,
    // which moves an input code by one where a BatchNorm output lies within
    // float rounding of a code boundary (0-2 codes on AMD Zen 3, 1-4 on an
    // AVX-512 Xeon, of 7.2 million). Moved codes spread down the network, on
    // the Xeon to 0.05-0.1% of the mask pixels. A wrong float layer would
    // move most codes, and by more than one.
    const Diff whole = compare(onnx, dir / "image", qat, opt);
    report(run + " whole model in ONNX Runtime (optimisation " + opt + ")", whole);
    CHECK(whole.code_values > 0);
    REQUIRE(!integer.input_layer.empty());
    const auto [moved, of] = whole.per_layer.at(integer.input_layer);
    CHECK(moved * 10000 < of);
    CHECK(whole.max_step.at(integer.input_layer) <= 1);
    CHECK(whole.pixels * 100 < int64_t(qat.logits.size() * qat.logits[0].size()));
    // masks with foreground (the check could fail), and the logits of the
    // same codes through conv9 differ only by the float sums' order
    CHECK(whole.foreground > 0);
    CHECK(integer.foreground > 0);
    CHECK(integer.max_logit_diff < 1e-3f);
  }
  check_ort_int8(run, ckpt, dir, qat);
  if (wf == 8) check_negative_scales(run, int_model, kRoot / (run + "_negative"));
}

}  // namespace

TEST_CASE("onnx: Q6.0/Q0.4 in ONNX Runtime gives the engine's masks and codes on 29 images") {
  check_format("q60_q04", 6, 0, 0, 4);
}

TEST_CASE("onnx: Q8.0/Q0.8 in ONNX Runtime gives the engine's masks and codes on 29 images") {
  check_format("q80_q08", 8, 0, 0, 8);
}

// requantize_upsample: the up-blocks' first convs read the upsampled codes
// rounded back to the activation grid, in the exact export as in --ort-int8.
TEST_CASE("onnx: Q6.0/Q0.4 with requantize_upsample in ONNX Runtime gives the engine's masks and codes") {
  check_format("q60_q04_requant", 6, 0, 0, 4, {"requantize_upsample=true"});
}

TEST_CASE("onnx: formats without an exact QDQ form are refused naming the layer") {
  const quant::QuantSpec q04 = quant::make_spec(quant::Format::FixedTwos, 0, 4, quant::Ste::Identity);
  const quant::QuantSpec q60 = quant::make_spec(quant::Format::FixedTwos, 6, 0, quant::Ste::Identity);
  CHECK(onnx_refusal("conv2.conv1", q04, q60).empty());
  const quant::QuantSpec fixed = quant::make_spec(quant::Format::Fixed, 6, 0, quant::Ste::Identity);
  const std::string why = onnx_refusal("conv3.conv2", q04, fixed);
  CHECK(why.find("conv3.conv2: activation Q6.0") == 0);
  CHECK(why.find("sign-magnitude") != std::string::npos);
  const quant::QuantSpec q88 = quant::make_spec(quant::Format::FixedTwos, 8, 8, quant::Ste::Identity);
  CHECK(onnx_refusal("up1.conv.conv1", q04, q88).find("opset 21") != std::string::npos);
  const quant::QuantSpec binary = quant::make_spec(quant::Format::Binary, 0, 0, quant::Ste::Identity);
  CHECK(onnx_refusal("conv4.conv1", binary, q60).find("conv4.conv1: weights binary") == 0);
}
