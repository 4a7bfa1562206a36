// Probability maps and masks of a packed split from the integer engine:
// what `qat predict --engine int` and the standalone `qat-int predict`
// write. Needs the runtime and data/ only.
#pragma once
#include <string>

#include "experiments/runtime/int_engine.h"

namespace qat {

struct IntPredictOptions {
  std::string data;          // packed dataset (data/FORMAT.md)
  std::string split = "val";
  int64_t count = 4;         // images, evenly spread over the split
  int64_t crop = 0;          // centre crop as the model was evaluated; 0: the whole image
  float threshold = 0.5f;
  std::string out;           // folder for <split>_<index>_prob.png and _mask.png
};

// Returns the folder written.
std::string predict_int(IntEngine& engine, const IntPredictOptions& o);

}  // namespace qat
