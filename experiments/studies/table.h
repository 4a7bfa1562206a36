// `qat table`: the paper's table from a sweep's finished runs. Per row (and
// column) of the sweep: mean ± sample std over seeds of the validation
// metrics of each run's LAST epoch (the last row of its log.csv, not the
// best epoch: the best would pick the luckiest of many evaluations), the
// paper's Dice beside ours and the difference, the model size counted the
// paper's way and honestly, and the rows' ranks beside the paper's ranks
// with Spearman's rho per column. Cells that did not finish are listed and
// left out.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "experiments/studies/sweep.h"

namespace qat {

// The paper's table (SPEC.md), as data: Dice % for a paper row label
// ("full precision", "Q8.8/Q8.8", "Q8.0/Q0.8", "Q6.0/Q0.4", "Q4.0/Q0.2",
// "BNN", "TernaryNet") and a column ("EM ReLU", "EM Tanh", "GM ReLU",
// "GM Tanh", "NIH"). NaN where the paper prints "-" or the label is unknown.
double paper_dice(const std::string& row, const std::string& column);
// The size column as the paper prints it (MB); NaN for an unknown row.
double paper_size_mb(const std::string& row);

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct MeanStd {
  double mean = kNaN, std = kNaN;  // std: sample (n-1); NaN for one seed
  int n = 0;
};
MeanStd mean_std(const std::vector<double>& values);

// Spearman's rank correlation, ties given their average rank; NaN when
// fewer than two pairs or one side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);
// 1 = largest; ties share their average rank.
std::vector<double> ranks_descending(const std::vector<double>& v);

struct TableRow {
  std::string row, column, row_paper, column_paper;
  std::vector<uint64_t> seeds;          // of the finished runs
  std::map<std::string, MeanStd> metrics;  // in the units of the table (% for scores)
  std::vector<double> dice_curve;       // mean val Dice % per epoch over the finished seeds
  double paper = kNaN;                  // the paper's Dice %
  double paper_size = kNaN;             // the paper's size column, MB
  double size_paper_way = kNaN, size_honest = kNaN;  // at width 64, MB (report.h)
  int bits = 0;  // the weight bits the paper's size column charges (0: no finished run)
  double rank = kNaN, paper_rank = kNaN;  // within the column
  std::string first_run;                // folder of the first finished seed
  MeanStd epoch;                        // the reported epoch (1-based) over the seeds
};

// Which epoch of each run the table reports: the last (ours), or the one of
// the best validation Dice (what the paper's GM training loop keeps as its
// model; SPEC.md, Training). Best is chosen on the validation split it is
// then reported on, so it flatters every row alike; it is a question of
// which number the paper printed, not a fair estimate.
enum class EpochSelect { Last, Best };
// The index of the reported epoch in one run's log.csv rows (not empty).
size_t reported_epoch(const std::vector<std::map<std::string, double>>& log, EpochSelect select);

struct UnfinishedCell {
  std::string id, state, detail;  // detail: the first line of failed.txt, or epochs done
};

struct Table {
  std::string name, source, paper_column;
  int64_t epochs = 0;  // of the finished runs (the largest)
  EpochSelect select = EpochSelect::Last;
  std::vector<std::string> metrics;  // log.csv columns, dice first
  std::vector<TableRow> rows;
  std::vector<UnfinishedCell> unfinished;
  std::map<std::string, double> spearman;  // per column
  std::string made_by;                      // qat_version_line() of `qat table`
  std::vector<std::string> run_versions;    // the versions that trained its runs
  std::vector<std::string> stale;           // cells included under allow_stale
};

// From a sweep file or a sweep's output folder (it finds the cell.yaml files).
// Stale cells (sweep.h cell_state) are refused, naming them, unless
// allow_stale, which includes them and lists them under the table.
Table make_table(const std::string& sweep_or_folder, std::vector<std::string> metrics = {"dice"},
                 bool allow_stale = false, EpochSelect select = EpochSelect::Last);
std::string table_markdown(const Table& t);
std::string table_csv(const Table& t);

}  // namespace qat
