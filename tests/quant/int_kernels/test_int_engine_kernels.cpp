// The integer engine's fused and widened kernels against independent
// references: the vectorised requantisation rows against exact 128-bit
// rational rounding, the conv in parts against seven loops over the
// concatenated input, the widened int64 conv against seven loops in 128 bits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "autograd/rng.h"
#include "quant/int_kernels/int_conv.h"
#include "quant/int_kernels/int_gemm.h"
#include "quant/int_kernels/int_requant.h"
#include "tests/quant/int_kernels/int_codes.h"

using namespace qat;
using namespace qat::quant;
using qat::quant::testing::random_codes;
using qat::quant::testing::random_requant;
using qat::quant::testing::random_requant_case;

namespace {

__extension__ typedef __int128 I128;

// round_half_even(num / 2^s) by floor division, written independently of
// int_requant.cpp: the remainder against exactly one half.
I128 round_even(I128 num, int s) {
  const I128 d = I128(1) << s;
  I128 q = num / d, r = num % d;  // truncates toward zero
  if (r < 0) q -= 1, r += d;      // now floor
  if (2 * r > d || (2 * r == d && (q & 1))) q += 1;
  return q;
}

}  // namespace

TEST_CASE("int requantise row: two's complement rows equal exact rational rounding") {
  Rng rng(91);
  for (int t = 0; t < 300; ++t) {
    const int64_t n = 1 + int64_t(rng.below(70));  // vector body and scalar tail
    // every third case small: most outputs inside the range (ties: the next test case)
    const auto [r, acc] = random_requant_case(rng, n, /*small=*/t % 3 == 0);
    const bool relu = t % 2 == 0;
    std::vector<int8_t> o8(static_cast<size_t>(n));
    std::vector<int16_t> o16(static_cast<size_t>(n));
    std::vector<int32_t> o32(static_cast<size_t>(n));
    requantise_row(o8.data(), acc.data(), n, r, -128, 127, relu);
    requantise_row(o16.data(), acc.data(), n, r, -32768, 32767, relu);
    requantise_row(o32.data(), acc.data(), n, r, -(1 << 20), 1 << 20, relu);
    for (int64_t p = 0; p < n; ++p) {
      const int32_t a = relu ? std::max(acc[size_t(p)], 0) : acc[size_t(p)];
      const I128 y = round_even(I128(a) * r.multiplier + r.offset, r.shift);
      auto clamp = [&](int64_t lo, int64_t hi) { return int32_t(y < lo ? lo : y > hi ? hi : y); };
      INFO("t=", t, " p=", p, " acc=", a, " M=", r.multiplier, " O=", r.offset, " s=", r.shift);
      REQUIRE(o8[size_t(p)] == clamp(-128, 127));
      REQUIRE(o16[size_t(p)] == clamp(-32768, 32767));
      REQUIRE(o32[size_t(p)] == clamp(-(1 << 20), 1 << 20));
    }
  }
}

TEST_CASE("int requantise row: ties at every shift round half to even") {
  // acc * 1 + offset = k * 2^s + 2^(s-1): exactly half way between k and k+1
  for (int s = 1; s <= 20; ++s) {
    std::vector<int32_t> acc;
    for (int32_t k = -40; k < 40; ++k) acc.push_back(k);
    Requant r;
    r.multiplier = 1 << s, r.shift = s, r.offset = int64_t(1) << (s - 1);
    std::vector<int16_t> out(acc.size());
    requantise_row(out.data(), acc.data(), int64_t(acc.size()), r, -32768, 32767, false);
    for (size_t p = 0; p < acc.size(); ++p) {
      const int32_t k = acc[p];  // k + 1/2 -> the even one of k, k+1
      CHECK(out[p] == (k % 2 == 0 ? k : k + 1));
    }
  }
}

TEST_CASE("int requantise row: sign-magnitude and binary rows equal the scalar functions") {
  Rng rng(92);
  for (int t = 0; t < 200; ++t) {
    const int64_t n = 1 + int64_t(rng.below(40));
    const auto acc = random_codes<int32_t>(rng, n, -100000, 100000);
    const Requant r = requant_from_affine(float(int(rng.below(2001)) - 1000) / 4096.0f,
                                          float(int(rng.below(2001)) - 1000) / 64.0f);
    const int i = int(rng.below(9)), f = int(rng.below(5));
    const bool gm = t % 3 == 0, relu = t % 2 == 0;
    std::vector<int16_t> sm(static_cast<size_t>(n)), bin(static_cast<size_t>(n));
    requantise_row_sign_magnitude(sm.data(), acc.data(), n, r, i, f, gm, relu);
    requantise_row_binary(bin.data(), acc.data(), n, r, relu);
    for (int64_t p = 0; p < n; ++p) {
      const int32_t a = relu ? std::max(acc[size_t(p)], 0) : acc[size_t(p)];
      REQUIRE(sm[size_t(p)] == requantise_sign_magnitude(a, r, i, f, gm));
      // binary by hand: the sign of a*M + O (>= 0 is +1)
      const I128 y = I128(a) * r.multiplier + r.offset;
      REQUIRE(bin[size_t(p)] == (y >= 0 ? 1 : -1));
      REQUIRE(requantise_binary(a, r) == (y >= 0 ? 1 : -1));
    }
  }
}

