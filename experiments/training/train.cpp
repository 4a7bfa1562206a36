#include "experiments/training/train.h"

#include <omp.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/atomic_write.h"
#include "data/png.h"
#include "experiments/distributed/data_parallel.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/progress.h"
#include "experiments/training/provenance.h"
#include "experiments/training/telemetry.h"
#include "experiments/training/thread_governor.h"
#include "experiments/training/write_faults.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace qat {
namespace fs = std::filesystem;

// OpenBLAS is not in training any more (autograd/gemm/): setting its
// threads too would only make it allocate its per-thread buffers (7 MiB).
void set_threads(int threads) { omp_set_num_threads(threads); }

void write_file_atomic(const std::string& path, const std::string& content) {
  data::write_file_atomic(path, content, write_fault_point);
}

data::Pipeline make_pipeline(const Config& c) {
  data::PipelineOptions o;
  o.crop_h = o.crop_w = c.crop;
  return data::Pipeline(o);
}

Tensor images_tensor(const data::Batch& b) {
  Tensor t = Tensor::empty({b.b, b.c, b.h, b.w});
  std::copy(b.images.begin(), b.images.end(), t.data());
  return t;
}

Tensor masks_tensor(const data::Batch& b) {
  Tensor t = Tensor::empty({b.b, 1, b.h, b.w});
  std::copy(b.masks.begin(), b.masks.end(), t.data());
  return t;
}

Tensor loss_of(const Config& c, const Tensor& logits, const Tensor& target,
               const CrossSum* across) {
  if (c.loss == "bce") return bce_with_logits(logits, target, across);
  Tensor dice = soft_dice_loss(sigmoid(logits), target, /*eps=*/1e-4f, across);
  if (c.loss == "dice") return dice;
  return bce_with_logits(logits, target, across) * 0.5f + dice * 0.5f;  // the EM code's loss
}

namespace {

std::unique_ptr<Optimizer> make_optimizer(const Config& c, const std::vector<Tensor>& params) {
  if (c.optimizer == "sgd") {
    SgdOptions o;
    o.lr = c.lr;
    o.momentum = c.momentum;
    o.nesterov = c.nesterov;
    o.weight_decay = c.weight_decay;
    return std::make_unique<Sgd>(params, o);
  }
  AdamOptions o;
  o.lr = c.lr;
  o.weight_decay = c.weight_decay;
  return std::make_unique<Adam>(params, o);
}

// Learning rate per epoch, as the paper's code steps its schedulers.
Schedule make_schedule(const Config& c) {
  if (c.schedule == "constant") return Schedule::constant(c.lr, c.warmup_epochs);
  if (c.schedule == "multistep") {
    if (c.milestones.empty())
      return Schedule::step_every(c.lr, std::max<int64_t>(1, c.num_epochs / 5), c.num_epochs,
                                  c.gamma);
    return Schedule::multistep(c.lr, c.milestones, c.gamma, c.warmup_epochs);
  }
  return Schedule::cosine(c.lr, c.lr_min, c.num_epochs, c.warmup_epochs);
}

}  // namespace

SplitSource::SplitSource(const std::string& path, const std::string& name, int64_t max_bytes) {
  const data::SplitReader probe(path, name);
  n = probe.size(), h = probe.height(), w = probe.width();
  const int64_t bytes = n * h * w * (probe.channels() * int64_t(sizeof(float)) + 1);
  if (bytes <= max_bytes) {
    split_ = data::read_split(path, name, max_bytes);
    memory_ = std::make_unique<data::InMemorySource>(split_);
  } else {
    reader_ = std::make_unique<data::SplitReader>(path, name);
  }
}

const data::SampleSource& SplitSource::source() const {
  return reader_ ? static_cast<const data::SampleSource&>(*reader_) : *memory_;
}

std::unique_ptr<SplitSource> load_split(const Config& c, const std::string& name,
                                        int64_t max_bytes) {
  if (!fs::exists(c.data))
    throw Error(c.source + ": key 'data': dataset file '" + c.data +
                "' not found (pack one with `qat data colin27 " + c.data + "`)");
  auto s = std::make_unique<SplitSource>(c.data, name, max_bytes);
  if (s->n == 0) throw Error(c.data + ": split '" + name + "' is empty");
  if (c.crop > s->h || c.crop > s->w)
    throw Error(c.source + ": key 'crop': " + std::to_string(c.crop) + " is larger than the " +
                name + " images of " + c.data + " (" + std::to_string(s->h) + "x" +
                std::to_string(s->w) + ")");
  return s;
}

