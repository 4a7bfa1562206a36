// Integer inference against float inference of the same U-Net, in one run:
//
//   bench_int_engine [--width W] [--size S] [--reps R] [--threads T] [--portable 0|1]
//                    [--quantization fixed_twos|FIXED] [--act I.F] [--weight I.F]
//                    [--float 0|1] [--onnx DIR] [--requantize-upsample 0|1]
//                    (default width 64, 1x200x200, 5 reps, 2 threads, portable 1,
//                    fixed_twos, activations Q8.0, weights Q0.8; FIXED is the
//                    paper's sign-magnitude: int16 codes at Q8.0/Q0.8 (whose
//                    up1 conv is widened to int64), int8 at Q6.0/Q0.4;
//                    --float 0 skips the float and fake-quant timings;
//                    --onnx DIR writes the same model's ONNX exports (the
//                    exact QDQ graph, model.onnx, and --ort-int8's,
//                    model_ort_int8.onnx) and the input for ONNX Runtime,
//                    tests/onnx/run_ort.js --bench;
//                    --requantize-upsample 1 builds the model with the config
//                    option requantize_upsample: the decoder's upsampled
//                    inputs rounded back to the activation grid, bytes)
//   bench_int_engine --model INT.h5 [--size S] [--reps R] [--threads T] ...
//                    times an exported model (`qat export`) instead: its
//                    width, formats and trained weights; --float is 0
//
// bench/int_engine.sh runs it beside PyTorch's float inference
// (torch_int_inference.py) and prints the ratios; the last line here,
// "RESULT float_ms F sim_ms S int_ms I threads T", is what it reads.
//
// The model: fixed_twos Q8.0 activations, Q0.8 weights, first block and
// conv9 full precision (the paper's default), untrained (Glorot weights,
// BatchNorm at its initial statistics). The work depends on the weights in
// one way: the AVX2 byte GEMM adds `run` k-groups in int16 before widening,
// and the run is the longest its proof allows for these weights
// (int_bound.h maddubs_run): 9-25 for these Q0.8 weights, 3-8 for a
// width-8 model trained 2 epochs on Colin27 (less fan-in, larger weights;
// 5-16 and 1-4 before the runs were centred, 2026-12-03). --model times a
// trained model's.
// Timed, median of R runs after one warm-up, batch 1:
//   float model      the U-Net without quantizers, eval mode
//   simulation       the same with its quantizers (fake-quant), eval mode
//   integer engine   int_engine.h, on the best path the CPU has (VNNI, AVX2)
//   integer portable the engine with the fallbacks: the AVX2 GEMM (if the
//                    best path is VNNI) and the portable one
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "experiments/export/int_export.h"
#include "experiments/onnx/onnx_export.h"
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

// A format ONNX cannot carry (sign-magnitude FIXED, ...) is refused by the
// exporter: say so and leave that file out, so the script skips its column.
static void write_onnx_or_say_why(const std::string& path, const IntModel& im,
                                  const OnnxExportOptions& options) {
  try {
    write_onnx(path, im, options);
  } catch (const std::exception& e) {
    std::printf("ONNX export refused, no %s: %s\n", path.c_str(), e.what());
  }
}

// The model as ONNX (onnx_export.h), exact and --ort-int8, and x as
// run_ort.js reads it.
static void write_onnx_input(const std::string& dir, const IntModel& im, const Tensor& x) {
  std::filesystem::create_directories(dir);
  write_onnx_or_say_why(dir + "/model.onnx", im, {});
  OnnxExportOptions int8;
  int8.ort_int8 = true;
  write_onnx_or_say_why(dir + "/model_ort_int8.onnx", im, int8);
  std::ofstream(dir + "/x.f32", std::ios::binary)
      .write(reinterpret_cast<const char*>(x.data()), std::streamsize(4 * x.numel()));
  std::ofstream(dir + "/manifest.txt") << "x 1 1 " << x.size(2) << " " << x.size(3) << "\n";
}

