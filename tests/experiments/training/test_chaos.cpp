// The writer side under chaos (issue 16 item 5): a tiny run SIGKILLed over
// and over, at random moments and at the points where log.csv, steps.csv,
// telemetry.csv, config.yaml, checkpoint.h5 or best.h5 is half written or
// written but not yet renamed (QAT_FAULT_KILL_AT_WRITE, write_faults.h),
// always resumes to the weights and log of an unbroken run; and a file-size
// limit hit while writing gives a one-line error and keeps the checkpoint.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "tests/experiments/training/tiny_run.h"
#include "tests/run_qat.h"

using namespace qat;
using namespace qat::testing;
namespace fs = std::filesystem;

namespace {

#if defined(__SANITIZE_ADDRESS__)  // gcc
#define QAT_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define QAT_ASAN 1
#endif
#endif
#ifdef QAT_ASAN
constexpr int kKills = 12;  // each attempt is several times slower under ASan
#else
constexpr int kKills = 30;
#endif

std::vector<std::string> train_args(const Config& c) {
  return {"train", kTiny, "--set", "data=" + tiny_dataset(), "--set",
          "log_output_dir=" + c.log_output_dir, "--set", "experiment_name=" + c.experiment_name};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What must hold after any kill: a checkpoint, if there is one, reads.
void check_intact(const Config& c) {
  const std::string ckpt = c.run_dir() + "/checkpoint.h5";
  if (fs::exists(ckpt)) CHECK_NOTHROW(read_checkpoint_state(ckpt));
}

}  // namespace

TEST_CASE("chaos: a run SIGKILLed many times, at random and while writing, ends as an unbroken one") {
  const Config whole = tiny_config("chaos_whole");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_qat_status(train_args(whole), {}) == 0);
  const double unbroken_s = seconds_since(t0);

