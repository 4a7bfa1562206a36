// GEMM throughput on the U-Net's im2col shapes: int8 AVX-512 VNNI, int16
// VNNI, the portable int8 path, and OpenBLAS sgemm, in one run; then every
// 3x3 conv of the width-64 U-Net at 1x200x200 as a whole layer: qat's float
// conv2d (Winograd, autograd/conv_winograd.cpp) against the integer conv on
// codes (im2col + integer GEMM, quant/int_kernels/int_conv.cpp), int8 and int16.
//
//   bench_int_gemm [--reps R]
//
// A 3x3 conv of C -> OC channels at HxW is one GEMM per image with
// M = OC, K = C*9, N = H*W (weights x im2col, quant/int_kernels/int_conv.cpp). We time
// the width-64 U-Net's convs at the paper's 1x200x200 input (N = 40000,
// 10000, 2500, 625 at the four depths). GOP/s counts 2 operations per
// multiply-add; the ratio column is the time of sgemm over the time of
// the path (> 1: faster than float). Each entry is the best of R runs after
// one warm-up. Inputs are random codes (int) and random floats (sgemm):
// the time does not depend on the values.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "autograd/ops.h"
#include "autograd/rng.h"
#include "quant/int_kernels/int_conv.h"
#include "quant/int_kernels/int_gemm.h"

using namespace qat;
using namespace qat::quant;