TEST_CASE("int requantise: a widened int64 accumulator beyond int32, exactly") {
  Rng rng(93);
  for (int t = 0; t < 5000; ++t) {
    const int64_t acc = int64_t(rng.next_u64() >> 10) - (int64_t(1) << 53);  // |acc| < 2^54
    const Requant r = random_requant(rng);
    const I128 y = round_even(I128(acc) * r.multiplier + r.offset, r.shift);
    const int32_t want = int32_t(y < -32768 ? -32768 : y > 32767 ? 32767 : y);
    REQUIRE(requantise(acc, r, -32768, 32767) == want);
  }
  // by hand: acc = 3 * 2^40 + 2^39 (3.5 * 2^40), M = 1, shift 40 -> 3.5 -> 4
  Requant r;
  r.multiplier = 1, r.shift = 40;
  CHECK(requantise(3 * (int64_t(1) << 40) + (int64_t(1) << 39), r, -128, 127) == 4);
  CHECK(requantise(5 * (int64_t(1) << 40) + (int64_t(1) << 39), r, -128, 127) == 6);
  CHECK(requantise(int64_t(1) << 50, r, -128, 127) == 127);  // 1024 saturates
}

TEST_CASE("int conv in parts: [int16 part << s1, int8 part << s2] + bias equals the naive conv") {
  Rng rng(94);
  // small: every panel partial; 1x20x70: whole 64-column panels of the
  // padded window's rows, row ends inside panels, several chunks
  struct Size {
    int64_t N, H, W;
  };
  for (const Size size : {Size{2, 9, 13}, Size{1, 20, 70}})
  for (bool portable : {false, true}) {
    CAPTURE(size.H);
    CAPTURE(size.W);
    CAPTURE(portable);
    set_portable_only(portable);
    const int64_t N = size.N, C1 = 5, C2 = 3, H = size.H, W = size.W, OC = 7;
    const auto x1 = random_codes<int16_t>(rng, N * C1 * H * W, -2048, 2047);
    const auto x2 = random_codes<int8_t>(rng, N * C2 * H * W, -128, 127);
    const auto w1 = random_codes<int16_t>(rng, OC * C1 * 9, -128, 127);
    const auto w2 = random_codes<int8_t>(rng, OC * C2 * 9, -128, 127);
    const auto bias = random_codes<int32_t>(rng, OC, -100000, 100000);
    const int s1 = 0, s2 = 4;
    const PackedA<int16_t> p1 = pack_a(w1.data(), OC, C1 * 9);
    const PackedA<int8_t> p2 = pack_a(w2.data(), OC, C2 * 9);
    ConvPart a, b;
    a.x16 = x1.data(), a.C = C1, a.w16 = &p1, a.shift = s1;
    b.x8 = x2.data(), b.C = C2, b.w8 = &p2, b.shift = s2;
    const ConvGeometry g = ConvGeometry::same3x3(N, C1 + C2, H, W, OC);
    std::vector<int32_t> got(size_t(N * OC * H * W), 0);
    std::map<std::pair<int64_t, int64_t>, int> seen;  // (n, oh) -> times handed over
    conv2d_codes_parts({a, b}, bias.data(), g, [&](int32_t* acc, int64_t n, int64_t oh0, int64_t oh1) {
      const int64_t cols = (oh1 - oh0) * W;
      for (int64_t oc = 0; oc < OC; ++oc)
        std::copy(acc + oc * cols, acc + (oc + 1) * cols,
                  got.begin() + (n * OC + oc) * H * W + oh0 * W);
#pragma omp critical
      for (int64_t oh = oh0; oh < oh1; ++oh) seen[{n, oh}] += 1;
    });
    CHECK(seen.size() == size_t(N * H));
    for (const auto& [key, times] : seen) CHECK(times == 1);
    // seven loops over the two inputs, each shifted, in int64
    for (int64_t n = 0; n < N; ++n)
      for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t oh = 0; oh < H; ++oh)
          for (int64_t ow = 0; ow < W; ++ow) {
            int64_t s = bias[size_t(oc)];
            for (int64_t kh = 0; kh < 3; ++kh)
              for (int64_t kw = 0; kw < 3; ++kw) {
                const int64_t ih = oh + kh - 1, iw = ow + kw - 1;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                for (int64_t c = 0; c < C1; ++c)
                  s += (int64_t(x1[size_t(((n * C1 + c) * H + ih) * W + iw)]) *
                        w1[size_t((oc * C1 + c) * 9 + kh * 3 + kw)]) * (int64_t(1) << s1);
                for (int64_t c = 0; c < C2; ++c)
                  s += (int64_t(x2[size_t(((n * C2 + c) * H + ih) * W + iw)]) *
                        w2[size_t((oc * C2 + c) * 9 + kh * 3 + kw)]) * (int64_t(1) << s2);
              }
            REQUIRE(got[size_t(((n * OC + oc) * H + oh) * W + ow)] == s);
          }
  }
  set_portable_only(false);
}

