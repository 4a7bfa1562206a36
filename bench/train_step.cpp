// Times one training step of the paper's U-Net: forward, loss
// 0.5*BCE(with logits) + 0.5*soft Dice, backward (no optimizer step).
//
//   bench_train_step [--size full|small|both] [--steps S] [--warmup W]
//                    [--threads T]   (default 2, or OMP_NUM_THREADS if set)
//                    [--quant float|fixed|bnn]   (default float)
//                    [--adapt 1|0]   (default 1: the thread governor of
//                    `qat train`, one thread while the machine is busy)
//                    [--paired 1]    (--quant fixed or bnn: alternate its
//                    steps with the float model's, print their ratio)
//
// float: no quantizer. fixed: the paper's Q6.0/Q0.4 (quantization FIXED,
// activations Q6.0 after every BatchNorm, weights Q0.4 in every conv but the
// first block's and conv9, straight-through backward), built from a Config
// by experiments/training/model.h as `qat train` builds it. bnn: quantization
// BNN (binary weights with BinaryConnect's scale, binary activations,
// clipped STE), the same way.
//
// full:  width 64, batch 5, 1x200x200 (the paper's EM setting)
// small: width 16, batch 8, 1x128x128
//
// FLOP count: only the convolutions, 2 FLOP per multiply-add. A conv with C
// inputs, OC outputs, KxK kernel and OHxOW outputs costs N*OC*C*K*K*OH*OW MACs
// in the forward; training counts 3x the forward (forward, input gradient,
// weight gradient), as the PyTorch script does. Full width: 229 GFLOP forward.
#include <immintrin.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/gemm/sgemm.h"
#include "experiments/training/config.h"
#include "experiments/training/model.h"
#include "experiments/training/thread_governor.h"
#include "experiments/training/train.h"
#include "layers/unet.h"

using namespace qat;

namespace {

struct Size {
  const char* name;
  int64_t width, batch, size;
};

// Forward FLOP of every conv in the U-Net, from its weight shape and the
// resolution its block runs at (conv1 and up3 full, conv2 and up2 half, ...).
double forward_flop(UNet& net, int64_t batch, int64_t size) {
  const int64_t scale[] = {1, 2, 4, 8, 4, 2, 1};  // blocks() order
  double flop = 0.0;
  auto add = [&](const Conv2d& c, int64_t hw) {
    const Shape& w = c.weight.shape();  // (OC, C, K, K)
    flop += 2.0 * double(batch) * double(w[0] * w[1] * w[2] * w[3]) * double(hw * hw);
  };
  auto blocks = net.blocks();
  for (size_t b = 0; b < blocks.size(); ++b) {
    add(blocks[b].second->conv1, size / scale[b]);
    add(blocks[b].second->conv2, size / scale[b]);
  }
  add(net.conv9, size);
  return flop;
}

// The machine's FMA peak: each thread runs 12 independent chains of vector
// FMAs (enough to cover 2 ports x 4-5 cycles of latency), at the widest
// width the CPU has. GFLOP/s over all threads, 2 FLOP per lane per FMA.
// (Two copies: GCC compiles a function for its own target only.)
__attribute__((target("avx2,fma"))) double fma_avx2(int64_t iters) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(float(j) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  float sum = 0.0f;
  for (int j = 0; j < 12; ++j) sum += _mm256_cvtss_f32(acc[j]);
  return double(sum);
}

__attribute__((target("avx512f"))) double fma_avx512(int64_t iters) {
  __m512 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_ps(float(j) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  float sum = 0.0f;
  for (int j = 0; j < 12; ++j) sum += _mm512_cvtss_f32(acc[j]);
  return double(sum);
}

// -> GFLOP/s on all threads, and the instruction set used ("" without FMA)
double fma_peak_gflops(const char** isa) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
    *isa = "";
    return 0.0;
  }
  *isa = avx512 ? "avx512f" : "avx2+fma";
  const int64_t iters = 20'000'000;
  const int lanes = avx512 ? 16 : 8;
  double sink = 0.0, best = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : sink)
    sink += avx512 ? fma_avx512(iters) : fma_avx2(iters);
    const double sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * 12 * lanes * double(iters) * omp_get_max_threads() / sec / 1e9);
  }
  if (sink == 12345.0) std::printf(" ");  // keep the loop
  return best;
}

