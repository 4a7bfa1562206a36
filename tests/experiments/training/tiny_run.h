// The tiny training runs the training tests share: the config on a tiny
// synthetic set, the qat binary started with extra environment, and what a
// finished run is compared by (its weights, its log without the times).
#pragma once
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/training/checkpoint.h"
#include "experiments/training/config.h"
#include "experiments/training/model.h"
#include "tests/experiments/training/tiny_em.h"

extern char** environ;

namespace qat::testing {

namespace fs = std::filesystem;

inline const std::string kTiny = QAT_TESTS "/experiments/training/tiny.yaml";

inline std::string tiny_dataset() {
  static const std::string path = qat::testing::tiny_em_dataset("qat_test_train", 16, 1);
  return path;
}

inline Config tiny_config(const std::string& run, std::vector<std::string> extra = {}) {
  const fs::path dir = fs::temp_directory_path() / "qat_test_train" / run;
  fs::remove_all(dir);
  std::vector<std::string> overrides{
      "data=" + tiny_dataset(),
      "log_output_dir=" + (fs::temp_directory_path() / "qat_test_train").string(),
      "experiment_name=" + run};
  overrides.insert(overrides.end(), extra.begin(), extra.end());  // later ones win
  return load_config(kTiny, overrides);
}

inline std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// Every column but the last (seconds).
inline std::vector<std::vector<std::string>> without_time(std::vector<std::vector<std::string>> rows) {
  for (auto& r : rows) r.pop_back();
  return rows;
}

inline std::vector<float> weights_of(const std::string& checkpoint, const Config& c) {
  Model m = build_model(c);
  load_checkpoint(checkpoint, *m.net, nullptr);
  std::vector<float> all;
  for (const auto& [name, t] : m.net->named_parameters()) {
    auto v = t.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// How spawn_qat starts the qat binary.
struct Spawn {
  std::vector<std::string> env_extra;       // NAME=value added to the environment
  std::string stdout_file = "/dev/null";
  std::string stderr_file;                  // "" keeps the test's stderr
  long file_size_limit = 0;                 // bytes (ulimit -f), through prlimit; 0: none
};

// Starts `qat args...`; returns its pid.
inline pid_t spawn_qat(const std::vector<std::string>& args, const Spawn& o = {}) {
  std::vector<std::string> argv_s;
  if (o.file_size_limit > 0)
    argv_s = {"/usr/bin/prlimit", "--fsize=" + std::to_string(o.file_size_limit)};
  argv_s.push_back(QAT_BINARY);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), o.env_extra.begin(), o.env_extra.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, o.stdout_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!o.stderr_file.empty())
    posix_spawn_file_actions_addopen(&actions, 2, o.stderr_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Runs the qat binary; returns its wait status.
inline int run_qat_status(const std::vector<std::string>& args,
                          const std::vector<std::string>& env_extra,
                          const std::string& stdout_file = "/dev/null") {
  const pid_t pid = spawn_qat(args, Spawn{env_extra, stdout_file});
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace qat::testing
