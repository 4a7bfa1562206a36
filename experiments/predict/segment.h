// `qat predict MODEL INPUT --out OUTPUT`: a trained model segments a new
// scan. MODEL is a run folder (best.h5, else checkpoint.h5), a checkpoint,
// or with engine "int" an exported integer model; INPUT a NIfTI volume
// (segmented slice by slice along an axis), a PNG or a TIFF. The output
// keeps the input's geometry: a uint8 label NIfTI with the input's header
// and affine (float probabilities with `probabilities`), or a mask PNG/TIFF
// of the input's size (0/255; probabilities x 255).
//
// Whole images, not a centre crop: each slice is padded to the network's
// multiple of 8 and the output cropped back. The intensities go through the
// transform training used (provenance.h): the packer's scale for this kind
// of file, then zero mean and unit standard deviation with the statistics
// of the centre crop of `crop` pixels, as evaluation computed them; the
// padding is raw zero (the packers pad with zeros) in those units.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "experiments/runtime/int_engine.h"
#include "experiments/training/model.h"
#include "experiments/training/provenance.h"

namespace qat {

struct SegmentOptions {
  std::string engine = "float";  // float | int
  int axis = -1;                 // NIfTI slice axis; -1: the axis the model's data was packed along
  bool probabilities = false;
};

class Segmenter {
 public:
  // Throws qat::Error naming MODEL when it holds no trained model.
  Segmenter(const std::string& model, const std::string& engine);
  ~Segmenter();
  // image (h,w) in the packer's units -> foreground probability (h,w).
  std::vector<float> probabilities(const std::vector<float>& image, int64_t h, int64_t w);
  const Config& config() const { return config_; }
  const Provenance& provenance() const { return provenance_; }
  const std::string& checkpoint() const { return checkpoint_; }

 private:
  Config config_;
  Provenance provenance_;
  std::string checkpoint_;
  Model model_;
  std::unique_ptr<IntEngine> engine_;
};

// The network input of one image: normalised as training did, padded to
// multiples of 8 (at least 8). Exposed for tests.
std::vector<float> network_input(const std::vector<float>& image, int64_t h, int64_t w,
                                 int64_t crop, int64_t& padded_h, int64_t& padded_w);

// Reads input, segments it, writes output; returns a one-line summary.
std::string segment_file(const std::string& model, const std::string& input,
                         const std::string& output, const SegmentOptions& o);

}  // namespace qat
