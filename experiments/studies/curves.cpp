#include "experiments/studies/curves.h"

#include <filesystem>
#include <fstream>

#include "experiments/studies/gnuplot.h"
#include "experiments/training/provenance.h"

namespace qat {

std::string write_curves(const std::string& run_dir) {
  namespace fs = std::filesystem;
  {
    // log.csv columns by name; epochs count from 1 on the axis.
    std::ofstream gp(run_dir + "/curves.gp");
    gp << "# Made by `qat train` (" << qat_version_line() << "); redraw: gnuplot curves.gp\n"
       << "set terminal pngcairo size 900,700 noenhanced\nset output 'curves.tmp.png'\n"
       << "set datafile separator ','\nset grid\nset key top right\n"
       << "set multiplot layout 2,1 title " << gnuplot_quoted(fs::path(run_dir).filename().string())
       << "\n"
       << "set ylabel 'loss'\nset xlabel 'epoch'\n"
       << "plot 'log.csv' using ($1+1):'train_loss' with linespoints lw 2 title 'train loss', \\\n"
       << "     '' using ($1+1):'val_loss' with linespoints lw 2 title 'val loss'\n"
       << "set ylabel 'val Dice %'\nset yrange [0:100]\nset key bottom right\n"
       << "plot 'log.csv' using ($1+1):(100*column('dice')) with linespoints lw 2 title 'val Dice'\n"
       << "unset multiplot\n";
  }
  if (!gnuplot_available())
    return "gnuplot not found (install gnuplot-nox): no curves.png, the script is " + run_dir +
           "/curves.gp";
  if (!run_gnuplot(run_dir, "curves.gp", "curves.err") || !fs::exists(run_dir + "/curves.tmp.png"))
    return "gnuplot failed on " + run_dir + "/curves.gp (see curves.err): no curves.png";
  fs::remove(run_dir + "/curves.err");
  fs::rename(run_dir + "/curves.tmp.png", run_dir + "/curves.png");
  return "loss and Dice per epoch: " + run_dir + "/curves.png";
}

}  // namespace qat
