// The integer export and engine on tiny trained models: the engine's codes
// equal the eval-mode simulation's on every layer and image; the integer
// eval path stays within one code of the float training-time forward; bad
// files and models are refused.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include <yaml-cpp/yaml.h>

#include "data/h5.h"
#include "data/h5_io.h"
#include "data/png.h"
#include "experiments/training/checkpoint.h"
#include "experiments/export/int_export.h"
#include "experiments/export/integer_eval.h"
#include "experiments/runtime/int_engine.h"
#include "experiments/runtime/int_model.h"
#include "experiments/training/train.h"
#include "experiments/export/verify_int.h"
#include "quant/int_kernels/int_bound.h"
#include "tests/experiments/training/tiny_em.h"

using namespace qat;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = QAT_TESTS "/experiments/training/tiny.yaml";

std::string tiny_dataset() {
  static const std::string path = qat::testing::tiny_em_dataset("qat_test_int", 8, 3);
  return path;
}

Config tiny_config(const std::string& run, std::vector<std::string> extra) {
  const fs::path dir = fs::temp_directory_path() / "qat_test_int" / run;
  fs::remove_all(dir);
  std::vector<std::string> o{"data=" + tiny_dataset(),
                             "log_output_dir=" + (fs::temp_directory_path() / "qat_test_int").string(),
                             "experiment_name=" + run, "num_epochs=2"};
  o.insert(o.end(), extra.begin(), extra.end());
  return load_config(kTiny, o);
}

// Trains once per run name and returns (config, best checkpoint).
std::pair<Config, std::string> trained(const std::string& run, std::vector<std::string> q) {
  static std::map<std::string, std::pair<Config, std::string>> done;
  if (!done.count(run)) {
    Config c = tiny_config(run, q);
    const TrainResult r = train(c);
    done[run] = {c, r.run_dir + "/best.h5"};
  }
  return done.at(run);
}

std::vector<std::string> formats(const std::string& q, int ai, int af, int wi, int wf) {
  return {"quantization=" + q, "activation_i_width=" + std::to_string(ai),
          "activation_f_width=" + std::to_string(af), "weight_i_width=" + std::to_string(wi),
          "weight_f_width=" + std::to_string(wf)};
}

// An untrained float-only model saved as a checkpoint; returns its path.
std::string float_checkpoint() {
  const Config f = tiny_config("float", {"quantization=none"});
  Model m = build_model(f);
  const std::string ckpt = (fs::temp_directory_path() / "qat_test_int" / "float.h5").string();
  TrainState state;
  state.config_yaml = YAML::Dump(config_to_yaml(f));
  save_checkpoint(ckpt, *m.net, nullptr, state);
  return ckpt;
}

std::vector<std::string> twos(int ai, int af, int wi, int wf) {
  return formats("fixed_twos", ai, af, wi, wf);
}

void check_bit_exact(const Config& c, const std::string& ckpt) {
  Model m = load_model(c, ckpt);
  const std::string path = (fs::temp_directory_path() / "qat_test_int" /
                            (c.experiment_name + ".int.h5")).string();
  write_int_model(path, export_int_model(m));
  const IntModel im = read_int_model(path);
  REQUIRE(im.layers.size() == 12);
  const VerifyResult r = verify_int(im, c, ckpt);
  CHECK(r.images == 4);
  REQUIRE(r.layers.size() == 13);
  for (const LayerDiff& d : r.layers) {
    INFO(d.name, ": ", d.first);
    CHECK(d.values > 0);
    CHECK(d.differing == 0);
  }
  CHECK(r.mask_differing == 0);
  CHECK(r.dice_sim == r.dice_int);
}

