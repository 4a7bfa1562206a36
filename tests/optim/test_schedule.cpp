// Learning-rate schedules at their ends, midpoints and milestone boundaries.
#include <doctest/doctest.h>

#include "optim/schedule.h"

using namespace qat;

TEST_CASE("schedule: constant, with and without warm-up") {
  const Schedule s = Schedule::constant(0.01f);
  CHECK(s.lr(0) == 0.01f);
  CHECK(s.lr(123456) == 0.01f);
  // W = 4: 0.01 * (t+1)/4 for t < 4.
  const Schedule w = Schedule::constant(0.01f, /*warmup=*/4);
  CHECK(w.lr(0) == doctest::Approx(0.0025));
  CHECK(w.lr(1) == doctest::Approx(0.005));
  CHECK(w.lr(3) == doctest::Approx(0.01));
  CHECK(w.lr(4) == 0.01f);
}

TEST_CASE("schedule: cosine annealing, PyTorch's closed form") {
  // lr0 1, lr_min 0.1, T 100: 0.1 + 0.9 * (1 + cos(pi t/100)) / 2.
  const Schedule s = Schedule::cosine(1.0f, 0.1f, /*total=*/100);
  CHECK(s.lr(0) == doctest::Approx(1.0));
  CHECK(s.lr(25) == doctest::Approx(0.1 + 0.9 * (1 + 0.70710678) / 2));  // 0.868198
  CHECK(s.lr(50) == doctest::Approx(0.55));
  CHECK(s.lr(75) == doctest::Approx(0.1 + 0.9 * (1 - 0.70710678) / 2));  // 0.231802
  CHECK(s.lr(100) == doctest::Approx(0.1));
  CHECK(s.lr(150) == doctest::Approx(0.1));  // held, not rising again
  for (int64_t t = 1; t <= 100; ++t) CHECK(s.lr(t) <= s.lr(t - 1));
}

TEST_CASE("schedule: cosine after a linear warm-up") {
  // lr0 1, lr_min 0, W 10, T 110: warm-up 0.1, 0.2, ... 1.0 over steps 0..9,
  // then a cosine over the 100 steps 10..110.
  const Schedule s = Schedule::cosine(1.0f, 0.0f, /*total=*/110, /*warmup=*/10);
  CHECK(s.lr(0) == doctest::Approx(0.1));
  CHECK(s.lr(4) == doctest::Approx(0.5));
  CHECK(s.lr(9) == doctest::Approx(1.0));
  CHECK(s.lr(10) == doctest::Approx(1.0));
  CHECK(s.lr(60) == doctest::Approx(0.5));
  CHECK(s.lr(110) == doctest::Approx(0.0));
}

TEST_CASE("schedule: multistep decays from each milestone on") {
  // The EM code's x0.1 every epochs/5, 200 epochs: milestones 40, 80, 120, 160.
  const Schedule s = Schedule::step_every(1e-3f, /*period=*/40, /*total=*/200, /*gamma=*/0.1f);
  CHECK(s.milestones == std::vector<int64_t>{40, 80, 120, 160});
  CHECK(s.lr(0) == doctest::Approx(1e-3));
  CHECK(s.lr(39) == doctest::Approx(1e-3));
  CHECK(s.lr(40) == doctest::Approx(1e-4));
  CHECK(s.lr(79) == doctest::Approx(1e-4));
  CHECK(s.lr(80) == doctest::Approx(1e-5));
  CHECK(s.lr(160) == doctest::Approx(1e-7));
  CHECK(s.lr(199) == doctest::Approx(1e-7));

  const Schedule u = Schedule::multistep(2.0f, {3, 5}, 0.5f);
  CHECK(u.lr(2) == 2.0f);
  CHECK(u.lr(3) == 1.0f);
  CHECK(u.lr(4) == 1.0f);
  CHECK(u.lr(5) == 0.5f);
}

TEST_CASE("schedule: bad parameters and names are refused") {
  CHECK_THROWS_AS(Schedule::cosine(1.0f, 0.0f, /*total=*/10, /*warmup=*/10), Error);
  CHECK_THROWS_AS(Schedule::multistep(1.0f, {5, 3}, 0.1f), Error);
  CHECK_THROWS_AS(Schedule::multistep(1.0f, {3, 3}, 0.1f), Error);
  CHECK_THROWS_AS(Schedule::constant(-1.0f), Error);
  CHECK_THROWS_AS(Schedule::step_every(1.0f, 0, 10, 0.1f), Error);
  CHECK(schedule_kind("cosine") == Schedule::Kind::cosine);
  CHECK(to_string(Schedule::Kind::multistep) == "multistep");
  CHECK_THROWS_AS(schedule_kind("linear"), Error);
}
