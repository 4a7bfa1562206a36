#include "layers/init.h"

#include <cmath>

namespace qat {

float init_bound(Init kind, const Shape& w) {
  QAT_CHECK(w.size() == 4, "init: weight must be (OC,C,KH,KW), got ", to_string(w));
  const double receptive = double(w[2] * w[3]);
  const double fans = double(w[1]) * receptive + double(w[0]) * receptive;
  return float(std::sqrt((kind == Init::Glorot ? 6.0 : 1.5) / fans));
}

void init_uniform(Tensor& weight, Init kind, Rng& rng) {
  const float a = init_bound(kind, weight.shape());
  float* p = weight.data();
  for (int64_t i = 0; i < weight.numel(); ++i) p[i] = rng.uniform(-a, a);
}

}  // namespace qat
