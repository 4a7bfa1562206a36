// Plots of a table (table.h) as PNG. Line plots go through Debian's gnuplot
// (gnuplot-nox, scripts/setup.sh): the data files and the script are
// written beside the PNGs, so a plot can be redrawn or restyled by hand.
// Prediction overlays are tiled with data/png.h, without gnuplot.
#pragma once
#include <string>
#include <vector>

#include "experiments/studies/gnuplot.h"
#include "experiments/studies/table.h"

namespace qat {

// dice_vs_bits.png (ours with the seed spread, the paper's dashed) and
// curves_<column>.png (mean val Dice per epoch, one line per row) into
// out_dir; returns the PNGs written. Without gnuplot it writes the data and
// the script, no PNG, and says so in `note`.
std::vector<std::string> write_plots(const Table& t, const std::string& out_dir,
                                     std::string& note);

// overlays_<column>.png: per row of the column (top to bottom, in table
// order) the overlays of its first finished seed side by side (left to
// right: the validation images `qat predict` picks). Runs `predict` for a
// run that has no predictions/ folder yet (it needs the run's dataset).
std::vector<std::string> write_overlays(const Table& t, const std::string& out_dir);

// Tiles RGB images into a grid: grid[r][c] is a path or ""; cells are
// placed at the largest width/height of any image, `gap` white pixels apart.
void tile_pngs(const std::vector<std::vector<std::string>>& grid, const std::string& out,
               int gap = 4);

}  // namespace qat
