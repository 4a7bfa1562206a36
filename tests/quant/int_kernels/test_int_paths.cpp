// Every GEMM path this CPU has (portable, AVX2, AVX-512 VNNI), forced in
// turn with set_gemm_path_limit, against the naive references: the packed
// GEMM against gemm_naive, the engine's conv in parts against
// conv2d_codes_naive. Extreme codes included (int16 ends, whose pair sums
// wrap past int32: every path must agree mod 2^32).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "autograd/rng.h"
#include "quant/int_kernels/int_conv.h"
#include "quant/int_kernels/int_gemm.h"
#include "quant/int_kernels/int_requant.h"
#include "tests/quant/int_kernels/int_codes.h"

using namespace qat;
using namespace qat::quant;
using qat::quant::testing::random_codes;

namespace {

// The paths the CPU runs, each once: limit -> what gemm_path() gives.
std::vector<GemmPath> paths_here() {
  std::vector<GemmPath> out;
  for (GemmPath p : {GemmPath::portable, GemmPath::avx2, GemmPath::vnni}) {
    set_gemm_path_limit(p);
    if (gemm_path() == p) out.push_back(p);
  }
  set_gemm_path_limit(GemmPath::vnni);
  return out;
}

template <class T>
void check_packed(Rng& rng, int64_t M, int64_t N, int64_t K, int32_t lo, int32_t hi) {
  const auto A = random_codes<T>(rng, M * K, lo, hi);
  const auto B = random_codes<T>(rng, K * N, lo, hi);
  std::vector<int32_t> want(size_t(M * N)), got(size_t(M * (N + 3)), 777);
  gemm_naive(want.data(), A.data(), B.data(), M, N, K);
  gemm_packed(got.data(), pack_a(A.data(), M, K), B.data(), N, /*ldc=*/N + 3);
  int64_t bad = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N + 3; ++n)
      bad += n < N ? got[size_t(m * (N + 3) + n)] != want[size_t(m * N + n)]
                   : got[size_t(m * (N + 3) + n)] != 777;
  CHECK(bad == 0);
}

// conv2d_codes_parts with one part of type T against conv2d_codes_naive.
template <class T>
void check_conv(Rng& rng, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int32_t lo,
                int32_t hi) {
  const auto x = random_codes<T>(rng, N * C * H * W, lo, hi);
  const auto w = random_codes<T>(rng, OC * C * 9, lo, hi);
  const auto bias = random_codes<int32_t>(rng, OC, -100000, 100000);
  const ConvGeometry g = ConvGeometry::same3x3(N, C, H, W, OC);
  std::vector<int32_t> want(size_t(N * OC * H * W)), got(want.size(), 0);
  conv2d_codes_naive(want.data(), x.data(), w.data(), bias.data(), g);
  const PackedA<T> p = pack_a(w.data(), OC, C * 9);
  ConvPart part;
  part.C = C;
  if constexpr (sizeof(T) == 1)
    part.x8 = x.data(), part.w8 = &p;
  else
    part.x16 = x.data(), part.w16 = &p;
  conv2d_codes_parts({part}, bias.data(), g, [&](int32_t* acc, int64_t n, int64_t oh0, int64_t oh1) {
    const int64_t cols = (oh1 - oh0) * W;
    for (int64_t oc = 0; oc < OC; ++oc)
      std::copy(acc + oc * cols, acc + (oc + 1) * cols,
                got.begin() + (n * OC + oc) * H * W + oh0 * W);
  });
  CHECK(got == want);
}

}  // namespace

TEST_CASE("int gemm paths: each path the CPU has equals the naive loop") {
  Rng rng(131);
  const std::vector<GemmPath> paths = paths_here();
  CHECK(paths.front() == GemmPath::portable);
  CHECK((paths.back() == GemmPath::avx2) == (cpu_has_avx2() && !cpu_has_vnni()));
  for (GemmPath path : paths) {
    CAPTURE(gemm_path_name(path));
    set_gemm_path_limit(path);
    REQUIRE(gemm_path() == path);
    // sizes: one tile, partial row tiles and panels, K odd, K past one group
    for (const auto& [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {6, 16, 2},
                                 {7, 17, 3}, {13, 70, 27}, {64, 130, 576}}) {
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      check_packed<int8_t>(rng, M, N, K, -128, 127);
      check_packed<int16_t>(rng, M, N, K, -2048, 2047);
      check_packed<int16_t>(rng, M, N, K, -32768, 32767);  // wraps mod 2^32
    }
  }
  set_gemm_path_limit(GemmPath::vnni);
}

