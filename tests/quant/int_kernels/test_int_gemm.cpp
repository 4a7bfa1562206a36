// Integer GEMM: every version against the naive triple loop on random and
// extreme codes (odd M, N, K; int8 and int16 ends), a hand-computed product,
// the modular wrap past int32, and the accumulator bound for the U-Net.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "autograd/check.h"
#include "autograd/rng.h"
#include "tests/quant/int_kernels/int_codes.h"
#include "layers/unet.h"
#include "quant/int_kernels/int_bound.h"
#include "quant/int_kernels/int_gemm.h"
#include "quant/quantizers/quantize.h"
#include "quant/quantizers/spec.h"

using namespace qat;
using namespace qat::quant;
using qat::quant::testing::random_codes;

namespace {

// Codes at the ends of T's range, with a few zeros and ones mixed in.
template <class T>
std::vector<T> extreme_codes(Rng& rng, int64_t n) {
  const T ends[] = {std::numeric_limits<T>::min(), std::numeric_limits<T>::max(),
                    T(0), T(1), T(-1)};
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = ends[rng.below(rng.below(4) == 0 ? 5 : 2)];
  return v;
}

using Gemm8 = void (*)(int32_t*, const int8_t*, const int8_t*, int64_t, int64_t, int64_t,
                      int64_t);
using Gemm16 = void (*)(int32_t*, const int16_t*, const int16_t*, int64_t, int64_t, int64_t,
                       int64_t);

// The version writes into a C wider than N (row stride ldc = N + 5, the
// extra columns hold a sentinel that must survive); the naive one into a
// dense C.
template <class T, class F>
void check_against_naive(F version, F naive, const char* name, const std::vector<T>& A,
                         const std::vector<T>& B, int64_t M, int64_t N, int64_t K) {
  const int64_t ldc = N + 5;
  constexpr int32_t kSentinel = 12345;
  std::vector<int32_t> want(static_cast<size_t>(M * N)), got(static_cast<size_t>(M * ldc), kSentinel);
  naive(want.data(), A.data(), B.data(), M, N, K, /*ldc=*/0);
  version(got.data(), A.data(), B.data(), M, N, K, ldc);
  int64_t bad = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < ldc; ++n)
      bad += n < N ? want[size_t(m * N + n)] != got[size_t(m * ldc + n)]
                   : got[size_t(m * ldc + n)] != kSentinel;
  INFO(name << " M=" << M << " N=" << N << " K=" << K);
  CHECK(bad == 0);
}

struct Size {
  int64_t M, N, K;
};
// Odd sizes around the tile edges (6 rows x 64 columns, k groups of 4 and
// 2, blocked tiles of 8 x 256) and one U-Net-like shape.
const Size kSizes[] = {{1, 1, 1},    {1, 17, 3},   {7, 13, 5},     {6, 64, 4},
                       {5, 63, 7},   {13, 67, 37}, {12, 129, 130}, {65, 300, 129},
                       {64, 257, 576}};

// Every version against gemm_naive on kSizes, once with codes uniform in
// [lo, hi] and once with the ends of T.
template <class T>
void check_versions(uint64_t seed, int32_t lo, int32_t hi) {
  using Gemm = void (*)(int32_t*, const T*, const T*, int64_t, int64_t, int64_t, int64_t);
  std::vector<std::pair<const char*, Gemm>> versions{{"blocked", gemm_blocked<T>},
                                                     {"dispatch", gemm<T>}};
  if (cpu_has_vnni()) versions.push_back({"vnni", gemm_vnni<T>});
  Rng rng(seed);
  for (const Size& s : kSizes) {
    const auto A = random_codes<T>(rng, s.M * s.K, lo, hi);
    const auto B = random_codes<T>(rng, s.K * s.N, lo, hi);
    const auto Ae = extreme_codes<T>(rng, s.M * s.K);
    const auto Be = extreme_codes<T>(rng, s.K * s.N);
    for (const auto& [name, g] : versions) {
      check_against_naive<T, Gemm>(g, gemm_naive<T>, name, A, B, s.M, s.N, s.K);
      check_against_naive<T, Gemm>(g, gemm_naive<T>, name, Ae, Be, s.M, s.N, s.K);
    }
  }
}

}  // namespace

