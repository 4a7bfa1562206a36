// Data-parallel training and sweeps under mpirun (experiments/distributed/):
// 2 ranks take the step of one process on the whole batch, a 2-rank run is
// reproducible bit for bit, a killed rank ends the job and the run resumes
// on 2 ranks and on 1, ranks with different configs are refused, and a
// sweep shares its cells among the ranks.
//
// Each test starts `mpirun --oversubscribe -np 2 qat ...` on the tiny
// synthetic set (a second or two per run).
//
// Skipped in the ASan build: there qat would run under OpenMPI, whose
// runtime keeps allocations until exit (LeakSanitizer would fail every
// rank) and hooks the allocator itself; that pairing was not verified, so
// these tests run in the release build only. The ASan build still checks
// the same ops without the cross-rank sums (the other tests).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiments/training/checkpoint.h"
#include "experiments/training/train.h"
#include "tests/experiments/training/tiny_em.h"

using namespace qat;
namespace fs = std::filesystem;

extern char** environ;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif

const std::string kTiny = QAT_TESTS "/experiments/training/tiny.yaml";
const fs::path kRoot = fs::temp_directory_path() / "qat_test_mpi";

std::string dataset() {
  static const std::string path = qat::testing::tiny_em_dataset("qat_test_mpi", 16, 3);
  return path;
}

