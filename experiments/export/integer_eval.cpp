// The simulation's integer eval path; see integer_eval.h.
#include "experiments/export/integer_eval.h"

#include <cmath>

#include <cblas.h>

#include "experiments/export/export_plan.h"
#include "experiments/export/int_export.h"
#include "layers/topology/unet_topology.h"
#include "quant/int_kernels/int_bound.h"
#include "quant/int_kernels/int_requant.h"

namespace qat {
namespace {

using quant::Format;

// value * 2^frac as an integer; qat::Error if it is not one (the value is
// not on the format's grid).
int64_t exact_code(float value, int frac, const std::string& what) {
  const double c = std::ldexp(double(value), frac);
  if (c != std::nearbyint(c))
    throw Error(detail::concat(what, ": value ", value, " is not a multiple of 2^-", frac,
                               " (expected a quantized value)"));
  return int64_t(c);
}

// z (N,OC,H,W) = conv3x3 of x (N,C,H,W) with w (OC,C,3,3), pad 1, no bias,
// in double: im2col of a few output rows at a time and one dgemm each.
// Exact for these operands: every product and partial sum is an integer
// multiple of 2^-(f_in+f_w) below 2^31 of them, and double holds 2^53.
std::vector<double> conv3x3_double(const Tensor& x, const Tensor& w) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OC = w.size(0);
  const int64_t K = C * 9, rows = std::max<int64_t>(1, std::min(H, (int64_t(1) << 21) / (K * W)));
  const std::vector<double> wd(w.data(), w.data() + w.numel());
  std::vector<double> z(size_t(N * OC * H * W)), col(size_t(K * rows * W));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t y0 = 0; y0 < H; y0 += rows) {
      const int64_t y1 = std::min(H, y0 + rows), cols = (y1 - y0) * W;
      // col[(c,kh,kw), (y-y0, xx)] = x[n, c, y+kh-1, xx+kw-1], 0 outside
      for (int64_t k = 0; k < K; ++k) {
        const int64_t c = k / 9, kh = k % 9 / 3, kw = k % 3;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t xx = 0; xx < W; ++xx) {
            const int64_t iy = y + kh - 1, ix = xx + kw - 1;
            col[size_t(k * cols + (y - y0) * W + xx)] =
                iy < 0 || iy >= H || ix < 0 || ix >= W
                    ? 0.0
                    : double(x.data()[((n * C + c) * H + iy) * W + ix]);
          }
      }
      // z[n, :, y0:y1, :] (OC, cols; H*W apart) = w (OC, K) * col (K, cols)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(OC), int(cols), int(K), 1.0,
                  wd.data(), int(K), col.data(), int(cols), 0.0,
                  z.data() + n * OC * H * W + y0 * W, int(H * W));
    }
  return z;
}

// The eval-mode path of one integer layer (int_model.h): the conv in double
// of the input values with the weight CODES (so that the sum is an integer
// times 2^-f_in whatever the weight scale), read back as an integer, then
// shifted by the guard bits, the bias code added, ReLU and requantise.
// x (N,C,H,W) -> (N,OC,H,W)
Tensor integer_eval_step(const PlanEntry& e, const Tensor& x) {
  const Tensor w = used_weight(*e.conv);
  const WeightCodes wc = weight_codes(w, e.weight, e.name);
  const int fo = frac_bits_of(e.activation);
  for (int64_t k = 0; k < x.numel(); ++k) exact_code(x.data()[k], e.in_frac, e.name + " input");
  std::vector<float> codes(wc.codes.begin(), wc.codes.end());  // |code| <= 2^20: exact
  const std::vector<double> z = conv3x3_double(x, Tensor::from(codes, w.shape()));
  const std::vector<quant::Requant> rq =
      layer_requant(*e.bn, wc.scale, e.in_frac + e.guard, fo);
  const std::vector<int32_t> bias = bias_codes(*e.conv, wc.scale, e.in_frac + e.guard);
  const quant::CodeRange range = quant::code_range(e.activation);
  const int64_t N = x.size(0), OC = w.size(0), P = x.size(2) * x.size(3);
  Tensor out = Tensor::empty({N, OC, x.size(2), x.size(3)});
  const bool min_max = e.activation.format == Format::Int;  // codes of the whole tensor
  std::vector<int32_t> relu_acc(min_max ? size_t(N * OC * P) : 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < OC; ++c) {
      for (int64_t p = 0; p < P; ++p) {
        const int64_t i = (n * OC + c) * P + p;
        const double acc = std::ldexp(z[size_t(i)], e.in_frac);
        QAT_CHECK(acc == std::nearbyint(acc) && std::abs(acc) <= double(e.gemm_bound), e.name,
                  ": accumulator ", acc, " is not an integer within the bound ", e.gemm_bound);
        const int64_t v = std::max<int64_t>(
            int64_t(acc) * (int64_t(1) << e.guard) + bias[size_t(c)], 0);
        if (min_max) {
          QAT_CHECK(v <= quant::kInt32Max, e.name, ": accumulator ", v, " beyond int32");
          relu_acc[size_t(i)] = int32_t(v);
          continue;
        }
        const int32_t code = requantise_code(v, rq[size_t(c)], e.activation, int32_t(range.lo),
                                             int32_t(range.hi));
        out.data()[i] = std::ldexp(float(code), -fo);
      }
    }
  if (min_max) {
    std::vector<int32_t> codes(relu_acc.size());
    quant::requantise_min_max(codes.data(), relu_acc.data(), N, OC, P, rq.data(),
                              e.activation.code_bits);
    for (size_t i = 0; i < codes.size(); ++i) out.data()[i] = float(codes[i]);
  }
  return out;
}

}  // namespace

Tensor integer_eval_forward(Model& m, const Tensor& x, const LayerObserver& observe) {
  QAT_CHECK(!m.net->training(), "integer_eval_forward: put the model in eval mode first");
  NoGrad no_grad;
  const std::vector<PlanEntry> plan = plan_integer_layers(m);
  const std::vector<IntLayerInputs> inputs = integer_layer_inputs();
  // The first block runs in float as in training; its last quantizer gives
  // the integer part's input (integer layer -1).
  const Tensor first = m.net->block(topology::kBlocks.front().name).forward(x);
  std::vector<Tensor> out;  // each integer layer's output values (code * 2^-f)
  auto output = [&](int j) -> const Tensor& { return j < 0 ? first : out[size_t(j)]; };
  for (size_t i = 0; i < plan.size(); ++i) {
    const IntLayerInputs& in = inputs[i];
    Tensor h = output(in.previous);
    if (in.join == topology::Join::Pooled) h = max_pool2d(h, 2, 2);
    if (in.join == topology::Join::UpConcat) {
      // the training-time hook itself (requantize_upsample), as UNet::forward
      const TensorFn& q = plan[i].block->up_quant;
      h = q ? cat_channels({q(upsample_bilinear2x(h)), output(in.skip)})
            : upsample_cat(h, output(in.skip));
    }
    out.push_back(integer_eval_step(plan[i], h));
    if (observe) observe(plan[i].name, out.back());
  }
  return m.net->conv9.forward(out.back());
}

}  // namespace qat
