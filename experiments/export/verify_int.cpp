// Simulation against engine, code by code; see verify_int.h.
#include "experiments/export/verify_int.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "data/png.h"
#include "experiments/training/checkpoint.h"
#include "experiments/export/integer_eval.h"
#include "experiments/runtime/int_engine.h"
#include "experiments/runtime/int_predict.h"
#include "experiments/training/train.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

// Why the first difference of a layer is there, from what is known.
std::string cause(int32_t sim, int32_t eng, const IntLayer* l, const std::string& earlier) {
  if (!earlier.empty()) return "propagated: layer " + earlier + " already differed on this image";
  if (l && (sim == l->lo || sim == l->hi || eng == l->lo || eng == l->hi))
    return "saturation (one side at the end of the range [" + std::to_string(l->lo) + ", " +
           std::to_string(l->hi) + "])";
  if (std::abs(sim - eng) == 1)
    return "rounding (one code apart with equal inputs: a tie or the rounding of a*acc+b)";
  return "accumulator or operation order (" + std::to_string(std::abs(sim - eng)) +
         " codes apart with equal inputs)";
}

struct MaskCounts {
  int64_t tp = 0, fp = 0, fn = 0;
  double dice() const { return 2.0 * tp / std::max<double>(1.0, 2.0 * tp + fp + fn); }
  void add(bool pred, bool truth) { tp += pred && truth, fp += pred && !truth, fn += !pred && truth; }
};

}  // namespace

Config config_of(const IntModel& im, const std::string& path) {
  if (im.config_yaml.empty())
    throw Error(path + ": the integer model stores no config: pass --config");
  YAML::Node root;
  try {
    root = YAML::Load(im.config_yaml);
  } catch (const YAML::Exception& e) {
    throw Error(path + ": its stored config is not valid YAML: " + e.what());
  }
  return parse_config(root, path + " (stored config)");
}

VerifyResult verify_int(const IntModel& im, const Config& c, const std::string& checkpoint) {
  set_threads(c.threads);
  Model m = load_model(c, checkpoint);
  if (m.requantize_upsample != im.requantize_upsample)
    throw Error(c.source + ": key 'requantize_upsample' is " +
                (m.requantize_upsample ? "true" : "false") + " but the integer model was "
                "exported with it " + (im.requantize_upsample ? "on" : "off") +
                ": the simulation and the engine would compute different functions");
  std::map<std::string, Tensor> sim;
  // The input quantizer is conv1's second act_quant: catch its output too.
  TensorFn input_quant = m.net->block("conv1").act_quant2;
  m.net->block("conv1").act_quant2 = [&sim, input_quant](const Tensor& a) {
    Tensor q = input_quant ? input_quant(a) : a;
    sim["conv1.conv2"] = q;
    return q;
  };
  IntEngine engine(im);
  std::map<std::string, CodeTensor> eng;
  engine.observe = [&eng](const std::string& n, const CodeTensor& t) { eng[n] = t; };

  VerifyResult r;
  r.gemm_path = quant::gemm_path_name(quant::gemm_path());
  r.gemms = engine.gemm_report();
  std::vector<std::string> names{"conv1.conv2"};
  for (const std::string& n : integer_layer_names()) names.push_back(n);
  for (const std::string& n : names) r.layers.push_back({n, 0, 0, ""});
  std::map<std::string, const IntLayer*> by_name;
  for (const IntLayer& l : im.layers) by_name[l.name] = &l;

  const data::Split split = data::read_split(c.data, "val");
  const data::Pipeline pipeline = make_pipeline(c);
  MaskCounts cs, ci;
  NoGrad no_grad;
  for (int64_t i = 0; i < split.n; ++i) {
    const data::Sample s = pipeline.eval(split.sample(i));
    const Tensor x = image_tensor(s);
    const Tensor ls = integer_eval_forward(
        m, x, [&sim](const std::string& n, const Tensor& t) { sim[n] = t; });
    const Tensor li = engine.logits(x);
    std::string earlier;  // the first layer that differed on this image
    for (LayerDiff& d : r.layers) {
      const Tensor& a = sim.at(d.name);
      const CodeTensor& b = eng.at(d.name);
      QAT_CHECK(a.numel() == b.numel(), "verify-int: ", d.name,
                " has ", a.numel(), " values in the simulation and ", b.numel(),
                " in the engine");
      int64_t diff = 0;
      for (int64_t k = 0; k < a.numel(); ++k) {
        const int32_t sc = int32_t(std::lround(std::ldexp(a.data()[k], b.frac)));
        const int32_t ec = b.code(k);
        if (sc == ec && std::ldexp(double(sc), -b.frac) == a.data()[k]) continue;
        if (diff++ == 0 && d.first.empty()) {
          const int64_t P = b.H * b.W, ch = (k / P) % b.C, p = k % P;
          d.first = detail::concat("image ", i, " channel ", ch, " pixel (y=", p / b.W,
                                   ", x=", p % b.W, "): simulation ", a.data()[k], " (code ",
                                   sc, "), engine code ", ec, " at f=", b.frac, ": ",
                                   cause(sc, ec, by_name.count(d.name) ? by_name[d.name] : nullptr,
                                         earlier));
        }
      }
      if (diff && earlier.empty()) earlier = d.name;
      d.values += a.numel();
      d.differing += diff;
    }
    for (int64_t p = 0; p < ls.numel(); ++p) {
      const bool ps = 1.0f / (1.0f + std::exp(-ls.data()[p])) >= c.threshold;
      const bool pi = 1.0f / (1.0f + std::exp(-li.data()[p])) >= c.threshold;
      const bool truth = s.mask[size_t(p)] != 0;
      cs.add(ps, truth), ci.add(pi, truth);
      r.mask_differing += ps != pi;
    }
    r.mask_pixels += ls.numel();
    ++r.images;
  }
  r.dice_sim = cs.dice(), r.dice_int = ci.dice();
  return r;
}

std::string format_verify(const VerifyResult& r) {
  std::string out = detail::concat("verify-int on ", r.images,
                                   " validation images: simulation (eval mode) vs integer engine\n");
  char line[256];
  std::snprintf(line, sizeof line, "  %-16s %12s %10s\n", "layer", "codes", "differing");
  out += line;
  int64_t total = 0;
  for (const LayerDiff& d : r.layers) {
    std::snprintf(line, sizeof line, "  %-16s %12lld %10lld\n", d.name.c_str(),
                  (long long)d.values, (long long)d.differing);
    out += line;
    total += d.differing;
  }
  out += "  GEMMs (" + r.gemm_path + " path):";
  for (const std::string& g : r.gemms) out += " " + g + ";";
  out += "\n";
  for (const LayerDiff& d : r.layers)
    if (!d.first.empty()) {
      out += "first difference: layer " + d.name + ", " + d.first + "\n";
      break;
    }
  std::snprintf(line, sizeof line,
                "differing codes in all: %lld; mask pixels differing: %lld of %lld; "
                "Dice simulation %.2f%%, engine %.2f%%\n",
                (long long)total, (long long)r.mask_differing, (long long)r.mask_pixels,
                100 * r.dice_sim, 100 * r.dice_int);
  return out + line;
}

std::string predict_int(const Config& c, const IntModel& im) {
  set_threads(c.threads);
  IntEngine engine(im);
  IntPredictOptions o;
  o.data = c.data, o.split = c.predict_split, o.count = c.predict_count;
  o.crop = c.crop, o.threshold = c.threshold, o.out = c.run_dir() + "/predictions_int";
  return predict_int(engine, o);
}

}  // namespace qat
