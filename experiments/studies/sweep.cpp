#include "experiments/studies/sweep.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "autograd/check.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/plain_text.h"
#include "experiments/training/provenance.h"
#include "experiments/training/train.h"

extern char** environ;

namespace qat {
namespace {

namespace fs = std::filesystem;

std::string scalar(const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) throw Error(where + ": expected a single value, found a list or map");
  return n.Scalar();
}

// `set: {a: 1, layers: {conv9: {weight: fixed:0.8}}}` -> a=1,
// layers.conv9.weight=fixed:0.8 (the dotted form `--set` takes).
void flatten(const YAML::Node& n, const std::string& prefix, std::vector<std::string>& out,
             const std::string& where) {
  for (const auto& kv : n) {
    const std::string key = prefix + scalar(kv.first, where + ": a key under '" + prefix + "'");
    if (kv.second.IsMap()) {
      flatten(kv.second, key + ".", out, where);
    } else if (kv.second.IsSequence()) {
      YAML::Emitter e;
      e << YAML::Flow << kv.second;
      out.push_back(key + "=" + e.c_str());
    } else {
      out.push_back(key + "=" + (kv.second.IsNull() ? std::string() : kv.second.Scalar()));
    }
  }
}

std::vector<std::string> overrides_of(const YAML::Node& set, const std::string& where) {
  std::vector<std::string> out;
  if (!set) return out;
  if (!set.IsMap()) throw Error(where + ": expected a map of config keys to values");
  flatten(set, "", out, where);
  return out;
}

// Names become folder names: keep them plain.
void check_name(const std::string& name, const std::string& where) {
  const bool ok = !name.empty() && name != "." && name != ".." &&
                  std::all_of(name.begin(), name.end(), [](unsigned char ch) {
                    return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
                  });
  if (!ok)
    throw Error(where + ": name '" + name +
                "' must be letters, digits, '_', '-' or '.' (it names a folder)");
}

std::vector<SweepChoice> choices(const YAML::Node& list, const std::string& key,
                                 const std::string& file, const fs::path& dir) {
  std::vector<SweepChoice> out;
  if (!list) return out;
  if (!list.IsSequence()) throw Error(file + ": key '" + key + "': expected a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string where = file + ": " + key + "[" + std::to_string(i) + "]";
    if (!n.IsMap()) throw Error(where + ": expected a map with name, set, config, paper");
    SweepChoice c;
    for (const auto& kv : n) {
      const std::string k = scalar(kv.first, where + ": a key");
      const std::string w = where + "." + k;
      if (k == "name") c.name = scalar(kv.second, w);
      else if (k == "config") c.config = (dir / scalar(kv.second, w)).lexically_normal().string();
      else if (k == "set") c.overrides = overrides_of(kv.second, w);
      else if (k == "paper") c.paper = scalar(kv.second, w);
      else if (k == "columns" && key == "rows") {
        if (!kv.second.IsSequence()) throw Error(w + ": expected a list of column names");
        for (const auto& col : kv.second) c.only_columns.push_back(scalar(col, w));
      } else {
        throw Error(w + ": unknown key (expected name, config, set, paper" +
                    std::string(key == "rows" ? ", columns)" : ")"));
      }
    }
    check_name(c.name, where);
    check_one_line(c.paper, where + ".paper");
    for (const auto& prev : out)
      if (prev.name == c.name) throw Error(where + ": name '" + c.name + "' appears twice");
    out.push_back(c);
  }
  return out;
}

// The last `n` lines of a file.
std::string tail(const std::string& path, size_t n) {
  std::deque<std::string> lines;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    lines.push_back(line);
    if (lines.size() > n) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void write_cell_yaml(const Sweep& s, const SweepCell& c) {
  YAML::Node n;
  n["sweep"] = s.name;
  n["sweep_file"] = s.source;
  n["row"] = c.row;
  n["column"] = c.column;
  n["seed"] = c.seed;
  n["row_index"] = c.row_index;
  n["column_index"] = c.column_index;
  n["paper_column"] = s.paper_column;
  n["row_paper"] = c.row_paper;
  n["column_paper"] = c.column_paper;
  n["config"] = c.config;
  n["overrides"] = c.overrides;
  YAML::Emitter e;
  e << n;
  write_file_atomic(c.dir() + "/cell.yaml", std::string(e.c_str()) + "\n");
}

// Starts `binary train config --set ...` with stdout and stderr into the
// cell's folder; returns its pid.
pid_t spawn_cell(const std::string& binary, const SweepCell& c) {
  std::vector<std::string> args{binary, "train", c.config};
  for (const auto& o : c.overrides) args.insert(args.end(), {"--set", o});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string out = c.dir() + "/stdout.txt", err = c.dir() + "/stderr.txt";
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw Error("sweep: cannot start '" + binary + "' for cell " + c.id + ": " +
                std::strerror(rc));
  return pid;
}

// A word a shell reads back as it is (the plan's commands can be pasted).
std::string shell_word(const std::string& w) {
  if (w.find_first_of(" \t[]{}*?$'\"\\;&|<>()`~#") == std::string::npos) return w;
  std::string out = "'";
  for (char ch : w) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace

std::string SweepCell::dir() const { return log_output_dir + "/" + experiment_name; }

Sweep load_sweep(const std::string& path) {
  require_file(path, "sweep file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw Error(path + ": not valid YAML: " + e.what());
  }
  if (!root.IsMap()) throw Error(path + ": expected a map of keys at the top");
  const fs::path dir = fs::path(path).parent_path();
  Sweep s;
  s.source = path;
  for (const auto& kv : root) {
    const std::string k = scalar(kv.first, path + ": a key");
    const std::string w = path + ": key '" + k + "'";
    if (k == "name") s.name = scalar(kv.second, w);
    else if (k == "base") s.base = (dir / scalar(kv.second, w)).lexically_normal().string();
    else if (k == "output") s.output = scalar(kv.second, w);
    else if (k == "paper_column") s.paper_column = scalar(kv.second, w);
    else if (k == "set") s.overrides = overrides_of(kv.second, w);
    else if (k == "rows") s.rows = choices(kv.second, "rows", path, dir);
    else if (k == "columns") s.columns = choices(kv.second, "columns", path, dir);
    else if (k == "seeds") {
      if (!kv.second.IsSequence() || kv.second.size() == 0)
        throw Error(w + ": expected a non-empty list of seeds");
      s.seeds.clear();
      for (const auto& seed : kv.second) {
        try {
          s.seeds.push_back(seed.as<uint64_t>());
        } catch (const YAML::Exception&) {
          throw Error(w + ": expected whole numbers >= 0, found '" + scalar(seed, w) + "'");
        }
      }
    } else {
      throw Error(w + ": unknown key (expected name, base, output, seeds, set, paper_column, "
                      "rows, columns)");
    }
  }
  if (s.name.empty()) s.name = fs::path(path).stem().string();
  // Free text, but it titles plots and names the default output folder.
  check_folder_name(s.name, path + ": key 'name'");
  check_one_line(s.paper_column, path + ": key 'paper_column'");
  check_one_line(s.output, path + ": key 'output'");
  if (s.output.empty()) s.output = "runs/sweeps/" + s.name;
  if (s.rows.empty()) throw Error(path + ": key 'rows': expected at least one row");
  for (const auto& r : s.rows) {
    if (r.config.empty() && s.base.empty())
      throw Error(path + ": row '" + r.name + "' has no config and the sweep has no base");
    for (const auto& col : r.only_columns)
      if (std::none_of(s.columns.begin(), s.columns.end(),
                       [&](const SweepChoice& c) { return c.name == col; }))
        throw Error(path + ": row '" + r.name + "': column '" + col +
                    "' is not among the sweep's columns");
  }
  return s;
}

std::vector<SweepCell> plan_sweep(const Sweep& s, int threads) {
  std::vector<SweepChoice> columns = s.columns;
  if (columns.empty()) columns.push_back({});  // one unnamed column
  std::vector<SweepCell> cells;
  for (size_t ri = 0; ri < s.rows.size(); ++ri)
    for (size_t ci = 0; ci < columns.size(); ++ci) {
      const SweepChoice &row = s.rows[ri], &col = columns[ci];
      if (!row.only_columns.empty() &&
          std::find(row.only_columns.begin(), row.only_columns.end(), col.name) ==
              row.only_columns.end())
        continue;
      for (uint64_t seed : s.seeds) {
        SweepCell c;
        c.row = row.name;
        c.column = col.name;
        c.row_paper = row.paper;
        c.column_paper = col.paper;
        c.seed = seed;
        c.row_index = int(ri), c.column_index = int(ci);
        c.config = row.config.empty() ? s.base : row.config;
        c.log_output_dir = s.output + "/" + row.name + (col.name.empty() ? "" : "/" + col.name);
        c.experiment_name = "seed" + std::to_string(seed);
        c.id = row.name + (col.name.empty() ? "" : "/" + col.name) + "/" + c.experiment_name;
        c.overrides = s.overrides;
        c.overrides.insert(c.overrides.end(), row.overrides.begin(), row.overrides.end());
        c.overrides.insert(c.overrides.end(), col.overrides.begin(), col.overrides.end());
        // The sweep owns these: they place and seed the cell.
        c.overrides.push_back("seed=" + std::to_string(seed));
        c.overrides.push_back("log_output_dir=" + c.log_output_dir);
        c.overrides.push_back("experiment_name=" + c.experiment_name);
        if (threads > 0) c.overrides.push_back("threads=" + std::to_string(threads));
        cells.push_back(c);
      }
    }
  return cells;
}

std::vector<Config> load_cell_configs(const Sweep& s, const std::vector<SweepCell>& cells) {
  std::vector<Config> configs;
  for (const auto& c : cells) {
    try {
      configs.push_back(load_config(c.config, c.overrides));
    } catch (const Error& e) {
      throw Error(s.source + ": cell " + c.id + " is rejected, nothing was run: " + e.what());
    }
  }
  return configs;
}

CellState cell_state(const SweepCell& cell, int64_t num_epochs) {
  const std::string ckpt = cell.dir() + "/checkpoint.h5";
  if (fs::exists(ckpt) && read_checkpoint_state(ckpt).epoch >= num_epochs)
    return CellState::Finished;
  if (fs::exists(cell.dir() + "/failed.txt")) return CellState::Failed;
  if (fs::exists(ckpt)) return CellState::Stopped;
  return CellState::NotStarted;
}

CellState cell_state(const SweepCell& cell, const Config& config) {
  const std::string ckpt = cell.dir() + "/checkpoint.h5";
  if (fs::exists(ckpt) && !run_changes(ckpt, config).empty()) return CellState::Stale;
  return cell_state(cell, config.num_epochs);
}

const char* to_string(CellState s) {
  switch (s) {
    case CellState::NotStarted: return "not started";
    case CellState::Stopped: return "stopped";
    case CellState::Finished: return "finished";
    case CellState::Failed: return "failed";
    case CellState::Stale: return "stale";
  }
  return "?";
}

std::string format_plan(const Sweep& s, const std::vector<SweepCell>& cells,
                        const std::vector<Config>& configs) {
  std::string out = "sweep " + s.name + " (" + s.source + "): " + std::to_string(cells.size()) +
                    " cells into " + s.output + "\n";
  for (size_t i = 0; i < cells.size(); ++i) {
    const SweepCell& c = cells[i];
    out += "  " + c.id + " [" + to_string(cell_state(c, configs[i])) + "]: qat train " +
           c.config;
    for (const auto& o : c.overrides) out += " --set " + shell_word(o);
    out += "\n";
  }
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;
struct Running {
  size_t cell;
  Clock::time_point start;
};

// The cells this rank runs, stale ones marked; refuses stale cells unless
// o.restart_stale. Finished cells go to summary.skipped.
std::deque<size_t> cells_to_run(const Sweep& s, const SweepOptions& o,
                                const std::vector<SweepCell>& cells,
                                const std::vector<Config>& configs, std::vector<bool>& stale,
                                SweepSummary& summary) {
  std::deque<size_t> todo;
  std::string stale_list;
  for (size_t i = 0; i < cells.size(); ++i) {
    const CellState state = cell_state(cells[i], configs[i]);
    stale[i] = state == CellState::Stale;
    if (stale[i])
      stale_list += (stale_list.empty() ? "" : ", ") + cells[i].id + " (" +
                    format_changes(run_changes(cells[i].dir() + "/checkpoint.h5", configs[i])) + ")";
    if (int(i % size_t(o.ranks)) != o.rank) continue;  // another rank's cell
    if (state == CellState::Finished) summary.skipped.push_back(cells[i].id);
    else todo.push_back(i);
  }
  if (!stale_list.empty() && !o.restart_stale)
    throw Error(s.source + ": stale cells, trained with other settings than the sweep's now, "
                "nothing was run: " + stale_list + "; run them again with `qat sweep " + s.source +
                " --restart-stale` (their old folders are moved aside, not deleted)");
  return todo;
}

// Waits for one of our own children (waitpid(-1) would also reap a child
// that some other part of the process is waiting for).
std::map<pid_t, Running>::iterator wait_one(std::map<pid_t, Running>& running, int& status) {
  while (true) {
    for (auto r = running.begin(); r != running.end(); ++r)
      if (waitpid(r->first, &status, WNOHANG) == r->first) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Records how cell c ended: failed.txt with its last words, or removes it.
void record_end(const SweepCell& c, int status, double seconds, size_t done, size_t total,
                bool quiet, SweepSummary& summary) {
  const std::string failed = c.dir() + "/failed.txt";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    fs::remove(failed);
    summary.finished.push_back(c.id);
    if (!quiet) std::printf("[%zu/%zu] finished %s in %.0f s\n", done, total, c.id.c_str(), seconds);
  } else {
    const std::string why = describe_status(status);
    write_file_atomic(failed, "cell " + c.id + ": " + why + "\nlast lines of stderr.txt:\n" +
                                  tail(c.dir() + "/stderr.txt", 20));
    summary.failed.push_back(c.id);
    if (!quiet)
      std::printf("[%zu/%zu] FAILED %s (%s): %s", done, total, c.id.c_str(), why.c_str(),
                  tail(c.dir() + "/stderr.txt", 1).c_str());
  }
  std::fflush(stdout);
}

// Cells finish in any order when several run at once: report them in the plan's.
void plan_order(const std::vector<SweepCell>& cells, std::vector<std::string>& ids) {
  std::vector<std::string> sorted;
  for (const auto& c : cells)
    if (std::find(ids.begin(), ids.end(), c.id) != ids.end()) sorted.push_back(c.id);
  ids = sorted;
}

}  // namespace

SweepSummary run_sweep(const Sweep& s, const SweepOptions& o) {
  const int cores = o.cores > 0 ? o.cores : std::max(1, int(std::thread::hardware_concurrency()));
  const int jobs = std::clamp(o.jobs, 1, cores);
  const int threads = std::max(1, cores / jobs);  // jobs * threads <= cores
  const std::vector<SweepCell> cells = plan_sweep(s, threads);
  const std::vector<Config> configs = load_cell_configs(s, cells);
  const std::string binary =
      o.binary.empty() ? fs::read_symlink("/proc/self/exe").string() : o.binary;
  SweepSummary summary;
  std::vector<bool> stale(cells.size(), false);
  std::deque<size_t> todo = cells_to_run(s, o, cells, configs, stale, summary);
  if (!o.quiet)
    std::printf("sweep %s: %zu cells, %zu finished already, %zu to run (%d at once, %d threads "
                "each)\n",
                s.name.c_str(), cells.size(), summary.skipped.size(), todo.size(), jobs, threads);
  std::map<pid_t, Running> running;
  size_t done = 0;
  const size_t total = todo.size();
  while (!todo.empty() || !running.empty()) {
    while (!todo.empty() && int(running.size()) < jobs) {
      const size_t i = todo.front();
      todo.pop_front();
      if (stale[i]) {  // here, not in the child: its stdout.txt lives in the folder
        const std::string aside = move_run_aside(cells[i].dir());
        if (!o.quiet) std::printf("moved stale %s aside to %s\n", cells[i].id.c_str(), aside.c_str());
      }
      fs::create_directories(cells[i].dir());
      write_cell_yaml(s, cells[i]);
      running[spawn_cell(binary, cells[i])] = {i, Clock::now()};
    }
    int status = 0;
    const auto it = wait_one(running, status);
    const Running r = it->second;
    running.erase(it);
    record_end(cells[r.cell], status,
               std::chrono::duration<double>(Clock::now() - r.start).count(), ++done, total,
               o.quiet, summary);
  }
  plan_order(cells, summary.finished);
  plan_order(cells, summary.failed);
  if (!o.quiet) {
    std::printf("sweep %s: %zu finished, %zu failed, %zu skipped (finished before)\n",
                s.name.c_str(), summary.finished.size(), summary.failed.size(),
                summary.skipped.size());
    for (const auto& id : summary.failed)
      std::printf("  failed: %s (see %s/%s/failed.txt)\n", id.c_str(), s.output.c_str(),
                  id.c_str());
  }
  return summary;
}

}  // namespace qat
