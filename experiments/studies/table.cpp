#include "experiments/studies/table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <tuple>

#include "autograd/check.h"
#include "experiments/studies/report.h"
#include "experiments/training/provenance.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

// ---- the paper's table (SPEC.md), Dice %; NaN where it prints "-"
const std::vector<std::string> kPaperColumns = {"EM ReLU", "EM Tanh", "GM ReLU", "GM Tanh", "NIH"};
struct PaperRow {
  const char* label;
  double size_mb;
  double dice[5];  // in kPaperColumns order
};
const PaperRow kPaperTable[] = {
    {"full precision", 18.48, {94.05, 93.02, 56.32, 56.26, 75.69}},
    {"Q8.8/Q8.8", 9.23, {92.02, 91.08, 56.11, 56.01, 74.61}},
    {"Q8.0/Q0.8", 4.61, {92.21, 88.42, 56.10, 53.78, 73.05}},
    {"Q6.0/Q0.4", 2.31, {91.03, 90.93, 55.85, 52.34, 73.48}},
    {"Q4.0/Q0.2", 1.15, {79.80, 54.23, 51.80, 48.23, 71.77}},
    {"BNN", 0.56, {78.53, kNaN, 31.44, kNaN, 72.56}},
    {"TernaryNet", 1.15, {kNaN, 82.66, kNaN, 43.02, 73.9}},
};

const PaperRow* paper_row(const std::string& label) {
  for (const auto& r : kPaperTable)
    if (label == r.label) return &r;
  return nullptr;
}

// Scores in [0, 1] that the table shows in percent.
bool percent_metric(const std::string& m) {
  static const std::set<std::string> p = {"dice",        "iou",      "precision", "recall",
                                          "specificity", "accuracy", "rand_index",
                                          "dice_per_image"};
  return p.count(m) > 0;
}

std::string fmt(double v, const char* f = "%.2f") {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string plus_minus(const MeanStd& m) {
  if (m.n == 0) return "-";
  return fmt(m.mean) + (m.n > 1 ? " ± " + fmt(m.std) : "");
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
  return cells;
}

// A run's log.csv: one map from column name to value per epoch.
std::vector<std::map<std::string, double>> read_log(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot read the run's log");
  std::string line;
  std::getline(f, line);
  const std::vector<std::string> header = split_csv(line);
  std::vector<std::map<std::string, double>> rows;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const auto cells = split_csv(line);
    if (cells.size() != header.size())
      throw Error(path + ": line " + std::to_string(rows.size() + 2) + " has " +
                  std::to_string(cells.size()) + " fields, expected " +
                  std::to_string(header.size()) + " as in its header");
    std::map<std::string, double> row;
    for (size_t i = 0; i < cells.size(); ++i)
      if (header[i] != "qat_version") row[header[i]] = std::stod(cells[i]);  // text, not a metric
    rows.push_back(row);
  }
  return rows;
}

struct FoundCell {
  SweepCell cell;
  std::string paper_column;
};

