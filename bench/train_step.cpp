// Times one training step of the paper's U-Net: forward, loss
// 0.5*BCE(with logits) + 0.5*soft Dice, backward (no optimizer step).
//
//   bench_train_step [--size full|small|both] [--steps S] [--warmup W]
//                    [--threads T]   (default 2, or OMP_NUM_THREADS if set)
//
// full:  width 64, batch 5, 1x200x200 (the paper's EM setting)
// small: width 16, batch 8, 1x128x128
//
// FLOP count: only the convolutions, 2 FLOP per multiply-add. A conv with C
// inputs, OC outputs, KxK kernel and OHxOW outputs costs N*OC*C*K*K*OH*OW MACs
// in the forward; training counts 3x the forward (forward, input gradient,
// weight gradient), as the PyTorch script does. Full width: 229 GFLOP forward.
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

#include "layers/unet.h"

using namespace qat;

namespace {

struct Config {
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

double rss_mib() {  // resident set now, from /proc/self/statm
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double cpu_seconds() {  // user + system time of the whole process so far
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

void run(const Config& cfg, int warmup, int steps) {
  UNetOptions o;
  o.width = cfg.width;
  o.seed = 1;
  UNet net(o);
  net.train();

  // A normalised image and a blob-like binary target.
  Rng rng(7);
  const Shape shape{cfg.batch, 1, cfg.size, cfg.size};
  Tensor x = Tensor::empty(shape), target = Tensor::empty(shape);
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = rng.normal();
  for (int64_t i = 0; i < target.numel(); ++i)
    target.data()[i] = ((i / cfg.size) / 16 + (i % cfg.size) / 16) % 2 ? 1.0f : 0.0f;

  const double gflop_fwd = forward_flop(net, cfg.batch, cfg.size) / 1e9;
  std::printf("%s: width %ld, batch %ld, 1x%ldx%ld, %d threads, forward %.1f GFLOP, "
              "training 3x = %.1f GFLOP\n",
              cfg.name, long(cfg.width), long(cfg.batch), long(cfg.size),
              long(cfg.size), omp_get_max_threads(), gflop_fwd, 3 * gflop_fwd);

  std::vector<double> times, cpus;
  for (int s = 0; s < warmup + steps; ++s) {
    for (Tensor& p : net.parameters()) p.zero_grad();
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    Tensor logits = net.forward(x);
    Tensor loss = 0.5f * bce_with_logits(logits, target) +
                  0.5f * soft_dice_loss(sigmoid(logits), target);
    loss.backward();
    const double sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    std::printf("  %s %d: %.3f s (cpu %.2f s), loss %.5f, RSS %.0f MiB\n",
                s < warmup ? "warm-up" : "step", s < warmup ? s : s - warmup,
                sec, cpu, loss.item(), rss_mib());
    if (s >= warmup) times.push_back(sec), cpus.push_back(cpu);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpus.begin(), cpus.end());
  const double median = times[times.size() / 2];
  std::printf("RESULT %s qat s/step %.3f GFLOP/s %.1f peak_rss_MiB %.0f cpu_s/step %.2f\n",
              cfg.name, median, 3 * gflop_fwd / median, peak_rss_mib(),
              cpus[cpus.size() / 2]);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string size = "both";
  int steps = 5, warmup = 1, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--size")) size = argv[i + 1];
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s (expected --size, --steps, --warmup, --threads)\n",
                   argv[i]);
      return 2;
    }
  }
  if (size != "full" && size != "small" && size != "both") {
    std::fprintf(stderr, "--size %s: expected full, small or both\n", size.c_str());
    return 2;
  }
  if (steps < 1 || warmup < 0) {
    std::fprintf(stderr, "--steps must be >= 1 and --warmup >= 0\n");
    return 2;
  }
  if (threads > 0) omp_set_num_threads(threads);
  else if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(2);
  // Small first: its peak RSS is then its own, before the full run grows it.
  if (size != "full") run({"small", 16, 8, 128}, warmup, steps);
  if (size != "small") run({"full", 64, 5, 200}, warmup, steps);
}
