// The loader: coverage of each epoch, determinism across runs, epochs and
// prefetching, batch layout, drop_last, and reading through SplitReader.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "autograd/check.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "tests/data/tmp_path.h"

using namespace qat::data;

namespace {

// Sample i: every pixel i (so a batch says which samples it holds), mask
// 1 on the left half.
Split numbered(int64_t n, int64_t h, int64_t w) {
  Split s{n, 1, h, w, {}, {}};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < h * w; ++p) {
      s.images.push_back(float(i));
      s.masks.push_back(uint8_t(p % w < w / 2));
    }
  return s;
}

PipelineOptions small_pipeline() {
  PipelineOptions o;
  o.crop_h = 12, o.crop_w = 12;
  o.elastic_p = 0.5f;
  return o;
}

std::vector<Batch> epoch(Loader& loader, int64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

bool same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k].images != b[k].images || a[k].masks != b[k].masks || a[k].indices != b[k].indices)
      return false;
  return true;
}

}  // namespace

TEST_CASE("data: every sample appears once per epoch, in batches of the right shape") {
  const Split s = numbered(11, 16, 16);
  LoaderOptions o;
  o.batch_size = 4, o.seed = 3, o.augment = false;
  PipelineOptions p = small_pipeline();
  p.normalize = false;  // keep pixel value = sample index
  Loader loader(s, Pipeline(p), o);
  CHECK(loader.batches_per_epoch() == 3);
  const auto batches = epoch(loader, 0);
  REQUIRE(batches.size() == 3);
  std::multiset<int64_t> seen;
  for (const Batch& b : batches) {
    CHECK(b.c == 1);
    CHECK(b.h == 12);
    CHECK(b.w == 12);
    CHECK(int64_t(b.images.size()) == b.b * 144);
    CHECK(int64_t(b.masks.size()) == b.b * 144);
    for (int64_t j = 0; j < b.b; ++j) {
      seen.insert(b.indices[size_t(j)]);
      // The images really are the samples the indices name.
      CHECK(b.images[size_t(j * 144 + 77)] == float(b.indices[size_t(j)]));
    }
    for (float m : b.masks) CHECK((m == 0.f || m == 1.f));
  }
  CHECK(batches.back().b == 3);  // 11 = 4 + 4 + 3
  CHECK(seen.size() == 11);
  for (int64_t i = 0; i < 11; ++i) CHECK(seen.count(i) == 1);
}

TEST_CASE("data: drop_last drops the incomplete batch") {
  const Split s = numbered(11, 12, 12);
  LoaderOptions o;
  o.batch_size = 4, o.drop_last = true;
  Loader loader(s, Pipeline(small_pipeline()), o);
  CHECK(loader.batches_per_epoch() == 2);
  const auto batches = epoch(loader, 0);
  CHECK(batches.size() == 2);
  for (const Batch& b : batches) CHECK(b.b == 4);
}

TEST_CASE("data: same seed gives the same batches; other epochs and seeds another order") {
  const Split s = numbered(20, 16, 16);
  LoaderOptions o;
  o.batch_size = 5, o.seed = 42;
  Loader a(s, Pipeline(small_pipeline()), o), b(s, Pipeline(small_pipeline()), o);
  const auto a0 = epoch(a, 0), a1 = epoch(a, 1);
  CHECK(same(a0, epoch(b, 0)));
  CHECK(a0[0].indices != a1[0].indices);
  CHECK(a.epoch_order(0) != a.epoch_order(1));
  o.seed = 43;
  Loader c(s, Pipeline(small_pipeline()), o);
  CHECK(c.epoch_order(0) != a.epoch_order(0));
  // Without shuffling the order is 0..n-1.
  o.shuffle = false;
  Loader d(s, Pipeline(small_pipeline()), o);
  const auto order = d.epoch_order(5);
  for (size_t i = 0; i < order.size(); ++i) CHECK(order[i] == int64_t(i));
}

TEST_CASE("data: a run resumed at epoch e sees the batches of an uninterrupted run") {
  const Split s = numbered(9, 16, 16);
  LoaderOptions o;
  o.batch_size = 2, o.seed = 7;
  Loader straight(s, Pipeline(small_pipeline()), o);
  epoch(straight, 0);
  epoch(straight, 1);
  const auto e2 = epoch(straight, 2);
  Loader resumed(s, Pipeline(small_pipeline()), o);
  CHECK(same(epoch(resumed, 2), e2));
}