// Cells from a sweep file (the plan) or from the cell.yaml files under a
// sweep's output folder.
std::vector<FoundCell> find_cells(const std::string& path, Table& t) {
  std::vector<FoundCell> out;
  if (fs::is_regular_file(path)) {
    const Sweep s = load_sweep(path);
    t.name = s.name;
    t.paper_column = s.paper_column;
    for (const auto& c : plan_sweep(s)) out.push_back({c, s.paper_column});
    return out;
  }
  if (!fs::is_directory(path))
    throw Error(path + ": neither a sweep file nor a sweep's output folder");
  t.name = fs::path(path).filename().string();
  std::vector<fs::path> found;
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.path().filename() == "cell.yaml") found.push_back(e.path());
  std::sort(found.begin(), found.end());
  if (found.empty())
    throw Error(path + ": no cell.yaml below this folder (is it a `qat sweep` output folder?)");
  for (const auto& p : found) {
    const YAML::Node n = YAML::LoadFile(p.string());
    FoundCell f;
    SweepCell& c = f.cell;
    c.row = n["row"].as<std::string>();
    c.column = n["column"].as<std::string>("");
    c.seed = n["seed"].as<uint64_t>();
    c.row_index = n["row_index"].as<int>(0);
    c.column_index = n["column_index"].as<int>(0);
    c.row_paper = n["row_paper"].as<std::string>("");
    c.column_paper = n["column_paper"].as<std::string>("");
    c.config = n["config"].as<std::string>("");
    c.overrides = n["overrides"].as<std::vector<std::string>>(std::vector<std::string>{});
    c.log_output_dir = p.parent_path().parent_path().string();
    c.experiment_name = p.parent_path().filename().string();
    c.id = c.row + (c.column.empty() ? "" : "/" + c.column) + "/" + c.experiment_name;
    f.paper_column = n["paper_column"].as<std::string>("");
    if (t.paper_column.empty()) t.paper_column = f.paper_column;
    if (n["sweep"]) t.name = n["sweep"].as<std::string>();
    out.push_back(f);
  }
  // The sweep file's order, not the folder's alphabetical one.
  std::stable_sort(out.begin(), out.end(), [](const FoundCell& a, const FoundCell& b) {
    return std::tie(a.cell.row_index, a.cell.column_index, a.cell.seed) <
           std::tie(b.cell.row_index, b.cell.column_index, b.cell.seed);
  });
  return out;
}

// The resolved config of a cell: what its run wrote, else what the sweep asks.
Config cell_config(const SweepCell& c) {
  const std::string written = c.dir() + "/config.yaml";
  if (fs::exists(written)) return parse_config(YAML::LoadFile(written), written);
  return load_config(c.config, c.overrides);
}

void add_sizes(TableRow& r, const std::string& config_source, Config c) {
  c.width = 64;  // the paper's network: its size column is about this one
  c.source = config_source;
  Model m = build_model(c);
  const ModelReport rep = make_report(c, m, false);
  r.size_paper_way = rep.paper_mib;
  r.size_honest = rep.honest_mib;
  r.bits = rep.paper_bits;
}

void rank_columns(Table& t) {
  std::vector<std::string> columns;
  for (const auto& r : t.rows)
    if (std::find(columns.begin(), columns.end(), r.column) == columns.end())
      columns.push_back(r.column);
  for (const auto& col : columns) {
    std::vector<TableRow*> ours, both;
    for (auto& r : t.rows)
      if (r.column == col && r.metrics.count("dice") && std::isfinite(r.metrics["dice"].mean))
        ours.push_back(&r);
    std::vector<double> v;
    for (auto* r : ours) v.push_back(r->metrics["dice"].mean);
    const auto rk = ranks_descending(v);
    for (size_t i = 0; i < ours.size(); ++i) ours[i]->rank = rk[i];
    std::vector<TableRow*> with_paper;
    std::vector<double> p;
    for (auto& r : t.rows)
      if (r.column == col && std::isfinite(r.paper)) with_paper.push_back(&r), p.push_back(r.paper);
    const auto pk = ranks_descending(p);
    for (size_t i = 0; i < with_paper.size(); ++i) with_paper[i]->paper_rank = pk[i];
    // rho over the rows that have both numbers, ranked among themselves
    std::vector<double> a, b;
    for (auto* r : ours)
      if (std::isfinite(r->paper)) a.push_back(r->metrics["dice"].mean), b.push_back(r->paper);
    t.spearman[col] = spearman(a, b);
  }
}

}  // namespace

double paper_dice(const std::string& row, const std::string& column) {
  const PaperRow* r = paper_row(row);
  const auto it = std::find(kPaperColumns.begin(), kPaperColumns.end(), column);
  if (!r || it == kPaperColumns.end()) return kNaN;
  return r->dice[it - kPaperColumns.begin()];
}

double paper_size_mb(const std::string& row) {
  const PaperRow* r = paper_row(row);
  return r ? r->size_mb : kNaN;
}

MeanStd mean_std(const std::vector<double>& v) {
  MeanStd m;
  m.n = int(v.size());
  if (v.empty()) return m;
  m.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - m.mean) * (x - m.mean);
    m.std = std::sqrt(ss / double(v.size() - 1));
  }
  return m;
}

