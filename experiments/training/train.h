// Training and evaluation of one experiment: what `qat train`, `qat eval`
// and `qat predict` run.
//
// A run lives in <log_output_dir>/<experiment_name>/:
//   config.yaml     the resolved config
//   log.csv         per epoch: losses, validation metrics, lr, beta, seconds
//   telemetry.csv   per quantized layer and epoch (telemetry.h)
//   checkpoint.h5   the latest epoch's state; `qat train` resumes from it
//   best.h5         the epoch with the best validation Dice (or trained_model)
// Every file is written to a temporary name and renamed.
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "experiments/training/config.h"
#include "experiments/training/metrics.h"
#include "experiments/training/model.h"

namespace qat {

struct EvalResult {
  double loss = 0;
  Metrics global;          // from the confusion counts summed over the split
  Metrics per_image;       // the mean of per-image scores
  double hausdorff = 0;    // mean over images where it is finite
  int64_t images = 0;
};

struct TrainResult {
  int64_t epochs_done = 0;
  EvalResult last;
  double best_dice = -1;
  int64_t best_epoch = -1;
  std::string run_dir;
};

// Trains (or resumes) the experiment; prints progress to stdout.
TrainResult train(const Config& c);
// Evaluates the trained model (trained_model, else best.h5, else
// checkpoint.h5 of the run) on the validation split.
EvalResult evaluate_trained(const Config& c);
// Writes probability maps and overlay PNGs of predict_count validation
// images to <run dir>/predictions; returns that folder.
std::string predict(const Config& c);

// A split held in memory when it fits in max_bytes, else read sample by
// sample from the file (data::SplitReader) as the loader asks for it.
class SplitSource {
 public:
  SplitSource(const std::string& path, const std::string& name, int64_t max_bytes);
  const data::SampleSource& source() const;
  bool in_memory() const { return memory_ != nullptr; }
  int64_t n = 0, h = 0, w = 0;

 private:
  data::Split split_;
  std::unique_ptr<data::InMemorySource> memory_;
  std::unique_ptr<data::SplitReader> reader_;
};
// Opens c.data's split, checking it is not empty and the crop fits.
std::unique_ptr<SplitSource> load_split(const Config& c, const std::string& name,
                                        int64_t max_bytes = data::kDefaultMaxBytes);

// ---- pieces, also used by tests
data::Pipeline make_pipeline(const Config& c);
Tensor images_tensor(const data::Batch& b);
Tensor masks_tensor(const data::Batch& b);
// across: the batch is split over ranks (autograd/cross_sum.h)
Tensor loss_of(const Config& c, const Tensor& logits, const Tensor& target,
               const CrossSum* across = nullptr);
EvalResult evaluate(Model& m, const data::SampleSource& split, const Config& c);
std::string trained_model_path(const Config& c);
// The trained model's path as `qat eval` finds it (trained_model, best.h5,
// checkpoint.h5); qat::Error if none exists.
std::string trained_checkpoint(const Config& c);
// A model built from c with checkpoint's weights, in eval mode.
Model load_model(const Config& c, const std::string& checkpoint);
// One sample as a (1,C,H,W) tensor.
Tensor image_tensor(const data::Sample& s);
float lr_for_epoch(const Config& c, int64_t epoch);  // the schedule's
// OpenMP's threads; results do not depend on them (autograd/work_parts.h).
void set_threads(int threads);
// data::write_file_atomic with the chaos test's kill points (write_faults.h).
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace qat
