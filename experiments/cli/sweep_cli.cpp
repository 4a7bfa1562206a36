#include "experiments/cli/sweep_cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "experiments/distributed/comm.h"
#include "experiments/studies/plots.h"
#include "experiments/studies/sweep.h"
#include "experiments/studies/table.h"
#include "experiments/training/train.h"

namespace qat {

namespace {
// Under mpirun every rank runs its share of the cells (a static round-robin
// by plan index), each still a `qat train` of its own, on this machine's
// cores divided among the ranks on it.
void share_among_ranks(distributed::Comm& world, SweepOptions& o) {
  o.rank = world.rank();
  o.ranks = world.size();
  // Slurm gives each task its CPUs; else this machine's, shared by its ranks.
  const char* slurm = std::getenv("SLURM_CPUS_PER_TASK");
  o.cores = slurm ? std::max(1, std::atoi(slurm))
                  : std::max(1, int(std::thread::hardware_concurrency()) / world.local_size());
  distributed::forget_launcher_environment();  // the cells are not ranks
  std::printf("rank %d of %d: the cells whose index %% %d is %d, %d cores\n", o.rank, o.ranks,
              o.ranks, o.rank, o.cores);
}
}  // namespace

void add_sweep_commands(CLI::App& app) {
  static std::string path, out, metrics = "dice";
  static bool plan = false, overlays = false, no_plots = false;
  static int jobs = 1;

  auto* sweep = app.add_subcommand("sweep", "run a grid of experiments (rows x columns x seeds)");
  sweep->add_option("sweep", path, "sweep YAML (experiments/studies/sweep.h)")->required();
  sweep->add_flag("--plan", plan, "print the cells and their commands, run nothing");
  sweep->add_option("--jobs", jobs, "cells at once (threads per cell = cores / jobs)");
  sweep->callback([] {
    const Sweep s = load_sweep(path);
    if (plan) {
      const auto cells = plan_sweep(s);
      // a grid that cannot run is refused here too
      std::printf("%s", format_plan(s, cells, load_cell_configs(s, cells)).c_str());
      return;
    }
    SweepOptions o;
    o.jobs = jobs;
    distributed::Comm& world = distributed::Comm::world();  // one rank unless mpirun
    if (world.parallel()) share_among_ranks(world, o);
    const SweepSummary r = run_sweep(s, o);
    double failed = double(r.failed.size());
    world.sum(&failed, 1);  // also waits for the last rank to finish its cells
    if (failed > 0) throw Error(path + ": " + std::to_string(int64_t(failed)) + " cells failed");
  });

  auto* table = app.add_subcommand("table", "tables and plots of a sweep's finished runs");
  table->add_option("sweep_or_folder", path, "sweep YAML or its output folder")->required();
  table->add_option("--metrics", metrics,
                    "log.csv columns, comma-separated: dice,iou,precision,recall,specificity,"
                    "accuracy,rand_index,hausdorff,dice_per_image,val_loss");
  table->add_option("--out", out, "folder for table.md, table.csv, plots (default: print only)");
  table->add_flag("--overlays", overlays, "tile prediction overlays per column (runs qat predict)");
  table->add_flag("--no-plots", no_plots, "no gnuplot plots");
  table->callback([] {
    std::vector<std::string> list;
    std::stringstream ss(metrics);
    for (std::string m; std::getline(ss, m, ',');)
      if (!m.empty()) list.push_back(m);
    const Table t = make_table(path, list);
    std::string md = table_markdown(t);
    if (!out.empty()) {
      std::filesystem::create_directories(out);
      write_file_atomic(out + "/table.csv", table_csv(t));
      if (!no_plots) {
        std::string note;
        const auto pngs = write_plots(t, out, note);
        md += "\nPlots: ";
        for (const auto& p : pngs) md += std::filesystem::path(p).filename().string() + " ";
        md += note + "\n";
      }
      if (overlays) {
        md += "\nOverlays (rows of each column top to bottom in table order; green: true "
              "positive, red: false positive, blue: false negative): ";
        for (const auto& p : write_overlays(t, out))
          md += std::filesystem::path(p).filename().string() + " ";
        md += "\n";
      }
      write_file_atomic(out + "/table.md", md);
    }
    std::printf("%s", md.c_str());
  });
}

}  // namespace qat
