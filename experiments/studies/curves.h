// The end of every `qat train`: curves.png in the run folder, train and
// val loss and val Dice per epoch from log.csv, drawn by gnuplot (the
// script stays beside it as curves.gp).
#pragma once
#include <string>

namespace qat {

// Returns one line for the user: where the picture is, or why there is none
// (gnuplot missing or failing: training itself is not affected).
std::string write_curves(const std::string& run_dir);

}  // namespace qat
