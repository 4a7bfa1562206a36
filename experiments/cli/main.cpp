// qat: the experiment runner.
//   qat train CONFIG [--set key=value ...]    train (or resume) an experiment
//   qat eval CONFIG                           validation metrics of the trained model
//   qat predict CONFIG [--engine int]         probability maps and overlay PNGs
//   qat export CHECKPOINT [--out FILE]        the integer model (int_model.h)
//   qat verify-int MODEL [--config CONFIG]    simulation vs integer engine, code by code
//   qat report CONFIG|CHECKPOINT              formats, sizes, energy
//   qat baseline CONFIG                       Dice of the best intensity threshold
//   qat data colin27|synthetic-em|nifti|tiff|png OUT ...   pack a dataset
#include <CLI/CLI.hpp>
#include <cstdio>

#include "data/packers.h"
#include "data/synthetic_em.h"
#include "experiments/training/baseline.h"
#include "experiments/training/checkpoint.h"
#include "experiments/studies/histogram.h"
#include "experiments/runtime/int_model.h"
#include "experiments/export/verify_int.h"
#include "experiments/studies/report.h"
#include "experiments/cli/sweep_cli.h"
#include "experiments/distributed/comm.h"
#include "experiments/training/train.h"
#include "quant/int_kernels/int_bound.h"

using namespace qat;

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

void print_pack(const std::string& out, const data::PackReport& report) {
  std::printf("wrote %s\n", out.c_str());
  for (const auto& s : report)
    std::printf("  %-5s %lld images %lldx%lld, foreground %.1f%%\n", s.name.c_str(),
                (long long)s.n, (long long)s.h, (long long)s.w, 100.0 * s.foreground);
}

