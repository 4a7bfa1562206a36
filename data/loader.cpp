#include "data/loader.h"

#include <numeric>

#include "autograd/check.h"

namespace qat::data {

using detail::concat;

namespace {
uint64_t mix64(uint64_t z) {  // splitmix64's finaliser
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// The shuffle's stream uses an index no sample has.
constexpr int64_t kShuffleIndex = -1;
}  // namespace

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return mix64(mix64(mix64(seed) ^ uint64_t(epoch)) ^ uint64_t(index));
}

Loader::Loader(const SampleSource& source, Pipeline pipeline, LoaderOptions options)
    : source_(&source), pipeline_(pipeline), opt_(options) {
  if (opt_.batch_size < 1)
    throw Error(concat("Loader: batch_size is ", opt_.batch_size, ", expected >= 1"));
  if (source_->size() < 1) throw Error("Loader: the split has no samples, expected at least one");
  if (opt_.shards < 1 || opt_.shard < 0 || opt_.shard >= opt_.shards)
    throw Error(concat("Loader: shard ", opt_.shard, " of ", opt_.shards, " does not exist"));
}

Loader::Loader(const Split& split, Pipeline pipeline, LoaderOptions options)
    : Loader(std::make_unique<InMemorySource>(split), pipeline, options) {}

Loader::Loader(std::unique_ptr<SampleSource> owned, Pipeline pipeline, LoaderOptions options)
    : Loader(*owned, pipeline, options) {
  owned_ = std::move(owned);
}

Loader::~Loader() { drain(); }

void Loader::drain() {
  if (!pending_.valid()) return;
  try {
    pending_.get();
  } catch (...) {  // a batch nobody will read: its error does not matter
  }
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = source_->size(), b = opt_.batch_size;
  return opt_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(size_t(source_->size()));
  std::iota(order.begin(), order.end(), 0);
  if (!opt_.shuffle) return order;
  Rng rng(sample_seed(opt_.seed, epoch, kShuffleIndex));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

void Loader::start_epoch(int64_t epoch) {
  drain();  // the worker reads order_: finish it before changing it
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  next_ = 0;
  if (opt_.prefetch && batches_per_epoch() > 0)
    pending_ = std::async(std::launch::async, [this] { return make_batch(0); });
}

bool Loader::next(Batch& out) {
  if (epoch_ < 0) throw Error("Loader::next: call start_epoch(epoch) first");
  if (next_ >= batches_per_epoch()) return false;
  if (opt_.prefetch) {
    // Start the batch after this one first, so that a batch which failed
    // counts as consumed (as in line) and the epoch can go on.
    std::future<Batch> current = std::move(pending_);
    const int64_t k = ++next_;
    if (k < batches_per_epoch())
      pending_ = std::async(std::launch::async, [this, k] { return make_batch(k); });
    out = current.get();  // rethrows the worker's error
  } else {
    out = make_batch(next_++);
  }
  return true;
}

Batch Loader::make_batch(int64_t k) const {
  const int64_t first = k * opt_.batch_size;
  const int64_t size = std::min<int64_t>(opt_.batch_size, int64_t(order_.size()) - first);
  const int64_t begin = first + size * opt_.shard / opt_.shards;  // this shard's part
  const int64_t end = first + size * (opt_.shard + 1) / opt_.shards;
  Batch batch;
  Sample raw;
  for (int64_t pos = begin; pos < end; ++pos) {
    const int64_t index = order_[size_t(pos)];
    source_->read(index, raw);
    Sample s;
    if (opt_.augment) {
      Rng rng(sample_seed(opt_.seed, epoch_, index));
      s = pipeline_.train(raw, rng);
    } else {
      s = pipeline_.eval(raw);
    }
    if (batch.b == 0) {
      batch.c = s.c, batch.h = s.h, batch.w = s.w;
    } else if (s.c != batch.c || s.h != batch.h || s.w != batch.w) {
      throw Error(concat("Loader: sample ", index, " is ", s.c, "x", s.h, "x", s.w,
                         " after the pipeline, the batch is ", batch.c, "x", batch.h, "x",
                         batch.w, "; set a crop so every sample has one size"));
    }
    batch.images.insert(batch.images.end(), s.image.begin(), s.image.end());
    for (uint8_t m : s.mask) batch.masks.push_back(float(m));
    batch.indices.push_back(index);
    ++batch.b;
  }
  return batch;
}

}  // namespace qat::data
