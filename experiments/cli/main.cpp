// qat: the experiment runner. `qat --help` lists the subcommands; each
// family's are in its own file (commands.h).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "experiments/cli/commands.h"
#include "experiments/cli/one_line.h"
#include "experiments/distributed/comm.h"
#include "data/quiet_libs.h"
#include "experiments/training/provenance.h"

using namespace qat;

namespace {

const char* kExitCodes =
    "Exit codes: 0 done; 1 error (a one-line message on stderr); 2 usage (bad arguments);\n"
    "3 verify-int found differing codes; 4 some sweep cells failed (the others ran).";

// CLI11 says "The following argument was not expected" for a mistyped
// subcommand; a person expects to hear which command is unknown.
int unknown_command(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return -1;
  const std::string name = argv[1];
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->get_name() == name) return -1;
  std::fprintf(stderr, "qat: error: unknown command '%s' (run `qat --help` for the list)\n",
               name.c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write should fail with EFBIG and
  // get qat's one-line error, not kill qat mid-file with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  data::quiet_library_messages();
  CLI::App app{"qat: quantization-aware training of U-Nets for medical image segmentation"};
  app.option_defaults()->always_capture_default();
  app.footer(kExitCodes);
  app.set_version_flag("--version", qat_version_line());
  app.require_subcommand(1);
  add_training_commands(app);
  add_predict_command(app);
  add_study_commands(app);
  add_deploy_commands(app);
  add_data_commands(app);
  if (const int rc = unknown_command(app, argc, argv); rc >= 0) return rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" of code 0; CLI11's own codes for bad
    // arguments (105-127) become the one usage code.
    return app.exit(e) == 0 ? 0 : kExitUsage;
  } catch (const ExitError& e) {
    std::fprintf(stderr, "qat: error: %s\n", one_line(e.what()).c_str());
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qat: error: %s\n", one_line(e.what()).c_str());
    distributed::abort_job(kExitError);  // under mpirun: the other ranks would wait for this one
    return kExitError;
  }
  return 0;
}
