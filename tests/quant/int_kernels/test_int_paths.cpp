// Every GEMM path this CPU has (portable, AVX2, AVX2 bytes, AVX-512 VNNI),
// forced in turn with set_gemm_path_limit, against the naive references: the
// packed GEMM against gemm_naive, the engine's conv in parts against
// conv2d_codes_naive. Extreme codes included (int16 ends, whose pair sums
// wrap past int32: every path must agree mod 2^32); the byte path at the
// limits of its int16 proof, and where the proof fails and it must not run.
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
using qat::quant::testing::random_requant_case;

namespace {

// The paths the CPU runs, each once: limit -> what gemm_path() gives.
std::vector<GemmPath> paths_here() {
  std::vector<GemmPath> out;
  for (GemmPath p : {GemmPath::portable, GemmPath::avx2, GemmPath::maddubs, GemmPath::vnni,
                    GemmPath::amx}) {
    set_gemm_path_limit(p);
    if (gemm_path() == p) out.push_back(p);
  }
  set_gemm_path_limit(GemmPath::best);
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

// The epilogue that copies each chunk's accumulators into acc (N,OC,H,W).
ConvEpilogue copy_into(std::vector<int32_t>& acc, int64_t OC, int64_t H, int64_t W) {
  return [&acc, OC, H, W](int32_t* chunk, int64_t n, int64_t oh0, int64_t oh1) {
    const int64_t cols = (oh1 - oh0) * W;
    for (int64_t oc = 0; oc < OC; ++oc)
      std::copy(chunk + oc * cols, chunk + (oc + 1) * cols,
                acc.begin() + (n * OC + oc) * H * W + oh0 * W);
  };
}

// conv2d_codes_parts with one part of type T against conv2d_codes_naive.
// With w_hi > 0, the weights in [-w_hi, w_hi] and (int8) packed with the
// input's range, as the engine packs them: the byte path where it is proven.
template <class T>
void check_conv(Rng& rng, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int32_t lo,
                int32_t hi, int32_t w_hi = 0) {
  const auto x = random_codes<T>(rng, N * C * H * W, lo, hi);
  const auto w = w_hi ? random_codes<T>(rng, OC * C * 9, -w_hi, w_hi)
                      : random_codes<T>(rng, OC * C * 9, lo, hi);
  const auto bias = random_codes<int32_t>(rng, OC, -100000, 100000);
  const ConvGeometry g = ConvGeometry::same3x3(N, C, H, W, OC);
  std::vector<int32_t> want(size_t(N * OC * H * W)), got(want.size(), 0);
  conv2d_codes_naive(want.data(), x.data(), w.data(), bias.data(), g);
  PackedA<T> p;
  if constexpr (sizeof(T) == 1)
    p = w_hi ? pack_a(w.data(), OC, C * 9, CodeRange{lo, hi}) : pack_a(w.data(), OC, C * 9);
  else
    p = pack_a(w.data(), OC, C * 9);
  ConvPart part;
  part.C = C;
  if constexpr (sizeof(T) == 1)
    part.x8 = x.data(), part.w8 = &p;
  else
    part.x16 = x.data(), part.w16 = &p;
  conv2d_codes_parts({part}, bias.data(), g, copy_into(got, OC, H, W));
  CHECK(got == want);
}

// A part with a further input (ConvPart::more: an up-block's [upsampled,
// skip] in one GEMM) against conv2d_codes_naive on the concatenation of the
// two inputs; each input a channel range of a wider tensor (image_stride),
// as the engine passes them. Weights in [-w_hi, w_hi] packed with the
// inputs' range: the byte path where it is proven, whose runs of k-groups
// straddle the two inputs when C0*9 is not a multiple of 4.
void check_joined(Rng& rng, int64_t N, int64_t C0, int64_t C1, int64_t H, int64_t W,
                  int64_t OC, int32_t lo, int32_t hi, int32_t w_hi) {
  const int64_t C = C0 + C1, extra = 2;  // channels of the wider tensors not read
  const auto x0 = random_codes<int8_t>(rng, N * (C0 + extra) * H * W, lo, hi);
  const auto x1 = random_codes<int8_t>(rng, N * (C1 + extra) * H * W, lo, hi);
  std::vector<int8_t> x(size_t(N * C * H * W));  // [x0, x1] channels, the reference's input
  for (int64_t n = 0; n < N; ++n) {
    std::copy_n(x0.begin() + n * (C0 + extra) * H * W, C0 * H * W, x.begin() + n * C * H * W);
    std::copy_n(x1.begin() + n * (C1 + extra) * H * W, C1 * H * W,
                x.begin() + (n * C + C0) * H * W);
  }
  const auto w = random_codes<int8_t>(rng, OC * C * 9, -w_hi, w_hi);
  const auto bias = random_codes<int32_t>(rng, OC, -100000, 100000);
  const ConvGeometry g = ConvGeometry::same3x3(N, C, H, W, OC);
  std::vector<int32_t> want(size_t(N * OC * H * W)), got(want.size(), 0);
  conv2d_codes_naive(want.data(), x.data(), w.data(), bias.data(), g);
  const PackedA<int8_t> p = pack_a(w.data(), OC, C * 9, CodeRange{lo, hi});
  ConvPart part;
  part.x8 = x0.data(), part.C = C0, part.image_stride = (C0 + extra) * H * W, part.w8 = &p;
  part.more.push_back({x1.data(), C1, (C1 + extra) * H * W});
  conv2d_codes_parts({part}, bias.data(), g, copy_into(got, OC, H, W));
  CHECK(got == want);
}

}  // namespace

TEST_CASE("int conv paths: a part joining two inputs equals conv2d_codes_naive of their concat") {
  Rng rng(135);
  for (GemmPath path : paths_here()) {
    CAPTURE(gemm_path_name(path));
    set_gemm_path_limit(path);
    // odd shapes: C0*9 odd (groups straddle the inputs), partial panels and row tiles
    check_joined(rng, /*N=*/2, /*C0=*/3, /*C1=*/2, /*H=*/9, /*W=*/13, /*OC=*/7, -32, 31, 8);
    check_joined(rng, 1, 5, 7, 20, 35, 13, -64, 64, 16);
    check_joined(rng, 1, 1, 1, 3, 5, 1, -128, 127, 127);  // not proven: the int16 kernels
    check_joined(rng, 1, 24, 16, 17, 70, 19, -32, 31, 8);
  }
  set_gemm_path_limit(GemmPath::best);
}

TEST_CASE("int gemm paths: each path the CPU has equals the naive loop") {
  Rng rng(131);
  const std::vector<GemmPath> paths = paths_here();
  CHECK(paths.front() == GemmPath::portable);
  CHECK((paths.back() == GemmPath::maddubs) == (cpu_has_avx2() && !cpu_has_vnni()));
  CHECK((paths.back() == GemmPath::amx) == cpu_has_amx());
  for (GemmPath path : paths) {
    CAPTURE(gemm_path_name(path));
    set_gemm_path_limit(path);
    REQUIRE(gemm_path() == path);
    // sizes: one tile, partial row tiles and panels, K odd, K past one group
    for (const auto& [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {6, 16, 2},
                                 {7, 17, 3}, {13, 70, 27}, {64, 130, 576},
                                 {40, 100, 200}}) {  // AMX: a whole and a part block, k tail
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      check_packed<int8_t>(rng, M, N, K, -128, 127);
      check_packed<int16_t>(rng, M, N, K, -2048, 2047);
      check_packed<int16_t>(rng, M, N, K, -32768, 32767);  // wraps mod 2^32
    }
  }
  set_gemm_path_limit(GemmPath::best);
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
    // int8 weights packed with the input's range: the byte path on
    // maddubs (fixed_twos Q6.0 x Q0.4, FIXED Q6.0 x Q0.4)
    check_conv<int8_t>(rng, 2, 3, 9, 13, 7, -32, 31, /*w_hi=*/8);
    check_conv<int8_t>(rng, 1, 24, 20, 70, 13, -64, 64, /*w_hi=*/16);
  }
  set_gemm_path_limit(GemmPath::best);
}

