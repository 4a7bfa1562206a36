// The thread governor (experiments/training/thread_governor.h): one thread
// while the machine is busy, all of them again once it is quiet, and a run
// that changed threads on the way ends with the weights of one that did not.
#include <doctest/doctest.h>

#include <filesystem>

#include "experiments/training/thread_governor.h"
#include "experiments/training/train.h"
#include "tests/experiments/training/tiny_em.h"
#include "tests/run_qat.h"

using namespace qat;

namespace {
// One second of wall time in which each of `threads` threads got `share`
// of a core.
int step(ThreadGovernor& g, double share) { return g.after_step(1.0, share * g.active()); }
}  // namespace

TEST_CASE("thread governor: busy steps drop to one thread, a quiet probe goes back") {
  ThreadGovernor g(/*threads=*/2, /*adapt=*/true);
  CHECK(step(g, 0.85) == 2);  // quiet
  CHECK(step(g, 0.2) == 2);   // one busy step is not enough (a slow first step)
  CHECK(step(g, 0.2) == 1);
  CHECK(g.change().find("machine busy") != std::string::npos);
  // On one thread it tries both again every kProbeEvery steps.
  for (int s = 1; s < ThreadGovernor::kProbeEvery; ++s) CHECK(step(g, 0.7) == 1);
  CHECK(step(g, 0.7) == 2);       // the probe
  CHECK(step(g, 0.15) == 1);      // still busy: back at once, and quietly
  CHECK(g.change().empty());
  for (int s = 1; s < ThreadGovernor::kProbeEvery; ++s) step(g, 0.7);
  CHECK(step(g, 0.7) == 2);       // the next probe
  CHECK(step(g, 0.85) == 2);      // quiet: stays
  CHECK(g.change().find("quiet again") != std::string::npos);
  CHECK(step(g, 0.85) == 2);
}

TEST_CASE("thread governor: off, or one thread asked, never changes anything") {
  ThreadGovernor off(2, /*adapt=*/false), one(1, /*adapt=*/true);
  for (int s = 0; s < 50; ++s) {
    CHECK(step(off, 0.1) == 2);
    CHECK(step(one, 0.1) == 1);
  }
}
