// `qat export` and `qat verify-int`: a trained model to integers, and the
// proof that the engine computes what training simulated.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "experiments/cli/commands.h"
#include "experiments/export/verify_int.h"
#include "experiments/onnx/onnx_export.h"
#include "experiments/runtime/int_model.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/train.h"
#include "quant/int_kernels/int_bound.h"

namespace qat {
namespace {

struct ExportArgs {
  std::string checkpoint, out;
  std::string format = "int";  // int: the integer model .h5; onnx: QDQ ONNX
  bool expose_codes = false;   // onnx: every layer's int8 codes as outputs too
  bool integer_part = false;   // onnx: input the input quantizer's codes (no first block)
  bool ort_int8 = false;       // onnx: convs ONNX Runtime fuses into QLinearConv (approximate)
};

void write_onnx_export(const ExportArgs& a, const IntModel& im) {
  const std::string out =
      a.out.empty() ? a.checkpoint.substr(0, a.checkpoint.rfind(".h5")) + ".onnx" : a.out;
  const OnnxReport r = write_onnx(out, im, {a.expose_codes, a.integer_part, a.ort_int8});
  std::printf("wrote %s (ONNX opset 13, QDQ int8; %s)\n", out.c_str(),
              a.ort_int8          ? "--ort-int8: an APPROXIMATION for ONNX Runtime's QLinearConv"
              : r.proven_exact ? "every integer layer proven exact"
                               : "exact where the lines below say so");
  for (const std::string& l : r.layers) std::printf("  %s\n", l.c_str());
}

void run_export(ExportArgs a) {
  const TrainState s = read_checkpoint_state(a.checkpoint);
  IntModel stub;
  stub.config_yaml = s.config_yaml;
  const Config c = config_of(stub, a.checkpoint);
  Model m = load_model(c, a.checkpoint);
  IntModel im = export_int_model(m);
  im.config_yaml = s.config_yaml;
  im.source_checkpoint = a.checkpoint;
  if (a.format == "onnx") return write_onnx_export(a, im);
  if (a.out.empty()) a.out = a.checkpoint.substr(0, a.checkpoint.rfind(".h5")) + ".int.h5";
  write_int_model(a.out, im);
  std::string wide;  // layers whose accumulator bound exceeds int32 run in int64
  for (const IntLayer& l : im.layers)
    if (l.acc_bound > quant::kInt32Max) wide += (wide.empty() ? "" : ", ") + l.name;
  std::printf("wrote %s (%zu integer layers; %s)\n", a.out.c_str(), im.layers.size(),
              wide.empty() ? "every accumulator fits int32"
                           : ("widened to int64 accumulators: " + wide).c_str());
}

struct VerifyArgs {
  std::string model;
  ConfigArgs config;  // path empty: the config stored in the model
};

void run_verify(const VerifyArgs& a) {
  const IntModel im = read_int_model(a.model);
  const bool stored = a.config.path.empty();
  const Config c = stored ? config_of(im, a.model) : load_config(a.config.path, a.config.overrides);
  const std::string ckpt =
      !im.source_checkpoint.empty() && stored ? im.source_checkpoint : trained_checkpoint(c);
  const VerifyResult r = verify_int(im, c, ckpt);
  std::printf("%s", format_verify(r).c_str());
  int64_t total = 0;
  for (const LayerDiff& d : r.layers) total += d.differing;
  if (total)
    throw ExitError(kExitVerifyDiffers, a.model + ": verify-int found " + std::to_string(total) +
                                            " differing codes, expected 0");
}

}  // namespace

void add_deploy_commands(CLI::App& app) {
  static ExportArgs ex;
  auto* e = app.add_subcommand("export", "write the integer model of a trained checkpoint");
  e->add_option("checkpoint", ex.checkpoint, "checkpoint .h5 (best.h5)")->required();
  e->add_option("--out", ex.out, "output file (default: CHECKPOINT.int.h5 or CHECKPOINT.onnx)");
  e->add_option("--format", ex.format, "int: the integer model (HDF5); onnx: QDQ ONNX model")
      ->check(CLI::IsMember({"int", "onnx"}));
  e->add_flag("--expose-codes", ex.expose_codes, "onnx: also output each layer's int8 codes");
  e->add_flag("--integer-part", ex.integer_part,
              "onnx: the graph's input is the input quantizer's int8 codes (for checking)");
  e->add_flag("--ort-int8", ex.ort_int8,
              "onnx: integer convs ONNX Runtime fuses into int8 QLinearConv; approximate "
              "(README \"ONNX export\")");
  e->callback([] { run_export(ex); });

  static VerifyArgs v;
  auto* vc = app.add_subcommand(
      "verify-int", "compare the simulation (eval) and the integer engine on the validation split");
  vc->add_option("model", v.model, "integer model .h5 (from qat export)")->required();
  vc->add_option("--config", v.config.path, "experiment YAML (default: the stored config)");
  vc->add_option("--set", v.config.overrides, "override a config key: key=value (repeat)");
  vc->callback([] { run_verify(v); });
}

}  // namespace qat