// requantise_row and requantise_row_sign_magnitude (AVX-512 on the VNNI and
// AMX paths, AVX2, scalar) against the scalar 128-bit
// requantise and requantise_sign_magnitude, random multipliers, offsets and shifts 0..62,
// with and without the ReLU floor, int8/int16/int32 outputs
TEST_CASE("int requantise paths: requantise_row on each path equals requantise") {
  Rng rng(133);
  for (GemmPath path : paths_here()) {
    CAPTURE(gemm_path_name(path));
    set_gemm_path_limit(path);
    for (int t = 0; t < 400; ++t) {
      const int64_t n = 1 + int64_t(rng.below(40));  // vector body and scalar tail
      auto [r, acc] = random_requant_case(rng, n, /*small=*/t % 3 == 0);
      if (t < 63 && t % 3 != 0) r.shift = t;  // every shift at least once
      // accumulators of a few million: within reach of the AVX2 rows'
      // doubles (|acc * M + O| < 2^53) for many multipliers, not all
      if (t % 3 == 1)
        for (int32_t& a : acc) a /= 1024;
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
      // sign-magnitude rows (fixed, fixed_gm; AVX2 on the avx2 and byte
      // paths): Q6.0, Q8.0 (the GM code truncating at f = 0), Q0.4, Q8.8
      const int i = t % 4 == 3 ? 0 : t % 4 == 2 ? 8 : 6 + 2 * (t % 2);
      const int f = t % 4 == 3 ? 4 : t % 4 == 2 ? 8 : 0;
      const bool gm = t % 8 == 1;
      Requant rs = r;
      rs.shift = std::min(r.shift, 62 - f);
      requantise_row_sign_magnitude(o16.data(), acc.data(), n, rs, i, f, gm, relu);
      requantise_row_sign_magnitude(o32.data(), acc.data(), n, rs, i, f, gm, relu);
      for (int64_t p = 0; p < n; ++p) {
        const int32_t a = relu ? std::max(acc[size_t(p)], 0) : acc[size_t(p)];
        const int32_t want = requantise_sign_magnitude(a, rs, i, f, gm);
        bad += o32[size_t(p)] != want;
        bad += i + f <= 14 && o16[size_t(p)] != want;
      }
      CAPTURE(t);
      REQUIRE(bad == 0);
    }
  }
  set_gemm_path_limit(GemmPath::best);
}

