// Integer ops on codes: conv2d against the naive int loops and the float
// reference conv, bias codes, requantisation against exact rational
// rounding and against the training quantizers, ReLU, max-pool and bilinear
// upsampling against the float ops bit for bit, concatenation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "autograd/check.h"
#include "autograd/conv_kernels.h"
#include "autograd/ops.h"
#include "autograd/rng.h"
#include "tests/quant/int_kernels/int_codes.h"
#include "quant/int_kernels/int_conv.h"
#include "quant/int_kernels/int_gemm.h"
#include "quant/int_kernels/int_ops.h"
#include "quant/int_kernels/int_requant.h"
#include "quant/quantizers/quantize.h"

using namespace qat;
using namespace qat::quant;
using qat::quant::testing::random_codes;

namespace {

template <class T>
Tensor as_tensor(const std::vector<T>& codes, const Shape& shape, int frac_bits) {
  std::vector<float> v(codes.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::ldexp(float(codes[i]), -frac_bits);
  return Tensor::from(v, shape);
}

ConvGeometry geometry(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC,
                      int64_t K, int stride, int pad) {
  return ConvGeometry::of(N, C, H, W, OC, K, K, stride, pad);
}

// round_half_even(num / 2^s) by exact 128-bit division: an independent
// route from round_shift_half_even's arithmetic shift.
int64_t rational_round(__int128 num, int s) {
  const __int128 den = __int128(1) << s;
  __int128 q = num / den, r = num % den;  // truncates toward zero
  if (r < 0) r += den, q -= 1;            // now floor, 0 <= r < den
  if (2 * r > den || (2 * r == den && (q % 2 != 0))) q += 1;
  return int64_t(q);
}

}  // namespace

// ---- conv2d ------------------------------------------------------------

TEST_CASE("int conv2d: equals the naive loops (int8, int16), odd sizes, stride, pad, bias") {
  Rng rng(71);
  for (bool portable : {false, true}) {  // the VNNI GEMM and the fallback
    set_portable_only(portable);
    INFO("portable only: " << portable);
    const ConvGeometry gs[] = {geometry(2, 3, 7, 5, 5, 3, 1, 1), geometry(1, 8, 9, 11, 7, 3, 2, 1),
                               geometry(2, 5, 6, 6, 3, 1, 1, 0), geometry(1, 4, 5, 8, 13, 3, 1, 0),
                               geometry(1, 16, 12, 10, 9, 3, 1, 1), geometry(1, 2, 3, 2, 3, 3, 2, 2),
                               geometry(2, 3, 4, 3, 2, 5, 1, 2), geometry(1, 2, 5, 7, 3, 3, 3, 1),
                               // col of 1.4 MB (int8), 2.8 MB (int16): done in
                               // chunks of <= 18 and <= 9 output rows (int_conv.cpp)
                               geometry(1, 64, 24, 100, 4, 3, 1, 1)};
    for (const ConvGeometry& g : gs) {
      const int64_t nx = g.N * g.C * g.H * g.W, nw = g.OC * g.patch(), no = g.N * g.OC * g.pixels();
      const auto bias = random_codes<int32_t>(rng, g.OC, -100000, 100000);
      {
        const auto x = random_codes<int8_t>(rng, nx, -128, 127);
        const auto w = random_codes<int8_t>(rng, nw, -128, 127);
        std::vector<int32_t> want(static_cast<size_t>(no)), got(static_cast<size_t>(no));
        conv2d_codes_naive(want.data(), x.data(), w.data(), bias.data(), g);
        conv2d_codes(got.data(), x.data(), w.data(), bias.data(), g);
        CHECK(got == want);
        conv2d_codes_naive(want.data(), x.data(), w.data(), nullptr, g);
        conv2d_codes(got.data(), x.data(), w.data(), nullptr, g);
        CHECK(got == want);
      }
      {
        const auto x = random_codes<int16_t>(rng, nx, -2048, 2047);
        const auto w = random_codes<int16_t>(rng, nw, -256, 256);
        std::vector<int32_t> want(static_cast<size_t>(no)), got(static_cast<size_t>(no));
        conv2d_codes_naive(want.data(), x.data(), w.data(), bias.data(), g);
        conv2d_codes(got.data(), x.data(), w.data(), bias.data(), g);
        CHECK(got == want);
      }
    }
  }
  set_portable_only(false);
}

TEST_CASE("int conv2d: the float conv on dequantized values gives acc * 2^-(f_in+f_w)") {
  // Q8.0 activations and Q0.8 weights as fixed_twos codes of float tensors;
  // the float reference conv (double accumulation) on the dequantized values
  // is exact here (|sum| * 2^8 < 2^53), so the two must agree exactly; this
  // also pins the im2col layout to the float path's.
  Rng rng(72);
  const ConvGeometry g = geometry(2, 6, 9, 7, 4, 3, 1, 1);
  const int f_in = 0, f_w = 8;
  std::vector<float> xv(size_t(g.N * g.C * g.H * g.W)), wv(size_t(g.OC * g.patch())),
      bv(size_t(g.OC));
  for (auto& v : xv) v = rng.uniform(-140.0f, 140.0f);  // some saturate
  for (auto& v : wv) v = rng.uniform(-0.6f, 0.6f);
  for (auto& v : bv) v = rng.uniform(-3.0f, 3.0f);
  std::vector<int8_t> x(xv.size()), w(wv.size());
  for (size_t i = 0; i < xv.size(); ++i) x[i] = int8_t(fixed_twos_code(xv[i], 8, f_in, true));
  for (size_t i = 0; i < wv.size(); ++i) w[i] = int8_t(fixed_twos_code(wv[i], 0, f_w, true));
  std::vector<int32_t> bias(bv.size());
  for (size_t i = 0; i < bv.size(); ++i) bias[i] = bias_code(bv[i], f_in + f_w);

  std::vector<float> xq(xv.size()), wq(wv.size()), bq(bv.size());
  for (size_t i = 0; i < x.size(); ++i) xq[i] = std::ldexp(float(x[i]), -f_in);
  for (size_t i = 0; i < w.size(); ++i) wq[i] = std::ldexp(float(w[i]), -f_w);
  for (size_t i = 0; i < bias.size(); ++i) bq[i] = std::ldexp(float(bias[i]), -(f_in + f_w));
  std::vector<float> want(size_t(g.N * g.OC * g.pixels()));
  conv2d_naive_forward(want.data(), xq.data(), wq.data(), bq.data(), g);
  std::vector<int32_t> acc(want.size());
  conv2d_codes(acc.data(), x.data(), w.data(), bias.data(), g);
  int64_t bad = 0;
  for (size_t i = 0; i < acc.size(); ++i)
    bad += std::ldexp(double(acc[i]), -(f_in + f_w)) != double(want[i]);
  CHECK(bad == 0);
}

TEST_CASE("int conv2d: bias codes round half to even in the accumulator's scale") {
  CHECK(bias_code(0.3f, 8) == 77);     // 76.8000002 -> 77
  CHECK(bias_code(0.5f, 0) == 0);      // tie -> even
  CHECK(bias_code(1.5f, 0) == 2);
  CHECK(bias_code(-2.5f, 0) == -2);
  CHECK(bias_code(-0.375f, 2) == -2);  // -1.5 -> -2
  CHECK(bias_code(3.0f, 12) == 12288);
  CHECK_THROWS_AS(bias_code(1e10f, 0), Error);
  CHECK_THROWS_AS(bias_code(1.0f, 31), Error);  // 2^31 is one past int32
  CHECK_THROWS_AS(bias_code(std::nanf(""), 0), Error);
}

// ---- requantisation ---------------------------------------------------------

TEST_CASE("int requantise: hand-computed ties, negatives and saturation") {
  const Requant half{/*multiplier=*/1, /*offset=*/0, /*shift=*/1};
  CHECK(requantise(3, half, -128, 127) == 2);    // 1.5 -> 2
  CHECK(requantise(5, half, -128, 127) == 2);    // 2.5 -> 2
  CHECK(requantise(-3, half, -128, 127) == -2);  // -1.5 -> -2
  CHECK(requantise(-5, half, -128, 127) == -2);  // -2.5 -> -2
  CHECK(requantise(7, half, -128, 127) == 4);    // 3.5 -> 4
  CHECK(requantise(1000, half, -128, 127) == 127);
  CHECK(requantise(-1000, half, -128, 127) == -128);
  // 3 * 100 + 7 = 307, / 8 = 38.375 -> 38
  CHECK(requantise(100, Requant{3, 7, 3}, -128, 127) == 38);
  CHECK(requantise(-100, Requant{3, 7, 3}, -128, 127) == -37);  // -36.625
  CHECK(round_shift_half_even(-1, 62) == 0);
  CHECK(round_shift_half_even(int64_t(3) << 61, 62) == 2);  // 1.5 -> 2
}

TEST_CASE("int requantise: equals exact rational round-half-even (128-bit)") {
  Rng rng(73);
  for (int t = 0; t < 20000; ++t) {
    const int32_t acc = int32_t(rng.next_u64());
    Requant r;
    r.multiplier = int32_t(rng.next_u64() >> 34) - (1 << 29);  // |M| < 2^30
    r.offset = int64_t(rng.next_u64() >> 4) - (int64_t(1) << 59);
    r.shift = int(rng.below(63));
    // half of the cases on an exact tie
    if (t % 2 == 0 && r.shift > 0 && r.shift <= 60) {  // offset stays < 2^62
      const int64_t x = int64_t(acc) * r.multiplier;
      const int64_t unit = int64_t(1) << r.shift;
      r.offset = -(x % unit) + unit / 2 + unit * int64_t(rng.below(3));
    }
    const __int128 num = __int128(acc) * r.multiplier + r.offset;
    const int64_t exact = rational_round(num, r.shift);
    const int32_t want = int32_t(std::clamp<int64_t>(exact, -32768, 32767));
    REQUIRE(requantise(acc, r, -32768, 32767) == want);
  }
}

TEST_CASE("int requantise: multiplier and shift from a float scale are exact") {
  Rng rng(74);
  for (int t = 0; t < 5000; ++t) {
    const float a = std::ldexp(rng.uniform(-1.0f, 1.0f), int(rng.below(30)) - 20);
    const float b = rng.uniform(-64.0f, 64.0f);
    const Requant r = requant_from_affine(a, b);
    REQUIRE(r.exact);
    CHECK(std::ldexp(double(r.multiplier), -r.shift) == double(a));
    CHECK(std::ldexp(double(r.offset), -r.shift) == double(b));
    // a * acc + b in long double is exact here (64-bit significand): the
    // sum's top bit is at most 2^max(ea + 20, 6), its lowest at least
    // 2^min(ea - 24, -17), a span of at most 50 bits for ea >= -20
    const int32_t acc = int32_t(rng.below(1 << 21)) - (1 << 20);
    const long double y = (long double)a * acc + (long double)b;
    const long double want = std::nearbyintl(y);  // ties to even
    CHECK(requantise(acc, r, -(1 << 30), 1 << 30) == int32_t(want));
  }
  CHECK(requant_from_affine(0.0f).multiplier == 0);
  CHECK(requant_from_affine(0.375f).multiplier == 3);  // 3 / 2^3
  CHECK(requant_from_affine(0.375f).shift == 3);
  CHECK(requant_from_affine(6.0f).shift == 0);
  CHECK_THROWS_AS(requant_from_affine(std::ldexp(1.0f, 31)), Error);
  CHECK_THROWS_AS(requant_from_affine(INFINITY), Error);
  // An offset 70 binary orders below the scale cannot be held exactly
  CHECK_FALSE(requant_from_affine(1.0f, std::ldexp(1.0f, -70)).exact);
}

TEST_CASE("int requantise: a pure shift equals the two's complement quantizer") {
  // acc at f_acc fraction bits to Q(i.f): the training quantizer
  // fixed_twos_code on the float value acc * 2^-f_acc must give the same code
  Rng rng(75);
  struct Fmt {
    int i, f, f_acc;
  };
  for (const Fmt fm : {Fmt{8, 0, 8}, Fmt{6, 0, 4}, Fmt{4, 4, 10}, Fmt{8, 0, 12}}) {
    const Requant r{1, 0, fm.f_acc - fm.f};
    const int32_t lo = -(1 << (fm.i + fm.f - 1)), hi = (1 << (fm.i + fm.f - 1)) - 1;
    for (int t = 0; t < 5000; ++t) {
      const int32_t acc = int32_t(rng.below(1 << 22)) - (1 << 21);  // exact in float
      const float v = std::ldexp(float(acc), -fm.f_acc);
      REQUIRE(requantise(acc, r, lo, hi) == fixed_twos_code(v, fm.i, fm.f, true));
    }
  }
}

TEST_CASE("int requantise: sign-magnitude equals the paper's fixed quantizer (and GM)") {
  Rng rng(76);
  struct Fmt {
    int i, f, f_acc;
  };
  for (const Fmt fm : {Fmt{8, 0, 8}, Fmt{6, 0, 4}, Fmt{0, 4, 8}, Fmt{2, 2, 6}, Fmt{4, 0, 0}})
    for (bool gm : {false, true}) {
      const Requant r{1, 0, fm.f_acc - fm.f};
      for (int t = 0; t < 4000; ++t) {
        const int32_t acc = int32_t(rng.below(1 << 20)) - (1 << 19);
        const float v = std::ldexp(float(acc), -fm.f_acc);
        const float q = fixed_naive(v, fm.i, fm.f, gm);
        const int32_t code = requantise_sign_magnitude(acc, r, fm.i, fm.f, gm);
        INFO("Q" << fm.i << "." << fm.f << (gm ? " GM" : "") << " acc " << acc);
        REQUIRE(std::ldexp(double(code), -fm.f) == double(q));
      }
    }
  // by hand: Q2.0 of 1.5 is 1 + round(0.5) = 1; Q0.4 of 1.3-ish wraps
  CHECK(requantise_sign_magnitude(3, Requant{1, 0, 1}, 2, 0, false) == 1);
  CHECK(requantise_sign_magnitude(-5, Requant{1, 0, 1}, 2, 0, false) == -2);
  CHECK(requantise_sign_magnitude(255, Requant{1, 0, 4}, 0, 4, false) == 16);  // 255/256 carries to 1.0
  CHECK(requantise_sign_magnitude(27, Requant{1, 0, 2}, 6, 0, true) == 6);     // GM truncates 6.75
}

// ---- spatial ops ------------------------------------------------------------

TEST_CASE("int ops: max-pool 2x2 equals the float op on the codes' values") {
  Rng rng(78);
  for (const auto& [H, W] : {std::pair{6, 8}, std::pair{7, 5}, std::pair{2, 2}, std::pair{25, 25}}) {
    const int64_t planes = 3, f = 3;
    const auto x = random_codes<int8_t>(rng, planes * H * W, -128, 127);
    std::vector<int8_t> out(size_t(planes * (H / 2) * (W / 2)));
    max_pool2x2_codes(out.data(), x.data(), planes, H, W);
    const auto want = max_pool2d(as_tensor(x, {1, planes, H, W}, f), 2, 2).to_vector();
    REQUIRE(want.size() == out.size());
    for (size_t i = 0; i < out.size(); ++i) CHECK(std::ldexp(float(out[i]), -f) == want[i]);
  }
}

TEST_CASE("int ops: bilinear x2 on codes equals the float op bit for bit at f + 4") {
  // by hand, a 2x2 input [a b; c d]: the output pixel (1, 1) is
  // (9a + 3b + 3c + d) / 16, the corner (0, 0) is a itself (16a / 16).
  const std::vector<int8_t> x{10, -20, 30, 127};
  std::vector<int16_t> out(16);
  upsample_bilinear2x_codes(out.data(), x.data(), 1, 2, 2);
  CHECK(out[1 * 4 + 1] == 9 * 10 + 3 * -20 + 3 * 30 + 127);
  CHECK(out[0] == 16 * 10);
  CHECK(out[15] == 16 * 127);

  Rng rng(79);
  for (const auto& [H, W] : {std::pair{1, 1}, std::pair{1, 5}, std::pair{4, 3}, std::pair{7, 9},
                            std::pair{25, 25}}) {
    const int64_t planes = 2;
    for (int f : {0, 3, 8}) {
      const auto x8 = random_codes<int8_t>(rng, planes * H * W, -128, 127);
      std::vector<int16_t> o8(size_t(planes * 4 * H * W));
      upsample_bilinear2x_codes(o8.data(), x8.data(), planes, H, W);
      const auto want8 = upsample_bilinear2x(as_tensor(x8, {planes, 1, H, W}, f)).to_vector();
      const auto x16 = random_codes<int16_t>(rng, planes * H * W, -32768, 32767);
      std::vector<int32_t> o16(size_t(planes * 4 * H * W));
      upsample_bilinear2x_codes(o16.data(), x16.data(), planes, H, W);
      const auto want16 = upsample_bilinear2x(as_tensor(x16, {planes, 1, H, W}, f)).to_vector();
      int64_t bad = 0;
      for (size_t i = 0; i < o8.size(); ++i) {
        bad += std::ldexp(float(o8[i]), -(f + 4)) != want8[i];
        bad += std::ldexp(float(o16[i]), -(f + 4)) != want16[i];
      }
      INFO(H << "x" << W << " f=" << f);
      CHECK(bad == 0);
    }
  }
}
