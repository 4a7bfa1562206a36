#include "experiments/predict/segment.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "autograd/ops.h"
#include "data/image_io.h"
#include "data/nifti_io.h"
#include "experiments/export/verify_int.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/train.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

Config parse_stored_config(const std::string& yaml, const std::string& path) {
  try {
    return parse_config(YAML::Load(yaml), path + " (stored config)");
  } catch (const YAML::Exception& e) {
    throw Error(path + ": its stored config is not valid YAML: " + e.what());
  }
}

// A run folder names its best model, else its latest checkpoint.
std::string checkpoint_in(const std::string& model) {
  if (!fs::exists(model)) throw Error(model + ": not found, expected a run folder or a checkpoint .h5");
  if (!fs::is_directory(model)) return model;
  for (const char* name : {"/best.h5", "/checkpoint.h5"})
    if (fs::exists(model + name)) return model + name;
  throw Error(model + ": no trained model in this folder (expected best.h5 or checkpoint.h5 "
                      "written by `qat train`)");
}

// The provenance stored with a checkpoint, else (runs older than it) the
// transform every packer before it used: axial slices of raw intensities.
Provenance provenance_of(const TrainState& s, const std::string& path) {
  if (!s.provenance_yaml.empty()) return parse_provenance(s.provenance_yaml, path);
  Provenance p;
  p.version = p.commit = "unknown (a checkpoint older than provenance records)";
  return p;
}

int64_t round_up8(int64_t n) { return std::max<int64_t>(8, (n + 7) / 8 * 8); }

}  // namespace

Segmenter::Segmenter(const std::string& model, const std::string& engine) {
  if (engine == "int") {
    checkpoint_ = model;
    IntModel im = read_int_model(model);
    config_ = config_of(im, model);
    if (!im.source_checkpoint.empty() && fs::exists(im.source_checkpoint))
      provenance_ = provenance_of(read_checkpoint_state(im.source_checkpoint), im.source_checkpoint);
    engine_ = std::make_unique<IntEngine>(std::move(im));
    return;
  }
  checkpoint_ = checkpoint_in(model);
  const TrainState s = read_checkpoint_state(checkpoint_);
  config_ = parse_stored_config(s.config_yaml, checkpoint_);
  provenance_ = provenance_of(s, checkpoint_);
  model_ = build_model(config_);
  load_checkpoint(checkpoint_, *model_.net, nullptr);
  model_.net->eval();
}

Segmenter::~Segmenter() = default;

std::vector<float> network_input(const std::vector<float>& image, int64_t h, int64_t w,
                                 int64_t crop, int64_t& padded_h, int64_t& padded_w) {
  // Statistics of the centre crop, as data::Pipeline::eval normalised it
  // (data::normalize: population std, a constant image becomes zeros).
  const int64_t ch = std::min(crop, h), cw = std::min(crop, w);
  const int64_t top = (h - ch) / 2, left = (w - cw) / 2;
  double sum = 0, sq = 0;
  for (int64_t y = top; y < top + ch; ++y)
    for (int64_t x = left; x < left + cw; ++x) sum += image[size_t(y * w + x)];
  const double n = double(ch * cw), mean = sum / n;
  for (int64_t y = top; y < top + ch; ++y)
    for (int64_t x = left; x < left + cw; ++x) {
      const double d = image[size_t(y * w + x)] - mean;
      sq += d * d;
    }
  const double sd = std::sqrt(sq / n);
  const bool constant = sd <= 1e-6 * std::max(1.0, std::abs(mean));
  auto norm = [&](double v) { return constant ? 0.f : float((v - mean) / sd); };
  padded_h = round_up8(h), padded_w = round_up8(w);
  // centred, an odd surplus at the bottom/right, as data::pad
  const int64_t pt = (padded_h - h) / 2, pl = (padded_w - w) / 2;
  std::vector<float> x(size_t(padded_h * padded_w), norm(0.0));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t c = 0; c < w; ++c) x[size_t((y + pt) * padded_w + c + pl)] = norm(image[size_t(y * w + c)]);
  return x;
}

