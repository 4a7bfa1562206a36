// The qat program's subcommands, one add_*_commands per family. Each adds
// its subcommands to the app; each subcommand's work is one small run_*
// function in the family's file.
#pragma once
#include <string>
#include <vector>

#include "autograd/check.h"

namespace CLI {
class App;
}

namespace qat {

// train, eval, predict, baseline (train_cli.cpp)
void add_training_commands(CLI::App& app);
// report (a study of one model) lives with the sweeps: sweep, table, report
void add_study_commands(CLI::App& app);
// export, verify-int (deploy_cli.cpp)
void add_deploy_commands(CLI::App& app);
// data colin27|synthetic-em|nifti|tiff|png (data_cli.cpp)
void add_data_commands(CLI::App& app);

// Exit codes (also in `qat --help` and README): 0 done, 1 error, 2 usage.
constexpr int kExitError = 1, kExitUsage = 2;
constexpr int kExitVerifyDiffers = 3;  // verify-int: the engine and the simulation differ
constexpr int kExitCellsFailed = 4;    // sweep: some cells failed, the others ran
// An error with its own exit code; main prints it like any other.
struct ExitError : Error {
  ExitError(int exit_code, const std::string& what) : Error(what), code(exit_code) {}
  int code;
};

// predict (predict_cli.cpp); `qat predict CONFIG` stays in train_cli.cpp
void add_predict_command(CLI::App& app);

// A config file and its --set overrides, the arguments most commands share.
struct ConfigArgs {
  std::string path;
  std::vector<std::string> overrides;
};
void add_config_args(CLI::App* sub, ConfigArgs& args);

}  // namespace qat