std::vector<double> ranks_descending(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double average = 0.5 * double(i + j) + 1.0;  // positions i..j share it
    for (size_t k = i; k <= j; ++k) rank[order[k]] = average;
    i = j + 1;
  }
  return rank;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  QAT_CHECK(a.size() == b.size(), "spearman: ", a.size(), " vs ", b.size(), " values");
  if (a.size() < 2) return kNaN;
  // Pearson's r of the ranks: right with ties, unlike 1 - 6 sum d^2 / ...
  const auto ra = ranks_descending(a), rb = ranks_descending(b);
  const double ma = mean_std(ra).mean, mb = mean_std(rb).mean;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0 || sbb == 0) return kNaN;
  return sab / std::sqrt(saa * sbb);
}

// "0.1.0 (commit 0695d07)" from a run's provenance.yaml, or why not.
std::string run_version(const std::string& dir) {
  std::ifstream f(dir + "/provenance.yaml");
  if (!f) return "unknown (no provenance.yaml)";
  std::stringstream text;
  text << f.rdbuf();
  const Provenance p = parse_provenance(text.str(), dir + "/provenance.yaml");
  return p.version + " (commit " + p.commit + ")";
}

namespace {

// One row x column of the table while it is read: its runs' logs.
struct Group {
  TableRow row;
  std::vector<std::vector<std::map<std::string, double>>> logs;
  Config config;
  std::string config_source;
};

// The group of cell c, made with its paper numbers if it is the first.
Group& group_of(std::vector<Group>& groups, const FoundCell& f) {
  const SweepCell& c = f.cell;
  auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) {
    return x.row.row == c.row && x.row.column == c.column;
  });
  if (g != groups.end()) return *g;
  Group fresh;
  fresh.row.row = c.row, fresh.row.column = c.column;
  fresh.row.row_paper = c.row_paper, fresh.row.column_paper = c.column_paper;
  const std::string paper_column =
      f.paper_column + (c.column_paper.empty() ? "" : " " + c.column_paper);
  fresh.row.paper = paper_dice(c.row_paper, paper_column);
  fresh.row.paper_size = paper_size_mb(c.row_paper);
  groups.push_back(fresh);
  return groups.back();
}

// Why a cell that is neither finished nor stale is not in the table.
std::string unfinished_detail(const SweepCell& c, CellState state) {
  if (state == CellState::Stopped) return "stopped; resume it with `qat sweep`";
  if (state != CellState::Failed) return "";
  std::ifstream failed(c.dir() + "/failed.txt");  // its exit status and its last word
  std::string status, line, last;
  std::getline(failed, status);
  std::getline(failed, line);  // "last lines of stderr.txt:"
  while (std::getline(failed, line))
    if (!line.empty()) last = line;
  return status.substr(status.find(": ") + 2) + (last.empty() ? "" : ": " + last);
}

void check_metrics(const std::map<std::string, double>& last, const std::vector<std::string>& metrics,
                   const SweepCell& c) {
  for (const auto& m : metrics)
    if (!last.count(m)) {
      std::string known;
      for (const auto& [k, v] : last) known += (known.empty() ? "" : ", ") + k;
      throw Error("--metrics: '" + m + "' is not a column of " + c.dir() +
                  "/log.csv (it has: " + known + ")");
    }
}

