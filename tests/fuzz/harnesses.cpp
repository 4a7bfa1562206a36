#include "tests/fuzz/harness.h"

namespace qat::fuzz {

// The readers most exposed to files from elsewhere first.
const std::vector<Harness>& harnesses() {
  static const std::vector<Harness> all = {
      {"config", fuzz_config},
      {"sweep", fuzz_sweep},
      {"dataset_bytes", fuzz_dataset_bytes},
      {"dataset_values", fuzz_dataset_values},
      {"nifti", fuzz_nifti},
      {"tiff", fuzz_tiff},
      {"png", fuzz_png},
      {"checkpoint", fuzz_checkpoint},
      {"int_model", fuzz_int_model},
  };
  return all;
}

}  // namespace qat::fuzz
