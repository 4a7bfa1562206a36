// `qat export --format onnx` run in ONNX Runtime (npm onnxruntime-node,
// driven by tests/onnx/run_ort.js): fixed_twos Q6.0/Q0.4 and Q8.0/Q0.8
// U-Nets trained with the quickstart config (one epoch, to stay fast) give
// the integer engine's mask on every one of the 29 Colin27 validation
// images, with ONNX Runtime's graph optimisations off and on; given the
// engine's input codes, the integer part gives the engine's int8 codes on
// every layer, bit for bit. Formats that cannot be exported
// are refused naming the layer.
#include <doctest/doctest.h>

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
// weights, one epoch (QAT_ONNX_EPOCHS=8 in the environment: the quickstart's
// eight, as README reports); returns the best checkpoint.
std::string trained(const std::string& run, int ai, int af, int wi, int wf) {
  const char* epochs = std::getenv("QAT_ONNX_EPOCHS");
  const Config c = load_config(
      kQuickstart,
      {"data=" + colin27(), "log_output_dir=" + kRoot.string(), "experiment_name=" + run,
       "num_epochs=" + std::string(epochs ? epochs : "1"), "quantization=fixed_twos", "activation_i_width=" + std::to_string(ai),
       "activation_f_width=" + std::to_string(af), "weight_i_width=" + std::to_string(wi),
       "weight_f_width=" + std::to_string(wf)});
  return train(c).run_dir + "/best.h5";
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
  fs::create_directories(dir / "image");
  fs::create_directories(dir / "codes");
  std::ofstream images(dir / "image" / "manifest.txt"), codes(dir / "codes" / "manifest.txt");
  for (int64_t i = 0; i < val.n; ++i) {
    const data::Sample s = pipeline.eval(val.sample(i));
    out.logits.push_back(engine.logits(Tensor::from(s.image, {1, s.c, s.h, s.w})).to_vector());
    const std::string name = "val_" + std::to_string(i);
    write_raw(dir / "image" / (name + ".f32"), s.image);
    images << name << " 1 " << s.c << " " << s.h << " " << s.w << "\n";
    const std::vector<int32_t>& in = out.codes.at("conv1.conv2").back();
    write_raw(dir / "codes" / (name + ".i8"), std::vector<int8_t>(in.begin(), in.end()));
    codes << name << " 1 " << in.size() / size_t(s.h * s.w) << " " << s.h << " " << s.w << " int8\n";
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

struct Diff {
  int64_t pixels = 0, codes = 0, code_values = 0;
  std::string layers;  // "layer: n" for each layer with differing codes
};

// ONNX Runtime on the inputs in dir at one optimisation level, against
// qat: masks, and the codes of every layer the graph outputs.
Diff compare(const std::string& onnx, const fs::path& dir, const Outputs& qat,
             const std::string& opt) {
  const std::string cmd = "node " QAT_TESTS "/onnx/run_ort.js " + onnx + " " + dir.string() +
                          " --threads 2 --opt " + opt + " > " + (dir / "ort.log").string() +
                          " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(read_file((dir / "ort.log").string()));
  REQUIRE(rc == 0);
  Diff d;
  std::map<std::string, int64_t> per_layer;
  for (size_t i = 0; i < qat.logits.size(); ++i) {
    const std::string name = "ort_val_" + std::to_string(i);
    const std::vector<float> l = read_raw<float>(dir / (name + ".logits.bin"));
    REQUIRE(l.size() == qat.logits[i].size());
    for (size_t p = 0; p < l.size(); ++p) d.pixels += mask_of(l[p]) != mask_of(qat.logits[i][p]);
    for (const auto& [layer, per_image] : qat.codes) {
      const fs::path file = dir / (name + ".codes." + layer + ".bin");
      if (!fs::exists(file)) continue;  // the graph's input (--integer-part)
      const std::vector<int8_t> c = read_raw<int8_t>(file);
      REQUIRE(c.size() == per_image[i].size());
      for (size_t k = 0; k < c.size(); ++k) per_layer[layer] += c[k] != per_image[i][k];
      d.code_values += int64_t(c.size());
    }
  }
  for (const auto& [layer, n] : per_layer) {
    d.codes += n;
    if (n) d.layers += " " + layer + ": " + std::to_string(n) + ";";
  }
  return d;
}

void report(const std::string& what, const Diff& d) {
  MESSAGE(what << ", 29 images: " << d.pixels << " differing mask pixels, " << d.codes << " of "
               << d.code_values << " codes differ" << d.layers);
}

void check_format(const std::string& run, int ai, int af, int wi, int wf) {
  const std::string ckpt = trained(run, ai, af, wi, wf);
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
  }
  const Outputs qat = run_engine(int_model, dir);
  REQUIRE(qat.logits.size() == 29);
  for (const std::string opt : {"disabled", "all"}) {
    // The whole model: its float first block adds in ONNX Runtime's order,
    // which may move an input code at a rounding boundary (reported); the
    // masks must not change.
    const Diff whole = compare(onnx, dir / "image", qat, opt);
    report(run + " whole model in ONNX Runtime (optimisation " + opt + ")", whole);
    CHECK(whole.code_values > 0);
    CHECK(whole.pixels == 0);
    // The integer part on the engine's own input codes: bit for bit.
    const Diff integer = compare(part, dir / "codes", qat, opt);
    report(run + " integer part in ONNX Runtime (optimisation " + opt + ")", integer);
    CHECK(integer.code_values > 0);
    CHECK(integer.codes == 0);
    CHECK(integer.pixels == 0);
  }
}

}  // namespace

TEST_CASE("onnx: Q6.0/Q0.4 in ONNX Runtime gives the engine's masks and codes on 29 images") {
  check_format("q60_q04", 6, 0, 0, 4);
}

TEST_CASE("onnx: Q8.0/Q0.8 in ONNX Runtime gives the engine's masks and codes on 29 images") {
  check_format("q80_q08", 8, 0, 0, 8);
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
