// Results that do not depend on how many threads run (autograd/work_parts.h):
// the Winograd backward and the long sums give the same bits on one thread
// as on two, for the same number of parts; other parts give other bits.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "autograd/conv_kernels.h"
#include "autograd/rng.h"
#include "autograd/work_parts.h"

using namespace qat;

namespace {

using Vec = std::vector<float>;

Vec random_vec(int64_t n, uint64_t seed) {
  Rng rng(seed);
  Vec v(static_cast<size_t>(n));
  for (float& f : v) f = rng.uniform(-1.0f, 1.0f);
  return v;
}

struct Grads {
  Vec dx, dw;
};

// The Winograd backward of a conv big enough to have several chunks, on
// `threads` threads with `parts` parts.
Grads winograd_backward(int tile, int threads, int parts) {
  const ConvGeometry g = ConvGeometry::of(3, 8, 36, 64, 8, 3, 3, /*stride=*/1, /*pad=*/1);
  const Vec x = random_vec(g.N * g.C * g.H * g.W, 1), w = random_vec(g.OC * g.patch(), 2),
            dout = random_vec(g.N * g.OC * g.pixels(), 3);
  Grads r{Vec(x.size(), 0.0f), Vec(w.size(), 0.0f)};
  const int was = omp_get_max_threads();
  set_work_parts(parts);
  omp_set_num_threads(threads);
  conv2d_winograd_backward(r.dx.data(), r.dw.data(), nullptr, dout.data(), x.data(),
                           w.data(), g, tile, /*chunk_rows=*/0);
  omp_set_num_threads(was);
  set_work_parts(0);
  return r;
}

double sum_on(int threads, const Vec& v) {
  const int was = omp_get_max_threads();
  omp_set_num_threads(threads);
  const double s = fixed_sum(int64_t(v.size()), [&v](int64_t i) { return v[size_t(i)]; });
  omp_set_num_threads(was);
  return s;
}

}  // namespace

TEST_CASE("work parts: the Winograd backward gives the same bits on 1 thread and 2") {
  for (int tile : {2, 4}) {
    CAPTURE(tile);
    const Grads two = winograd_backward(tile, /*threads=*/2, /*parts=*/2);
    const Grads one = winograd_backward(tile, /*threads=*/1, /*parts=*/2);
    CHECK(one.dx == two.dx);
    CHECK(one.dw == two.dw);
    // The check can fail: another cut of the same sums gives other bits.
    const Grads four = winograd_backward(tile, /*threads=*/1, /*parts=*/4);
    CHECK(four.dw != two.dw);
  }
}

TEST_CASE("work parts: fixed_sum gives the same bits on 1 thread and 2") {
  const Vec v = random_vec(300000, 4);
  CHECK(sum_on(1, v) == sum_on(2, v));
  double exact = 0.0;
  for (float f : v) exact += f;
  CHECK(std::abs(sum_on(2, v) - exact) < 1e-9 * 300000);
}