int main(int argc, char** argv) {
  int64_t width = 64, size = 200;
  int reps = 5, threads = 2;
  bool portable = true;  // --portable 0: skip the slow portable run
  bool with_float = true;
  bool requantize_upsample = false;
  int ai = 8, af = 0, wi = 0, wf = 8;
  std::string quantization = "fixed_twos";
  std::string onnx_dir;  // --onnx: where model.onnx, x.f32 and manifest.txt go
  std::string model_path;  // --model: an exported integer model instead of a built one
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--width")) width = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--size")) size = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--portable")) portable = std::atoi(argv[i + 1]) != 0;
    else if (!std::strcmp(argv[i], "--quantization")) quantization = argv[i + 1];
    else if (!std::strcmp(argv[i], "--float")) with_float = std::atoi(argv[i + 1]) != 0;
    else if (!std::strcmp(argv[i], "--requantize-upsample"))
      requantize_upsample = std::atoi(argv[i + 1]) != 0;
    else if (!std::strcmp(argv[i], "--act")) std::sscanf(argv[i + 1], "%d.%d", &ai, &af);
    else if (!std::strcmp(argv[i], "--weight")) std::sscanf(argv[i + 1], "%d.%d", &wi, &wf);
    else if (!std::strcmp(argv[i], "--onnx")) onnx_dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--model")) model_path = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  set_threads(threads);
  if (!model_path.empty()) with_float = false;  // no float model to time beside it
  Config c;
  c.width = width;
  c.quantization = quantization;
  c.activation_i_width = ai, c.activation_f_width = af;
  c.weight_i_width = wi, c.weight_f_width = wf;
  c.requantize_upsample = requantize_upsample;
  Model sim = build_model(c);
  sim.net->eval();
  Config cf = c;
  cf.quantization = "none";
  cf.requantize_upsample = false;
  Model plain = build_model(cf);
  plain.net->eval();
  const IntModel im = model_path.empty() ? export_int_model(sim) : read_int_model(model_path);
  if (!model_path.empty()) {
    width = im.width;
    quantization = model_path + ": " + im.layers.front().activation.name() + "/" +
                   im.layers.front().weight.name();
    requantize_upsample = im.requantize_upsample;
  }
  IntEngine engine(im);

  Rng rng(1);
  Tensor x = Tensor::empty({1, 1, size, size});
  for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] = rng.uniform(-1.0f, 1.0f);
  if (!onnx_dir.empty()) write_onnx_input(onnx_dir, im, x);
  NoGrad no_grad;
  const double t_float = with_float ? median_ms(reps, [&] { plain.net->forward(x); }) : 0;
  const double t_sim = with_float ? median_ms(reps, [&] { sim.net->forward(x); }) : 0;
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
  const quant::GemmPath best = quant::gemm_path();
  std::vector<std::pair<quant::GemmPath, double>> fallbacks;
  for (quant::GemmPath p : {quant::GemmPath::avx2, quant::GemmPath::portable}) {
    if (!portable || p >= best) continue;
    quant::set_gemm_path_limit(p);
    if (quant::gemm_path() == p) fallbacks.emplace_back(p, median_ms(reps, [&] { engine.logits(x); }));
  }
  quant::set_gemm_path_limit(quant::GemmPath::best);
  char formats[64];
  std::snprintf(formats, sizeof formats, " Q%d.%d/Q%d.%d", ai, af, wi, wf);
  std::printf("U-Net width %lld, 1x%lldx%lld, batch 1, %d threads, median of %d, %s%s%s\n",
              (long long)width, (long long)size, (long long)size, threads, reps,
              quantization.c_str(), model_path.empty() ? formats : "",
              requantize_upsample ? ", requantize_upsample" : "");
  std::printf("  float model (no quantizers)    %8.1f ms\n", t_float);
  std::printf("  simulation (fake-quant, eval)  %8.1f ms\n", t_sim);
  std::printf("  integer engine (%-8s)        %8.1f ms   float/int %.2fx  sim/int %.2fx\n",
              quant::gemm_path_name(best), t_int, t_float / t_int, t_sim / t_int);
  std::printf("    of which float conv1 block %.1f ms, integer part %.1f ms, conv9 %.1f ms\n",
              t_prefix, t_codes, t_suffix);
  std::printf("    per layer (median of %d):", reps);
  for (size_t k = 0; k < names.size(); ++k) {
    std::sort(per_layer[k].begin(), per_layer[k].end());
    std::printf(" %s %.1f", names[k].c_str(), per_layer[k][per_layer[k].size() / 2]);
  }
  std::printf("\n    GEMMs:");
  for (const std::string& line : engine.gemm_report()) std::printf(" | %s", line.c_str());
  std::printf("\n");
  for (const auto& [p, t] : fallbacks)
    std::printf("  integer engine (%-8s)        %8.1f ms   float/int %.2fx\n",
                quant::gemm_path_name(p), t, t_float / t);
  std::printf("RESULT float_ms %.1f sim_ms %.1f int_ms %.1f threads %d\n", t_float, t_sim,
              t_int, threads);
  return 0;
}