TEST_CASE("int gemm: a hand-computed product") {
  // [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50]; [-128] x [-128] = 16384
  const std::vector<int8_t> A{1, 2, 3, 4}, B{5, 6, 7, 8};
  const std::vector<int16_t> A16{1, 2, 3, 4}, B16{5, 6, 7, 8};
  std::vector<int32_t> C(4);
  for (Gemm8 g : {gemm_naive<int8_t>, gemm_blocked<int8_t>, gemm<int8_t>}) {
    g(C.data(), A.data(), B.data(), 2, 2, 2, /*ldc=*/0);
    CHECK(C == std::vector<int32_t>{19, 22, 43, 50});
  }
  for (Gemm16 g : {gemm_naive<int16_t>, gemm_blocked<int16_t>, gemm<int16_t>}) {
    g(C.data(), A16.data(), B16.data(), 2, 2, 2, /*ldc=*/0);
    CHECK(C == std::vector<int32_t>{19, 22, 43, 50});
  }
  const int8_t lo = -128;
  gemm(C.data(), &lo, &lo, 1, 1, 1);
  CHECK(C[0] == 16384);
}

TEST_CASE("int gemm: int8 versions equal the naive loop, random and extreme codes") {
  check_versions<int8_t>(/*seed=*/61, /*lo=*/-128, /*hi=*/127);
}

// 12-bit codes, what the up-block inputs need (int_ops.h), then the ends of
// int16, whose sums wrap past int32 already at K = 2: the versions must then
// agree mod 2^32, as documented.
TEST_CASE("int gemm: int16 versions equal the naive loop, random and extreme codes") {
  check_versions<int16_t>(/*seed=*/62, /*lo=*/-2048, /*hi=*/2047);
}

TEST_CASE("int gemm: packed weights, VNNI and portable, equal the naive loop") {
  Rng rng(63);
  for (bool portable : {false, true}) {
    set_portable_only(portable);
    for (const Size& s : kSizes) {
      const auto A = random_codes<int8_t>(rng, s.M * s.K, -128, 127);
      const auto B = random_codes<int8_t>(rng, s.K * s.N, -128, 127);
      const auto A16 = random_codes<int16_t>(rng, s.M * s.K, -2048, 2047);
      const auto B16 = random_codes<int16_t>(rng, s.K * s.N, -2048, 2047);
      const PackedA<int8_t> p8 = pack_a(A.data(), s.M, s.K);
      const PackedA<int16_t> p16 = pack_a(A16.data(), s.M, s.K);
      const char* name = portable ? "packed portable" : "packed";
      check_against_naive<int8_t, Gemm8>(
          [](int32_t* C, const int8_t* A, const int8_t* B, int64_t M, int64_t N, int64_t K,
             int64_t ldc) { gemm_packed(C, pack_a(A, M, K), B, N, ldc); },
          gemm_naive<int8_t>, name, A, B, s.M, s.N, s.K);
      check_against_naive<int16_t, Gemm16>(
          [](int32_t* C, const int16_t* A, const int16_t* B, int64_t M, int64_t N, int64_t K,
             int64_t ldc) { gemm_packed(C, pack_a(A, M, K), B, N, ldc); },
          gemm_naive<int16_t>, name, A16, B16, s.M, s.N, s.K);
      CHECK(p8.Kp % 4 == 0);
      CHECK(p16.Kp % 2 == 0);
    }
  }
  set_portable_only(false);
}