namespace {

// The first parameter whose gradient holds a NaN or infinity, or "".
std::string non_finite_grad(const UNet& net) {
  for (const auto& [name, t] : net.named_parameters()) {
    Tensor g = t.grad();
    if (!g.defined()) continue;
    const float* p = g.data();
    for (int64_t i = 0; i < g.numel(); ++i)
      if (!std::isfinite(p[i])) return name;
  }
  return "";
}

std::string log_header() {
  return "epoch,train_loss,val_loss,dice,iou,precision,recall,specificity,accuracy,rand_index,"
         "hausdorff,dice_per_image,lr,beta,qat_version,seconds";
}

std::string log_line(int64_t epoch, double train_loss, const EvalResult& v, float lr, float beta,
                     double seconds) {
  char buf[512];
  const Metrics& m = v.global;
  std::snprintf(buf, sizeof buf,
                "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f,%.6f,%.6g,%.4f,%s+%s,%.2f",
                (long long)epoch, train_loss, v.loss, m.dice, m.iou, m.precision, m.recall,
                m.specificity, m.accuracy, m.rand_index, v.hausdorff, v.per_image.dice, lr, beta,
                qat_version(), qat_commit(), seconds);
  return buf;
}

// steps.csv: one row per optimizer step (step counts from 1).
std::string step_line(int64_t step, int64_t epoch, int64_t batch, float loss, float lr) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%lld,%lld,%lld,%.6f,%.6g", (long long)step, (long long)epoch,
                (long long)batch, loss, lr);
  return buf;
}

// Lines of a CSV file after its header whose first field is an epoch < keep.
std::vector<std::string> kept_rows(const std::string& path, int64_t keep) {
  std::vector<std::string> rows;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line))
    if (!line.empty() && std::stoll(line.substr(0, line.find(','))) < keep) rows.push_back(line);
  return rows;
}

std::string join_csv(const std::string& header, const std::vector<std::string>& rows) {
  std::string s = header + "\n";
  for (const auto& r : rows) s += r + "\n";
  return s;
}

std::string yaml_text(const Config& c) {
  YAML::Emitter e;
  e << config_to_yaml(c);
  return std::string(e.c_str()) + "\n";
}

}  // namespace

EvalResult evaluate(Model& m, const data::SampleSource& split, const Config& c) {
  NoGrad no_grad;
  m.net->eval();
  data::LoaderOptions lo;
  lo.batch_size = c.batch_size;
  lo.shuffle = false;
  lo.augment = false;
  data::Loader loader(split, make_pipeline(c), lo);
  loader.start_epoch(0);
  MetricAccumulator acc(c.threshold);
  EvalResult r;
  double loss_sum = 0;
  int64_t batches = 0;
  data::Batch b;
  while (loader.next(b) && (c.val_batches == 0 || batches < c.val_batches)) {
    Tensor target = masks_tensor(b);
    Tensor logits = m.net->forward(images_tensor(b));
    loss_sum += loss_of(c, logits, target).item() * double(b.b);
    Tensor prob = sigmoid(logits);
    acc.add(prob.data(), target.data(), b.b, b.h, b.w);
    r.images += b.b;
    ++batches;
  }
  m.net->train();
  r.loss = loss_sum / double(std::max<int64_t>(r.images, 1));
  r.global = acc.global();
  r.per_image = acc.mean_per_image();
  r.hausdorff = acc.mean_hausdorff();
  return r;
}

float lr_for_epoch(const Config& c, int64_t epoch) { return make_schedule(c).lr(epoch); }

std::string trained_model_path(const Config& c) {
  return c.trained_model.empty() ? c.run_dir() + "/best.h5" : c.trained_model;
}

