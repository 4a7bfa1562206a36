#include "autograd/tensor.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_set>

namespace qat {

namespace {
std::atomic<int64_t> g_live_nodes{0};
thread_local bool g_grad_enabled = true;
}  // namespace

std::string to_string(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Node::Node() { ++g_live_nodes; }
Node::~Node() { --g_live_nodes; }
int64_t Node::live() { return g_live_nodes.load(); }

Tensor Tensor::empty(const Shape& shape) {
  for (int64_t d : shape)
    QAT_CHECK(d >= 0, "tensor shape ", to_string(shape), " has a negative size");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->storage = std::make_shared<Storage>(size_t(qat::numel(shape)));
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill_n(t.data(), t.numel(), value);
  return t;
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape) {
  QAT_CHECK(int64_t(values.size()) == qat::numel(shape), "Tensor::from: ",
            values.size(), " values do not fill shape ", to_string(shape));
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

TensorImpl& Tensor::impl() const {
  QAT_CHECK(impl_, "use of an undefined tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  QAT_CHECK(d >= -n && d < n, "dimension ", d, " out of range for shape ",
            to_string(shape()));
  return shape()[size_t(d < 0 ? d + n : d)];
}

float Tensor::item() const {
  QAT_CHECK(numel() == 1, "item() needs one element, shape is ",
            to_string(shape()));
  return data()[0];
}

std::vector<float> Tensor::to_vector() const {
  return std::vector<float>(data(), data() + numel());
}

Tensor& Tensor::requires_grad_(bool on) {
  QAT_CHECK(is_leaf() || on, "requires_grad_(false) on a non-leaf tensor");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  return impl().grad ? Tensor(impl().grad) : Tensor();
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape();
  impl->storage = this->impl().storage;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  std::memcpy(t.data(), data(), size_t(numel()) * sizeof(float));
  return t;
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  QAT_CHECK(qat::numel(new_shape) == numel(), "reshape: cannot view shape ",
            to_string(shape()), " as ", to_string(new_shape));
  Tensor out = detach();
  out.impl().shape = new_shape;
  if (needs_grad({*this})) {
    Tensor x = *this;
    record(out, "reshape", {x}, [x](const Tensor& dout) { pass_grad(x, dout); });
  }
  return out;
}

float* grad_buffer(const Tensor& t) {
  TensorImpl& impl = t.impl();
  if (!impl.grad) impl.grad = Tensor::zeros(impl.shape).impl_ptr();
  return impl.grad->storage->data();
}

float* grad_buffer_for_write(const Tensor& t, bool& fresh) {
  TensorImpl& impl = t.impl();
  fresh = !impl.grad;
  if (fresh) impl.grad = Tensor::empty(impl.shape).impl_ptr();
  return impl.grad->storage->data();
}

void pass_grad(const Tensor& t, const Tensor& g) {
  TensorImpl& impl = t.impl();
  QAT_CHECK(g.numel() == t.numel(), "pass_grad: gradient of ", g.numel(), " elements for ",
            t.numel());
  if (!impl.grad) {
    auto grad = std::make_shared<TensorImpl>();
    grad->shape = impl.shape;
    grad->storage = g.impl().storage;
    impl.grad = std::move(grad);
    return;
  }
  float* d = impl.grad->storage->data();
  const float* s = g.data();
  const int64_t n = t.numel();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}

bool grad_enabled() { return g_grad_enabled; }

NoGrad::NoGrad() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGrad::~NoGrad() { g_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

void record(Tensor& out, const char* op, std::vector<Tensor> inputs,
            std::function<void(const Tensor& dout)> backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl().node = std::move(node);
  out.impl().requires_grad = true;
}

void Tensor::backward() const {
  QAT_CHECK(numel() == 1, "backward() needs a one-element tensor (a loss), ",
            "got shape ", to_string(shape()));
  QAT_CHECK(requires_grad(),
            "backward() on a tensor that does not require grad");

  // Topological order of the tensors that have a node, by an iterative
  // depth-first walk (a deep network would overflow a recursive one).
  // `order` owns its tensors: clearing a node's inputs may drop the last other
  // reference to a tensor that is still to be visited.
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{impl_, 0}};
  seen.insert(impl_.get());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    if (t->node && next < t->node->inputs.size()) {
      const auto& child = t->node->inputs[next++].impl_ptr();
      if (child->requires_grad && seen.insert(child.get()).second)
        stack.push_back({child, 0});  // invalidates t and next: loop again
      continue;
    }
    order.push_back(std::move(t));
    stack.pop_back();
  }

  grad_buffer(*this)[0] += 1.0f;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    std::shared_ptr<TensorImpl> t = std::move(*it);
    if (!t->node) continue;  // a leaf: its grad stays for the optimizer
    std::shared_ptr<Node> node = std::move(t->node);
    if (t->grad) {
      NoGrad no_grad;  // the backward closures build no graph of their own
      node->backward(Tensor(t->grad));
    }
    // An intermediate's gradient is used up once its node has run.
    t->grad.reset();
    node->backward = nullptr;
    node->inputs.clear();
  }
}

}  // namespace qat