// Reads cell c into its group, or lists it as unfinished (or refused, if
// stale and not allowed). Returns false when it is not in the table.
bool read_cell(Table& t, std::vector<Group>& groups, const FoundCell& f, bool allow_stale,
               std::string& refused) {
  const SweepCell& c = f.cell;
  Group& g = group_of(groups, f);
  Config config, asked;  // what the run wrote; what the sweep asks of it now
  try {
    config = cell_config(c);
    asked = load_config(c.config, c.overrides);
  } catch (const Error& e) {
    t.unfinished.push_back({c.id, "unreadable", e.what()});
    return false;
  }
  const CellState state = cell_state(c, asked);
  if (state == CellState::Stale && !allow_stale) {
    refused += (refused.empty() ? "" : ", ") + c.id;
    return false;
  }
  if (state == CellState::Stale) t.stale.push_back(c.id);
  if (state != CellState::Finished && state != CellState::Stale) {
    t.unfinished.push_back({c.id, to_string(state), unfinished_detail(c, state)});
    return false;
  }
  const auto log = read_log(c.dir() + "/log.csv");
  if (log.empty()) {
    t.unfinished.push_back({c.id, "no log", c.dir() + "/log.csv has no epochs"});
    return false;
  }
  check_metrics(log.back(), t.metrics, c);
  if (g.logs.empty()) {
    g.config = config;
    g.config_source = c.dir();
    g.row.first_run = c.dir();
  }
  g.logs.push_back(log);
  g.row.seeds.push_back(c.seed);
  const std::string v = run_version(c.dir());
  if (std::find(t.run_versions.begin(), t.run_versions.end(), v) == t.run_versions.end())
    t.run_versions.push_back(v);
  t.epochs = std::max<int64_t>(t.epochs, int64_t(log.size()));
  return true;
}

// Mean and std over seeds of the reported epoch, the mean Dice curve, sizes.
TableRow summarise(Group& g, const std::vector<std::string>& metrics, EpochSelect select) {
  TableRow& r = g.row;
  std::vector<size_t> chosen;
  std::vector<double> epochs_chosen;
  for (const auto& log : g.logs) {
    chosen.push_back(reported_epoch(log, select));
    epochs_chosen.push_back(double(chosen.back() + 1));
  }
  r.epoch = mean_std(epochs_chosen);
  for (const auto& m : metrics) {
    std::vector<double> v;
    for (size_t i = 0; i < g.logs.size(); ++i)
      v.push_back(g.logs[i][chosen[i]].at(m) * (percent_metric(m) ? 100.0 : 1.0));
    r.metrics[m] = mean_std(v);
  }
  size_t epochs = 0;
  for (const auto& log : g.logs) epochs = std::max(epochs, log.size());
  for (size_t e = 0; e < epochs; ++e) {
    std::vector<double> v;
    for (const auto& log : g.logs)
      if (e < log.size()) v.push_back(100.0 * log[e].at("dice"));
    r.dice_curve.push_back(mean_std(v).mean);
  }
  if (!g.logs.empty()) add_sizes(r, g.config_source, g.config);
  return r;
}

}  // namespace

size_t reported_epoch(const std::vector<std::map<std::string, double>>& log, EpochSelect select) {
  if (select == EpochSelect::Last) return log.size() - 1;
  size_t best = 0;  // the first of equal maxima, as a "better than" rule keeps it
  for (size_t e = 1; e < log.size(); ++e)
    if (log[e].at("dice") > log[best].at("dice")) best = e;
  return best;
}

Table make_table(const std::string& path, std::vector<std::string> metrics, bool allow_stale,
                 EpochSelect select) {
  Table t;
  t.source = path;
  t.select = select;
  t.made_by = qat_version_line();
  if (std::find(metrics.begin(), metrics.end(), "dice") == metrics.end())
    metrics.insert(metrics.begin(), "dice");
  t.metrics = metrics;
  std::vector<Group> groups;
  std::string refused;
  for (const FoundCell& f : find_cells(path, t)) read_cell(t, groups, f, allow_stale, refused);
  if (!refused.empty())
    throw Error(path + ": stale cells, trained with other settings than the sweep's now: " +
                refused + "; run them again (`qat sweep SWEEP.yaml --restart-stale`) or pass "
                "--allow-stale to tabulate them anyway, marked");
  for (Group& g : groups) t.rows.push_back(summarise(g, metrics, select));
  rank_columns(t);
  return t;
}

