// Batches over a SampleSource: shuffled per epoch, passed through a
// Pipeline, optionally built one batch ahead on a worker thread.
//
// Determinism: epoch e's order is a function of (seed, e), and sample i's
// augmentation draws from an Rng seeded by a hash of (seed, e, i). Nothing
// depends on thread timing, and a run resumed at the start of epoch e sees
// the batches an uninterrupted run saw.
#pragma once
#include <cstdint>
#include <future>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/pipeline.h"

namespace qat::data {

struct LoaderOptions {
  int64_t batch_size = 5;  // EM 5, GM 16 in the paper's code
  uint64_t seed = 0;
  bool shuffle = true;
  bool augment = true;     // Pipeline::train; false: Pipeline::eval
  bool drop_last = false;  // drop the last incomplete batch
  bool prefetch = true;    // build the next batch on a worker thread
  // Data-parallel training: this process builds only part `shard` of
  // `shards` consecutive parts of each batch (the order stays the global one).
  int64_t shard = 0, shards = 1;
};

// images (B,C,H,W), masks (B,1,H,W) as 0.f / 1.f; indices: the source
// samples in batch order.
struct Batch {
  int64_t b = 0, c = 0, h = 0, w = 0;
  std::vector<float> images;
  std::vector<float> masks;
  std::vector<int64_t> indices;
};

class Loader {
 public:
  // `source` (or `split`) must outlive the loader.
  Loader(const SampleSource& source, Pipeline pipeline, LoaderOptions options);
  Loader(const Split& split, Pipeline pipeline, LoaderOptions options);
  ~Loader();

  int64_t batches_per_epoch() const;
  void start_epoch(int64_t epoch);
  // The next batch of the epoch; false when the epoch is done.
  bool next(Batch& out);

  // The order of epoch `epoch` (source indices), for inspection and tests.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  Loader(std::unique_ptr<SampleSource> owned, Pipeline pipeline, LoaderOptions options);
  Batch make_batch(int64_t k) const;
  void drain();

  std::unique_ptr<SampleSource> owned_;  // set when built from a Split
  const SampleSource* source_;
  Pipeline pipeline_;
  LoaderOptions opt_;
  int64_t epoch_ = -1;
  int64_t next_ = 0;
  std::vector<int64_t> order_;
  std::future<Batch> pending_;
};

// The per-sample seed: a hash of (seed, epoch, index).
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace qat::data