TEST_CASE("int gemm paths: the names bench_int_engine prints") {
  CHECK(std::string(gemm_path_name(GemmPath::avx2)) == "AVX2");
  CHECK(std::string(gemm_path_name(GemmPath::maddubs)) == "AVX2 bytes");
  CHECK(std::string(gemm_path_name(GemmPath::portable)) == "portable");
  CHECK(std::string(gemm_path_name(GemmPath::vnni)) == "VNNI");
  CHECK(std::string(gemm_path_name(GemmPath::amx)) == "AMX");
}

// ---- the AVX2 byte path (vpmaddubsw) at the limits of its int16 proof

namespace {

// B (K, N) codes at the ends of [lo, hi] only, or anywhere in it: the ends
// give the largest int16 sums the proof has to cover.
std::vector<int8_t> end_codes(Rng& rng, int64_t n, int32_t lo, int32_t hi, bool ends) {
  if (!ends) return random_codes<int8_t>(rng, n, lo, hi);
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = int8_t(rng.below(2) ? hi : lo);
  return v;
}

// gemm_packed on the byte path (when the proof allows it) against gemm_naive;
// returns the packed A's byte_run.
int check_bytes(const std::vector<int8_t>& A, const std::vector<int8_t>& B, int64_t M,
                int64_t N, int64_t K, CodeRange b_range) {
  std::vector<int32_t> want(size_t(M * N)), got(size_t(M * N), 777);
  gemm_naive(want.data(), A.data(), B.data(), M, N, K);
  const PackedA<int8_t> p = pack_a(A.data(), M, K, b_range);
  gemm_packed(got.data(), p, B.data(), N);
  CHECK(got == want);
  return p.byte_run;
}

}  // namespace