  const Config broken = tiny_config("chaos_killed");
  std::mt19937 rng(16);
  int killed = 0, write_kills = 0;
  for (int attempt = 0; attempt < kKills; ++attempt) {
    Spawn o;
    // Even attempts die at their n-th write point (a few are spent on
    // config.yaml and provenance.yaml at every start), odd ones at a moment.
    const bool at_write = attempt % 2 == 0;
    if (at_write) o.env_extra = {"QAT_FAULT_KILL_AT_WRITE=" + std::to_string(1 + rng() % 14)};
    const pid_t pid = spawn_qat(train_args(broken), o);
    if (!at_write)
      std::this_thread::sleep_for(std::chrono::duration<double>(
          std::uniform_real_distribution<double>(0.0, unbroken_s / 2)(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) ++killed, write_kills += at_write;
    if (WIFEXITED(status)) {  // it finished first
      REQUIRE(WEXITSTATUS(status) == 0);
      break;
    }
    check_intact(broken);
  }
  INFO(killed, " kills, ", write_kills, " of them while writing; unbroken run ", unbroken_s, " s");
  CHECK(killed >= 5);  // the run may finish first on a busy machine (kills land late)
  REQUIRE(run_qat_status(train_args(broken), {}) == 0);  // to the end
  CHECK(read_checkpoint_state(broken.run_dir() + "/checkpoint.h5").epoch == whole.num_epochs);
  for (const char* file : {"/checkpoint.h5", "/best.h5"})
    CHECK(weights_of(broken.run_dir() + file, broken) == weights_of(whole.run_dir() + file, whole));
  CHECK(without_time(read_csv(broken.run_dir() + "/log.csv")) ==
        without_time(read_csv(whole.run_dir() + "/log.csv")));
  CHECK(read_csv(broken.run_dir() + "/steps.csv") == read_csv(whole.run_dir() + "/steps.csv"));
  for (const auto& e : fs::directory_iterator(broken.run_dir()))
    CHECK_MESSAGE(e.path().extension() != ".tmp", e.path().string());
}

TEST_CASE("chaos: a file-size limit while writing the checkpoint is one clear error; the old one stays") {
  const Config c = tiny_config("full_disk");
  const std::string ckpt = c.run_dir() + "/checkpoint.h5";
  // One epoch done (4 steps an epoch; killed in the second).
  REQUIRE(WIFSIGNALED(run_qat_status(train_args(c), {"QAT_FAULT_KILL_AT_STEP=6"})));
  REQUIRE(read_checkpoint_state(ckpt).epoch == 1);
  const std::vector<float> before = weights_of(ckpt, c);
  const auto size = long(fs::file_size(ckpt));

  Spawn limited;
  limited.file_size_limit = size / 2;  // the CSV files fit, a checkpoint does not
  limited.stderr_file = (fs::path(c.log_output_dir) / "full_disk.err").string();
  int status = 0;
  waitpid(spawn_qat(train_args(c), limited), &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  const std::string err = read_file(limited.stderr_file);
  INFO(err);
  CHECK(err.find("qat: error: ") == 0);
  CHECK(err.find("disk full or file too large") != std::string::npos);
  CHECK(err.find(".h5") != std::string::npos);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  CHECK(read_checkpoint_state(ckpt).epoch == 1);
  CHECK(weights_of(ckpt, c) == before);
  for (const auto& e : fs::directory_iterator(c.run_dir()))
    CHECK_MESSAGE(e.path().extension() != ".tmp", e.path().string());
  // With room again it resumes and finishes.
  CHECK(run_qat_status(train_args(c), {}) == 0);
  CHECK(read_checkpoint_state(ckpt).epoch == c.num_epochs);
}

namespace {

// Runs `qat args...` under a file-size limit of `limit` bytes; returns its
// stderr and requires exit status 1.
std::string run_limited(const std::vector<std::string>& args, long limit, const fs::path& dir) {
  Spawn limited;
  limited.file_size_limit = limit;
  limited.stderr_file = (dir / "limited.err").string();
  int status = 0;
  waitpid(spawn_qat(args, limited), &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  return read_file(limited.stderr_file);
}

// One line, qat's prefix, the cause and the file named.
void check_full_disk_error(const std::string& err, const std::string& file) {
  INFO(err);
  CHECK(err.find("qat: error: ") == 0);
  CHECK(err.find(file + ": write failed (disk full or file too large?)") != std::string::npos);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
}

void check_no_tmp(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    CHECK_MESSAGE(e.path().extension() != ".tmp", e.path().string());
}

}  // namespace

TEST_CASE("chaos: a file-size limit while qat data or qat export writes is one clear error, no partial file") {
  const fs::path dir = fs::temp_directory_path() / "qat_test_train" / "full_disk_writers";
  fs::remove_all(dir);
  fs::create_directories(dir);
  constexpr long kLimit = 4096;  // bytes: a dataset and a model are larger

  SUBCASE("qat data: a new dataset is not left half written") {
    const std::string out = (dir / "em.h5").string();
    const std::string err = run_limited(
        {"data", "synthetic-em", out, "--train", "8", "--val", "2", "--size", "32"}, kLimit, dir);
    check_full_disk_error(err, out);
    CHECK(err.find("nothing written") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
    check_no_tmp(dir);
  }
  SUBCASE("qat data: the previous dataset stays as it was") {
    const std::string out = (dir / "em.h5").string();
    std::ofstream(out) << "the previous file";
    check_full_disk_error(run_limited({"data", "synthetic-em", out, "--train", "8", "--val", "2",
                                       "--size", "32"}, kLimit, dir), out);
    CHECK(read_file(out) == "the previous file");
    check_no_tmp(dir);
  }
  SUBCASE("qat export: neither the integer model nor the ONNX file is left half written") {
    const Config c = tiny_config("full_disk_export");
    std::vector<std::string> args = train_args(c);
    for (const char* s : {"num_epochs=1", "quantization=fixed_twos", "activation_i_width=4",
                          "activation_f_width=4", "weight_i_width=0", "weight_f_width=4"})
      args.insert(args.end(), {"--set", s});
    REQUIRE(run_qat_status(args, {}) == 0);
    const std::string ckpt = c.run_dir() + "/checkpoint.h5";
    for (const std::string format : {"int", "onnx"}) {
      CAPTURE(format);
      const std::string out = (dir / ("model." + format)).string();
      check_full_disk_error(run_limited({"export", ckpt, "--format", format, "--out", out},
                                        kLimit, dir), out);
      CHECK_FALSE(fs::exists(out));
      check_no_tmp(dir);
    }
  }
}
