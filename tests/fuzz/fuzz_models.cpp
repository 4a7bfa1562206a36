// The model files: a training checkpoint (read back into a width-4 U-Net
// with its Adam state, as `qat train` resumes) and an exported integer
// model (as `qat predict --engine int` and `qat verify-int` read it).
#include <cmath>

#include "experiments/runtime/int_model.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/config.h"
#include "experiments/training/model.h"
#include "optim/optimizer.h"
#include "tests/fuzz/harness.h"
#include "tests/fuzz/scratch.h"

namespace qat::fuzz {

namespace {

// The network of tests/fuzz/corpus/checkpoint's seeds (width 4, Adam).
struct TinyRun {
  Model model;
  std::unique_ptr<Adam> adam;
  TinyRun() {
    Config c;
    c.width = 4;
    model = build_model(c);
    adam = std::make_unique<Adam>(model.net->parameters(), AdamOptions{});
  }
};

void check_finite(const std::string& what, const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.data()[i]))
      throw HarnessBug(what + ": accepted a non-finite value " + std::to_string(t.data()[i]));
}

}  // namespace

void fuzz_checkpoint(const uint8_t* data, size_t size) {
  quiet_once();
  static TinyRun run;
  const std::string path = write_scratch("checkpoint.h5", data, size);
  expect_clean("read_checkpoint_state", [&] { read_checkpoint_state(path); });
  expect_clean("load_checkpoint", [&] {
    load_checkpoint(path, *run.model.net, run.adam.get());
    for (const auto& [name, t] : run.model.net->named_parameters()) check_finite(name, t);
    for (const auto& [name, t] : run.model.net->named_buffers()) check_finite(name, t);
  });
}

void fuzz_int_model(const uint8_t* data, size_t size) {
  quiet_once();
  const std::string path = write_scratch("model.int.h5", data, size);
  expect_clean("read_int_model", [&] { read_int_model(path); });
}

}  // namespace qat::fuzz
