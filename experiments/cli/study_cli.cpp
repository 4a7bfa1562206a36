// `qat sweep`, `qat table` and `qat report`: grids of experiments, their
// tables and plots, and one model's formats and sizes.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "experiments/cli/commands.h"
#include "experiments/cli/sweep_ranks.h"
#include "experiments/studies/plots.h"
#include "experiments/studies/report.h"
#include "experiments/studies/sweep.h"
#include "experiments/studies/table.h"
#include "experiments/training/train.h"

namespace qat {

namespace {

struct SweepArgs {
  std::string path;
  bool plan = false, restart_stale = false;
  int jobs = 1;
};

void run_sweep_command(const SweepArgs& a) {
  const Sweep s = load_sweep(a.path);
  if (a.plan) {
    const auto cells = plan_sweep(s);
    // a grid that cannot run is refused here too
    std::printf("%s", format_plan(s, cells, load_cell_configs(s, cells)).c_str());
    return;
  }
  SweepOptions o;
  o.jobs = a.jobs;
  o.restart_stale = a.restart_stale;
  const int64_t failed = run_sweep_on_ranks(s, o);  // all of it without mpirun
  if (failed)
    throw ExitError(kExitCellsFailed, a.path + ": " + std::to_string(failed) +
                                          " cells failed (see their failed.txt)");
}

struct TableArgs {
  std::string path, out, metrics = "dice", epoch = "last";
  bool overlays = false, no_plots = false, allow_stale = false;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> list;
  std::stringstream ss(text);
  for (std::string m; std::getline(ss, m, ',');)
    if (!m.empty()) list.push_back(m);
  return list;
}

// The plots and overlays go beside table.md, which lists them.
std::string write_figures(const Table& t, const TableArgs& a) {
  std::string md;
  if (!a.no_plots) {
    std::string note;
    const auto pngs = write_plots(t, a.out, note);
    md += "\nPlots: ";
    for (const auto& p : pngs) md += std::filesystem::path(p).filename().string() + " ";
    md += note + "\n";
  }
  if (a.overlays) {
    md += "\nOverlays (rows of each column top to bottom in table order; green: true "
          "positive, red: false positive, blue: false negative): ";
    for (const auto& p : write_overlays(t, a.out))
      md += std::filesystem::path(p).filename().string() + " ";
    md += "\n";
  }
  return md;
}

void run_table(const TableArgs& a) {
  const Table t = make_table(a.path, split_commas(a.metrics), a.allow_stale,
                             a.epoch == "best" ? EpochSelect::Best : EpochSelect::Last);
  std::string md = table_markdown(t);
  if (!a.out.empty()) {
    std::filesystem::create_directories(a.out);
    write_file_atomic(a.out + "/table.csv", table_csv(t));
    md += write_figures(t, a);
    write_file_atomic(a.out + "/table.md", md);
  }
  std::printf("%s", md.c_str());
}

void run_report(const ConfigArgs& a) {
  std::printf("%s", format_report(report_for(a.path, a.overrides)).c_str());
}

}  // namespace

void add_study_commands(CLI::App& app) {
  static SweepArgs sw;
  auto* sweep = app.add_subcommand("sweep", "run a grid of experiments (rows x columns x seeds)");
  sweep->add_option("sweep", sw.path, "sweep YAML (experiments/studies/sweep.h)")->required();
  sweep->add_flag("--plan", sw.plan, "print the cells and their commands, run nothing");
  sweep->add_option("--jobs", sw.jobs, "cells at once (threads per cell = cores / jobs)");
  sweep->add_flag("--restart-stale", sw.restart_stale,
                  "run stale cells (trained with other settings) again, their old folders moved "
                  "aside; without it a sweep with stale cells is refused");
  sweep->callback([] { run_sweep_command(sw); });

  static TableArgs ta;
  auto* table = app.add_subcommand("table", "tables and plots of a sweep's finished runs");
  table->add_option("sweep_or_folder", ta.path, "sweep YAML or its output folder")->required();
  table->add_option("--metrics", ta.metrics,
                    "log.csv columns, comma-separated: dice,iou,precision,recall,specificity,"
                    "accuracy,rand_index,hausdorff,dice_per_image,val_loss");
  table->add_option("--out", ta.out, "folder for table.md, table.csv, plots (default: print only)");
  table->add_flag("--overlays", ta.overlays, "tile prediction overlays per column (runs qat predict)");
  table->add_flag("--no-plots", ta.no_plots, "no gnuplot plots");
  table->add_option("--epoch", ta.epoch,
                    "which epoch of each run: last (default) or best (the best validation Dice, "
                    "the model the paper's GM training loop keeps)")
      ->check(CLI::IsMember({"last", "best"}));
  table->add_flag("--allow-stale", ta.allow_stale,
                  "include stale cells (trained with other settings than the sweep's now), marked");
  table->callback([] { run_table(ta); });

  static ConfigArgs rep;
  auto* report = app.add_subcommand(
      "report", "per-layer formats, model size (the paper's way and honestly), energy");
  report->add_option("config_or_checkpoint", rep.path, "experiment YAML or checkpoint .h5")
      ->required();
  report->add_option("--set", rep.overrides, "override a config key: key=value (repeat)");
  report->callback([] { run_report(rep); });
}

}  // namespace qat
