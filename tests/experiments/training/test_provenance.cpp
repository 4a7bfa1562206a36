// Provenance: a run folder resumes only with the config and data it was
// trained with; anything else is refused naming each differing key, and
// --restart moves the old folder aside. A sweep cell whose row was edited
// is stale, and `qat table` refuses it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "tests/run_qat.h"
#include "experiments/studies/sweep.h"
#include "experiments/studies/table.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/provenance.h"
#include "experiments/training/train.h"
#include "tests/experiments/training/tiny_em.h"

using namespace qat;
namespace fs = std::filesystem;

extern char** environ;

using qat::testing::read_file;
using qat::testing::run_qat;

namespace {

const std::string kTiny = QAT_TESTS "/experiments/training/tiny.yaml";
const fs::path kRoot = fs::temp_directory_path() / "qat_test_provenance";

std::string dataset(uint64_t seed) {
  return qat::testing::tiny_em_dataset("qat_test_provenance/data" + std::to_string(seed), 8, seed);
}

Config config(const std::string& run, std::vector<std::string> extra) {
  std::vector<std::string> o{"log_output_dir=" + kRoot.string(), "experiment_name=" + run,
                             "telemetry=false", "steps_per_epoch=1"};
  o.insert(o.end(), extra.begin(), extra.end());
  return load_config(kTiny, o);
}


}  // namespace

TEST_CASE("provenance: a run folder records its version, commit and data") {
  fs::remove_all(kRoot / "record");
  const Config c = config("record", {"data=" + dataset(1), "num_epochs=1"});
  train(c);
  const Provenance p = parse_provenance(read_file(c.run_dir() + "/provenance.yaml"), "provenance.yaml");
  CHECK(p.version == qat_version());
  CHECK(p.commit == qat_commit());
  CHECK(p.data.checksum.size() == 16);
  CHECK(p.data == data_fingerprint(c.data));
  const TrainState s = read_checkpoint_state(c.run_dir() + "/best.h5");
  CHECK(parse_provenance(s.provenance_yaml, "best.h5").data == p.data);
  // the log's rows say which qat trained them
  CHECK(read_file(c.run_dir() + "/log.csv").find(std::string(qat_version()) + "+" + qat_commit()) !=
        std::string::npos);
  CHECK(read_file(c.run_dir() + "/steps.csv").rfind("step,epoch,batch,loss,lr\n1,0,0,", 0) == 0);
  // other data with the same shapes: another checksum
  CHECK(!(data_fingerprint(dataset(2)) == p.data));
}

