// `qat train`, `qat eval`, `qat baseline`: one experiment trained and measured
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "experiments/cli/commands.h"
#include "experiments/distributed/comm.h"
#include "experiments/export/verify_int.h"
#include "experiments/runtime/int_model.h"
#include "experiments/studies/curves.h"
#include "experiments/studies/histogram.h"
#include "experiments/training/baseline.h"
#include "experiments/training/provenance.h"
#include "experiments/training/train.h"

namespace qat {
namespace {

void print_metrics(const char* what, const EvalResult& r, float threshold) {
  const Metrics& m = r.global;
  std::printf("%s on %lld validation images (threshold %.3g):\n", what, (long long)r.images,
              threshold);
  std::printf("  Dice %.2f%%  IoU %.2f%%  precision %.2f%%  recall %.2f%%  specificity %.2f%%\n",
              100 * m.dice, 100 * m.iou, 100 * m.precision, 100 * m.recall, 100 * m.specificity);
  std::printf("  accuracy %.2f%%  Rand index %.4f  Hausdorff %.2f px  mean per-image Dice %.2f%%\n",
              100 * m.accuracy, m.rand_index, r.hausdorff, 100 * r.per_image.dice);
}

// operation_mode picks what `qat train` does, as the paper's main.py.
void run_train(const ConfigArgs& a, bool restart) {
  const Config c = load_config(a.path, a.overrides);
  if (c.operation_mode == "inference") {
    print_metrics("trained model", evaluate_trained(c), c.threshold);
    return;
  }
  if (c.operation_mode == "visualize") {
    std::printf("weight histograms (grey: float, red: quantized) in %s\n",
                write_weight_histograms(c).c_str());
    return;
  }
  // Under mpirun every rank runs this; rank 0 alone moves, reports and
  // writes (a job of one without mpirun).
  distributed::Comm& job = distributed::Comm::world();
  if (restart && job.rank() == 0 && std::filesystem::exists(c.run_dir()))
    std::printf("moved the old run aside to %s\n", move_run_aside(c.run_dir()).c_str());
  job.barrier();  // the others open the run folder only once it has moved
  const TrainResult r = train(c);
  if (job.rank() != 0) return;
  print_metrics("final model", r.last, c.threshold);
  std::printf("best val Dice %.2f%% at epoch %lld; run folder %s\n", 100 * r.best_dice,
              (long long)r.best_epoch + 1, r.run_dir.c_str());
  std::printf("%s\n", write_curves(r.run_dir).c_str());
}

void run_eval(const ConfigArgs& a) {
  const Config c = load_config(a.path, a.overrides);
  print_metrics("trained model", evaluate_trained(c), c.threshold);
}

void run_baseline(const ConfigArgs& a) {
  const Config c = load_config(a.path, a.overrides);
  const ThresholdBaseline b = threshold_baseline(c);
  std::printf("intensity threshold %s %.4f (normalised units), chosen on train (Dice %.2f%%)\n",
              b.brighter ? ">" : "<", b.threshold, 100 * b.train_dice);
  std::printf("val Dice %.2f%%  IoU %.2f%%  precision %.2f%%  recall %.2f%%\n", 100 * b.val.dice,
              100 * b.val.iou, 100 * b.val.precision, 100 * b.val.recall);
}

}  // namespace

void add_config_args(CLI::App* sub, ConfigArgs& args) {
  sub->add_option("config", args.path, "experiment YAML")->required();
  sub->add_option("--set", args.overrides, "override a config key: key=value (repeat)");
}

void add_training_commands(CLI::App& app) {
  static ConfigArgs train, eval, baseline;
  static bool restart = false;
  auto* t = app.add_subcommand("train", "train (or resume) an experiment");
  add_config_args(t, train);
  t->add_flag("--restart", restart,
              "start afresh: move an existing run folder aside to <dir>.old-<time> (a run "
              "resumes only with the config and data it was trained with)");
  t->callback([] { run_train(train, restart); });

  auto* e = app.add_subcommand("eval", "evaluate the trained model on the validation split");
  add_config_args(e, eval);
  e->callback([] { run_eval(eval); });

  auto* b = app.add_subcommand("baseline",
                               "Dice of the best single intensity threshold (the floor to beat)");
  add_config_args(b, baseline);
  b->callback([] { run_baseline(baseline); });
}

}  // namespace qat
