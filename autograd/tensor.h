// A float32 tensor with reverse-mode autograd.
//
// A Tensor is a handle: copies share the same data (like torch.Tensor). Data
// is contiguous, row-major (NCHW for images). An op that produces a tensor
// from inputs needing gradients attaches a Node to it: the inputs and a
// closure that, given the gradient of the output, adds the inputs' gradients
// into their grad buffers. backward() walks these nodes in reverse
// topological order and frees each one once it has run.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/check.h"
#include "autograd/storage.h"

namespace qat {

using Shape = std::vector<int64_t>;
std::string to_string(const Shape& shape);
int64_t numel(const Shape& shape);

class Tensor;

// The record of one op on the tape.
struct Node {
  Node();
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* op = "";
  std::vector<Tensor> inputs;                       // for the graph walk
  std::function<void(const Tensor& dout)> backward;  // adds into inputs' grads

  static int64_t live();  // Nodes alive now: a test that the graph is freed
};

struct TensorImpl {
  Shape shape;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> node;  // the op that made this tensor; null for leaves
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  static Tensor empty(const Shape& shape);  // uninitialised
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor from(const std::vector<float>& values, const Shape& shape);
  static Tensor scalar(float value) { return full({}, value); }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim() const { return int64_t(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return qat::numel(shape()); }
  float* data() const { return impl().storage->data(); }
  float item() const;  // the value of a one-element tensor
  std::vector<float> to_vector() const;

  bool requires_grad() const { return defined() && impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return !impl().node; }
  Tensor grad() const;  // undefined until a backward reaches this tensor
  void zero_grad() { impl().grad.reset(); }

  // Same data, cut from the graph.
  Tensor detach() const;
  Tensor clone() const;  // a copy of the data, cut from the graph
  // Same data seen with another shape of the same size; differentiable.
  Tensor reshape(const Shape& shape) const;

  // Backpropagate from this one-element tensor; frees the graph behind it.
  void backward() const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// The grad buffer of t, created as zeros on first use. Backward closures add
// into it with +=, so a tensor used by several ops sums their gradients.
float* grad_buffer(const Tensor& t);
// For a backward that writes every element of t's gradient once: when t has
// no gradient yet, the buffer comes uninitialised and `fresh` is set, and
// the closure assigns (=) instead of adding (one pass over memory fewer than
// zeroing first); otherwise it adds, as with grad_buffer.
float* grad_buffer_for_write(const Tensor& t, bool& fresh);
// For a backward whose input gradient is its output gradient unchanged (the
// identity STE, reshape): t's gradient += g, and when t has none yet, g's
// buffer becomes it without a copy. Only for a g nobody else reads or writes
// afterwards: the dout a backward closure was given (backward() drops it once
// the closure has run), or a tensor the closure made for itself.
void pass_grad(const Tensor& t, const Tensor& g);

// Is any gradient being recorded right now (false inside a NoGrad scope)?
bool grad_enabled();

// Within its lifetime no op records a graph (evaluation, optimizer steps).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// Does an op with these inputs need to record its backward?
bool needs_grad(std::initializer_list<Tensor> inputs);

// Makes out the result of op: records the inputs and the backward closure.
// The closure must not capture `out` itself (that would be a cycle); capture
// out.detach() when the backward needs the output's values.
void record(Tensor& out, const char* op, std::vector<Tensor> inputs,
            std::function<void(const Tensor& dout)> backward);

}  // namespace qat