TEST_CASE("int gemm byte path: maddubs_run is the int16 bound, to the last code") {
  // two groups of 4 weights, their lane 0 (k 0, 1) carrying the weights
  auto run_of = [](int8_t w0, int8_t w1, int64_t span) {
    const int8_t A[8] = {w0, w1, 0, 0, w0, w1, 0, 0};
    return maddubs_run(A, 1, 8, span);
  };
  CHECK(run_of(108, 109, 151) >= 1);  // 151 * 217 = 32767: the largest int16
  CHECK(run_of(109, 109, 151) == 0);  // 32918 saturates
  CHECK(run_of(-128, -128, 128) >= 1);  // -32768 = the smallest int16
  CHECK(run_of(-128, -127, 129) == 0);  // -32895
  // 32640 a pair: both groups span 65280 values, one window of any run
  CHECK(run_of(64, 64, 255) == kMaxByteRun);
  CHECK(run_of(1, 0, 255) == kMaxByteRun);
  CHECK(run_of(1, 0, 0) == kMaxByteRun);  // a format of one code: products 0
  // the runs add the pairs of one lane over several groups: 16 groups of
  // 255 * 16 = 4080 span 65280 values, 17 would span 69360
  std::vector<int8_t> A(4 * 64, 0);
  for (size_t g = 0; g < 64; ++g) A[4 * g + 2] = A[4 * g + 3] = 8;  // lane 1
  CHECK(maddubs_run(A.data(), 1, 4 * 64, 255) == 16);
  // the width of the interval counts, not its side: 8 groups of +8 and 8
  // of -8 in one window are 65280 values too
  for (size_t g = 0; g < 64; g += 2) A[4 * g + 2] = A[4 * g + 3] = -8;
  CHECK(maddubs_run(A.data(), 1, 4 * 64, 255) == 16);
  // rows are checked together: the worst row decides
  std::vector<int8_t> two(2 * 8, 1);
  two[8] = two[9] = 127;  // row 1: 255 * 254 per pair
  CHECK(maddubs_run(two.data(), 2, 8, 255) == 0);
  CHECK(maddubs_run(two.data(), 2, 8, 128) == kMaxByteRun);  // 128 * 254 a pair, 65024 both
}

TEST_CASE("int gemm byte path: equals gemm_naive at the bound limits, and is refused past them") {
  if (!cpu_has_avx2()) return;  // the path needs AVX2; the others are tested above
  Rng rng(134);
  set_gemm_path_limit(GemmPath::maddubs);
  REQUIRE(gemm_path() == GemmPath::maddubs);
  struct Format {
    const char* name;
    CodeRange b;
    int32_t w_lo, w_hi;
    bool proven;  // expected byte_run > 0
  };
  // activations x weights as the engine packs them (int_bound.h code_range)
  const Format formats[] = {
      {"fixed_twos Q6.0 x Q0.4", {-32, 31}, -8, 7, true},        // pairs <= 2 * 63 * 8
      {"FIXED Q6.0 x Q0.4", {-64, 64}, -16, 16, true},            // 2 * 128 * 16 = 4096
      {"fixed_twos Q8.0 x small Q0.8", {-128, 127}, -20, 20, true},  // 2 * 255 * 20
      {"fixed_twos Q8.0 x Q0.8", {-128, 127}, -128, 127, false},  // 2 * 255 * 128 > 32767
      {"unsigned Q7.0 x Q0.8", {0, 127}, -128, 127, true},  // pairs <= 127 * 256: run 1
  };
  for (const Format& f : formats)
    for (const auto& [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {3, 16, 4},
                                 {7, 17, 27}, {13, 70, 576}, {64, 130, 1152},
                                 {5, 200, 27},  // 64-column superpanels with a k tail
                                 {14, 33, 100}})  // M = 6 + 6 + 2: the 2-row loop on 2 real rows
      for (bool ends : {true, false}) {
        CAPTURE(f.name);
        CAPTURE(M);
        CAPTURE(K);
        CAPTURE(ends);
        // weights at their ends too, so that the worst case is in the data
        std::vector<int8_t> A = end_codes(rng, M * K, f.w_lo, f.w_hi, ends);
        if (!f.proven) A[0] = int8_t(f.w_hi), A[std::min<int64_t>(1, K - 1)] = int8_t(f.w_hi);
        const auto B = end_codes(rng, K * N, f.b.lo, f.b.hi, ends);
        const int run = check_bytes(A, B, M, N, K, f.b);
        if (f.proven) CHECK(run > 0);
        if (!f.proven && K > 1) CHECK(run == 0);
      }
  set_gemm_path_limit(GemmPath::best);
}

