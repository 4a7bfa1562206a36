// A tiny synthetic EM set (40x40 images) for tests that train, written once
// per test binary and folder.
#pragma once
#include <filesystem>
#include <string>

#include "data/synthetic_em.h"

namespace qat::testing {

inline std::string tiny_em_dataset(const std::string& folder, int64_t n_train, uint64_t seed) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / folder;
  std::filesystem::create_directories(dir);
  data::SyntheticEmOptions o;
  o.n_train = n_train;
  o.n_val = 4;
  o.size = 40;
  o.cell_size = 10;
  o.seed = seed;
  const std::string p = (dir / "em.h5").string();
  data::make_synthetic_em(p, o);
  return p;
}

}  // namespace qat::testing
