// qat: the experiment runner. `qat --help` lists the subcommands; each
// family's are in its own file (commands.h).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "experiments/cli/commands.h"
#include "experiments/distributed/comm.h"

using namespace qat;

int main(int argc, char** argv) {
  CLI::App app{"qat: quantization-aware training of U-Nets for medical image segmentation"};
  app.require_subcommand(1);
  add_training_commands(app);
  add_study_commands(app);
  add_deploy_commands(app);
  add_data_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qat: error: %s\n", e.what());
    distributed::abort_job(1);  // under mpirun: the other ranks would wait for this one
    return 1;
  }
  return 0;
}
