// Text from shared files never runs a command (issue 16 item 0). The
// hostile sweep `name: "evil\n!touch pwned\n#"` used to reach plots.gp as
// a line of its own, which gnuplot runs as a shell command. Now the sweep
// and config loaders refuse such text naming the key, and the plot writers
// (which also draw tables made from folders nobody checked) quote every
// string and start gnuplot without a shell: the marker files below must
// never appear, and the plots must still be drawn.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "experiments/studies/curves.h"
#include "experiments/studies/plots.h"
#include "experiments/studies/sweep.h"
#include "experiments/training/config.h"
#include "tests/run_qat.h"

using namespace qat;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = QAT_TESTS "/experiments/training/tiny.yaml";

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "qat_test_hostile" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Ways to run `touch <marker>` from a gnuplot script or a shell, for text
// that lands inside a quoted string: a newline and gnuplot's `!`, a quote
// closed early, backquotes, system(), the shell's $( ) and ; after a quote.
std::vector<std::string> attacks(const fs::path& marker) {
  const std::string m = marker.string();
  return {"evil\n!touch " + m + "\n#",
          "evil\r!touch " + m + "\r#",
          "it's\n!touch " + m + "\n'",
          "a`touch " + m + "`b",
          "x' . system('touch " + m + "') . '",
          "x\" . system(\"touch " + m + "\") . \"",
          "$(touch " + m + ")",
          "q'; touch " + m + "; '",
          "@x \\ ! # ;"};
}

// A table of two rows with hostile names everywhere a plot prints text.
Table hostile_table(const std::vector<std::string>& a) {
  Table t;
  t.name = a[0];
  for (size_t i = 0; i < a.size(); ++i) {
    TableRow r;
    r.row = a[i];
    r.column = a[(i + 1) % a.size()];
    r.bits = 4 + int(i);
    r.metrics["dice"] = MeanStd{50.0 + double(i), 1.0, 2};
    r.dice_curve = {40.0, 50.0};
    t.rows.push_back(r);
  }
  return t;
}

}  // namespace

TEST_CASE("hostile names: a sweep with a newline in its name, labels or output is refused") {
  const fs::path dir = scratch("sweep");
  const fs::path marker = dir / "pwned";
  auto sweep = [&](const std::string& top, const std::string& row) {
    std::ofstream(dir / "s.yaml") << "base: " << kTiny << "\n"
                                  << top << "rows:\n  - " << row << "\n";
    return (dir / "s.yaml").string();
  };
  const std::string evil = "\"evil\\n!touch " + marker.string() + "\\n#\"";
  CHECK_THROWS_WITH(load_sweep(sweep("name: " + evil + "\n", "{name: a}")),
                    doctest::Contains("key 'name': found a newline"));
  CHECK_THROWS_WITH(load_sweep(sweep("name: ../../elsewhere\n", "{name: a}")),
                    doctest::Contains("key 'name': found '../../elsewhere', expected a folder"));
  CHECK_THROWS_WITH(load_sweep(sweep("paper_column: " + evil + "\n", "{name: a}")),
                    doctest::Contains("key 'paper_column': found a newline"));
  CHECK_THROWS_WITH(load_sweep(sweep("output: " + evil + "\n", "{name: a}")),
                    doctest::Contains("key 'output': found a newline"));
  CHECK_THROWS_WITH(load_sweep(sweep("", "{name: a, paper: " + evil + "}")),
                    doctest::Contains("rows[0].paper: found a newline"));
  CHECK_THROWS_WITH(load_sweep(sweep("", "{name: " + evil + "}")),
                    doctest::Contains("must be letters, digits"));
  // `qat table` on the hostile sweep, as the report found it: one line, exit 1.
  sweep("name: " + evil + "\n", "{name: a}");
  const std::string err = (dir / "err.txt").string();
  CHECK(qat::testing::run_qat({"table", (dir / "s.yaml").string()}, err) == 1);
  CHECK(qat::testing::read_file(err).find("key 'name': found a newline") != std::string::npos);
  // Names that are odd but legal still load.
  CHECK(load_sweep(sweep("name: \"it's `q` !x $(y)\"\n", "{name: a, paper: \"a'b\"}")).name ==
        "it's `q` !x $(y)");
  CHECK(!fs::exists(marker));
}