namespace {

// Everything one training run holds from its start to its last epoch.
struct Run {
  explicit Run(const Config& config)
      : c(config), dir(config.run_dir()), ckpt(dir + "/checkpoint.h5"),
        best(trained_model_path(config)), schedule(make_schedule(config)) {}
  const Config& c;
  std::string dir, ckpt, best;
  std::unique_ptr<SplitSource> train_data, val_data;
  Telemetry telemetry;
  Model m;
  std::unique_ptr<Optimizer> optimizer;
  Schedule schedule;
  TrainState state;
  std::vector<std::string> rows, telemetry_rows, step_rows;  // log, telemetry, steps.csv
  // A job of one rank unless started by mpirun (experiments/distributed/).
  std::unique_ptr<distributed::DataParallel> dp;
};

// A checkpoint made by another config or from other data is not this run:
// resuming it would mix two experiments under one name.
void refuse_changed_run(const Run& r) {
  const std::vector<ConfigChange> changes = run_changes(r.ckpt, r.c);
  if (changes.empty()) return;
  throw Error(r.dir + ": its checkpoint was trained with other settings, refusing to resume (" +
              format_changes(changes) + "); start afresh with `qat train " + r.c.source +
              " ... --restart`, which moves the old folder aside to " + r.dir +
              ".old-<time>, or choose another experiment_name");
}

// Builds the model, resumes it from the checkpoint (or starts it), and
// writes the run's config.yaml and provenance.yaml.
void open_run(Run& r) {
  const Config& c = r.c;
  fs::create_directories(r.dir);
  r.train_data = load_split(c, "train", distributed::DataParallel::split_max_bytes());
  r.val_data = load_split(c, "val");
  r.m = build_model(c, c.telemetry ? &r.telemetry : nullptr);
  r.optimizer = make_optimizer(c, r.m.net->parameters());
  r.schedule.validate();
  r.dp = std::make_unique<distributed::DataParallel>(
      *r.m.net, yaml_text(c), c.batch_size, r.train_data->source().size(), c.dropout);
  if (fs::exists(r.ckpt)) {
    refuse_changed_run(r);
    r.state = load_checkpoint(r.ckpt, *r.m.net, r.optimizer.get());
    std::printf("resuming %s from its checkpoint after epoch %lld\n", r.dir.c_str(),
                (long long)r.state.epoch);
  } else if (c.operation_mode == "retrain") {
    load_checkpoint(c.trained_model, *r.m.net, nullptr);
    std::printf("retraining from %s\n", c.trained_model.c_str());
  }
  // The record of what this binary and this config make; threads and paths
  // may differ from the checkpoint's (ignored_for_resume), so write ours.
  r.state.config_yaml = yaml_text(c);
  r.state.provenance_yaml = provenance_yaml(make_provenance(c));
  if (r.dp->writer()) {  // rank 0 alone writes
    write_file_atomic(r.dir + "/config.yaml", r.state.config_yaml);
    write_file_atomic(r.dir + "/provenance.yaml", r.state.provenance_yaml);
  }
  // Rows of epochs the checkpoint has; later ones (a run killed after
  // logging but before its checkpoint) are dropped and redone.
  r.rows = kept_rows(r.dir + "/log.csv", r.state.epoch);
  r.telemetry_rows = kept_rows(r.dir + "/telemetry.csv", r.state.epoch);
  r.step_rows = kept_rows(r.dir + "/steps.csv", r.state.step + 1);
}

data::Loader make_train_loader(const Run& r) {
  data::LoaderOptions lo;
  lo.batch_size = r.c.batch_size;
  lo.seed = r.c.seed;
  lo.augment = r.c.augment;
  lo.drop_last = r.train_data->source().size() > r.c.batch_size;  // BatchNorm needs > 1 sample
  r.dp->shard(lo);
  return data::Loader(r.train_data->source(), make_pipeline(r.c), lo);
}

// One optimizer step; throws naming the step when the loss or a gradient
// is not finite. Returns the loss.
float train_step(Run& r, const data::Batch& b, int64_t epoch, int64_t batch) {
  Tensor loss = loss_of(r.c, r.m.net->forward(images_tensor(b)), masks_tensor(b), r.dp->across());
  const float value = loss.item();
  const std::string where = r.dir + ": training stopped at step " +
                            std::to_string(r.state.step + 1) + " (epoch " +
                            std::to_string(epoch + 1) + ", batch " + std::to_string(batch + 1) + ")";
  if (!std::isfinite(value)) throw Error(where + ": the loss is " + std::to_string(value));
  loss.backward();
  r.dp->sum_gradients();
  const std::string bad = non_finite_grad(*r.m.net);
  if (!bad.empty()) throw Error(where + ": the gradient of '" + bad + "' is not finite");
  r.optimizer->step();
  r.optimizer->zero_grad();
  return value;
}

// Validation (and telemetry) after an epoch, then its log rows and
// checkpoints, each written to a temporary name and renamed.
EvalResult finish_epoch(Run& r, int64_t epoch, double train_loss, float lr, float beta,
                        std::chrono::steady_clock::time_point t0) {
  const Config& c = r.c;
  const data::SampleSource& val = r.val_data->source();
  if (c.telemetry) {  // one validation batch through the quantizers
    r.telemetry.begin(epoch);
    Config one = c;
    one.val_batches = 1;
    evaluate(r.m, val, one);
    for (const auto& t : r.telemetry.end()) r.telemetry_rows.push_back(Telemetry::csv_line(t));
  }
  const EvalResult v = evaluate(r.m, val, c);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.rows.push_back(log_line(epoch, train_loss, v, lr, beta, seconds));
  r.state.epoch = epoch + 1;
  if (v.global.dice > r.state.best_score) {
    r.state.best_score = v.global.dice;
    r.state.best_epoch = epoch;
    save_checkpoint(r.best, *r.m.net, nullptr, r.state);
  }
  write_file_atomic(r.dir + "/log.csv", join_csv(log_header(), r.rows));
  write_file_atomic(r.dir + "/steps.csv", join_csv("step,epoch,batch,loss,lr", r.step_rows));
  if (c.telemetry)
    write_file_atomic(r.dir + "/telemetry.csv", join_csv(Telemetry::csv_header(), r.telemetry_rows));
  save_checkpoint(r.ckpt, *r.m.net, r.optimizer.get(), r.state);
  return v;
}

std::string epoch_summary(const Config& c, int64_t epoch, double train_loss, const EvalResult& v,
                          float lr, double seconds) {
  char s[256];
  std::snprintf(s, sizeof s,
                "epoch %lld/%lld  train loss %.4f  val loss %.4f  val Dice %.2f%%  lr %.3g  %s",
                (long long)epoch + 1, (long long)c.num_epochs, train_loss, v.loss,
                100.0 * v.global.dice, lr, format_duration(seconds).c_str());
  return s;
}

}  // namespace