double rss_mib() {  // resident set now, from /proc/self/statm
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

// The model as `qat train` builds it for quantization `quant` (float: Normal).
Model make_model(const Size& cfg, const std::string& quant) {
  qat::Config c;
  c.width = cfg.width;
  c.seed = 1;
  if (quant == "fixed") {
    c.quantization = "FIXED";
    c.activation_i_width = 6, c.activation_f_width = 0;
    c.weight_i_width = 0, c.weight_f_width = 4;
  } else if (quant == "bnn") {
    c.quantization = "BNN";
  }
  return build_model(c, /*telemetry=*/nullptr);
}

// A normalised image and a blob-like binary target.
struct Batch {
  Tensor x, target;
};
Batch make_batch(const Size& cfg) {
  Rng rng(7);
  const Shape shape{cfg.batch, 1, cfg.size, cfg.size};
  Batch b{Tensor::empty(shape), Tensor::empty(shape)};
  for (int64_t i = 0; i < b.x.numel(); ++i) b.x.data()[i] = rng.normal();
  for (int64_t i = 0; i < b.target.numel(); ++i)
    b.target.data()[i] = ((i / cfg.size) / 16 + (i % cfg.size) / 16) % 2 ? 1.0f : 0.0f;
  return b;
}

// One step: gradients zeroed, forward, loss, backward; returns the loss.
float train_step(UNet& net, const Batch& b) {
  for (Tensor& p : net.parameters()) p.zero_grad();
  Tensor logits = net.forward(b.x);
  Tensor loss = 0.5f * bce_with_logits(logits, b.target) +
                0.5f * soft_dice_loss(sigmoid(logits), b.target);
  loss.backward();
  return loss.item();
}

void run(const Size& cfg, const std::string& quant, int warmup, int steps, bool adapt) {
  Model model = make_model(cfg, quant);
  UNet& net = *model.net;
  net.train();
  const Batch batch = make_batch(cfg);

  const double gflop_fwd = forward_flop(net, cfg.batch, cfg.size) / 1e9;
  std::printf("%s %s: width %ld, batch %ld, 1x%ldx%ld, %d threads, forward %.1f GFLOP, "
              "training 3x = %.1f GFLOP, OpenMP waits %s\n",
              cfg.name, quant.c_str(), long(cfg.width), long(cfg.batch), long(cfg.size),
              long(cfg.size), omp_get_max_threads(), gflop_fwd, 3 * gflop_fwd,
              std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY")
                                             : "libgomp default (spin, then sleep)");

  std::vector<double> times, cpus;
  ThreadGovernor governor(omp_get_max_threads(), adapt);  // as `qat train` has it
  double step_thread_seconds = 0;  // of the timed steps, for the GEMMs' share
  for (int s = 0; s < warmup + steps; ++s) {
    if (s == warmup) gemm::sgemm_stats_reset(), gemm::sgemm_stats_enable(true);
    const int active = governor.active();
    const StepClock clock;
    const float loss = train_step(net, batch);
    const double sec = clock.wall(), cpu = clock.cpu();
    std::printf("  %s %d: %.3f s (cpu %.2f s, %d threads), loss %.5f, RSS %.0f MiB\n",
                s < warmup ? "warm-up" : "step", s < warmup ? s : s - warmup,
                sec, cpu, active, loss, rss_mib());
    set_threads(governor.after_step(sec, cpu));
    if (!governor.change().empty()) std::printf("  %s\n", governor.change().c_str());
    if (s >= warmup) times.push_back(sec), cpus.push_back(cpu), step_thread_seconds += sec * active;
  }
  gemm::sgemm_stats_enable(false);
  set_threads(governor.threads());  // the FMA peak below on all of them
  std::sort(times.begin(), times.end());
  std::sort(cpus.begin(), cpus.end());
  const double median = times[times.size() / 2];
  const char* isa = "";
  const double peak = fma_peak_gflops(&isa);
  std::printf("FMA peak %.1f GFLOP/s (%s, %d threads, best of 3); the step's "
              "direct-convolution-equivalent rate is %.0f%% of it (not the GEMMs' own share: "
              "Winograd does fewer FLOPs)\n",
              peak, isa, omp_get_max_threads(), 100.0 * 3 * gflop_fwd / median / peak);
  // The GEMMs' own FLOPs (Winograd's fewer multiplications counted as done)
  // against the time the threads spent in them.
  const gemm::SgemmStats g = gemm::sgemm_stats();
  const double gemm_rate = g.flops / 1e9 / g.thread_seconds;  // per thread
  std::printf("GEMMs: %.1f GFLOP a step in %ld calls, %.0f%% of the step's thread time, "
              "%.1f GFLOP/s per thread while in them = %.0f%% of one thread's FMA peak\n",
              g.flops / 1e9 / steps, long(g.calls / steps),
              100.0 * g.thread_seconds / step_thread_seconds, gemm_rate,
              100.0 * gemm_rate / (peak / omp_get_max_threads()));
  std::printf("RESULT %s qat-%s s/step %.3f GFLOP/s %.1f peak_rss_MiB %.0f cpu_s/step %.2f\n",
              cfg.name, quant.c_str(), median, 3 * gflop_fwd / median, peak_rss_mib(),
              cpus[cpus.size() / 2]);
  std::fflush(stdout);
}

// The float model's step and quant's, alternating, `steps` pairs after
// `warmup` pairs, at fixed threads, the order turning each pair. On a
// machine whose speed drifts by a third within minutes, the ratio of two
// adjacent steps is what the quantizers cost; the ratio of two runs'
// medians is mostly the drift.
void run_paired(const Size& cfg, const std::string& quant, int warmup, int steps) {
  Model base = make_model(cfg, "float"), quantized = make_model(cfg, quant);
  base.net->train(), quantized.net->train();
  const Batch batch = make_batch(cfg);
  std::vector<double> ratios;
  auto timed_step = [&](UNet& net) {
    const StepClock clock;
    train_step(net, batch);
    return clock.wall();
  };
  for (int s = 0; s < warmup + steps; ++s) {
    double t0, t1;  // every other pair the other way round: no order bias
    if (s % 2 == 0) t0 = timed_step(*base.net), t1 = timed_step(*quantized.net);
    else t1 = timed_step(*quantized.net), t0 = timed_step(*base.net);
    std::printf("  %s %d: float %.3f s, %s %.3f s, ratio %.3f\n",
                s < warmup ? "warm-up" : "pair", s < warmup ? s : s - warmup, t0,
                quant.c_str(), t1, t1 / t0);
    if (s >= warmup) ratios.push_back(t1 / t0);
  }
  std::sort(ratios.begin(), ratios.end());
  const size_t n = ratios.size();
  const double median = n % 2 ? ratios[n / 2] : 0.5 * (ratios[n / 2 - 1] + ratios[n / 2]);
  std::printf("RESULT %s paired %s/float median %.3f min %.3f max %.3f pairs %zu\n", cfg.name,
              quant.c_str(), median, ratios.front(), ratios.back(), n);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string size = "both", quant = "float";
  int steps = 5, warmup = 1, threads = 0;
  bool adapt = true, paired = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--size")) size = argv[i + 1];
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--quant")) quant = argv[i + 1];
    else if (!std::strcmp(argv[i], "--adapt")) adapt = std::atoi(argv[i + 1]) != 0;
    else if (!std::strcmp(argv[i], "--paired")) paired = std::atoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr,
                   "unknown option %s (expected --size, --steps, --warmup, --threads, --quant, "
                   "--adapt, --paired)\n",
                   argv[i]);
      return 2;
    }
  }
  if (size != "full" && size != "small" && size != "both") {
    std::fprintf(stderr, "--size %s: expected full, small or both\n", size.c_str());
    return 2;
  }
  if (quant != "float" && quant != "fixed" && quant != "bnn") {
    std::fprintf(stderr, "--quant %s: expected float, fixed or bnn\n", quant.c_str());
    return 2;
  }
  if (paired && quant == "float") {
    std::fprintf(stderr, "--paired 1 times --quant fixed or bnn against float, not float\n");
    return 2;
  }
  if (steps < 1 || warmup < 0) {
    std::fprintf(stderr, "--steps must be >= 1 and --warmup >= 0\n");
    return 2;
  }
  if (threads > 0) set_threads(threads);
  else set_threads(std::getenv("OMP_NUM_THREADS") ? omp_get_max_threads() : 2);
  // Small first: its peak RSS is then its own, before the full run grows it.
  const Size sizes[] = {{"small", 16, 8, 128}, {"full", 64, 5, 200}};
  for (const Size& cfg : sizes) {
    if (size != "both" && size != cfg.name) continue;
    if (paired) run_paired(cfg, quant, warmup, steps);
    else run(cfg, quant, warmup, steps, adapt);
  }
}
