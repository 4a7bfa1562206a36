#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "autograd/check.h"

namespace qat {

Schedule Schedule::constant(float lr0, int64_t warmup) {
  Schedule s;
  s.lr0 = lr0;
  s.warmup = warmup;
  s.validate();
  return s;
}

Schedule Schedule::cosine(float lr0, float lr_min, int64_t total, int64_t warmup) {
  Schedule s;
  s.kind = Kind::cosine;
  s.lr0 = lr0;
  s.lr_min = lr_min;
  s.total = total;
  s.warmup = warmup;
  s.validate();
  return s;
}

Schedule Schedule::multistep(float lr0, std::vector<int64_t> milestones, float gamma,
                             int64_t warmup) {
  Schedule s;
  s.kind = Kind::multistep;
  s.lr0 = lr0;
  s.milestones = std::move(milestones);
  s.gamma = gamma;
  s.warmup = warmup;
  s.validate();
  return s;
}

Schedule Schedule::step_every(float lr0, int64_t period, int64_t total, float gamma) {
  if (period <= 0)
    throw Error(detail::concat("schedule step_every: period ", period, ", expected > 0"));
  std::vector<int64_t> milestones;
  for (int64_t m = period; m < total; m += period) milestones.push_back(m);
  return multistep(lr0, std::move(milestones), gamma);
}

void Schedule::validate() const {
  auto fail = [](const char* what, auto found, const char* expected) {
    throw Error(detail::concat("schedule: ", what, " is ", found, ", expected ", expected));
  };
  if (!(lr0 >= 0.0f)) fail("lr0", lr0, ">= 0");
  if (warmup < 0) fail("warmup", warmup, ">= 0");
  if (kind == Kind::cosine) {
    if (!(lr_min >= 0.0f)) fail("lr_min", lr_min, ">= 0");
    if (total <= warmup) fail("total", total, "> warmup (the cosine needs steps after it)");
  }
  if (kind == Kind::multistep) {
    if (!(gamma > 0.0f)) fail("gamma", gamma, "> 0");
    if (!std::is_sorted(milestones.begin(), milestones.end()) ||
        std::adjacent_find(milestones.begin(), milestones.end()) != milestones.end())
      fail("the milestone list", milestones.size(), "strictly increasing milestones");
  }
}

float Schedule::lr(int64_t step) const {
  QAT_CHECK(step >= 0, "schedule asked for step ", step);
  if (step < warmup) return float(double(lr0) * double(step + 1) / double(warmup));
  switch (kind) {
    case Kind::constant:
      return lr0;
    case Kind::cosine: {
      const double t = double(std::min(step, total) - warmup), T = double(total - warmup);
      return float(lr_min + (double(lr0) - lr_min) * (1.0 + std::cos(std::numbers::pi * t / T)) / 2.0);
    }
    case Kind::multistep: {
      // milestones <= step: the decay applies from the milestone on.
      const auto passed = std::upper_bound(milestones.begin(), milestones.end(), step) -
                          milestones.begin();
      return float(double(lr0) * std::pow(double(gamma), double(passed)));
    }
  }
  QAT_CHECK(false, "unknown schedule kind ", int(kind));
  return 0.0f;
}

std::string to_string(Schedule::Kind kind) {
  switch (kind) {
    case Schedule::Kind::constant: return "constant";
    case Schedule::Kind::cosine: return "cosine";
    case Schedule::Kind::multistep: return "multistep";
  }
  return "unknown";
}

Schedule::Kind schedule_kind(const std::string& name) {
  for (auto k : {Schedule::Kind::constant, Schedule::Kind::cosine, Schedule::Kind::multistep})
    if (to_string(k) == name) return k;
  throw Error(detail::concat("schedule: kind '", name,
                             "', expected constant, cosine or multistep"));
}

}  // namespace qat