TEST_CASE("data: prefetching gives the same batches as building them in line") {
  const Split s = numbered(13, 16, 16);
  LoaderOptions o;
  o.batch_size = 3, o.seed = 9;
  o.prefetch = true;
  Loader ahead(s, Pipeline(small_pipeline()), o);
  o.prefetch = false;
  Loader inline_(s, Pipeline(small_pipeline()), o);
  for (int64_t e = 0; e < 2; ++e) CHECK(same(epoch(ahead, e), epoch(inline_, e)));
  // Restarting mid-epoch drops the pending batch cleanly.
  Batch b;
  ahead.start_epoch(0);
  ahead.next(b);
  CHECK(same(epoch(ahead, 1), epoch(inline_, 1)));
}

TEST_CASE("data: each sample's augmentation is the pipeline with the hashed seed") {
  const Split s = numbered(4, 16, 16);
  LoaderOptions o;
  o.batch_size = 4, o.seed = 5;
  const Pipeline pipe(small_pipeline());
  Loader loader(s, pipe, o);
  const auto batches = epoch(loader, 3);
  const Batch& b = batches.at(0);
  for (int64_t j = 0; j < b.b; ++j) {
    const int64_t i = b.indices[size_t(j)];
    qat::Rng rng(sample_seed(5, 3, i));
    const Sample want = pipe.train(s.sample(i), rng);
    CHECK(std::equal(want.image.begin(), want.image.end(), b.images.begin() + j * 144));
  }
  CHECK(sample_seed(5, 3, 0) != sample_seed(5, 4, 0));
  CHECK(sample_seed(5, 3, 0) != sample_seed(5, 3, 1));
  CHECK(sample_seed(5, 3, 0) != sample_seed(6, 3, 0));
}

TEST_CASE("data: the loader reads through SplitReader like from memory") {
  qat::data::test::TmpPath tmp("loader.h5");
  const Split s = numbered(7, 16, 16);
  write_dataset(tmp.str(), {{"train", s}}, {});
  SplitReader reader(tmp.str(), "train");
  LoaderOptions o;
  o.batch_size = 3, o.seed = 1;
  Loader from_file(reader, Pipeline(small_pipeline()), o), from_memory(s, Pipeline(small_pipeline()), o);
  CHECK(same(epoch(from_file, 0), epoch(from_memory, 0)));
}

TEST_CASE("data: the loader asks for start_epoch and one size per batch") {
  const Split s = numbered(3, 8, 8);
  Loader loader(s, Pipeline(PipelineOptions{.crop_h = 0, .crop_w = 0}), LoaderOptions{});
  Batch b;
  CHECK_THROWS_WITH_AS(loader.next(b), doctest::Contains("start_epoch"), qat::Error);
  PipelineOptions big = small_pipeline();
  big.crop_h = 9;
  LoaderOptions o;
  o.augment = false;
  Loader too_big(s, Pipeline(big), o);
  too_big.start_epoch(0);
  CHECK_THROWS_WITH_AS(too_big.next(b), doctest::Contains("crop of 9x12 does not fit"), qat::Error);
}

TEST_CASE("data: an error while building a batch reaches next(), and the epoch goes on") {
  // Sample 2 cannot be read; the others can.
  struct Faulty : SampleSource {
    Split s = numbered(4, 12, 12);
    int64_t size() const override { return s.n; }
    void read(int64_t i, Sample& out) const override {
      if (i == 2) throw qat::Error("sample 2 is broken");
      out = s.sample(i);
    }
  } source;
  LoaderOptions o;
  o.batch_size = 1, o.shuffle = false, o.augment = false;
  for (bool prefetch : {true, false}) {
    o.prefetch = prefetch;
    Loader loader(source, Pipeline(small_pipeline()), o);
    loader.start_epoch(0);
    Batch b;
    CHECK(loader.next(b));
    CHECK(loader.next(b));
    CHECK_THROWS_WITH_AS(loader.next(b), doctest::Contains("sample 2 is broken"), qat::Error);
    REQUIRE(loader.next(b));  // the failed batch stays unread, the next one follows
    CHECK(b.indices == std::vector<int64_t>{3});
    CHECK_FALSE(loader.next(b));
  }
}