// The integer eval path against the float training-time forward (float
// bias, float BN, quantizer on a float): every code within one step, most
// equal. An independent check of the requantisation's definition.
void check_close_to_float(const Config& c, const std::string& ckpt) {
  auto codes_of = [&](bool integer) {
    Model m = load_model(c, ckpt);
    std::vector<float> out;
    auto keep = [&out](const Tensor& t) {
      const auto v = t.to_vector();
      out.insert(out.end(), v.begin(), v.end());
    };
    if (!integer) {
      for (auto& [name, b] : m.net->blocks()) {
        if (name == "conv1") continue;
        for (TensorFn* f : {&b->act_quant1, &b->act_quant2}) {
          TensorFn q = *f;
          *f = [q, keep](const Tensor& a) { Tensor y = q(a); keep(y); return y; };
        }
      }
    }
    const data::Split split = data::read_split(c.data, "val");
    const data::Sample s = make_pipeline(c).eval(split.sample(0));
    Tensor x = Tensor::empty({1, s.c, s.h, s.w});
    std::copy(s.image.begin(), s.image.end(), x.data());
    NoGrad no_grad;
    if (integer)
      integer_eval_forward(m, x, [&](const std::string&, const Tensor& t) { keep(t); });
    else
      m.net->forward(x);
    return out;
  };
  const std::vector<float> a = codes_of(true), b = codes_of(false);
  REQUIRE(a.size() == b.size());
  const float step = std::ldexp(1.0f, -c.activation_f_width);
  size_t equal = 0, far = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    equal += a[k] == b[k];
    // one code apart can grow through later layers; the first layers stay close
    far += std::abs(a[k] - b[k]) > 4 * step;
  }
  CHECK(double(equal) / double(a.size()) > 0.9);
  CHECK(double(far) / double(a.size()) < 0.02);
}

}  // namespace

TEST_CASE("int engine: fixed_twos Q8.0/Q0.8 runs bit-exact with the eval simulation") {
  const auto [c, ckpt] = trained("q8", twos(8, 0, 0, 8));
  check_bit_exact(c, ckpt);
  check_close_to_float(c, ckpt);
}

TEST_CASE("int engine: fixed_twos Q6.0/Q0.4 runs bit-exact with the eval simulation") {
  const auto [c, ckpt] = trained("q6", twos(6, 0, 0, 4));
  check_bit_exact(c, ckpt);
  check_close_to_float(c, ckpt);
  // Q6.0 x Q0.4 pairs are at most 2 * 63 * 8: every int8 GEMM is proven safe
  // for the AVX2 byte path, so on an AVX2 CPU without VNNI the bit-exact
  // check above ran it (the upsampled int16 inputs keep vpmaddwd)
  Model m = load_model(c, ckpt);
  const IntEngine engine(export_int_model(m));
  for (const std::string& line : engine.gemm_report()) {
    CAPTURE(line);
    CHECK(line.find("int8 bytes (run ") != std::string::npos);
    CHECK((line.find("int16") != std::string::npos) == (line.find("up") == 0 &&
                                                          line.find("conv1") != std::string::npos));
  }
}

TEST_CASE("int engine: sign-magnitude fixed and fixed_gm run bit-exact with the eval simulation") {
  for (const auto& [run, q] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"sm8", formats("fixed", 8, 0, 0, 8)},
           {"sm6", formats("fixed", 6, 0, 0, 4)},
           {"gm6", formats("fixed_gm", 6, 0, 0, 4)}}) {
    CAPTURE(run);
    const auto [c, ckpt] = trained(run, q);
    check_bit_exact(c, ckpt);
    check_close_to_float(c, ckpt);
  }
}

// The file's format attribute and whether it has the option's dataset.
std::pair<std::string, bool> file_format(const std::string& path) {
  data::H5Handle f = data::h5_file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open");
  return {data::read_h5_string_attr(f, "format", path),
          H5Lexists(f, "/requantize_upsample", H5P_DEFAULT) > 0};
}

TEST_CASE("int engine: requantize_upsample runs bit-exact, the decoder's convs on their codes") {
  for (const auto& [run, q] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"rq_twos6", twos(6, 0, 0, 4)},
           {"rq_sm6", formats("fixed", 6, 0, 0, 4)},
           {"rq_twos8", twos(8, 0, 0, 8)},
           {"rq_sm8", formats("fixed", 8, 0, 0, 8)},
           {"rq_gm6", formats("fixed_gm", 6, 0, 0, 4)}}) {
    CAPTURE(run);
    std::vector<std::string> on = q;
    on.push_back("requantize_upsample=true");
    const auto [c, ckpt] = trained(run, on);
    check_bit_exact(c, ckpt);
    Model m = load_model(c, ckpt);
    const IntModel im = export_int_model(m);
    CHECK(im.requantize_upsample);
    // the upsampled part is read at the format's own f, not f + 4
    for (const IntLayer& l : im.layers) CHECK(l.in_frac == c.activation_f_width);
    const IntEngine engine(im);
    if (run == "rq_twos6" || run == "rq_sm6")  // bytes end to end: no int16 GEMM left
      for (const std::string& line : engine.gemm_report()) {
        CAPTURE(line);
        CHECK(line.find("int16") == std::string::npos);
        CHECK(line.find("int8 bytes (run ") != std::string::npos);
        // an up-block's [upsampled, skip] as one GEMM (one part, both inputs)
        const bool up_conv1 = line.find("up") == 0 && line.find("conv1") != std::string::npos;
        CHECK((line.find("[up, skip] int8 bytes") != std::string::npos) == up_conv1);
        CHECK(line.find("), ") == std::string::npos);  // no second part
      }
  }
}

