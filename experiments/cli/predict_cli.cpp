// `qat predict`: a trained model applied. Two forms, told apart by the first
// argument: a YAML config writes overlays of its validation images (the
// run's predictions/ folder), anything else is a model that segments a new
// scan (experiments/predict/segment.h).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "experiments/cli/commands.h"
#include "experiments/export/verify_int.h"
#include "experiments/predict/segment.h"
#include "experiments/runtime/int_model.h"
#include "experiments/training/train.h"

namespace qat {
namespace {

struct PredictArgs {
  std::string first, input, out;
  std::vector<std::string> overrides;
  std::string engine = "float", int_model;
  int axis = -1;
  bool probabilities = false;
};

bool is_yaml(const std::string& path) {
  for (const char* ext : {".yaml", ".yml"}) {
    const std::string e = ext;
    if (path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0)
      return true;
  }
  return false;
}

// The validation overlays of a config's run (float or integer engine).
void run_predict_config(const PredictArgs& a) {
  if (!a.input.empty())
    throw ExitError(kExitUsage, "predict " + a.first + ": a config takes no INPUT (segment a scan "
                                "with `qat predict MODEL INPUT --out OUTPUT`)");
  const Config c = load_config(a.first, a.overrides);
  if (a.engine == "float") {
    std::printf("overlays (green: true positive, red: false positive, blue: false negative) in %s\n",
                predict(c).c_str());
    return;
  }
  IntModel im;
  if (!a.int_model.empty()) {
    im = read_int_model(a.int_model);
  } else {
    Model m = load_model(c, trained_checkpoint(c));
    im = export_int_model(m);
  }
  std::printf("integer engine: probability maps and masks in %s\n", predict_int(c, im).c_str());
}

void run_predict(const PredictArgs& a) {
  if (is_yaml(a.first)) return run_predict_config(a);
  if (a.input.empty() || a.out.empty())
    throw ExitError(kExitUsage, "predict " + a.first +
                                    ": expected `qat predict MODEL INPUT --out OUTPUT` (or a "
                                    "config .yaml for validation overlays)");
  if (!a.overrides.empty())
    throw ExitError(kExitUsage, "predict: --set applies to a config, not to a trained model");
  SegmentOptions o;
  o.engine = a.engine;
  o.axis = a.axis;
  o.probabilities = a.probabilities;
  std::printf("%s\n", segment_file(a.first, a.input, a.out, o).c_str());
}

}  // namespace

void add_predict_command(CLI::App& app) {
  static PredictArgs a;
  auto* p = app.add_subcommand(
      "predict", "segment a new scan with a trained model, or (CONFIG) overlays of validation images");
  p->add_option("model_or_config", a.first,
                "run folder, checkpoint .h5, integer model .h5 (--engine int), or experiment YAML")
      ->required();
  p->add_option("input", a.input, "scan to segment: .nii, .nii.gz, .png, .tif, .tiff");
  p->add_option("--out", a.out, "output: .nii/.nii.gz for a NIfTI input, .png/.tif otherwise");
  p->add_option("--axis", a.axis,
                "NIfTI slice axis 0, 1 or 2 (-1: the axis the model's data was packed along)")
      ->check(CLI::Range(-1, 2));
  p->add_flag("--probabilities", a.probabilities,
              "write float probabilities (NIfTI) or probability x 255 (PNG/TIFF) instead of labels");
  p->add_option("--engine", a.engine, "float (the simulation) or int (the integer engine)")
      ->check(CLI::IsMember({"float", "int"}));
  p->add_option("--int-model", a.int_model,
                "CONFIG form with --engine int: integer model (default: export the trained model)");
  p->add_option("--set", a.overrides, "CONFIG form: override a config key: key=value (repeat)");
  p->callback([] { run_predict(a); });
}

}  // namespace qat
