// A generator of EM-like images (NOT real data) for smoke tests and the
// quickstart when no real dataset is at hand: cells as a Voronoi
// tessellation, dark membranes of varying width at the cell borders (the
// foreground, mask 1), textured bright interiors, dark mitochondria-like
// blobs inside cells (background, mask 0), then blur and noise.
#pragma once
#include <cstdint>
#include <string>

#include "autograd/rng.h"
#include "data/dataset.h"
#include "data/packers.h"

namespace qat::data {

struct SyntheticEmOptions {
  int64_t n_train = 20, n_val = 5;
  int64_t size = 256;             // images are size x size
  uint64_t seed = 0;
  float cell_size = 24.f;         // mean cell diameter in pixels
  float membrane_lo = 1.5f, membrane_hi = 4.f;  // membrane width range in pixels
  float mito_probability = 0.4f;  // chance that a cell holds a dark blob
  float blur_sigma = 1.0f;
  float noise_std = 0.05f;
};

// One image (1, size, size) in [0, 1] and its membrane mask.
Sample synthetic_em_sample(const SyntheticEmOptions& options, Rng& rng);

// Writes n_train + n_val images; the same options give the same file bytes.
PackReport make_synthetic_em(const std::string& out_path, const SyntheticEmOptions& options = {});

}  // namespace qat::data