TEST_CASE("int engine: the requantize_upsample file format, and models without it as before") {
  const auto [c, ckpt] = trained("rq_twos6", [] {
    std::vector<std::string> on = twos(6, 0, 0, 4);
    on.push_back("requantize_upsample=true");
    return on;
  }());
  const auto [c_off, ckpt_off] = trained("q6", twos(6, 0, 0, 4));
  const fs::path dir = fs::temp_directory_path() / "qat_test_int";
  const std::string on = (dir / "rq.int.h5").string(), off = (dir / "rq_off.int.h5").string();
  Model m = load_model(c, ckpt), m_off = load_model(c_off, ckpt_off);
  write_int_model(on, export_int_model(m));
  write_int_model(off, export_int_model(m_off));
  // engines before the option read only qat-int-model-2: they refuse the new files
  CHECK(file_format(on) == std::pair<std::string, bool>{"qat-int-model-3", true});
  CHECK(file_format(off) == std::pair<std::string, bool>{"qat-int-model-2", false});
  CHECK(read_int_model(on).requantize_upsample);
  CHECK_FALSE(read_int_model(off).requantize_upsample);
  // the flag is inside the checksum
  {
    data::H5Handle f = data::h5_file(H5Fopen(on.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "open");
    data::H5Handle ds = data::h5_dataset(H5Dopen2(f, "/requantize_upsample", H5P_DEFAULT), "ds");
    const int32_t zero = 0;
    data::h5_check(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero), "write");
  }
  CHECK_THROWS_WITH_AS(read_int_model(on), doctest::Contains("checksum mismatch"), Error);
  // a config that disagrees with the file is refused, not compared
  CHECK_THROWS_WITH_AS(verify_int(export_int_model(m), c_off, ckpt),
                       doctest::Contains("key 'requantize_upsample' is false"), Error);
  // an engine given the option on a format it cannot round to says which layer
  IntModel bad = export_int_model(m);
  bad.layers[7].activation = quant::make_spec(quant::Format::Int, 8, 0);  // up1.conv.conv2
  CHECK_THROWS_WITH_AS(IntEngine{bad}, doctest::Contains("layer up2.conv.conv1: "
                                                         "requantize_upsample"), Error);
}

TEST_CASE("int engine: int, binary and ternary formats run bit-exact") {
  for (const auto& [run, q] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           // one epoch: the codes need trained BatchNorm statistics, not a good model
           {"bnn", {"quantization=BNN", "num_epochs=1"}},
           {"int8", {"quantization=INT", "activation_i_width=8", "activation_f_width=0",
                     "weight_i_width=8", "weight_f_width=0", "num_epochs=1"}},
           {"ternary_w",
            {"weight_quant=ternary", "activation_quant=fixed:6.0", "num_epochs=1"}}}) {
    CAPTURE(run);
    const auto [c, ckpt] = trained(run, q);
    check_bit_exact(c, ckpt);
  }
}

TEST_CASE("int engine: a layer whose int32 bound overflows runs widened, bit-exact") {
  // Q8.8 two's complement both ways: 16-bit codes, every product up to 2^30,
  // so every layer's bound exceeds int32 (the up-blocks' by 2^4 more).
  const auto [c, ckpt] = trained("q88", twos(8, 8, 8, 8));
  Model m = load_model(c, ckpt);
  const IntModel im = export_int_model(m);
  int wide = 0;
  for (const IntLayer& l : im.layers) wide += l.acc_bound > quant::kInt32Max;
  CHECK(wide == 12);
  CHECK(im.layers[6].gemm_bound > (int64_t(1) << 40));  // up1: 16 * 2^15 * 2^15 * K
  check_bit_exact(c, ckpt);
}