namespace {

struct Shape3 {
  const char* layer;
  int64_t M, K, N;
};

// Width-64 U-Net at 200x200, one row per distinct GEMM shape.
const Shape3 kShapes[] = {
    {"conv1.conv2 (64->64 @200)", 64, 64 * 9, 200 * 200},
    {"conv2.conv1 (64->128 @100)", 128, 64 * 9, 100 * 100},
    {"conv2.conv2 (128->128 @100)", 128, 128 * 9, 100 * 100},
    {"conv3.conv2 (256->256 @50)", 256, 256 * 9, 50 * 50},
    {"conv4.conv2 (256->256 @25)", 256, 256 * 9, 25 * 25},
    {"up1.conv1 (512->256 @50)", 256, 512 * 9, 50 * 50},
    {"up2.conv1 (384->128 @100)", 128, 384 * 9, 100 * 100},
    {"up3.conv1 (192->64 @200)", 64, 192 * 9, 200 * 200},
};

// Every 3x3 conv of the width-64 U-Net in forward order: C -> OC at size.
struct Conv {
  const char* layer;
  int64_t C, OC, size;
};
const Conv kConvs[] = {
    {"conv1.conv1", 1, 64, 200},     {"conv1.conv2", 64, 64, 200},
    {"conv2.conv1", 64, 128, 100},   {"conv2.conv2", 128, 128, 100},
    {"conv3.conv1", 128, 256, 50},   {"conv3.conv2", 256, 256, 50},
    {"conv4.conv1", 256, 256, 25},   {"conv4.conv2", 256, 256, 25},
    {"up1.conv.conv1", 512, 256, 50}, {"up1.conv.conv2", 256, 256, 50},
    {"up2.conv.conv1", 384, 128, 100}, {"up2.conv.conv2", 128, 128, 100},
    {"up3.conv.conv1", 192, 64, 200}, {"up3.conv.conv2", 64, 64, 200},
    {"conv9", 64, 1, 200},
};

double best_seconds(int reps, const std::function<void()>& f) {
  f();  // warm-up: page faults, OpenMP and OpenBLAS thread start
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

template <class T>
std::vector<T> random_ints(Rng& rng, int64_t n, int32_t lo, int32_t hi) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = T(lo + int32_t(rng.below(uint64_t(hi - lo + 1))));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_int_gemm [--reps R]\n");
      return 2;
    }
  }
  const bool vnni = cpu_has_vnni();
  // The machine may be shared: say how loaded it was (a busy core stalls
  // every OpenMP barrier and shows up as a time-slice-sized step).
  double load = -1.0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1.0;
    std::fclose(f);
  }
  std::printf("bench_int_gemm: %d OpenMP threads, AVX-512 VNNI %s, best of %d, "
              "load average %.1f\n",
              omp_get_max_threads(), vnni ? "yes" : "NO (vnni columns skipped)", reps, load);
  std::printf("%-28s %5s %5s %6s | %8s | %14s | %14s | %14s\n", "layer", "M", "K",
              "N", "sgemm", "int8 vnni", "int16 vnni", "int8 portable");
  std::printf("%-28s %5s %5s %6s | %8s | %14s | %14s | %14s\n", "", "", "", "",
              "GOP/s", "GOP/s  x sgemm", "GOP/s  x sgemm", "GOP/s  x sgemm");
  Rng rng(1);
  double total[4] = {0, 0, 0, 0};  // seconds summed over the shapes
  for (const Shape3& s : kShapes) {
    const auto a8 = random_ints<int8_t>(rng, s.M * s.K, -128, 127);
    const auto b8 = random_ints<int8_t>(rng, s.K * s.N, -128, 127);
    const auto a16 = random_ints<int16_t>(rng, s.M * s.K, -128, 127);
    const auto b16 = random_ints<int16_t>(rng, s.K * s.N, -2048, 2047);
    std::vector<float> af(a8.begin(), a8.end()), bf(b8.begin(), b8.end());
    std::vector<float> cf(size_t(s.M * s.N));
    std::vector<int32_t> ci(size_t(s.M * s.N));

    double t[4];
    t[0] = best_seconds(reps, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(s.M), int(s.N),
                  int(s.K), 1.0f, af.data(), int(s.K), bf.data(), int(s.N), 0.0f,
                  cf.data(), int(s.N));
    });
    t[1] = vnni ? best_seconds(reps, [&] {
      gemm_vnni(ci.data(), a8.data(), b8.data(), s.M, s.N, s.K);
    }) : 0.0;
    t[2] = vnni ? best_seconds(reps, [&] {
      gemm_vnni(ci.data(), a16.data(), b16.data(), s.M, s.N, s.K);
    }) : 0.0;
    t[3] = best_seconds(reps, [&] {
      gemm_blocked(ci.data(), a8.data(), b8.data(), s.M, s.N, s.K);
    });
    const double ops = 2.0 * double(s.M) * double(s.N) * double(s.K);
    auto gops = [&](double sec) { return sec > 0 ? ops / sec * 1e-9 : 0.0; };
    auto ratio = [&](double sec) { return sec > 0 ? t[0] / sec : 0.0; };
    std::printf("%-28s %5lld %5lld %6lld | %8.1f | %7.1f %5.2fx | %7.1f %5.2fx | %7.1f %5.2fx\n",
                s.layer, (long long)s.M, (long long)s.K, (long long)s.N, gops(t[0]),
                gops(t[1]), ratio(t[1]), gops(t[2]), ratio(t[2]), gops(t[3]), ratio(t[3]));
    for (int k = 0; k < 4; ++k) total[k] += t[k];
  }
  std::printf("all shapes, total time: sgemm %.1f ms, int8 vnni %.1f ms (%.2fx), "
              "int16 vnni %.1f ms (%.2fx), int8 portable %.1f ms (%.2fx)\n",
              total[0] * 1e3, total[1] * 1e3, total[1] > 0 ? total[0] / total[1] : 0.0,
              total[2] * 1e3, total[2] > 0 ? total[0] / total[2] : 0.0, total[3] * 1e3,
              total[0] / total[3]);

  std::printf("\nwhole 3x3 convs, batch 1 (ms; x float = float time / integer time)\n");
  std::printf("%-16s %4s %4s %4s | %8s | %15s | %15s\n", "layer", "C", "OC", "HxW",
              "float", "int8 codes", "int16 codes");
  double conv_total[3] = {0, 0, 0};
  NoGrad no_grad;
  for (const Conv& c : kConvs) {
    ConvGeometry g = ConvGeometry::same3x3(1, c.C, c.size, c.size, c.OC);
    const int64_t nx = c.C * c.size * c.size, nw = c.OC * c.C * 9;
    std::vector<float> xf(static_cast<size_t>(nx)), wf(static_cast<size_t>(nw));
    for (auto& v : xf) v = rng.uniform(-1.0f, 1.0f);
    for (auto& v : wf) v = rng.uniform(-0.1f, 0.1f);
    const Tensor x = Tensor::from(xf, {1, c.C, c.size, c.size});
    const Tensor w = Tensor::from(wf, {c.OC, c.C, 3, 3});
    const Tensor b = Tensor::zeros({c.OC});
    const auto x8 = random_ints<int8_t>(rng, nx, -128, 127);
    const auto w8 = random_ints<int8_t>(rng, nw, -128, 127);
    const auto x16 = random_ints<int16_t>(rng, nx, -2048, 2047);
    const auto w16 = random_ints<int16_t>(rng, nw, -128, 127);
    const std::vector<int32_t> bias(size_t(c.OC), 0);
    std::vector<int32_t> acc(size_t(c.OC * c.size * c.size));
    double t[3];
    t[0] = best_seconds(reps, [&] { (void)conv2d(x, w, b, /*stride=*/1, /*pad=*/1); });
    t[1] = best_seconds(reps, [&] { conv2d_codes(acc.data(), x8.data(), w8.data(), bias.data(), g); });
    t[2] = best_seconds(reps, [&] { conv2d_codes(acc.data(), x16.data(), w16.data(), bias.data(), g); });
    std::printf("%-16s %4lld %4lld %4lld | %8.2f | %7.2f %6.2fx | %7.2f %6.2fx\n", c.layer,
                (long long)c.C, (long long)c.OC, (long long)c.size, t[0] * 1e3, t[1] * 1e3,
                t[0] / t[1], t[2] * 1e3, t[0] / t[2]);
    for (int k = 0; k < 3; ++k) conv_total[k] += t[k];
  }
  std::printf("all convs: float %.1f ms, int8 %.1f ms (%.2fx), int16 %.1f ms (%.2fx)\n",
              conv_total[0] * 1e3, conv_total[1] * 1e3, conv_total[0] / conv_total[1],
              conv_total[2] * 1e3, conv_total[0] / conv_total[2]);
  return 0;
}