TEST_CASE("int gemm: past int32 every version wraps mod 2^32") {
  // (-32768)^2 = 2^30; two of them make 2^31, one past INT32_MAX: -2^31.
  const std::vector<int16_t> A{-32768, -32768}, B{-32768, -32768};
  int32_t c = 0;
  for (Gemm16 g : {gemm_naive<int16_t>, gemm_blocked<int16_t>, gemm<int16_t>}) {
    g(&c, A.data(), B.data(), 1, 1, 2, /*ldc=*/0);
    CHECK(c == std::numeric_limits<int32_t>::min());
  }
}

TEST_CASE("int gemm: code_range and max_abs_code per format, by hand") {
  CHECK(max_abs_code(make_twos_spec(8, 0, true)) == 128);   // Q8.0: -128..127
  CHECK(max_abs_code(make_twos_spec(0, 8, true)) == 128);   // Q0.8
  CHECK(max_abs_code(make_twos_spec(8, 0, false)) == 255);  // UQ8.0
  CHECK(max_abs_code(make_spec(Format::Fixed, 8, 0)) == 256);  // 255 + carry
  CHECK(max_abs_code(make_spec(Format::Fixed, 0, 8)) == 256);  // 1.0 = 256/256
  CHECK(max_abs_code(make_spec(Format::Fixed, 6, 0)) == 64);
  CHECK(max_abs_code(make_spec(Format::Fixed, 0, 4)) == 16);
  CHECK(max_abs_code(make_spec(Format::FixedGm, 6, 0)) == 63);  // truncates
  CHECK(max_abs_code(make_spec(Format::Int, 8, 0)) == 128);
  CHECK(max_abs_code(make_spec(Format::Binary)) == 1);
  CHECK(max_abs_code(make_spec(Format::Ternary)) == 1);
  const auto range = [](const QuantSpec& s) {
    const CodeRange r = code_range(s);
    return std::pair{r.lo, r.hi};
  };
  CHECK(range(make_twos_spec(8, 0, true)) == std::pair<int64_t, int64_t>{-128, 127});
  CHECK(range(make_twos_spec(4, 0, false)) == std::pair<int64_t, int64_t>{0, 15});
  CHECK(range(make_spec(Format::Fixed, 6, 0)) == std::pair<int64_t, int64_t>{-64, 64});
  CHECK(range(make_spec(Format::FixedGm, 6, 0)) == std::pair<int64_t, int64_t>{-63, 63});
  CHECK(range(make_spec(Format::FixedGm, 0, 4)) == std::pair<int64_t, int64_t>{-16, 16});
  CHECK(range(make_spec(Format::Int, 4, 0)) == std::pair<int64_t, int64_t>{-8, 7});
  CHECK(range(make_spec(Format::Ternary)) == std::pair<int64_t, int64_t>{-1, 1});
  CHECK_THROWS_AS(max_abs_code(make_spec(Format::None)), Error);
  CHECK_THROWS_AS(max_abs_code(make_spec(Format::FixedPow2, 8, 8)), Error);
}

TEST_CASE("int gemm: code_range equals the ends of each quantizer's level grid") {
  // levels() (quant/quantizers/quantize.h) lists the values each format can produce;
  // its ends times 2^f must be the code range.
  const QuantSpec specs[] = {
      make_twos_spec(8, 0, true), make_twos_spec(0, 8, true), make_twos_spec(3, 2, false),
      make_spec(Format::Fixed, 8, 0), make_spec(Format::Fixed, 0, 4),
      make_spec(Format::Fixed, 2, 3), make_spec(Format::FixedGm, 6, 0),
      make_spec(Format::FixedGm, 0, 8), make_spec(Format::Int, 8, 0),
      make_spec(Format::Int, 3, 0), make_spec(Format::Binary), make_spec(Format::Ternary)};
  for (const QuantSpec& s : specs) {
    const std::vector<float> lv = levels(s);
    const CodeRange r = code_range(s);
    const int f = s.format == Format::Int ? 0 : s.frac_bits;  // int's levels are codes
    INFO(s.name());
    CHECK(double(*std::min_element(lv.begin(), lv.end())) == std::ldexp(double(r.lo), -f));
    CHECK(double(*std::max_element(lv.begin(), lv.end())) == std::ldexp(double(r.hi), -f));
  }
}

