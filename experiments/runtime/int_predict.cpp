#include "experiments/runtime/int_predict.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/dataset.h"
#include "data/pipeline.h"
#include "data/png.h"

namespace qat {

std::string predict_int(IntEngine& engine, const IntPredictOptions& o) {
  const data::Split split = data::read_split(o.data, o.split);
  data::PipelineOptions po;
  po.crop_h = po.crop_w = o.crop;
  const data::Pipeline pipeline(po);
  std::filesystem::create_directories(o.out);
  const int64_t count = std::min(o.count, split.n);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t index = count > 1 ? i * (split.n - 1) / (count - 1) : 0;
    const data::Sample s = pipeline.eval(split.sample(index));
    Tensor x = Tensor::empty({1, s.c, s.h, s.w});
    std::copy(s.image.begin(), s.image.end(), x.data());
    const Tensor l = engine.logits(x);
    std::vector<uint8_t> prob(size_t(l.numel())), mask(size_t(l.numel()));
    for (int64_t p = 0; p < l.numel(); ++p) {
      const float q = 1.0f / (1.0f + std::exp(-l.data()[p]));
      prob[size_t(p)] = uint8_t(std::lround(255.0f * q));
      mask[size_t(p)] = q >= o.threshold ? 255 : 0;
    }
    char name[64];
    std::snprintf(name, sizeof name, "%s_%04lld", o.split.c_str(), (long long)index);
    data::write_png_gray(o.out + "/" + name + "_prob.png", prob.data(), s.h, s.w);
    data::write_png_gray(o.out + "/" + name + "_mask.png", mask.data(), s.h, s.w);
  }
  return o.out;
}

}  // namespace qat