std::string table_markdown(const Table& t) {
  std::ostringstream o;
  o << "## " << t.name << "\n\n";
  const bool best = t.select == EpochSelect::Best;
  o << "From `" << t.source << "`. Validation metrics of each run's "
    << (best ? "**best-Dice** epoch (of " + std::to_string(t.epochs) +
                   ", chosen on the validation split it is reported on, as the paper's GM "
                   "training loop keeps its model; column epoch: the mean chosen epoch)"
             : "**last** epoch (" + std::to_string(t.epochs) + ")")
    << ", mean ± sample std over the finished seeds; the paper's Dice from its "
    << "table (" << (t.paper_column.empty() ? "no paper column" : t.paper_column + " column")
    << "). Rank: ours within the column, the paper's in brackets. Sizes are of the paper's "
       "width-64 network with these quantizers: every parameter at the quantized width (the "
       "paper's way) and honestly (full-precision layers, biases and BatchNorm at 32 bits).\n\n";
  o << "| row | column | seeds |";
  if (best) o << " epoch |";
  for (const auto& m : t.metrics) o << " " << m << (percent_metric(m) ? " %" : "") << " |";
  o << " paper Dice % | ours − paper | rank (paper) | bits | MB paper's way | MB honest | "
       "paper's MB |\n|";
  for (size_t i = 0; i < 10 + t.metrics.size() + (best ? 1 : 0); ++i) o << "---|";
  o << "\n";
  for (const auto& r : t.rows) {
    const MeanStd& d = r.metrics.at("dice");
    o << "| " << r.row << (r.row_paper.empty() ? "" : " (" + r.row_paper + ")") << " | "
      << (r.column.empty() ? "-" : r.column) << " | " << r.seeds.size() << " |";
    if (best) o << " " << fmt(r.epoch.mean, "%.1f") << " |";
    for (const auto& m : t.metrics) o << " " << plus_minus(r.metrics.at(m)) << " |";
    o << " " << fmt(r.paper) << " | " << fmt(d.mean - r.paper, "%+.2f") << " | "
      << fmt(r.rank, "%g") << " (" << fmt(r.paper_rank, "%g") << ") | "
      << (r.bits > 0 ? std::to_string(r.bits) : "-") << " | "
      << fmt(r.size_paper_way) << " | " << fmt(r.size_honest) << " | " << fmt(r.paper_size)
      << " |\n";
  }
  o << "\n";
  for (const auto& [col, rho] : t.spearman)
    o << "Spearman's rho between our ranking of the rows and the paper's"
      << (col.empty() ? "" : " in column " + col) << ": " << fmt(rho) << "\n";
  o << "\nMade by " << t.made_by << " from runs trained by qat ";
  for (size_t i = 0; i < t.run_versions.size(); ++i) o << (i ? ", " : "") << t.run_versions[i];
  o << (t.run_versions.empty() ? "(none)" : "") << ".\n";
  if (!t.stale.empty()) {
    o << "\nSTALE, included by --allow-stale (trained with other settings than the sweep's now):";
    for (const auto& id : t.stale) o << " " << id;
    o << "\n";
  }
  if (!t.unfinished.empty()) {
    o << "\nNot in the table (" << t.unfinished.size() << " cells):\n\n";
    for (const auto& u : t.unfinished)
      o << "- " << u.id << ": " << u.state << (u.detail.empty() ? "" : " — " + u.detail) << "\n";
  }
  return o.str();
}

std::string table_csv(const Table& t) {
  std::ostringstream o;
  o << "row,column,row_paper,column_paper,seeds";
  for (const auto& m : t.metrics) o << "," << m << "_mean," << m << "_std";
  o << ",paper_dice,diff,rank,paper_rank,bits,mb_paper_way,mb_honest,paper_mb\n";
  auto num = [](double v) { return std::isfinite(v) ? fmt(v, "%.4f") : std::string(); };
  for (const auto& r : t.rows) {
    o << r.row << "," << r.column << "," << r.row_paper << "," << r.column_paper << ","
      << r.seeds.size();
    for (const auto& m : t.metrics)
      o << "," << num(r.metrics.at(m).mean) << "," << num(r.metrics.at(m).std);
    o << "," << num(r.paper) << "," << num(r.metrics.at("dice").mean - r.paper) << ","
      << num(r.rank) << "," << num(r.paper_rank) << ","
      << (r.bits > 0 ? std::to_string(r.bits) : "") << "," << num(r.size_paper_way)
      << "," << num(r.size_honest) << "," << num(r.paper_size) << "\n";
  }
  return o.str();
}

}  // namespace qat