TEST_CASE("int gemm byte path: forced past its bound it saturates, so the proof is needed") {
  set_gemm_path_limit(GemmPath::maddubs);
  if (gemm_path() != GemmPath::maddubs) {  // no AVX2
    set_gemm_path_limit(GemmPath::best);
    return;
  }
  // fixed_twos Q8.0 x Q0.8 at the ends: one pair is 255 * 254 = 64770 after
  // the +128 offset, far past int16
  const int64_t M = 3, N = 16, K = 8;
  const std::vector<int8_t> A(size_t(M * K), 127), B(size_t(K * N), 127);
  PackedA<int8_t> p = pack_a(A.data(), M, K, CodeRange{-128, 127});
  CHECK(p.byte_run == 0);
  std::vector<int32_t> want(size_t(M * N)), got(want.size());
  gemm_naive(want.data(), A.data(), B.data(), M, N, K);
  gemm_packed(got.data(), p, B.data(), N);  // refused: the vpmaddwd path
  CHECK(got == want);
  // what a missing proof would let through: run 1, centres 0
  set_byte_path(p, A.data(), 128, 1, std::vector<int32_t>(size_t(M * 2 * 2), 0));
  gemm_packed(got.data(), p, B.data(), N);
  CHECK(got != want);
  set_gemm_path_limit(GemmPath::best);
}

TEST_CASE("int gemm byte path: one-signed runs past int16 are exact with their centres") {
  set_gemm_path_limit(GemmPath::maddubs);
  if (gemm_path() != GemmPath::maddubs) {  // no AVX2
    set_gemm_path_limit(GemmPath::best);
    return;
  }
  // rows of positive weights, rows of negative ones: each window's sum lies
  // on one side of 0, up to twice as far as int16 reaches; codes at the
  // ends, so that the largest sums are in the data
  Rng rng(77);
  const int64_t M = 13, N = 37, K = 4 * 50 + 3;
  std::vector<int8_t> A(size_t(M * K));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k)
      A[size_t(m * K + k)] = int8_t((m % 3 == 1 ? -1 : 1) * int(rng.below(21)));
  const CodeRange b{-128, 127};
  const std::vector<int8_t> B = end_codes(rng, K * N, b.lo, b.hi, true);
  const int run = check_bytes(A, B, M, N, K, b);
  const std::vector<int32_t> c = maddubs_centres(A.data(), M, K, 255, run);
  CHECK(run >= 6);  // 255 * 40 a pair: 6 fit 2^16 values, 3 fit int16's one side
  CHECK(std::count(c.begin(), c.end(), 0) < std::ptrdiff_t(c.size()));
  // the same run started at 0: the sums wrap
  PackedA<int8_t> p = pack_a(A.data(), M, K, b);
  std::vector<int32_t> want(size_t(M * N)), got(want.size());
  gemm_naive(want.data(), A.data(), B.data(), M, N, K);
  set_byte_path(p, A.data(), 128, run, std::vector<int32_t>(c.size(), 0));
  gemm_packed(got.data(), p, B.data(), N);
  CHECK(got != want);
  set_gemm_path_limit(GemmPath::best);
}
