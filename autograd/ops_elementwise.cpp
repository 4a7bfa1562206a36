// Elementwise ops with broadcasting, activations and reductions.
#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "autograd/work_parts.h"
#include "autograd/vector_math.h"

namespace qat {
namespace {

// Strides that read `shape` while walking `out` (0 where broadcast).
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  const size_t r = out.size(), offset = r - shape.size();
  std::vector<int64_t> strides(r, 0);
  int64_t stride = 1;
  for (size_t i = r; i-- > offset;) {
    const int64_t d = shape[i - offset];
    strides[i] = d == 1 ? 0 : stride;
    stride *= d;
  }
  return strides;
}

// Calls f(out_index, a_index, b_index) over every element of out.
template <class F>
void for_each_broadcast(const Shape& out, const Shape& a, const Shape& b, F f) {
  const auto sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  const int64_t n = numel(out);
  const size_t r = out.size();
  std::vector<int64_t> idx(r, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, ia, ib);
    for (size_t d = r; d-- > 0;) {  // odometer step
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < out[d]) break;
      ia -= sa[d] * out[d];
      ib -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

// out = f(a, b) elementwise; the fast path when the shapes agree.
template <class F>
Tensor binary_forward(const Tensor& a, const Tensor& b, const char* op, F f) {
  const Shape out_shape = broadcast_shape(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(out_shape);
  float* o = out.data();
  const float *pa = a.data(), *pb = b.data();
  if (a.shape() == b.shape()) {
    const int64_t n = out.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
  } else {
    for_each_broadcast(out_shape, a.shape(), b.shape(),
                       [&](int64_t i, int64_t ia, int64_t ib) {
                         o[i] = f(pa[ia], pb[ib]);
                       });
  }
  return out;
}

// Records the backward of a binary op given the partial derivatives
// d(out)/da and d(out)/db as functions of (a, b). Each input's gradient is
// dout * partial on the broadcast shape, then summed back to its own shape.
template <class DA, class DB>
void binary_backward(Tensor& out, const char* op, const Tensor& a,
                     const Tensor& b, DA dfda, DB dfdb) {
  if (!needs_grad({a, b})) return;
  record(out, op, {a, b}, [a, b, dfda, dfdb](const Tensor& dout) {
    const float *pa = a.data(), *pb = b.data(), *g = dout.data();
    auto one_side = [&](const Tensor& x, auto partial) {
      if (!x.requires_grad()) return;
      Tensor gx = Tensor::empty(dout.shape());
      float* px = gx.data();
      for_each_broadcast(dout.shape(), a.shape(), b.shape(),
                         [&](int64_t i, int64_t ia, int64_t ib) {
                           px[i] = g[i] * partial(pa[ia], pb[ib]);
                         });
      pass_grad(x, sum_to(gx, x.shape()));  // gx is this closure's alone
    };
    one_side(a, dfda);
    one_side(b, dfdb);
  });
}

// out = f(x) elementwise, with d(out)/dx given as df(x, out).
template <class F, class DF>
Tensor unary(const Tensor& x, const char* op, F f, DF df) {
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* o = out.data();
  const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) o[i] = f(px[i]);
  if (needs_grad({x})) {
    Tensor y = out.detach();
    record(out, op, {x}, [x, y, df](const Tensor& dout) {
      float* dx = grad_buffer(x);
      const float *px = x.data(), *py = y.data(), *g = dout.data();
      const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) dx[i] += g[i] * df(px[i], py[i]);
    });
  }
  return out;
}

}  // namespace

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(detail::concat(op, ": shapes ", to_string(a), " and ",
                                 to_string(b), " do not broadcast"));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  QAT_CHECK(broadcast_shape(shape, g.shape(), "sum_to") == g.shape(),
            "sum_to: ", to_string(g.shape()), " is not a broadcast of ",
            to_string(shape));
  Tensor out = Tensor::zeros(shape);
  float* o = out.data();
  const float* pg = g.data();
  for_each_broadcast(g.shape(), g.shape(), shape,
                     [&](int64_t i, int64_t, int64_t io) { o[io] += pg[i]; });
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "add", [](float x, float y) { return x + y; });
  binary_backward(
      out, "add", a, b, [](float, float) { return 1.0f; },
      [](float, float) { return 1.0f; });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "sub", [](float x, float y) { return x - y; });
  binary_backward(
      out, "sub", a, b, [](float, float) { return 1.0f; },
      [](float, float) { return -1.0f; });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "mul", [](float x, float y) { return x * y; });
  binary_backward(
      out, "mul", a, b, [](float, float y) { return y; },
      [](float x, float) { return x; });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "div", [](float x, float y) { return x / y; });
  binary_backward(
      out, "div", a, b, [](float, float y) { return 1.0f / y; },
      [](float x, float y) { return -x / (y * y); });
  return out;
}

Tensor add(const Tensor& a, float s) {
  return unary(
      a, "add_scalar", [s](float x) { return x + s; },
      [](float, float) { return 1.0f; });
}

Tensor mul(const Tensor& a, float s) {
  return unary(
      a, "mul_scalar", [s](float x) { return x * s; },
      [s](float, float) { return s; });
}

Tensor rsub(float s, const Tensor& a) {
  return unary(
      a, "rsub_scalar", [s](float x) { return s - x; },
      [](float, float) { return -1.0f; });
}

Tensor relu(const Tensor& x) {
  return unary(
      x, "relu", [](float v) { return v > 0.0f ? v : 0.0f; },
      [](float v, float) { return v > 0.0f ? 1.0f : 0.0f; });
}

Tensor tanh(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape());
  const int64_t n = x.numel(), block = 4096;
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i += block)
    tanh_array(x.data() + i, out.data() + i, std::min(block, n - i));
  if (needs_grad({x})) {
    Tensor y = out.detach();
    record(out, "tanh", {x}, [x, y](const Tensor& dout) {
      float* dx = grad_buffer(x);
      const float *py = y.data(), *g = dout.data();
      const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) dx[i] += g[i] * (1.0f - py[i] * py[i]);
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  return unary(
      x, "sigmoid", [](float v) { return 1.0f / (1.0f + std::exp(-v)); },
      [](float, float y) { return y * (1.0f - y); });
}

Tensor sum(const Tensor& x) {
  const float* px = x.data();
  const int64_t n = x.numel();
  const double total = fixed_sum(n, [px](int64_t i) { return px[i]; });
  Tensor out = Tensor::scalar(float(total));
  if (needs_grad({x})) {
    record(out, "sum", {x}, [x](const Tensor& dout) {
      float* dx = grad_buffer(x);
      const float g = dout.item();
      const int64_t n = x.numel();
      for (int64_t i = 0; i < n; ++i) dx[i] += g;
    });
  }
  return out;
}

Tensor mean(const Tensor& x) {
  QAT_CHECK(x.numel() > 0, "mean of an empty tensor");
  return mul(sum(x), 1.0f / float(x.numel()));
}

}  // namespace qat