TEST_CASE("provenance: resuming with another config or other data is refused, naming each key") {
  fs::remove_all(kRoot / "trial");
  const std::string data = dataset(1);
  train(config("trial", {"data=" + data, "num_epochs=1"}));
  // the trial: full precision, then BNN at another lr and length
  const Config bnn = config("trial", {"data=" + data, "quantization=BNN", "lr=0.5", "num_epochs=2"});
  CHECK_THROWS_WITH_AS(train(bnn), doctest::Contains("refusing to resume"), Error);
  CHECK_THROWS_WITH_AS(train(bnn), doctest::Contains("quantization: Normal -> BNN"), Error);
  CHECK_THROWS_WITH_AS(train(bnn), doctest::Contains("-> 0.5"), Error);
  CHECK_THROWS_WITH_AS(train(bnn), doctest::Contains("num_epochs: 1 -> 2"), Error);
  CHECK_THROWS_WITH_AS(train(bnn), doctest::Contains("--restart"), Error);
  // the folder still claims the model it holds
  CHECK(load_config(kRoot.string() + "/trial/config.yaml").quantization == "Normal");
  // other data under the same path is another experiment too
  const std::string other = dataset(2);
  CHECK_THROWS_WITH_AS(train(config("trial", {"data=" + other, "num_epochs=1"})),
                       doctest::Contains("data contents: "), Error);
  // threads and where the log goes cannot change results: they may differ
  CHECK_NOTHROW(train(config("trial", {"data=" + data, "num_epochs=1", "threads=1"})));
  CHECK_NOTHROW(train(config("trial", {"data=" + data, "num_epochs=1", "adapt_threads=false"})));

  // the binary: exit code 1 and the same one-line message, then --restart
  const std::string err = (kRoot / "trial.err").string();
  const std::vector<std::string> args{
      "train", kTiny, "--set", "log_output_dir=" + kRoot.string(), "--set",
      "experiment_name=trial", "--set", "telemetry=false", "--set", "steps_per_epoch=1",
      "--set", "data=" + data, "--set", "quantization=BNN", "--set", "lr=0.5", "--set",
      "num_epochs=2"};
  CHECK(run_qat(args, err) == 1);
  const std::string message = read_file(err);
  CHECK(message.find("quantization: Normal -> BNN") != std::string::npos);
  CHECK(std::count(message.begin(), message.end(), '\n') == 1);
  std::vector<std::string> restart = args;
  restart.push_back("--restart");
  CHECK(run_qat(restart, err) == 0);
  CHECK(load_config(kRoot.string() + "/trial/config.yaml").quantization == "BNN");
  int old = 0;
  for (const auto& e : fs::directory_iterator(kRoot))
    if (e.path().filename().string().rfind("trial.old-", 0) == 0) {
      ++old;  // the old run is kept, not deleted
      CHECK(load_config((e.path() / "config.yaml").string()).quantization == "Normal");
      fs::remove_all(e.path());
    }
  CHECK(old == 1);
}

TEST_CASE("provenance: an edited sweep row makes its cell stale; sweep and table refuse it") {
  const fs::path dir = kRoot / "sweep";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string out = (dir / "out").string(), data = dataset(1);
  auto grid = [&](const std::string& lr) {
    const std::string path = (dir / "grid.yaml").string();
    std::ofstream(path) << "base: " << kTiny << "\noutput: " << out
                        << "\nseeds: [0]\nset: {telemetry: false, num_epochs: 1, "
                           "steps_per_epoch: 1, data: " << data
                        << "}\nrows:\n  - {name: a, set: {lr: " << lr << "}}\n";
    return load_sweep(path);
  };
  SweepOptions o;
  o.binary = QAT_BINARY;
  o.quiet = true;
  o.cores = 1;
  REQUIRE(run_sweep(grid("0.01"), o).finished.size() == 1);
  const Sweep edited = grid("0.02");
  const SweepCell cell = plan_sweep(edited)[0];
  CHECK(cell_state(cell, load_cell_configs(edited, {cell})[0]) == CellState::Stale);
  // by epochs alone it would look finished: that is the bug this fixes
  CHECK(cell_state(cell, int64_t(1)) == CellState::Finished);
  CHECK(format_plan(edited, {cell}, load_cell_configs(edited, {cell})).find("[stale]") !=
        std::string::npos);
  CHECK_THROWS_WITH_AS(run_sweep(edited, o), doctest::Contains("stale cells"), Error);
  CHECK_THROWS_WITH_AS(make_table(edited.source), doctest::Contains("stale cells"), Error);
  const Table allowed = make_table(edited.source, {"dice"}, /*allow_stale=*/true);
  CHECK(allowed.stale == std::vector<std::string>{"a/seed0"});
  CHECK(table_markdown(allowed).find("STALE") != std::string::npos);
  CHECK(table_markdown(allowed).find(qat_version_line()) != std::string::npos);
  // re-run explicitly: the old folder moves aside, the cell is fresh
  o.restart_stale = true;
  CHECK(run_sweep(edited, o).finished.size() == 1);
  CHECK(cell_state(cell, load_cell_configs(edited, {cell})[0]) == CellState::Finished);
  CHECK(make_table(edited.source).stale.empty());
}
