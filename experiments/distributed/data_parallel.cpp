#include "experiments/distributed/data_parallel.h"

#include <chrono>
#include <cstdio>

#include "autograd/check.h"
#include "data/fnv1a.h"

namespace qat::distributed {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

uint64_t text_hash(const std::string& text) {
  data::Fnv1a h;
  h.add(text);
  return h.h;
}

DataParallel::DataParallel(UNet& net, const std::string& config_yaml, int64_t batch,
                           int64_t train_size, bool dropout)
    : comm_(Comm::world()), net_(net) {
  if (!parallel()) return;
  const std::vector<uint64_t> hashes = comm_.all_gather(text_hash(config_yaml));
  for (int r = 1; r < comm_.size(); ++r)
    if (hashes[size_t(r)] != hashes[0])
      throw Error("data-parallel training: rank " + std::to_string(r) +
                  " resolved a different config than rank 0 (every rank must run the same "
                  "config file with the same --set options and the same files)");
  const int64_t smallest = std::min(batch, train_size);  // the last batch may be the split
  if (smallest < comm_.size())
    throw Error("data-parallel training: a batch of " + std::to_string(smallest) +
                " samples cannot be split across " + std::to_string(comm_.size()) +
                " ranks (key 'batch_size': at least one sample per rank)");
  if (dropout)
    throw Error("data-parallel training: 'dropout: enable' is not supported across ranks (each "
                "rank would draw its own masks, not those of one process on the whole batch)");
  across_ = [this](double* values, int64_t count) {
    const auto t0 = Clock::now();
    comm_.sum(values, count);
    statistics_seconds_ += since(t0);
  };
  for (auto& [name, block] : net_.blocks()) block->bn1.across = block->bn2.across = &across_;
  // Rank 0 alone reports; errors still reach every rank's stderr.
  if (!writer()) {
    std::fflush(stdout);
    if (!std::freopen("/dev/null", "w", stdout)) throw Error("cannot silence stdout");
  }
}

int64_t DataParallel::split_max_bytes() {
  return Comm::world().parallel() ? 0 : data::kDefaultMaxBytes;
}

void DataParallel::shard(data::LoaderOptions& o) const {
  o.shard = comm_.rank();
  o.shards = comm_.size();
}

void DataParallel::sum_gradients() {
  if (!parallel()) return;
  const auto t0 = Clock::now();
  const std::vector<Tensor> params = net_.parameters();
  int64_t total = 0;
  for (const Tensor& p : params) total += p.numel();
  flat_.assign(size_t(total), 0.0f);  // a parameter without a gradient adds zeros
  int64_t at = 0;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (g.defined()) std::copy(g.data(), g.data() + p.numel(), flat_.begin() + at);
    at += p.numel();
  }
  comm_.sum(flat_.data(), total);
  at = 0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();  // undefined on every rank alike: the ranks run one model
    if (g.defined()) std::copy(flat_.begin() + at, flat_.begin() + at + p.numel(), g.data());
    at += p.numel();
  }
  gradient_seconds_ += since(t0);
}

std::string DataParallel::timing(int64_t steps, double train_seconds) const {
  if (!parallel() || steps == 0) return "";
  char line[256];
  const double k = 1000.0 / double(steps);
  std::snprintf(line, sizeof line,
                "data-parallel on %d ranks: %.1f ms per step, of which gradient allreduce "
                "%.1f ms and BatchNorm/loss sums %.1f ms (rank 0's clock, waits included)\n",
                comm_.size(), train_seconds * k, gradient_seconds_ * k, statistics_seconds_ * k);
  return line;
}

}  // namespace qat::distributed