// The --set options of a tiny run named `run` (its folder emptied first).
std::vector<std::string> tiny_sets(const std::string& run, std::vector<std::string> extra = {}) {
  fs::remove_all(kRoot / run);
  std::vector<std::string> sets{"data=" + dataset(), "log_output_dir=" + kRoot.string(),
                                "experiment_name=" + run, "threads=1"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

Config config_of(const std::vector<std::string>& sets) { return load_config(kTiny, sets); }

std::vector<std::string> train_args(const std::vector<std::string>& sets) {
  std::vector<std::string> args{QAT_BINARY, "train", kTiny};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  return args;
}

struct Run {
  int status = -1;
  std::string output;  // stdout and stderr of mpirun and every rank
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

// mpirun [--allow-run-as-root] --oversubscribe <apps>, where apps is one
// or more "-np K program args" separated by ":" (MPMD).
Run mpirun(const std::vector<std::string>& apps) {
  std::vector<std::string> argv_s{"mpirun", "--oversubscribe", "--bind-to", "none"};
  if (geteuid() == 0) argv_s.push_back("--allow-run-as-root");  // CI runs as root
  argv_s.insert(argv_s.end(), apps.begin(), apps.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  fs::create_directories(kRoot);
  const std::string out = (kRoot / "mpirun_output.txt").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  REQUIRE(posix_spawnp(&pid, "mpirun", &actions, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  Run r;
  waitpid(pid, &r.status, 0);
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  r.output = ss.str();
  return r;
}

Run mpirun_train(int ranks, const std::vector<std::string>& sets) {
  std::vector<std::string> apps{"-np", std::to_string(ranks)};
  for (const auto& a : train_args(sets)) apps.push_back(a);
  return mpirun(apps);
}

// Parameters (or buffers) of a checkpoint, by name.
NamedTensors tensors_of(const std::string& checkpoint, const Config& c, bool buffers) {
  Model m = build_model(c);
  load_checkpoint(checkpoint, *m.net, nullptr);
  return buffers ? m.net->named_buffers() : m.net->named_parameters();
}

std::vector<float> flat(const NamedTensors& ts) {
  std::vector<float> all;
  for (const auto& [name, t] : ts) {
    const auto v = t.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

std::string log_without_time(const std::string& run) {
  std::ifstream f(kRoot / run / "log.csv");
  std::string out;
  for (std::string line; std::getline(f, line);) out += line.substr(0, line.rfind(',')) + "\n";
  return out;
}

std::vector<double> train_losses(const std::string& run) {
  std::ifstream f(kRoot / run / "log.csv");
  std::vector<double> out;
  std::string line;
  std::getline(f, line);
  while (std::getline(f, line)) {
    std::stringstream ss(line);
    std::string epoch, loss;
    std::getline(ss, epoch, ',');
    std::getline(ss, loss, ',');
    out.push_back(std::stod(loss));
  }
  return out;
}

// The largest |a - b| of a tensor relative to the largest |a| of it, over
// every tensor: float sums in another order move each value by a few
// float epsilons of the tensor's scale, not of the value itself (a
// gradient entry near zero is a sum of terms that cancel).
double worst_relative(const NamedTensors& a, const NamedTensors& b,
                      const NamedTensors* origin, double scale) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = a[i].second.to_vector(), y = b[i].second.to_vector();
    std::vector<float> o(x.size(), 0.0f);
    if (origin) o = (*origin)[i].second.to_vector();
    double top = 0, diff = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      top = std::max(top, std::abs(double(x[k]) - o[k]) / scale);
      diff = std::max(diff, std::abs(double(x[k]) - y[k]) / scale);
    }
    if (top > 0) worst = std::max(worst, diff / top);
  }
  return worst;
}

}  // namespace

TEST_CASE("mpi: 2 ranks with a global batch of 4 take the step of 1 process with batch 4"
          * doctest::skip(kUnderAsan)) {
  // One plain SGD step: the parameters move by lr times the gradient.
  const float lr = 0.1f;
  const std::vector<std::string> step{"optimizer=sgd", "momentum=0", "weight_decay=0",
                                      "schedule=constant", "lr=0.1", "num_epochs=1",
                                      "steps_per_epoch=1", "batch_size=4"};
  const auto one_sets = tiny_sets("step_one", step), two_sets = tiny_sets("step_two", step);
  const Config one = config_of(one_sets), two = config_of(two_sets);
  train(one);
  const Run r = mpirun_train(2, two_sets);
  INFO(r.output);
  REQUIRE(r.ok());
  CHECK(r.output.find("data-parallel on 2 ranks") != std::string::npos);

  Model init = build_model(one);  // the seed's initial weights
  const NamedTensors start = init.net->named_parameters();
  const auto p1 = tensors_of(one.run_dir() + "/checkpoint.h5", one, false);
  const auto p2 = tensors_of(two.run_dir() + "/checkpoint.h5", two, false);
  // Gradients (start - after) / lr: within 1e-4 of each tensor's largest.
  // The ranks' sums differ from the one process's only in their order
  // (each rank's GEMM over 2 samples, then a + b, against one GEMM over 4;
  // BatchNorm's sums in double): a few float epsilons (1.2e-7) per sum,
  // growing through the ~20 layers of the backward; measured 1.5e-5.
  const double grad_error = worst_relative(p1, p2, &start, lr);
  INFO("worst gradient difference relative to its tensor's largest: ", grad_error);
  CHECK(grad_error < 1e-4);
  CHECK(flat(p1) != flat(start));  // the step happened
  // BatchNorm running statistics after one step, the whole batch's: 1e-5.
  const auto b1 = tensors_of(one.run_dir() + "/checkpoint.h5", one, true);
  const auto b2 = tensors_of(two.run_dir() + "/checkpoint.h5", two, true);
  const double stat_error = worst_relative(b1, b2, nullptr, 1.0);
  INFO("worst BatchNorm statistic difference: ", stat_error);
  CHECK(stat_error < 1e-5);
  // The loss of the whole batch: BCE mean and soft Dice of all 4 samples.
  const double l1 = train_losses("step_one").at(0), l2 = train_losses("step_two").at(0);
  CHECK(std::abs(l1 - l2) <= 1e-6 * std::abs(l1));
}

TEST_CASE("mpi: the same 2-rank run twice is bit-identical"
          * doctest::skip(kUnderAsan)) {
  const std::vector<std::string> two_epochs{"num_epochs=2"};
  const auto a = tiny_sets("twice_a", two_epochs), b = tiny_sets("twice_b", two_epochs);
  const Run ra = mpirun_train(2, a), rb = mpirun_train(2, b);
  INFO(ra.output, rb.output);
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(flat(tensors_of((kRoot / "twice_a/checkpoint.h5").string(), config_of(a), false)) ==
        flat(tensors_of((kRoot / "twice_b/checkpoint.h5").string(), config_of(b), false)));
  CHECK(log_without_time("twice_a") == log_without_time("twice_b"));
}

TEST_CASE("mpi: a killed rank ends the job naming it; the run resumes on 2 ranks and on 1"
          * doctest::skip(kUnderAsan)) {
  const auto whole = tiny_sets("unbroken");
  REQUIRE(mpirun_train(2, whole).ok());
  const auto broken = tiny_sets("killed");
  const Config c = config_of(broken);
  // Rank 1 kills itself (SIGKILL) at step 7, in the middle of epoch 2 of 4.
  std::vector<std::string> apps{"-np", "1"};
  for (const auto& a : train_args(broken)) apps.push_back(a);
  apps.insert(apps.end(), {":", "-np", "1", "env", "QAT_FAULT_KILL_AT_STEP=7"});
  for (const auto& a : train_args(broken)) apps.push_back(a);
  const Run killed = mpirun(apps);
  INFO(killed.output);
  CHECK_FALSE(killed.ok());
  CHECK(killed.output.find("rank 1") != std::string::npos);  // mpirun names the lost rank
  REQUIRE(read_checkpoint_state(c.run_dir() + "/checkpoint.h5").epoch == 1);
  const fs::path saved = kRoot / "killed_saved";
  fs::remove_all(saved);
  fs::copy(c.run_dir(), saved, fs::copy_options::recursive);

  // On 2 ranks it continues to the weights of the unbroken 2-rank run.
  const Run resumed = mpirun_train(2, broken);
  INFO(resumed.output);
  REQUIRE(resumed.ok());
  CHECK(resumed.output.find("resuming") != std::string::npos);
  CHECK(flat(tensors_of(c.run_dir() + "/checkpoint.h5", c, false)) ==
        flat(tensors_of((kRoot / "unbroken/checkpoint.h5").string(), config_of(whole), false)));
  CHECK(log_without_time("killed") == log_without_time("unbroken"));

  // On 1 process (the same folder, put back as the kill left it) it
  // continues too; the float sums' order differs, so the losses agree
  // closely, not bit for bit.
  fs::remove_all(c.run_dir());
  fs::copy(saved, c.run_dir(), fs::copy_options::recursive);
  const TrainResult one = train(c);
  CHECK(one.epochs_done == 4);
  const auto a = train_losses("killed"), b = train_losses("unbroken");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  for (size_t e = 0; e < 4; ++e) CHECK(std::abs(a[e] - b[e]) <= 1e-3 * b[e]);
}

TEST_CASE("mpi: ranks that resolved different configs are refused on every rank"
          * doctest::skip(kUnderAsan)) {
  const auto sets = tiny_sets("disagree");
  std::vector<std::string> apps{"-np", "1"};
  for (const auto& a : train_args(sets)) apps.push_back(a);
  apps.insert(apps.end(), {"--set", "lr=0.02", ":", "-np", "1"});
  for (const auto& a : train_args(sets)) apps.push_back(a);
  const Run r = mpirun(apps);
  INFO(r.output);
  CHECK_FALSE(r.ok());
  CHECK(r.output.find("rank 1 resolved a different config than rank 0") != std::string::npos);
  CHECK_FALSE(fs::exists(kRoot / "disagree" / "checkpoint.h5"));
}

TEST_CASE("mpi: a sweep of 4 cells on 2 ranks runs every cell once"
          * doctest::skip(kUnderAsan)) {
  const fs::path dir = kRoot / "sweep";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string file = (dir / "sweep.yaml").string();
  std::ofstream(file) << "name: tiny_mpi\nbase: " << kTiny << "\noutput: " << (dir / "out").string()
                      << "\nseeds: [0, 1]\nset: {data: " << dataset()
                      << ", num_epochs: 1}\nrows:\n  - {name: a, set: {lr: 0.01}}\n"
                         "  - {name: b, set: {lr: 0.02}}\n";
  const Run r = mpirun({"-np", "2", QAT_BINARY, "sweep", file});
  INFO(r.output);
  REQUIRE(r.ok());
  for (const std::string id : {"a/seed0", "a/seed1", "b/seed0", "b/seed1"}) {
    const std::string line = "finished " + id + " in";
    size_t count = 0;
    for (size_t at = r.output.find(line); at != std::string::npos; at = r.output.find(line, at + 1))
      ++count;
    CHECK_MESSAGE(count == 1, id);
    const std::string cell = (dir / "out" / id).string();
    CHECK(read_checkpoint_state(cell + "/checkpoint.h5").epoch == 1);
  }
  // Run again: every cell is finished, nothing runs.
  const Run again = mpirun({"-np", "2", QAT_BINARY, "sweep", file});
  REQUIRE(again.ok());
  CHECK(again.output.find("finished a/") == std::string::npos);
}