TrainResult train(const Config& c) {
  set_threads(c.threads);
  Run r(c);
  open_run(r);
  data::Loader loader = make_train_loader(r);
  int64_t steps = loader.batches_per_epoch();
  if (c.steps_per_epoch > 0) steps = std::min(steps, c.steps_per_epoch);
  // Fault injection for the resume test: the process kills itself (as an
  // out-of-memory killer or a stopped session would) at this global step.
  const char* kill_env = std::getenv("QAT_FAULT_KILL_AT_STEP");
  const int64_t kill_at = kill_env ? std::atoll(kill_env) : -1;
  // And for the thread governor's test: every step looks starved of CPU.
  const bool busy_fault = std::getenv("QAT_FAULT_BUSY_MACHINE") != nullptr;

  TrainResult result;
  result.run_dir = r.dir;
  Progress progress(c.num_epochs, steps, r.state.epoch);
  ThreadGovernor governor(c.threads, c.adapt_threads);
  double step_seconds = 0;  // training steps only, for dp->timing
  const int64_t first_epoch = r.state.epoch;
  for (int64_t epoch = r.state.epoch; epoch < c.num_epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const float lr = r.schedule.lr(epoch), beta = beta_for_epoch(c, epoch);
    r.optimizer->set_lr(lr);
    r.m.net->set_beta(beta);
    r.m.net->train();
    loader.start_epoch(epoch);
    double loss_sum = 0;
    data::Batch b;
    for (int64_t s = 0; s < steps && loader.next(b); ++s) {
      const StepClock clock;
      const float value = train_step(r, b, epoch, s);
      set_threads(governor.after_step(clock.wall(), busy_fault ? 0.0 : clock.cpu()));
      if (!governor.change().empty()) progress.note(governor.change());
      if (++r.state.step == kill_at) std::raise(SIGKILL);
      r.step_rows.push_back(step_line(r.state.step, epoch, s, value, lr));
      loss_sum += value;
      progress.update(epoch, s + 1, value);
    }
    step_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double train_loss = loss_sum / double(std::max<int64_t>(steps, 1));
    if (!r.dp->writer()) {  // rank 0 alone validates and writes
      r.state.epoch = epoch + 1;
      continue;
    }
    result.last = finish_epoch(r, epoch, train_loss, lr, beta, t0);
    progress.finish_epoch(epoch_summary(c, epoch, train_loss, result.last, lr,
                                        std::chrono::duration<double>(
                                            std::chrono::steady_clock::now() - t0).count()));
  }
  std::printf("%s", r.dp->timing(steps * (r.state.epoch - first_epoch), step_seconds).c_str());
  if (result.last.images == 0 && r.dp->writer())  // nothing left to train
    result.last = evaluate(r.m, r.val_data->source(), c);
  result.epochs_done = r.state.epoch;
  result.best_dice = r.state.best_score;
  result.best_epoch = r.state.best_epoch;
  return result;
}