TEST_CASE("hostile names: config paths and names with newlines or separators are refused") {
  auto load = [](const std::string& text) { return parse_config(YAML::Load(text), "c.yaml"); };
  CHECK_THROWS_WITH(load("experiment_name: \"a\\n!touch x\"\n"),
                    doctest::Contains("c.yaml: key 'experiment_name': found a newline"));
  CHECK_THROWS_WITH(load("experiment_name: ../up\n"),
                    doctest::Contains("key 'experiment_name': found '../up', expected a folder"));
  CHECK_THROWS_WITH(load("log_output_dir: \"runs\\n!x\"\n"),
                    doctest::Contains("key 'log_output_dir': found a newline"));
  CHECK_THROWS_WITH(load("data: \"d\\r.h5\"\n"),
                    doctest::Contains("key 'data': found a carriage return"));
  CHECK(load("log_output_dir: \"runs/$(x) 'y'\"\n").log_output_dir == "runs/$(x) 'y'");
}

TEST_CASE("hostile names: plots of a table with any names run no command and are drawn") {
  const fs::path dir = scratch("plots");
  const fs::path marker = dir / "pwned";
  const std::vector<std::string> a = attacks(marker);
  // The output folder's name is hostile too (`qat table --out`).
  for (const std::string& out_name : {std::string("$(touch " + marker.string() + ")"),
                                      std::string("q'; touch " + marker.string() + "; '")}) {
    const fs::path out = dir / out_name;
    std::string note;
    const std::vector<std::string> pngs = write_plots(hostile_table(a), out.string(), note);
    CHECK(!fs::exists(marker));
    if (!gnuplot_available()) continue;
    CHECK(note.empty());
    REQUIRE(!pngs.empty());
    for (const auto& png : pngs) CHECK(fs::exists(png));
    for (const auto& e : fs::directory_iterator(out))  // nothing written outside out/
      CHECK(fs::canonical(e.path()).parent_path() == fs::canonical(out));
  }
  std::ifstream gp(dir / ("$(touch " + marker.string() + ")") / "plots.gp");
  for (std::string line; std::getline(gp, line);) CHECK(line.rfind('!', 0) == std::string::npos);
}

TEST_CASE("hostile names: training curves in a folder with shell syntax in its name") {
  const fs::path dir = scratch("curves");
  const fs::path marker = dir / "pwned";
  const fs::path run = dir / ("$(touch " + marker.string() + ") `touch " + marker.string() +
                              "` \"q'");
  fs::create_directories(run);
  std::ofstream(run / "log.csv") << "epoch,train_loss,val_loss,dice\n0,1,1,0.5\n1,0.5,0.6,0.7\n";
  const std::string line = write_curves(run.string());
  CHECK(!fs::exists(marker));
  if (gnuplot_available()) {
    CHECK(line.find("curves.png") != std::string::npos);
    CHECK(fs::exists(run / "curves.png"));
  }
}

TEST_CASE("hostile names: an error quoting a newline from the input is still one line") {
  const fs::path dir = scratch("one_line");
  const std::string err = (dir / "err.txt").string();
  // Found by tests/fuzz (config): the message quotes the --set string.
  CHECK(qat::testing::run_qat({"train", kTiny, "--set", "layers.conv9.x: 2\n!touch x=1"}, err) ==
        1);
  const std::string text = qat::testing::read_file(err);
  INFO(text);
  CHECK(text.find("qat: error: ") == 0);
  CHECK(text.find("2\\n!touch x") != std::string::npos);  // the newline, escaped
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
}