TEST_CASE("int gemm: no int32 overflow in any U-Net conv for the paper's formats") {
  // K of every conv from the network itself, not from a list written here.
  UNetOptions options;
  options.width = 64;
  UNet net(options);
  int64_t k_max = 0;
  std::vector<int64_t> ks;
  for (auto& [name, conv] : net.convs()) {
    const Shape& w = conv->weight.shape();  // (OC, C, KH, KW)
    ks.push_back(w[1] * w[2] * w[3]);
    k_max = std::max(k_max, ks.back());
  }
  CHECK(k_max == 512 * 9);  // up1: 256 upsampled + 256 skip channels, 3x3

  struct Pair {
    QuantSpec act, weight;
    int64_t bound_at_kmax;  // 4608 * max|a| * max|w|, by hand
    bool fits;
  };
  const Pair pairs[] = {
      {make_twos_spec(8, 0, true), make_twos_spec(0, 8, true), 4608ll * 128 * 128, true},
      {make_spec(Format::Fixed, 8, 0), make_spec(Format::Fixed, 0, 8), 4608ll * 256 * 256, true},
      {make_spec(Format::Fixed, 6, 0), make_spec(Format::Fixed, 0, 4), 4608ll * 64 * 16, true},
      {make_spec(Format::Fixed, 4, 0), make_spec(Format::Fixed, 0, 2), 4608ll * 16 * 4, true},
      // up-block inputs carry 4 more fraction bits (12-bit codes at Q8.4)
      {make_twos_spec(8, 4, true), make_twos_spec(0, 8, true), 4608ll * 2048 * 128, true},
      {make_spec(Format::Fixed, 8, 8), make_spec(Format::Fixed, 8, 8), 4608ll << 32, false},
  };
  for (const Pair& p : pairs) {
    const AccumulatorCheck c = check_accumulator(k_max, p.act, p.weight);
    INFO(c.report);
    CHECK(c.bound == p.bound_at_kmax);
    CHECK(c.fits_int32 == p.fits);
    CHECK(c.fits_int32 == (p.bound_at_kmax < (int64_t(1) << 31)));
    for (int64_t k : ks)  // the largest K is the worst: every other conv fits too
      if (p.fits) CHECK(check_accumulator(k, p.act, p.weight).fits_int32);
  }
  // A bias in the accumulator's scale counts too.
  CHECK(accumulator_bound(4608, 128, 128, 1000) == 4608ll * 128 * 128 + 1000);
  CHECK_FALSE(check_accumulator(4608, make_twos_spec(8, 0, true),
                                make_twos_spec(0, 8, true), kInt32Max)
                  .fits_int32);
}

TEST_CASE("int gemm: the bound is attained, and the GEMM gets it exactly") {
  // Every code the most negative one: the sum is exactly K * 128 * 128.
  const int64_t K = 4608, N = 3;
  const std::vector<int8_t> A(size_t(K), int8_t(-128)), B(size_t(K * N), int8_t(-128));
  std::vector<int32_t> C(static_cast<size_t>(N));
  gemm(C.data(), A.data(), B.data(), 1, N, K);
  for (int32_t c : C) CHECK(int64_t(c) == accumulator_bound(K, 128, 128));
  // and the sign-magnitude Q8.0 x Q0.8 worst case, 256 x 256, in int16
  const std::vector<int16_t> A16(size_t(K), int16_t(-256)), B16(size_t(K * N), int16_t(256));
  gemm(C.data(), A16.data(), B16.data(), 1, N, K);
  for (int32_t c : C) CHECK(int64_t(c) == -accumulator_bound(K, 256, 256));
}
