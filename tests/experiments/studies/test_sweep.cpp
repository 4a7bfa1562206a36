// `qat sweep`: a grid expands to the right cells, a bad grid is refused
// before anything runs, and a tiny real sweep runs, skips what finished,
// records a failing cell, and `qat table` over it gives the mean ± std of
// the runs' own log.csv files.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/experiments/training/tiny_em.h"
#include "tests/experiments/training/tiny_run.h"
#include "experiments/training/checkpoint.h"
#include "experiments/studies/sweep.h"
#include "experiments/studies/table.h"

using namespace qat;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = QAT_TESTS "/experiments/training/tiny.yaml";

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "qat_test_sweep" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

std::string em_dataset() {
  static const std::string path = qat::testing::tiny_em_dataset("qat_test_sweep", 8, 3);
  return path;
}

// The dice column (4th) of a log.csv's last line.
double last_dice(const std::string& log) {
  std::ifstream f(log);
  std::string line, last;
  while (std::getline(f, line))
    if (!line.empty()) last = line;
  std::stringstream ss(last);
  std::string cell;
  for (int i = 0; i < 4; ++i) std::getline(ss, cell, ',');
  return std::stod(cell);
}

}  // namespace

TEST_CASE("sweep: a plan expands rows x columns x seeds with their overrides") {
  const fs::path dir = scratch("plan");
  const std::string out = (dir / "out").string();
  const std::string path = write(dir / "grid.yaml", R"(
name: grid
base: )" + kTiny + R"(
output: )" + out + R"(
seeds: [3, 5]
set: {num_epochs: 2, milestones: [1, 2]}
paper_column: EM
rows:
  - name: fp
    paper: full precision
    set: {quantization: Normal}
  - name: q6
    paper: Q6.0/Q0.4
    columns: [relu]
    set:
      quantization: FIXED
      activation_i_width: 6
      weight_f_width: 4
      layers: {conv9: {weight: "fixed:0.8"}}
columns:
  - {name: relu, set: {activation: relu}, paper: ReLU}
  - {name: tanh, set: {activation: ternary_tanh}, paper: Tanh}
)");
  const Sweep s = load_sweep(path);
  CHECK(s.name == "grid");
  const auto cells = plan_sweep(s, /*threads=*/1);
  std::vector<std::string> ids;
  for (const auto& c : cells) ids.push_back(c.id);
  CHECK(ids == std::vector<std::string>{"fp/relu/seed3", "fp/relu/seed5", "fp/tanh/seed3",
                                        "fp/tanh/seed5", "q6/relu/seed3", "q6/relu/seed5"});
  const SweepCell& q = cells[5];
  CHECK(q.row_paper == "Q6.0/Q0.4");
  CHECK(q.column_paper == "ReLU");
  CHECK(q.config == kTiny);
  CHECK(q.dir() == out + "/q6/relu/seed5");
  CHECK(q.overrides == std::vector<std::string>{
                           "num_epochs=2", "milestones=[1, 2]", "quantization=FIXED",
                           "activation_i_width=6", "weight_f_width=4",
                           "layers.conv9.weight=fixed:0.8", "activation=relu", "seed=5",
                           "log_output_dir=" + out + "/q6/relu", "experiment_name=seed5",
                           "threads=1"});
  const auto configs = load_cell_configs(s, cells);
  REQUIRE(configs.size() == 6);
  CHECK(configs[5].seed == 5);
  CHECK(configs[5].activation_i_width == 6);
  CHECK(configs[5].layers.at("conv9").weight.text() == "fixed:0.8");
  CHECK(configs[5].milestones == std::vector<int64_t>{1, 2});
  CHECK(configs[2].activation == "ternary_tanh");
  CHECK(configs[2].run_dir() == out + "/fp/tanh/seed3");
  CHECK(configs[2].threads == 1);
  CHECK(cell_state(cells[0], 2) == CellState::NotStarted);
  const std::string plan = format_plan(s, cells, configs);
  CHECK(plan.find("6 cells") != std::string::npos);
  CHECK(plan.find("  fp/tanh/seed5 [not started]: qat train " + kTiny +
                  " --set num_epochs=2 --set 'milestones=[1, 2]' --set quantization=Normal "
                  "--set activation=ternary_tanh --set seed=5") != std::string::npos);
}