std::vector<float> Segmenter::probabilities(const std::vector<float>& image, int64_t h, int64_t w) {
  int64_t ph = 0, pw = 0;
  const std::vector<float> in = network_input(image, h, w, config_.crop, ph, pw);
  Tensor x = Tensor::empty({1, 1, ph, pw});
  std::copy(in.begin(), in.end(), x.data());
  NoGrad no_grad;
  const Tensor prob = sigmoid(engine_ ? engine_->logits(x) : model_.net->forward(x));
  const int64_t pt = (ph - h) / 2, pl = (pw - w) / 2;
  std::vector<float> out(size_t(h * w));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t c = 0; c < w; ++c) out[size_t(y * w + c)] = prob.data()[(y + pt) * pw + c + pl];
  return out;
}

namespace {

void check_size(const std::string& input, int64_t h, int64_t w, const std::string& what) {
  if (h < 8 || w < 8)
    throw Error(input + ": " + what + " of " + std::to_string(h) + "x" + std::to_string(w) +
                " pixels, expected at least 8x8 (the U-Net pools three times)");
}

std::string segment_nifti(Segmenter& s, const std::string& input, const std::string& output,
                          const SegmentOptions& o) {
  if (!data::is_nifti_path(output))
    throw Error(output + ": the output of a NIfTI input must end in .nii or .nii.gz");
  const data::NiftiVolume v = data::read_nifti_volume(input);
  const int axis = o.axis >= 0 ? o.axis : s.provenance().slice_axis;
  if (axis > 2) throw Error("--axis " + std::to_string(axis) + ": expected 0, 1 or 2");
  int64_t h = 0, w = 0;
  data::slice_shape(v, axis, h, w);
  check_size(input, h, w, "slices along axis " + std::to_string(axis));
  std::vector<uint8_t> labels;
  std::vector<float> probs;
  int64_t foreground = 0;
  for (int64_t k = 0; k < data::slice_count(v, axis); ++k) {
    const std::vector<float> p = s.probabilities(data::get_slice(v, axis, k), h, w);
    if (o.probabilities) {
      data::put_slice(v, axis, k, p, probs);
      continue;
    }
    std::vector<uint8_t> l(p.size());
    for (size_t i = 0; i < p.size(); ++i) foreground += l[i] = p[i] >= s.config().threshold;
    data::put_slice(v, axis, k, l, labels);
  }
  if (o.probabilities) data::write_nifti_like(output, v, probs);
  else data::write_nifti_like(output, v, labels);
  return "wrote " + output + " (" + std::to_string(v.nx) + "x" + std::to_string(v.ny) + "x" +
         std::to_string(v.nz) + ", " + std::to_string(data::slice_count(v, axis)) +
         " slices along axis " + std::to_string(axis) +
         (o.probabilities ? ", float probabilities)"
                          : ", " + std::to_string(foreground) + " foreground voxels)");
}

std::string segment_image(Segmenter& s, const std::string& input, const std::string& output,
                          const SegmentOptions& o) {
  if (!data::is_png_path(output) && !data::is_tiff_path(output))
    throw Error(output + ": the output of an image must end in .png, .tif or .tiff");
  const data::GrayImage g = data::read_gray_image(input);
  check_size(input, g.h, g.w, "an image");
  const std::vector<float> p = s.probabilities(g.values, g.h, g.w);
  std::vector<uint8_t> px(p.size());
  for (size_t i = 0; i < p.size(); ++i)
    px[i] = o.probabilities ? uint8_t(std::lround(255.f * p[i]))
                            : (p[i] >= s.config().threshold ? 255 : 0);
  data::write_gray_image(output, px, g.h, g.w);
  return "wrote " + output + " (" + std::to_string(g.h) + "x" + std::to_string(g.w) +
         (o.probabilities ? ", probabilities x 255)" : ", mask 0/255)");
}

}  // namespace

std::string segment_file(const std::string& model, const std::string& input,
                         const std::string& output, const SegmentOptions& o) {
  const bool nifti = data::is_nifti_path(input);
  if (!nifti && !data::is_png_path(input) && !data::is_tiff_path(input))
    throw Error(input + ": unknown input type, expected .nii, .nii.gz, .png, .tif or .tiff");
  if (!fs::exists(input)) throw Error(input + ": file not found");
  Segmenter s(model, o.engine);
  set_threads(s.config().threads);
  return nifti ? segment_nifti(s, input, output, o) : segment_image(s, input, output, o);
}

}  // namespace qat