TEST_CASE("int engine: a widened layer split into channel groups that fit int32, bit-exact") {
  // Q12.0 two's complement activations (upsampled: +-32768, int16) and Q0.10
  // weights (+-512): one channel's 9 products stay below 2^31, up1's whole
  // sum does not, so it runs as int32 GEMMs over channel groups added in int64.
  const auto [c, ckpt] = trained("q12", twos(12, 0, 0, 10));
  Model m = load_model(c, ckpt);
  const IntModel im = export_int_model(m);
  const IntLayer& up1 = im.layers[6];
  CHECK(up1.gemm_bound > quant::kInt32Max);
  CHECK(9 * 32768 * 512 <= quant::kInt32Max);
  CHECK(im.layers[0].acc_bound <= quant::kInt32Max);  // conv2.conv1 stays int32
  check_bit_exact(c, ckpt);
}

TEST_CASE("int engine: the requantisation of one layer by hand") {
  // BN gamma 2, beta 0.5, mean 1, var 4 - eps: a = 1, b = -0.5 + 0.5 = 0...
  BatchNorm2d bn(1);
  bn.weight.data()[0] = 2.0f, bn.bias.data()[0] = 0.5f;
  bn.running_mean.data()[0] = 1.0f, bn.running_var.data()[0] = 4.0f - bn.eps;
  // y = 2/2 * z + (0.5 - 1) = z - 0.5; accumulator at f=8, output at f=0:
  // code = round_half_even(acc/256 - 0.5)
  const auto r = layer_requant(bn, 8, 0);
  REQUIRE(r.size() == 1);
  CHECK(quant::requantise(256 * 3, r[0], -128, 127) == 2);   // 2.5 -> 2
  CHECK(quant::requantise(256 * 4, r[0], -128, 127) == 4);   // 3.5 -> 4
  CHECK(quant::requantise(256 * 3 + 1, r[0], -128, 127) == 3);
  CHECK(quant::requantise(256 * 200, r[0], -128, 127) == 127);  // saturates
}

TEST_CASE("int engine: a corrupted integer model file is refused") {
  const auto [c, ckpt] = trained("q8", twos(8, 0, 0, 8));
  Model m = load_model(c, ckpt);
  const std::string path = (fs::temp_directory_path() / "qat_test_int" / "corrupt.int.h5").string();
  write_int_model(path, export_int_model(m));
  CHECK_NOTHROW(read_int_model(path));
  {  // flip one weight code in place
    data::H5Handle f = data::h5_file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "open");
    data::H5Handle ds = data::h5_dataset(
        H5Dopen2(f, "/int/conv3.conv1/weight_codes", H5P_DEFAULT), "open dataset");
    std::vector<int32_t> v(size_t(H5Sget_simple_extent_npoints(
        data::h5_space(H5Dget_space(ds), "space"))));
    data::h5_check(H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read");
    v[5] ^= 1;
    data::h5_check(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "write");
  }
  CHECK_THROWS_WITH_AS(read_int_model(path), doctest::Contains("checksum mismatch"), Error);
}

TEST_CASE("int engine: float-only and unsupported models are refused naming why") {
  const std::string ckpt = float_checkpoint();
  Model loaded = load_model(tiny_config("float", {"quantization=none"}), ckpt);
  CHECK_THROWS_WITH_AS(export_int_model(loaded), doctest::Contains("float-only"), Error);

  Model pow2 = build_model(tiny_config("pow2", {"quantization=fixed_pow2"}));
  CHECK_THROWS_WITH_AS(export_int_model(pow2), doctest::Contains("layer conv1.conv2"), Error);
  Model tern_act = build_model(
      tiny_config("tern_act", {"weight_quant=ternary", "activation_quant=ternary"}));
  CHECK_THROWS_WITH_AS(export_int_model(tern_act), doctest::Contains("ternary activations"),
                       Error);
  Model huge = build_model(tiny_config("huge", twos(20, 4, 0, 8)));
  CHECK_THROWS_WITH_AS(export_int_model(huge), doctest::Contains("at most 2^20"), Error);

  const auto [c, ckpt8] = trained("q8", twos(8, 0, 0, 8));
  IntEngine e(export_int_model(*std::make_unique<Model>(load_model(c, ckpt8))));
  CHECK_THROWS_WITH_AS(e.logits(Tensor::zeros({1, 1, 36, 36})),
                       doctest::Contains("divisible by 8"), Error);
}

