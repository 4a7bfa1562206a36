// `qat sweep`: a declarative grid of experiments. A sweep file names a base
// config, rows and (optionally) columns of overrides, and seeds; every
// (row, column, seed) is a cell, trained by its own `qat train` subprocess
// into its own folder:
//
//   name: main_colin27_quick
//   base: colin27_quick.yaml          # relative to the sweep file
//   output: runs/sweeps/main_colin27_quick
//   seeds: [0, 1, 2]
//   set: {num_epochs: 6}              # every cell (optional)
//   paper_column: GM                  # the paper's column, completed by
//                                     # each column's `paper` (table.h)
//   rows:
//     - name: q6_0-q0_4
//       config: rows/q6_0-q0_4.yaml   # instead of base (optional)
//       set: {dropout: enable}        # (optional)
//       paper: Q6.0/Q0.4              # the paper's row (optional)
//       columns: [relu]               # only these columns (optional)
//   columns:                          # optional
//     - {name: relu, set: {activation: relu}, paper: ReLU}   # -> "GM ReLU"
//
// A cell's folder is <output>/<row>[/<column>]/seed<N>; it holds the run
// (train.h), cell.yaml (what the sweep asked), stdout.txt, stderr.txt and,
// if the run failed, failed.txt (exit status and the end of stderr).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/training/config.h"

namespace qat {

struct SweepChoice {
  std::string name;
  std::string config;  // a config file replacing the sweep's base ("" = base)
  std::vector<std::string> overrides;  // key=value, as `--set`
  std::string paper;                   // the paper's row or column label ("" = none)
  std::vector<std::string> only_columns;  // rows: the columns they run in ("" = all)
};

struct Sweep {
  std::string source;  // the sweep file
  std::string name, base, output, paper_column;
  std::vector<uint64_t> seeds{0};
  std::vector<std::string> overrides;  // `set:` of the sweep
  std::vector<SweepChoice> rows, columns;
};

struct SweepCell {
  std::string id;  // row[/column]/seed<N>: also the folder below output
  std::string row, column, row_paper, column_paper;
  uint64_t seed = 0;
  int row_index = 0, column_index = 0;  // positions in the sweep file, for tables
  std::string config;                  // the config file `qat train` gets
  std::vector<std::string> overrides;  // every --set, in order
  std::string dir() const;             // <log_output_dir>/<experiment_name>
  std::string log_output_dir, experiment_name;
};

// Reads a sweep file; paths inside it are relative to it. Throws qat::Error
// naming the file and key.
Sweep load_sweep(const std::string& path);
// Every cell in order: rows, then columns, then seeds. `threads` > 0 is
// added as each cell's `threads` override.
std::vector<SweepCell> plan_sweep(const Sweep& s, int threads = 0);
// Loads every cell's config (one per cell, in order); the first that does
// not load throws, naming the sweep file and the cell.
std::vector<Config> load_cell_configs(const Sweep& s, const std::vector<SweepCell>& cells);

enum class CellState { NotStarted, Stopped, Finished, Failed, Stale };
// From the cell's folder: Finished when its checkpoint's epoch reached
// num_epochs, Failed when failed.txt is there (and it did not finish since).
CellState cell_state(const SweepCell& cell, int64_t num_epochs);
// The same, and Stale when the cell's checkpoint was trained with another
// config or other data than `config` (provenance.h run_changes): an edited
// row keeps its old folder, and that folder is not this cell's result.
CellState cell_state(const SweepCell& cell, const Config& config);
const char* to_string(CellState s);

struct SweepOptions {
  int jobs = 1;
  int cores = 0;       // 0: the machine's
  std::string binary;  // the qat executable ("": /proc/self/exe)
  bool quiet = false;  // no progress lines on stdout
  // Under mpirun: this rank runs the cells whose plan index % ranks == rank.
  int rank = 0, ranks = 1;
  // Stale cells (see cell_state): false refuses the sweep before it runs
  // anything, naming them; true moves their folders aside (`qat train
  // --restart`) and runs them again. Never silently: a stale cell holds
  // hours of work a user may still want.
  bool restart_stale = false;
};

struct SweepSummary {  // cell ids, in the plan's order
  std::vector<std::string> finished, failed, skipped;
};

// Validates, then runs every cell that has not finished; a failing cell is
// recorded and the others go on. Throws naming the stale cells unless
// o.restart_stale.
SweepSummary run_sweep(const Sweep& s, const SweepOptions& o);
// One line per cell: its id, its state and the command that runs it.
std::string format_plan(const Sweep& s, const std::vector<SweepCell>& cells,
                        const std::vector<Config>& configs);

}  // namespace qat
