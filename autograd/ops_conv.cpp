// The conv2d op: checks shapes, picks a kernel from conv_kernels.h and
// records the matching backward.
// x (N,C,H,W), w (OC,C,KH,KW), bias (OC) -> out (N,OC,OH,OW).
#include "autograd/conv_kernels.h"
#include "autograd/ops.h"

namespace qat {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
              int pad) {
  QAT_CHECK(x.dim() == 4, "conv2d: input must be (N,C,H,W), got ",
            to_string(x.shape()));
  QAT_CHECK(w.dim() == 4, "conv2d: weight must be (OC,C,KH,KW), got ",
            to_string(w.shape()));
  QAT_CHECK(w.size(1) == x.size(1), "conv2d: weight ", to_string(w.shape()),
            " expects ", w.size(1), " input channels, input ",
            to_string(x.shape()), " has ", x.size(1));
  QAT_CHECK(stride >= 1 && pad >= 0, "conv2d: stride ", stride, " and pad ",
            pad, " must be >= 1 and >= 0");
  if (bias.defined())
    QAT_CHECK(bias.shape() == Shape{w.size(0)}, "conv2d: bias ",
              to_string(bias.shape()), " does not match weight ",
              to_string(w.shape()));
  QAT_CHECK(x.size(2) + 2 * pad >= w.size(2) && x.size(3) + 2 * pad >= w.size(3),
            "conv2d: kernel ", to_string(w.shape()), " larger than padded input ",
            to_string(x.shape()));
  const ConvGeometry g = ConvGeometry::of(x.size(0), x.size(1), x.size(2), x.size(3),
                                          w.size(0), w.size(2), w.size(3), stride, pad);

  // Winograd does 16/36 (F(2x2)) or 9/36 (F(4x4)) of the multiplications of
  // im2col in every pass; it covers 3x3 stride-1 pad-1, the rest goes
  // through im2col. With one to three input channels (the U-Net's first
  // conv) or output channels (its last) its transforms cost more than the
  // multiplications they save: the first goes through im2col, the last
  // through the direct loops (conv_direct.cpp, measured there).
  enum class Path { direct, winograd, im2col };
  const Path path = direct_applies(g)                 ? Path::direct
                    : winograd_applies(g) && g.C >= 4 ? Path::winograd
                                                      : Path::im2col;
  // F(4x4) once a row of its tiles fills a block of 16 lanes (OW >= 61);
  // on narrower images its lanes and edge tiles go half empty. Measured
  // single-threaded, forward + backward of the U-Net's convs, F(4x4)'s time
  // over F(2x2)'s: 0.55 at 128 pixels, 0.6-0.75 at 64 to 200, 0.8-1.25 at
  // 50 (slower in sum), 1.1-1.2 at 32, 1.35-1.5 at 16 and 25.
  const int tile = g.OW >= 61 ? 4 : 2;
  Tensor out = Tensor::empty({g.N, g.OC, g.OH, g.OW});
  const float* b = bias.defined() ? bias.data() : nullptr;
  if (path == Path::direct)
    conv2d_direct_forward(out.data(), x.data(), w.data(), b, g);
  else if (path == Path::winograd)
    conv2d_winograd_forward(out.data(), x.data(), w.data(), b, g, tile);
  else
    conv2d_im2col_forward(out.data(), x.data(), w.data(), b, g);

  if (needs_grad({x, w, bias})) {
    std::vector<Tensor> inputs{x, w};
    if (bias.defined()) inputs.push_back(bias);
    record(out, "conv2d", inputs, [x, w, bias, g, path, tile](const Tensor& dout) {
      float* dx = x.requires_grad() ? grad_buffer(x) : nullptr;
      float* dw = w.requires_grad() ? grad_buffer(w) : nullptr;
      float* db = bias.requires_grad() ? grad_buffer(bias) : nullptr;
      if (path == Path::direct)
        conv2d_direct_backward(dx, dw, db, dout.data(), x.data(), w.data(), g);
      else if (path == Path::winograd)
        conv2d_winograd_backward(dx, dw, db, dout.data(), x.data(), w.data(), g, tile);
      else
        conv2d_im2col_backward(dx, dw, db, dout.data(), x.data(), w.data(), g);
    });
  }
  return out;
}

}  // namespace qat