TEST_CASE("int conv paths: conv in parts on each path equals conv2d_codes_naive") {
  Rng rng(132);
  for (GemmPath path : paths_here()) {
    CAPTURE(gemm_path_name(path));
    set_gemm_path_limit(path);
    check_conv<int8_t>(rng, /*N=*/2, /*C=*/3, /*H=*/9, /*W=*/13, /*OC=*/7, -128, 127);
    check_conv<int8_t>(rng, 1, 8, 20, 70, 13, -128, 127);
    check_conv<int16_t>(rng, 2, 5, 9, 13, 7, -2048, 2047);
    check_conv<int16_t>(rng, 1, 8, 20, 70, 13, -4096, 4095);
  }
  set_gemm_path_limit(GemmPath::vnni);
}

// requantise_row (AVX-512 on the VNNI path, AVX2, scalar) against the
// scalar 128-bit requantise, random multipliers, offsets and shifts 0..62,
// with and without the ReLU floor, int8/int16/int32 outputs
TEST_CASE("int requantise paths: requantise_row on each path equals requantise") {
  Rng rng(133);
  for (GemmPath path : paths_here()) {
    CAPTURE(gemm_path_name(path));
    set_gemm_path_limit(path);
    for (int t = 0; t < 400; ++t) {
      const int64_t n = 1 + int64_t(rng.below(40));  // vector body and scalar tail
      Requant r;
      r.shift = t < 63 ? t : int(rng.below(63));
      r.multiplier = int32_t(rng.next_u64() >> 34) - (1 << 29);
      r.offset = int64_t(rng.next_u64() >> 4) - (int64_t(1) << 59);
      auto acc = random_codes<int32_t>(rng, n, -2000000000, 2000000000);
      if (t % 3 == 0) {  // small: most codes inside the range, ties
        r.shift = int(rng.below(12));
        r.multiplier = int32_t(rng.below(2000)) - 1000;
        r.offset = int64_t(rng.below(1 << 20)) - (1 << 19);
        acc = random_codes<int32_t>(rng, n, -3000, 3000);
      }
      const bool relu = t % 2 == 0;
      std::vector<int8_t> o8(static_cast<size_t>(n));
      std::vector<int16_t> o16(static_cast<size_t>(n));
      std::vector<int32_t> o32(static_cast<size_t>(n));
      requantise_row(o8.data(), acc.data(), n, r, -128, 127, relu);
      requantise_row(o16.data(), acc.data(), n, r, -32768, 32767, relu);
      requantise_row(o32.data(), acc.data(), n, r, -(1 << 20), 1 << 20, relu);
      int64_t bad = 0;
      for (int64_t p = 0; p < n; ++p) {
        const int32_t a = relu ? std::max(acc[size_t(p)], 0) : acc[size_t(p)];
        bad += o8[size_t(p)] != requantise(a, r, -128, 127);
        bad += o16[size_t(p)] != requantise(a, r, -32768, 32767);
        bad += o32[size_t(p)] != requantise(a, r, -(1 << 20), 1 << 20);
      }
      CAPTURE(t);
      REQUIRE(bad == 0);
    }
  }
  set_gemm_path_limit(GemmPath::vnni);
}

TEST_CASE("int gemm paths: the names bench_int_engine prints") {
  CHECK(std::string(gemm_path_name(GemmPath::avx2)) == "AVX2");
  CHECK(std::string(gemm_path_name(GemmPath::portable)) == "portable");
  CHECK(std::string(gemm_path_name(GemmPath::vnni)) == "VNNI");
}