void add_data_commands(CLI::App& app) {
  auto* data = app.add_subcommand("data", "pack a dataset into qat's HDF5 format (data/FORMAT.md)");
  data->require_subcommand(1);

  static std::string out;
  auto* colin = data->add_subcommand("colin27", "the Colin27 T1 + AAL atlas brain (Debian mricron-data)");
  colin->add_option("out", out, "output .h5")->required();
  static data::Colin27Options colin_opt;
  colin->add_option("--val-fraction", colin_opt.val_fraction, "upper fraction of slices for val");
  static int64_t colin_pad = 0;
  colin->add_option("--pad", colin_pad,
                    "zero-pad slices to PAD x PAD (e.g. 224 for the paper's 200x200 crop)");
  colin->callback([] {
    colin_opt.pad_h = colin_opt.pad_w = colin_pad;
    print_pack(out, data::pack_colin27(out, colin_opt));
  });

  static data::SyntheticEmOptions em;
  auto* syn = data->add_subcommand("synthetic-em", "SYNTHETIC EM-like membranes (not real data)");
  syn->add_option("out", out, "output .h5")->required();
  syn->add_option("--train", em.n_train, "training images");
  syn->add_option("--val", em.n_val, "validation images");
  syn->add_option("--size", em.size, "image side in pixels");
  syn->add_option("--seed", em.seed, "seed");
  syn->callback([] { print_pack(out, data::make_synthetic_em(out, em)); });

  static std::vector<std::string> pairs;
  static data::NiftiPairsOptions nifti_opt;
  auto* nifti = data->add_subcommand("nifti", "NIfTI image/label pairs (GM challenge, NIH pancreas)");
  nifti->add_option("out", out, "output .h5")->required();
  nifti->add_option("--pair", pairs, "SPLIT:IMAGE.nii.gz:LABEL.nii.gz (repeat)")->required();
  nifti->add_option("--axis", nifti_opt.axis, "slice axis (2: axial)");
  nifti->callback([] {
    std::vector<data::NiftiPair> list;
    for (const auto& p : pairs) {
      const auto a = p.find(':'), b = p.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos)
        throw Error("--pair '" + p + "': expected SPLIT:IMAGE:LABEL");
      list.push_back({p.substr(a + 1, b - a - 1), p.substr(b + 1), p.substr(0, a)});
    }
    print_pack(out, data::pack_nifti_pairs(out, list, nifti_opt));
  });

  static std::string volume, labels, images_dir, masks_dir;
  static data::TiffStackOptions tiff_opt;
  auto* tiff = data->add_subcommand("tiff", "multi-page TIFF stacks (ISBI 2012 train-volume.tif)");
  tiff->add_option("out", out, "output .h5")->required();
  tiff->add_option("volume", volume, "image stack")->required();
  tiff->add_option("labels", labels, "label stack")->required();
  tiff->add_option("--val-fraction", tiff_opt.val_fraction, "last fraction of pages for val");
  tiff->add_flag("!--no-invert", tiff_opt.invert, "foreground = bright labels (default: dark membranes)");
  tiff->callback([] { print_pack(out, data::pack_tiff_stack(out, volume, labels, tiff_opt)); });

  static double png_val = 0.2;
  auto* png = data->add_subcommand("png", "folders of PNG image/mask pairs matched by name");
  png->add_option("out", out, "output .h5")->required();
  png->add_option("images", images_dir, "image folder")->required();
  png->add_option("masks", masks_dir, "mask folder")->required();
  png->add_option("--val-fraction", png_val, "last fraction of pairs for val");
  png->callback([] { print_pack(out, data::pack_png_folder(out, images_dir, masks_dir, png_val)); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qat: quantization-aware training of U-Nets for medical image segmentation"};
  app.require_subcommand(1);
  std::string config_path;
  std::vector<std::string> overrides;

  auto add_config = [&](CLI::App* sub) {
    sub->add_option("config", config_path, "experiment YAML")->required();
    sub->add_option("--set", overrides, "override a config key: key=value (repeat)");
  };
  auto* train_cmd = app.add_subcommand("train", "train (or resume) an experiment");
  add_config(train_cmd);
  train_cmd->callback([&] {
    const Config c = load_config(config_path, overrides);
    if (c.operation_mode == "inference") {
      print_metrics("trained model", evaluate_trained(c), c.threshold);
      return;
    }
    if (c.operation_mode == "visualize") {
      std::printf("weight histograms (grey: float, red: quantized) in %s\n",
                  write_weight_histograms(c).c_str());
      return;
    }
    const TrainResult r = train(c);
    print_metrics("final model", r.last, c.threshold);
    std::printf("best val Dice %.2f%% at epoch %lld; run folder %s\n", 100 * r.best_dice,
                (long long)r.best_epoch + 1, r.run_dir.c_str());
  });
  auto* eval_cmd = app.add_subcommand("eval", "evaluate the trained model on the validation split");
  add_config(eval_cmd);
  eval_cmd->callback([&] {
    const Config c = load_config(config_path, overrides);
    print_metrics("trained model", evaluate_trained(c), c.threshold);
  });
  auto* predict_cmd = app.add_subcommand("predict", "write probability maps and overlay PNGs");
  add_config(predict_cmd);
  std::string engine = "float", int_model_path;
  predict_cmd->add_option("--engine", engine, "float (the simulation) or int (the integer engine)")
      ->check(CLI::IsMember({"float", "int"}));
  predict_cmd->add_option("--int-model", int_model_path,
                          "integer model for --engine int (default: export the trained model)");
  predict_cmd->callback([&] {
    const Config c = load_config(config_path, overrides);
    if (engine == "int") {
      IntModel im;
      if (!int_model_path.empty()) {
        im = read_int_model(int_model_path);
      } else {
        Model m = load_model(c, trained_checkpoint(c));
        im = export_int_model(m);
      }
      std::printf("integer engine: probability maps and masks in %s\n", predict_int(c, im).c_str());
      return;
    }
    std::printf("overlays (green: true positive, red: false positive, blue: false negative) in %s\n",
                predict(c).c_str());
  });
  auto* base_cmd = app.add_subcommand(
      "baseline", "Dice of the best single intensity threshold (the floor to beat)");
  add_config(base_cmd);
  base_cmd->callback([&] {
    const Config c = load_config(config_path, overrides);
    const ThresholdBaseline b = threshold_baseline(c);
    std::printf("intensity threshold %s %.4f (normalised units), chosen on train (Dice %.2f%%)\n",
                b.brighter ? ">" : "<", b.threshold, 100 * b.train_dice);
    std::printf("val Dice %.2f%%  IoU %.2f%%  precision %.2f%%  recall %.2f%%\n", 100 * b.val.dice,
                100 * b.val.iou, 100 * b.val.precision, 100 * b.val.recall);
  });
  auto* report_cmd = app.add_subcommand(
      "report", "per-layer formats, model size (the paper's way and honestly), energy");
  report_cmd->add_option("config_or_checkpoint", config_path, "experiment YAML or checkpoint .h5")
      ->required();
  report_cmd->add_option("--set", overrides, "override a config key: key=value (repeat)");
  report_cmd->callback(
      [&] { std::printf("%s", format_report(report_for(config_path, overrides)).c_str()); });
  std::string checkpoint_path, out_path;
  auto* export_cmd = app.add_subcommand("export", "write the integer model of a trained checkpoint");
  export_cmd->add_option("checkpoint", checkpoint_path, "checkpoint .h5 (best.h5)")->required();
  export_cmd->add_option("--out", out_path, "integer model .h5 (default: CHECKPOINT.int.h5)");
  export_cmd->callback([&] {
    const TrainState s = read_checkpoint_state(checkpoint_path);
    IntModel stub;
    stub.config_yaml = s.config_yaml;
    const Config c = config_of(stub, checkpoint_path);
    Model m = load_model(c, checkpoint_path);
    IntModel im = export_int_model(m);
    im.config_yaml = s.config_yaml;
    im.source_checkpoint = checkpoint_path;
    if (out_path.empty()) out_path = checkpoint_path.substr(0, checkpoint_path.rfind(".h5")) + ".int.h5";
    write_int_model(out_path, im);
    std::string wide;  // layers whose accumulator bound exceeds int32 run in int64
    for (const IntLayer& l : im.layers)
      if (l.acc_bound > quant::kInt32Max) wide += (wide.empty() ? "" : ", ") + l.name;
    std::printf("wrote %s (%zu integer layers; %s)\n", out_path.c_str(), im.layers.size(),
                wide.empty() ? "every accumulator fits int32"
                             : ("widened to int64 accumulators: " + wide).c_str());
  });
  auto* verify_cmd = app.add_subcommand(
      "verify-int", "compare the simulation (eval) and the integer engine on the validation split");
  verify_cmd->add_option("model", out_path, "integer model .h5 (from qat export)")->required();
  verify_cmd->add_option("--config", config_path, "experiment YAML (default: the stored config)");
  verify_cmd->add_option("--set", overrides, "override a config key: key=value (repeat)");
  verify_cmd->callback([&] {
    const IntModel im = read_int_model(out_path);
    const Config c = config_path.empty() ? config_of(im, out_path)
                                         : load_config(config_path, overrides);
    const std::string ckpt = !im.source_checkpoint.empty() && config_path.empty()
                                 ? im.source_checkpoint
                                 : trained_checkpoint(c);
    const VerifyResult r = verify_int(im, c, ckpt);
    std::printf("%s", format_verify(r).c_str());
    int64_t total = 0;
    for (const LayerDiff& d : r.layers) total += d.differing;
    if (total) throw Error("verify-int: " + std::to_string(total) + " codes differ");
  });
  add_data_commands(app);
  add_sweep_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qat: error: %s\n", e.what());
    distributed::abort_job(1);  // under mpirun: the other ranks would wait for this one
    return 1;
  }
  return 0;
}
