// Integer inference against float inference of the same U-Net, in one run:
//
//   bench_int_engine [--width W] [--size S] [--reps R] [--threads T] [--portable 0|1]
//                    [--quantization fixed_twos|FIXED]
//                    (default width 64, 1x200x200, 5 reps, 2 threads, portable 1,
//                    fixed_twos; FIXED is the paper's sign-magnitude Q8.0/Q0.8,
//                    int16 codes, whose up1 conv is widened to int64)
//
// bench/int_engine.sh runs it beside PyTorch's float inference
// (torch_int_inference.py) and prints the ratios; the last line here,
// "RESULT float_ms F sim_ms S int_ms I threads T", is what it reads.
//
// The model: fixed_twos Q8.0 activations, Q0.8 weights, first block and
// conv9 full precision (the paper's default), untrained (Glorot weights,
// BatchNorm at its initial statistics): the integer work does not depend on
// the values. Timed, median of R runs after one warm-up, batch 1:
//   float model      the U-Net without quantizers, eval mode
//   simulation       the same with its quantizers (fake-quant), eval mode
//   integer engine   int_engine.h, VNNI if the CPU has it
//   integer portable the engine with the portable GEMM (set_portable_only)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "experiments/export/int_export.h"
#include "experiments/runtime/int_engine.h"
#include "experiments/training/train.h"
#include "quant/int_kernels/int_gemm.h"

using namespace qat;

namespace {

double median_ms(int reps, const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t width = 64, size = 200;
  int reps = 5, threads = 2;
  bool portable = true;  // --portable 0: skip the slow portable run
  std::string quantization = "fixed_twos";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--width")) width = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--size")) size = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--portable")) portable = std::atoi(argv[i + 1]) != 0;
    else if (!std::strcmp(argv[i], "--quantization")) quantization = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  set_threads(threads);
  Config c;
  c.width = width;
  c.quantization = quantization;
  c.activation_i_width = 8, c.activation_f_width = 0;
  c.weight_i_width = 0, c.weight_f_width = 8;
  Model sim = build_model(c);
  sim.net->eval();
  Config cf = c;
  cf.quantization = "none";
  Model plain = build_model(cf);
  plain.net->eval();
  IntEngine engine(export_int_model(sim));

  Rng rng(1);
  Tensor x = Tensor::empty({1, 1, size, size});
  for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] = rng.uniform(-1.0f, 1.0f);
  NoGrad no_grad;
  const double t_float = median_ms(reps, [&] { plain.net->forward(x); });
  const double t_sim = median_ms(reps, [&] { sim.net->forward(x); });
  const double t_int = median_ms(reps, [&] { engine.logits(x); });
  const CodeTensor x1 = engine.run_float_prefix(x);
  const CodeTensor y = engine.run_integer(x1);
  const double t_prefix = median_ms(reps, [&] { engine.run_float_prefix(x); });
  const double t_codes = median_ms(reps, [&] { engine.run_integer(x1); });
  const double t_suffix = median_ms(reps, [&] { engine.run_float_suffix(y); });
  // Per layer: the time between one layer's output and the next (the
  // pooling or upsampling and concat before a conv count to that conv),
  // median of reps runs of the integer part.
  std::vector<std::string> names;
  std::vector<std::vector<double>> per_layer;  // [layer][rep]
  for (int r = 0; r < reps; ++r) {
    size_t layer = 0;
    auto last = std::chrono::steady_clock::now();
    engine.observe = [&](const std::string& name, const CodeTensor&) {
      const auto now = std::chrono::steady_clock::now();
      if (layer == per_layer.size()) names.push_back(name), per_layer.emplace_back();
      per_layer[layer++].push_back(std::chrono::duration<double, std::milli>(now - last).count());
      last = now;
    };
    engine.run_integer(x1);
  }
  engine.observe = nullptr;
  const bool vnni = quant::use_vnni();
  double t_port = 0;
  if (portable) {
    quant::set_portable_only(true);
    t_port = median_ms(reps, [&] { engine.logits(x); });
    quant::set_portable_only(false);
  }
  std::printf("U-Net width %lld, 1x%lldx%lld, batch 1, %d threads, median of %d, %s Q8.0/Q0.8\n",
              (long long)width, (long long)size, (long long)size, threads, reps,
              quantization.c_str());
  std::printf("  float model (no quantizers)    %8.1f ms\n", t_float);
  std::printf("  simulation (fake-quant, eval)  %8.1f ms\n", t_sim);
  std::printf("  integer engine (%s)        %8.1f ms   float/int %.2fx  sim/int %.2fx\n",
              vnni ? "VNNI    " : "portable", t_int, t_float / t_int, t_sim / t_int);
  std::printf("    of which float conv1 block %.1f ms, integer part %.1f ms, conv9 %.1f ms\n",
              t_prefix, t_codes, t_suffix);
  std::printf("    per layer (median of %d):", reps);
  for (size_t k = 0; k < names.size(); ++k) {
    std::sort(per_layer[k].begin(), per_layer[k].end());
    std::printf(" %s %.1f", names[k].c_str(), per_layer[k][per_layer[k].size() / 2]);
  }
  std::printf("\n");
  if (portable)
    std::printf("  integer engine (portable)      %8.1f ms   float/int %.2fx\n", t_port,
                t_float / t_port);
  std::printf("RESULT float_ms %.1f sim_ms %.1f int_ms %.1f threads %d\n", t_float, t_sim,
              t_int, threads);
  return 0;
}
