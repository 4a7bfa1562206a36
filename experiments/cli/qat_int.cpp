// qat-int: the integer runtime on its own. It links the runtime library
// (integer kernels, the model file, the engine) and data/, and none of the
// training code, which is what a device that only runs a model carries.
//   qat-int predict MODEL.int.h5 DATA.h5 --out DIR [--split S --count N --crop C --threshold T]
#include <CLI/CLI.hpp>
#include <cstdio>

#include "experiments/cli/one_line.h"
#include "experiments/runtime/int_predict.h"

using namespace qat;

int main(int argc, char** argv) {
  CLI::App app{"qat-int: run an exported integer model (qat export) without the training code"};
  app.require_subcommand(1);
  std::string model;
  IntPredictOptions o;
  auto* p = app.add_subcommand("predict", "probability maps and masks of a packed split");
  p->add_option("model", model, "integer model .h5 (qat export)")->required();
  p->add_option("data", o.data, "packed dataset .h5 (data/FORMAT.md)")->required();
  p->add_option("--out", o.out, "output folder")->required();
  p->add_option("--split", o.split, "split to read")->capture_default_str();
  p->add_option("--count", o.count, "images, evenly spread")->capture_default_str();
  p->add_option("--crop", o.crop, "centre crop the model was evaluated at (0: whole image)")
      ->capture_default_str();
  p->add_option("--threshold", o.threshold, "mask threshold")->capture_default_str();
  p->callback([&] {
    IntEngine engine(read_int_model(model));
    std::printf("integer engine: probability maps and masks in %s\n",
                predict_int(engine, o).c_str());
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qat-int: error: %s\n", one_line(e.what()).c_str());
    return 1;
  }
  return 0;
}