TEST_CASE("int conv widened: int64 accumulators past int32 equal the naive conv in 128 bits") {
  Rng rng(95);
  const int64_t N = 2, C = 4, H = 7, W = 6, OC = 3;
  // Q8.8 two's complement codes both ways, upsampled (x16): products ~2^34
  const auto x = random_codes<int32_t>(rng, N * C * H * W, -(1 << 19), (1 << 19) - 1);
  const auto w = random_codes<int32_t>(rng, OC * C * 9, -32768, 32767);
  const ConvGeometry g = ConvGeometry::same3x3(N, C, H, W, OC);
  std::vector<int64_t> acc(size_t(N * OC * H * W), 7);  // accumulates onto what is there
  conv2d_codes_wide(acc.data(), x.data(), w.data(), /*shift=*/3, g);
  bool past_int32 = false;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t oh = 0; oh < H; ++oh)
        for (int64_t ow = 0; ow < W; ++ow) {
          I128 s = 0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t kh = 0; kh < 3; ++kh)
              for (int64_t kw = 0; kw < 3; ++kw) {
                const int64_t ih = oh + kh - 1, iw = ow + kw - 1;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += I128(x[size_t(((n * C + c) * H + ih) * W + iw)]) *
                     w[size_t((oc * C + c) * 9 + kh * 3 + kw)];
              }
          const I128 want = 7 + s * 8;
          past_int32 = past_int32 || want > I128(INT32_MAX) || want < I128(INT32_MIN);
          REQUIRE(I128(acc[size_t(((n * OC + oc) * H + oh) * W + ow)]) == want);
        }
  CHECK(past_int32);
}

TEST_CASE("int requantise min-max: whole-tensor int codes equal plain integer division") {
  Rng rng(96);
  for (int t = 0; t < 50; ++t) {
    const int64_t N = 1 + int64_t(rng.below(2)), C = 1 + int64_t(rng.below(4)),
                  P = 1 + int64_t(rng.below(30));
    const int n = 1 + int(rng.below(8));
    std::vector<Requant> r(static_cast<size_t>(C));
    for (Requant& rc : r) {  // small enough that y * 2^max(S) fits 2^40
      rc.multiplier = int32_t(rng.below(200)) - 100;
      rc.offset = int64_t(rng.below(1 << 16)) - (1 << 15);
      rc.shift = int(rng.below(8));
    }
    const auto acc = random_codes<int32_t>(rng, N * C * P, 0, 5000);
    std::vector<int8_t> out(acc.size());
    requantise_min_max(out.data(), acc.data(), N, C, P, r.data(), n);
    int s_max = 0;
    for (const Requant& rc : r) s_max = std::max(s_max, rc.shift);
    std::vector<int64_t> y(acc.size());
    for (size_t k = 0; k < acc.size(); ++k) {
      const Requant& rc = r[(k / size_t(P)) % size_t(C)];
      y[k] = (int64_t(acc[k]) * rc.multiplier + rc.offset) << (s_max - rc.shift);
    }
    const int64_t lo = *std::min_element(y.begin(), y.end());
    const int64_t hi = *std::max_element(y.begin(), y.end());
    for (size_t k = 0; k < acc.size(); ++k) {
      int64_t q = hi == lo ? 0 : ((y[k] - lo) << n) / (hi - lo);  // non-negative: floor
      q = std::min(q, (int64_t(1) << n) - 1) - (int64_t(1) << (n - 1));
      REQUIRE(out[k] == q);
    }
  }
  // by hand: y = acc (M = 1), 2 bits over [0, 8]: 4 * y / 8 -> 0, 0, 1, 2, 3(4 clamped)
  const std::vector<int32_t> acc{0, 1, 2, 5, 8};
  Requant one;
  std::vector<int8_t> out(acc.size());
  requantise_min_max(out.data(), acc.data(), 1, 1, 5, &one, 2);
  CHECK(out == std::vector<int8_t>{-2, -2, -1, 0, 1});
  const std::vector<int32_t> flat{3, 3, 3};  // a constant tensor: the bottom code
  requantise_min_max(out.data(), flat.data(), 1, 1, 3, &one, 2);
  CHECK(out[0] == -2);
  CHECK(out[2] == -2);
}