TEST_CASE("int engine: the integer part's source has no floating-point type") {
  std::ifstream f(QAT_TESTS "/../experiments/runtime/int_engine_codes.cpp");
  REQUIRE(f.good());
  const std::regex banned(R"(\b(float|double|long double|Tensor|half)\b)");
  int line_no = 0, code_lines = 0;
  for (std::string line; std::getline(f, line);) {
    ++line_no;
    const std::string code = line.substr(0, line.find("//"));  // comments may say "float"
    code_lines += !code.empty();
    INFO("experiments/runtime/int_engine_codes.cpp:", line_no, ": ", line);
    CHECK_FALSE(std::regex_search(code, banned));
  }
  CHECK(code_lines > 40);
}

TEST_CASE("int engine: qat export, verify-int and predict --engine int on the command line") {
  const auto [c, ckpt] = trained("q6", twos(6, 0, 0, 4));
  const fs::path dir = fs::temp_directory_path() / "qat_test_int";
  const std::string model = (dir / "cli.int.h5").string(), log = (dir / "cli.log").string();
  auto run = [&](const std::string& args) {
    return std::system((std::string(QAT_BINARY) + " " + args + " > " + log + " 2>&1").c_str());
  };
  auto log_text = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  REQUIRE(run("export " + ckpt + " --out " + model) == 0);
  REQUIRE(run("verify-int " + model) == 0);
  const std::string text = log_text();
  INFO(text);
  CHECK(text.find("differing codes in all: 0;") != std::string::npos);
  CHECK(text.find("up3.conv.conv2") != std::string::npos);
  const std::string cfg = (dir / "q6" / "config.yaml").string();
  REQUIRE(run("predict " + cfg + " --engine int --int-model " + model) == 0);
  CHECK(fs::exists(dir / "q6" / "predictions_int" / "val_0000_mask.png"));
  // A new image (a PNG the size of a val image) through the integer engine:
  // a mask of the input's size.
  {
    const data::Split val = data::read_split(c.data, "val");
    std::vector<uint8_t> gray(size_t(val.h * val.w));
    float lo = val.images[0], hi = val.images[0];
    for (int64_t p = 0; p < val.h * val.w; ++p)
      lo = std::min(lo, val.images[size_t(p)]), hi = std::max(hi, val.images[size_t(p)]);
    for (int64_t p = 0; p < val.h * val.w; ++p)
      gray[size_t(p)] = uint8_t(std::lround(255.0f * (val.images[size_t(p)] - lo) / (hi - lo)));
    const std::string in = (dir / "scan.png").string(), out = (dir / "scan_mask.png").string();
    data::write_png_gray(in, gray.data(), val.h, val.w);
    REQUIRE(run("predict " + model + " " + in + " --out " + out + " --engine int") == 0);
    const data::Image8 mask = data::read_png_gray(out);
    CHECK(mask.h == val.h);
    CHECK(mask.w == val.w);
    for (uint8_t v : mask.pixels) CHECK((v == 0 || v == 255));
  }
  // The runtime alone (qat-int links no training code) writes the same masks.
  const fs::path alone = dir / "q6" / "predictions_qat_int";
  REQUIRE(std::system((std::string(QAT_INT_BINARY) + " predict " + model + " " + c.data +
                       " --out " + alone.string() + " --crop " + std::to_string(c.crop) +
                       " --count " + std::to_string(c.predict_count) + " > " + log + " 2>&1")
                          .c_str()) == 0);
  for (const char* f : {"val_0000_mask.png", "val_0000_prob.png"}) {
    std::ifstream a(dir / "q6" / "predictions_int" / f, std::ios::binary), b(alone / f, std::ios::binary);
    CHECK(std::string(std::istreambuf_iterator<char>(a), {}) ==
          std::string(std::istreambuf_iterator<char>(b), {}));
  }
  // a float-only checkpoint: refused with the reason
  CHECK(run("export " + float_checkpoint() + " --out " + (dir / "f.int.h5").string()) != 0);
  CHECK(log_text().find("float-only") != std::string::npos);
}
