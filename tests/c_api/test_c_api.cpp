// The integer runtime's C API (experiments/runtime/qat_runtime.h): in this
// process, misuse gets its status and a one-line message; and a C program
// (tests/c_api/use_runtime.c) built against the *installed* library with
// pkg-config (tests/c_api/build_installed.sh) gives the engine's
// probabilities bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "experiments/runtime/int_engine.h"
#include "experiments/runtime/qat_runtime.h"
#include "experiments/training/train.h"
#include "tests/experiments/training/tiny_em.h"
#include "tests/run_qat.h"

using namespace qat;
namespace fs = std::filesystem;
using qat::testing::read_file;
using qat::testing::run_qat;

namespace {

const fs::path kRoot = fs::temp_directory_path() / "qat_test_c_api";
constexpr int64_t kSide = 40;  // tiny_em's images

std::string dataset() { return qat::testing::tiny_em_dataset("qat_test_c_api_data", 8, 3); }

// A tiny fixed_twos Q4.4/Q0.4 model, trained two epochs and exported.
std::string int_model() {
  static const std::string path = [] {
    fs::remove_all(kRoot);
    fs::create_directories(kRoot);
    const Config c = load_config(
        QAT_TESTS "/experiments/training/tiny.yaml",
        {"data=" + dataset(),
         "log_output_dir=" + kRoot.string(), "experiment_name=tiny", "num_epochs=2",
         "quantization=fixed_twos", "activation_i_width=4", "activation_f_width=4",
         "weight_i_width=0", "weight_f_width=4"});
    const std::string ckpt = train(c).run_dir + "/best.h5";
    const std::string out = (kRoot / "tiny.int.h5").string();
    REQUIRE(run_qat({"export", ckpt, "--out", out}, (kRoot / "export.err").string()) == 0);
    return out;
  }();
  return path;
}

// The first validation image (1, 40, 40).
std::vector<float> image() { return data::read_split(dataset(), "val").sample(0).image; }

// The first half of the model file: a truncated copy.
std::string truncated() {
  const std::string bytes = read_file(int_model());
  const std::string out = (kRoot / "truncated.int.h5").string();
  std::ofstream(out, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  return out;
}

}  // namespace

TEST_CASE("c api: a model runs, and misuse gets a status and a one-line message") {
  qat_model* m = nullptr;
  REQUIRE(qat_model_load(int_model().c_str(), &m) == QAT_OK);
  const std::vector<float> px = image();
  std::vector<uint8_t> mask(px.size());
  std::vector<float> prob(px.size());
  CHECK(qat_model_run(m, px.data(), 1, kSide, kSide, 0.5f, prob.data(), mask.data()) == QAT_OK);
  CHECK(std::string(qat_last_error()).empty());
  CHECK(qat_model_run(m, px.data(), 1, kSide, kSide + 4, 0.5f, prob.data(), nullptr) ==
        QAT_ERR_SIZE);
  const std::string size_message = qat_last_error();
  CHECK(size_message.find("1x40x44") != std::string::npos);
  CHECK(size_message.find("multiples of 8") != std::string::npos);
  CHECK(qat_model_run(m, nullptr, 1, kSide, kSide, 0.5f, prob.data(), nullptr) == QAT_ERR_NULL);
  CHECK(qat_model_free(m) == QAT_OK);
  CHECK(qat_model_run(m, px.data(), 1, kSide, kSide, 0.5f, prob.data(), nullptr) == QAT_ERR_MODEL);
  CHECK(std::string(qat_last_error()).find("not a live model handle") != std::string::npos);
  CHECK(qat_model_free(m) == QAT_ERR_MODEL);
  int64_t channels = 0;
  CHECK(qat_model_channels(m, &channels) == QAT_ERR_MODEL);

  // A freed handle stays invalid while new models are loaded, whatever memory
  // they get (a freed model's memory is reused at once by the allocator);
  // live ones keep working; a pointer to something else is no handle.
  qat_model* stale = m;
  std::vector<qat_model*> live(4, nullptr);
  for (qat_model*& l : live) {
    REQUIRE(qat_model_load(int_model().c_str(), &l) == QAT_OK);
    CHECK(l != stale);
  }
  CHECK(qat_model_run(stale, px.data(), 1, kSide, kSide, 0.5f, prob.data(), nullptr) ==
        QAT_ERR_MODEL);
  CHECK(qat_model_free(stale) == QAT_ERR_MODEL);
  for (qat_model* l : live) {
    CHECK(qat_model_run(l, px.data(), 1, kSide, kSide, 0.5f, prob.data(), nullptr) == QAT_OK);
    CHECK(qat_model_free(l) == QAT_OK);
  }
  int not_a_model = 0;
  auto* foreign = reinterpret_cast<qat_model*>(&not_a_model);
  CHECK(qat_model_channels(foreign, &channels) == QAT_ERR_MODEL);
  CHECK(qat_model_free(foreign) == QAT_ERR_MODEL);
  CHECK(not_a_model == 0);
  CHECK(qat_model_load(nullptr, &m) == QAT_ERR_NULL);

  // a truncated model, and an ONNX file where an integer model belongs
  for (const std::string& bad : {truncated(), (kRoot / "model.onnx").string()}) {
    std::ofstream(kRoot / "model.onnx") << "\x08\x08\x12\x03qat";  // protobuf bytes
    CHECK(qat_model_load(bad.c_str(), &m) == QAT_ERR_FILE);
    CHECK(m == nullptr);
    const std::string msg = qat_last_error();
    CHECK(msg.find(bad) == 0);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("c api: a C program built against the installed library gives the engine's probabilities") {
  const fs::path dir = kRoot / "installed";
  fs::create_directories(dir);
  const std::vector<float> px = image();
  std::ofstream(dir / "image.f32", std::ios::binary)
      .write(reinterpret_cast<const char*>(px.data()), std::streamsize(4 * px.size()));
  const std::string log = (dir / "build.log").string();
  const std::string build = "bash " QAT_TESTS "/c_api/build_installed.sh " QAT_BUILD_ROOT " " +
                            dir.string() + " " QAT_SANITIZE_FLAGS " > " + log + " 2>&1";
  const int built = std::system(build.c_str());
  INFO(read_file(log));
  REQUIRE(built == 0);
  std::ifstream paths(log);
  std::string program, libdir;
  std::getline(paths, program);
  std::getline(paths, libdir);
  const std::string run_log = (dir / "run.log").string();
  const std::string run = "LD_LIBRARY_PATH=" + libdir + " " + program + " " + int_model() + " " +
                          (dir / "image.f32").string() + " 40 40 " + (dir / "prob.f32").string() +
                          " " + truncated() + " > " + run_log + " 2>&1";
  const int ran = std::system(run.c_str());
  INFO(read_file(run_log));
  REQUIRE(ran == 0);
  CHECK(read_file(run_log).find("run(freed model) -> 3") != std::string::npos);

  IntEngine engine(read_int_model(int_model()));
  const Tensor logits = engine.logits(Tensor::from(px, {1, 1, kSide, kSide}));
  const std::string bytes = read_file((dir / "prob.f32").string());
  REQUIRE(bytes.size() == 4 * px.size());
  std::vector<float> prob(px.size());
  std::memcpy(prob.data(), bytes.data(), bytes.size());
  int64_t differ = 0;
  float lo = 1, hi = 0;
  for (size_t p = 0; p < px.size(); ++p) {
    const float want = 1.0f / (1.0f + std::exp(-logits.data()[p]));
    differ += prob[p] != want;
    lo = std::min(lo, want), hi = std::max(hi, want);
  }
  CHECK(differ == 0);
  CHECK(hi > lo);  // not a constant map
  MESSAGE("installed C API: probabilities in [" << lo << ", " << hi << "], " << differ
                                                << " of " << px.size() << " differ from the engine");
}