TEST_CASE("sweep: a bad grid is refused before any cell runs, naming the cell") {
  const fs::path dir = scratch("bad");
  const std::string out = (dir / "out").string();
  auto grid = [&](const std::string& bad_set) {
    return write(dir / "grid.yaml", "base: " + kTiny + "\noutput: " + out +
                                        "\nseeds: [0, 1]\nrows:\n  - {name: good}\n"
                                        "  - {name: bad, set: " + bad_set + "}\n");
  };
  SweepOptions o;
  o.binary = QAT_BINARY;
  o.quiet = true;
  CHECK_THROWS_WITH(run_sweep(load_sweep(grid("{learning_rate: 0.1}")), o),
                    doctest::Contains("cell bad/seed0 is rejected, nothing was run"));
  CHECK_THROWS_WITH(run_sweep(load_sweep(grid("{learning_rate: 0.1}")), o),
                    doctest::Contains("unknown key 'learning_rate'"));
  CHECK_THROWS_WITH(run_sweep(load_sweep(grid("{crop: 12}")), o),
                    doctest::Contains("key 'crop': expected a multiple of 8"));
  CHECK(!fs::exists(out));  // not even the good row started
  // Mistakes in the sweep file itself name the file and key.
  write(dir / "typo.yaml", "base: " + kTiny + "\nrows:\n  - {name: a, sett: {lr: 1}}\n");
  CHECK_THROWS_WITH(load_sweep((dir / "typo.yaml").string()),
                    doctest::Contains("rows[0].sett: unknown key"));
  write(dir / "col.yaml", "base: " + kTiny + "\nrows:\n  - {name: a, columns: [x]}\n");
  CHECK_THROWS_WITH(load_sweep((dir / "col.yaml").string()),
                    doctest::Contains("column 'x' is not among"));
  write(dir / "dup.yaml", "base: " + kTiny + "\nrows:\n  - {name: a}\n  - {name: a}\n");
  CHECK_THROWS_WITH(load_sweep((dir / "dup.yaml").string()), doctest::Contains("appears twice"));
}

