#include "optim/optimizer.h"

#include <cmath>
#include <map>

namespace qat {

Optimizer::Optimizer(std::vector<Tensor> params, float lr, std::string kind,
                     std::vector<std::string> slots)
    : param_steps_(params.size(), 0),
      params_(std::move(params)),
      lr_(lr),
      kind_(std::move(kind)),
      slot_names_(std::move(slots)),
      state_(slot_names_.size(),
             std::vector<std::vector<float>>(params_.size())) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined() || !p.requires_grad() || !p.is_leaf())
      throw Error(detail::concat(
          kind_, " optimizer: parameter ", i, " is ",
          !p.defined() ? "undefined" : !p.requires_grad() ? "not requiring a gradient" : "not a leaf",
          "; expected a leaf tensor with requires_grad"));
    // Listed twice, it would be stepped twice with one gradient.
    for (size_t j = 0; j < i; ++j)
      if (params_[j].same(p))
        throw Error(detail::concat(kind_, " optimizer: parameters ", j, " and ", i,
                                   " are the same tensor; expected each once"));
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::step() {
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;  // backward never reached it: as PyTorch
    QAT_CHECK(g.numel() == params_[i].numel(), "gradient of parameter ", i,
              " has ", g.numel(), " elements, the parameter ", params_[i].numel());
    const int64_t n = params_[i].numel();
    for (auto& slot : state_)
      if (slot[i].empty()) slot[i].assign(size_t(n), 0.0f);
    ++param_steps_[i];
    update(i, params_[i].data(), g.data(), n);
  }
}

OptimizerState Optimizer::state() const {
  OptimizerState s;
  s.kind = kind_;
  s.lr = lr_;
  s.steps = steps_;
  s.param_steps = param_steps_;
  for (size_t k = 0; k < slot_names_.size(); ++k)
    for (size_t i = 0; i < params_.size(); ++i)
      if (!state_[k][i].empty())
        s.buffers.emplace_back(slot_names_[k] + "/" + std::to_string(i), state_[k][i]);
  return s;
}

void Optimizer::load_state(const OptimizerState& s) {
  if (s.kind != kind_)
    throw Error(detail::concat("optimizer state: saved by '", s.kind,
                               "', expected '", kind_, "'"));
  if (s.param_steps.size() != params_.size())
    throw Error(detail::concat("optimizer state (", kind_, "): ", s.param_steps.size(),
                               " parameters saved, this optimizer has ", params_.size()));
  std::map<std::string, const std::vector<float>*> saved;
  for (const auto& [name, values] : s.buffers) saved[name] = &values;
  auto loaded = std::vector<std::vector<std::vector<float>>>(
      slot_names_.size(), std::vector<std::vector<float>>(params_.size()));
  size_t used = 0;
  for (size_t k = 0; k < slot_names_.size(); ++k)
    for (size_t i = 0; i < params_.size(); ++i) {
      const std::string name = slot_names_[k] + "/" + std::to_string(i);
      auto it = saved.find(name);
      if (it == saved.end()) continue;  // not created yet when saved
      if (int64_t(it->second->size()) != params_[i].numel())
        throw Error(detail::concat("optimizer state (", kind_, "): buffer '", name, "' has ",
                                   it->second->size(), " values, parameter ", i,
                                   " has shape ", to_string(params_[i].shape())));
      loaded[k][i] = *it->second;
      ++used;
    }
  if (used != s.buffers.size())
    throw Error(detail::concat("optimizer state (", kind_, "): ", s.buffers.size() - used,
                               " of ", s.buffers.size(), " buffers are not '<slot>/<index>' "
                               "for a slot of this optimizer and an index below ",
                               params_.size()));
  state_ = std::move(loaded);
  param_steps_ = s.param_steps;
  steps_ = s.steps;
  lr_ = s.lr;
}

// ---- SGD

Sgd::Sgd(std::vector<Tensor> params, const SgdOptions& options)
    : Optimizer(std::move(params), options.lr, "sgd",
                options.momentum != 0.0f ? std::vector<std::string>{"momentum_buffer"}
                                         : std::vector<std::string>{}),
      o_(options) {
  if (o_.nesterov && (o_.momentum <= 0.0f || o_.dampening != 0.0f))
    throw Error(detail::concat("sgd: Nesterov momentum needs momentum > 0 and dampening 0, got "
                               "momentum ", o_.momentum, ", dampening ", o_.dampening));
}

void Sgd::update(size_t i, float* p, const float* g, int64_t n) {
  const float lr = this->lr(), wd = o_.weight_decay, mu = o_.momentum;
  const bool first = param_steps_[i] == 1;
  float* buf = mu != 0.0f ? slot(0, i).data() : nullptr;
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t j = 0; j < n; ++j) {
    float d = g[j];
    if (wd != 0.0f) d = d + wd * p[j];
    if (buf) {
      // The buffer starts as the first gradient itself (no dampening then).
      buf[j] = first ? d : mu * buf[j] + (1.0f - o_.dampening) * d;
      d = o_.nesterov ? d + mu * buf[j] : buf[j];
    }
    p[j] = p[j] - lr * d;
  }
}

// ---- Adam

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Optimizer(std::move(params), options.lr, "adam", {"exp_avg", "exp_avg_sq"}),
      o_(options) {}

void Adam::update(size_t i, float* p, const float* g, int64_t n) {
  // PyTorch forms the bias corrections in double and hands them to float
  // kernels as scalars; do the same.
  const double t = double(param_steps_[i]);
  const double bias1 = 1.0 - std::pow(double(o_.beta1), t);
  const double bias2 = 1.0 - std::pow(double(o_.beta2), t);
  const float step_size = float(double(lr()) / bias1);
  const float bias2_sqrt = float(std::sqrt(bias2));
  const float b1 = o_.beta1, b2 = o_.beta2, wd = o_.weight_decay, eps = o_.eps;
  float* m = slot(0, i).data();
  float* v = slot(1, i).data();
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t j = 0; j < n; ++j) {
    float d = g[j];
    if (wd != 0.0f) d = d + wd * p[j];
    m[j] = m[j] * b1 + (1.0f - b1) * d;
    v[j] = v[j] * b2 + (1.0f - b2) * (d * d);
    const float denom = std::sqrt(v[j]) / bias2_sqrt + eps;
    p[j] = p[j] - step_size * (m[j] / denom);
  }
}

}  // namespace qat