std::string trained_checkpoint(const Config& c) {
  std::string path = trained_model_path(c);
  if (!fs::exists(path) && c.trained_model.empty()) path = c.run_dir() + "/checkpoint.h5";
  if (!fs::exists(path))
    throw Error(c.source + ": no trained model: neither trained_model nor " + c.run_dir() +
                "/best.h5 or checkpoint.h5 exists (run `qat train` first)");
  return path;
}

Model load_model(const Config& c, const std::string& checkpoint) {
  Model m = build_model(c);
  load_checkpoint(checkpoint, *m.net, nullptr);
  m.net->eval();
  return m;
}

Tensor image_tensor(const data::Sample& s) {
  Tensor x = Tensor::empty({1, s.c, s.h, s.w});
  std::copy(s.image.begin(), s.image.end(), x.data());
  return x;
}

EvalResult evaluate_trained(const Config& c) {
  set_threads(c.threads);
  Model m = load_model(c, trained_checkpoint(c));
  return evaluate(m, load_split(c, "val")->source(), c);
}

std::string predict(const Config& c) {
  set_threads(c.threads);
  Model m = load_model(c, trained_checkpoint(c));
  const auto data = load_split(c, c.predict_split);
  const data::SampleSource& split = data->source();
  const std::string out = c.run_dir() + "/predictions";
  fs::create_directories(out);
  NoGrad no_grad;
  m.net->eval();
  const data::Pipeline pipeline = make_pipeline(c);
  const int64_t count = std::min(c.predict_count, split.size());
  for (int64_t i = 0; i < count; ++i) {
    // Evenly spread over the split, so the pictures show more than one region.
    const int64_t index = count > 1 ? i * (split.size() - 1) / (count - 1) : 0;
    data::Sample raw;
    split.read(index, raw);
    const data::Sample s = pipeline.eval(raw);
    Tensor prob = sigmoid(m.net->forward(image_tensor(s)));
    const int64_t n = s.h * s.w;
    // Gray background from the (normalised) image, then the three classes.
    float lo = s.image[0], hi = s.image[0];
    for (int64_t p = 0; p < n; ++p) lo = std::min(lo, s.image[size_t(p)]), hi = std::max(hi, s.image[size_t(p)]);
    std::vector<uint8_t> gray(static_cast<size_t>(n)), rgb(static_cast<size_t>(3 * n)),
        pmap(static_cast<size_t>(n));
    for (int64_t p = 0; p < n; ++p) {
      const float g = hi > lo ? (s.image[size_t(p)] - lo) / (hi - lo) : 0.0f;
      gray[size_t(p)] = uint8_t(std::lround(255.0f * g));
      pmap[size_t(p)] = uint8_t(std::lround(255.0f * prob.data()[p]));
      const bool pred = prob.data()[p] >= c.threshold, truth = s.mask[size_t(p)] != 0;
      uint8_t r = gray[size_t(p)], gr = gray[size_t(p)], bl = gray[size_t(p)];
      if (pred && truth) r = 0, gr = 200, bl = 0;           // true positive: green
      else if (pred && !truth) r = 230, gr = 0, bl = 0;     // false positive: red
      else if (!pred && truth) r = 0, gr = 90, bl = 255;    // false negative: blue
      rgb[size_t(3 * p)] = r, rgb[size_t(3 * p + 1)] = gr, rgb[size_t(3 * p + 2)] = bl;
    }
    char name[64];
    std::snprintf(name, sizeof name, "%s_%04lld", c.predict_split.c_str(), (long long)index);
    data::write_png_gray(out + "/" + name + "_image.png", gray.data(), s.h, s.w);
    data::write_png_gray(out + "/" + name + "_prob.png", pmap.data(), s.h, s.w);
    data::write_png_rgb(out + "/" + name + "_overlay.png", rgb.data(), s.h, s.w);
  }
  return out;
}

}  // namespace qat