namespace {

std::string file_text(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// `qat table` SIGKILLed at each of its write points (table.csv half written,
// written but not renamed, then table.md the same; QAT_FAULT_KILL_AT_WRITE):
// each file is the previous one or the whole new one, never part of one,
// and the next run writes what an unbroken run does and leaves no .tmp.
void check_table_survives_kills(const std::string& sweep_out, const std::string& dir) {
  const std::vector<std::string> args = {"table", sweep_out, "--out", dir, "--no-plots"};
  REQUIRE(qat::testing::run_qat_status(args, {}) == 0);
  const std::string csv = file_text(dir + "/table.csv"), md = file_text(dir + "/table.md");
  REQUIRE(!csv.empty());
  REQUIRE(!md.empty());
  for (int k = 1; k <= 4; ++k) {
    INFO("killed at write point ", k);
    for (const char* f : {"/table.csv", "/table.md"}) std::ofstream(dir + f) << "previous\n";
    const int status = qat::testing::run_qat_status(args, {"QAT_FAULT_KILL_AT_WRITE=" + std::to_string(k)});
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    CHECK(file_text(dir + "/table.csv") == (k <= 2 ? "previous\n" : csv));
    CHECK(file_text(dir + "/table.md") == "previous\n");
  }
  REQUIRE(qat::testing::run_qat_status(args, {}) == 0);
  CHECK(file_text(dir + "/table.csv") == csv);
  CHECK(file_text(dir + "/table.md") == md);
  for (const auto& e : fs::directory_iterator(dir))
    CHECK_MESSAGE(e.path().extension() != ".tmp", e.path().string());
}

}  // namespace

TEST_CASE("sweep: a tiny real sweep runs, skips finished cells, records a failing one; "
          "the table averages the runs' logs") {
  const fs::path dir = scratch("real");
  const std::string out = (dir / "out").string();
  const std::string head = "name: tiny_sweep\nbase: " + kTiny + "\noutput: " + out +
                           "\nseeds: [1, 2]\npaper_column: EM ReLU\n"
                           "set: {num_epochs: 2, telemetry: false, data: " + em_dataset() +
                           "}\nrows:\n"
                           "  - {name: fp, paper: full precision}\n"
                           "  - {name: q8, paper: Q8.0/Q0.8, set: {quantization: FIXED, "
                           "activation_i_width: 8, weight_f_width: 8}}\n";
  const std::string good = write(dir / "good.yaml", head);
  SweepOptions o;
  o.binary = QAT_BINARY;
  o.quiet = true;
  o.jobs = 2;
  o.cores = 2;

  const SweepSummary first = run_sweep(load_sweep(good), o);
  CHECK(first.finished.size() == 4);
  CHECK(first.failed.empty());
  CHECK(first.skipped.empty());
  for (const auto& id : {"fp/seed1", "fp/seed2", "q8/seed1", "q8/seed2"}) {
    INFO(id);
    CHECK(read_checkpoint_state(out + "/" + id + "/checkpoint.h5").epoch == 2);
    CHECK(fs::exists(out + "/" + id + "/cell.yaml"));
  }

  const SweepSummary again = run_sweep(load_sweep(good), o);
  CHECK(again.finished.empty());
  CHECK(again.skipped.size() == 4);

  // A third row whose data does not exist: it fails at run time (the config
  // itself is valid), is recorded, and the others are still skipped.
  const std::string broken =
      write(dir / "broken.yaml", head + "  - {name: broken, set: {data: /nonexistent/em.h5}}\n");
  const SweepSummary third = run_sweep(load_sweep(broken), o);
  CHECK(third.skipped.size() == 4);
  CHECK(third.failed == std::vector<std::string>{"broken/seed1", "broken/seed2"});
  std::ifstream failed(out + "/broken/seed1/failed.txt");
  const std::string record((std::istreambuf_iterator<char>(failed)), {});
  CHECK(record.find("exit status 1") != std::string::npos);
  CHECK(record.find("/nonexistent/em.h5") != std::string::npos);

  // The table, from the sweep file and from its folder alike.
  for (const std::string& source : {broken, out}) {
    INFO(source);
    const Table t = make_table(source, {"dice", "iou"});
    REQUIRE(t.rows.size() == 3);
    for (int r = 0; r < 2; ++r) {
      const std::string row = r == 0 ? "fp" : "q8";
      const double a = 100 * last_dice(out + "/" + row + "/seed1/log.csv");
      const double b = 100 * last_dice(out + "/" + row + "/seed2/log.csv");
      CHECK(t.rows[r].row == row);
      CHECK(t.rows[r].seeds.size() == 2);
      CHECK(t.rows[r].metrics.at("dice").mean == doctest::Approx((a + b) / 2));
      CHECK(t.rows[r].metrics.at("dice").std == doctest::Approx(std::abs(a - b) / std::sqrt(2.0)));
      CHECK(t.rows[r].dice_curve.size() == 2);
    }
    CHECK(t.rows[0].paper == doctest::Approx(94.05));
    CHECK(t.rows[1].paper == doctest::Approx(92.21));
    CHECK(t.rows[1].bits == 8);
    CHECK(t.rows[1].size_paper_way == doctest::Approx(4.61).epsilon(0.001));
    CHECK(t.rows[2].seeds.empty());
    CHECK(t.rows[2].bits == 0);  // no finished run: no size, no bits
    REQUIRE(t.unfinished.size() == 2);
    CHECK(t.unfinished[0].id == "broken/seed1");
    CHECK(t.unfinished[0].state == "failed");
    const std::string md = table_markdown(t);
    CHECK(md.find("- broken/seed2: failed — exit status 1: qat: error: ") != std::string::npos);
    CHECK(t.unfinished[1].detail.find("'/nonexistent/em.h5' not found") != std::string::npos);
  }
  check_table_survives_kills(out, (dir / "table").string());
}

TEST_CASE("sweep: a stopped cell is resumed from its checkpoint, not restarted") {
  const fs::path dir = scratch("resume");
  const std::string out = (dir / "out").string();
  auto grid = [&](int epochs) {
    return write(dir / "grid.yaml", "base: " + kTiny + "\noutput: " + out +
                                        "\nseeds: [4]\nset: {telemetry: false, schedule: constant, data: " +
                                        em_dataset() + "}\nrows:\n  - {name: a, set: "
                                        "{num_epochs: " + std::to_string(epochs) + "}}\n");
  };
  SweepOptions o;
  o.binary = QAT_BINARY;
  o.quiet = true;
  o.cores = 1;  // one thread: OpenMP threads spin badly on a busy machine
  CHECK(run_sweep(load_sweep(grid(1)), o).finished.size() == 1);
  const std::string log = out + "/a/seed4/log.csv";
  std::ifstream first(log);
  const std::string epoch1((std::istreambuf_iterator<char>(first)), {});
  // The same cell asked for 3 epochs: its checkpoint is behind, so it is
  // stopped; the sweep continues it and the first epoch's row stays as it was
  // (a constant schedule: the epoch done had the lr it has in a 3-epoch run).
  const Sweep s = load_sweep(grid(3));
  CHECK(cell_state(plan_sweep(s)[0], 3) == CellState::Stopped);
  CHECK(run_sweep(s, o).finished.size() == 1);
  CHECK(read_checkpoint_state(out + "/a/seed4/checkpoint.h5").epoch == 3);
  std::ifstream second(log);
  const std::string epochs3((std::istreambuf_iterator<char>(second)), {});
  CHECK(epochs3.rfind(epoch1, 0) == 0);  // starts with the first run's rows
  CHECK(std::count(epochs3.begin(), epochs3.end(), '\n') == 4);
  const std::string out_text = [&] {
    std::ifstream f(out + "/a/seed4/stdout.txt");
    return std::string((std::istreambuf_iterator<char>(f)), {});
  }();
  CHECK(out_text.find("resuming") != std::string::npos);
}
