#include "layers/init.h"

#include <cmath>

namespace qat {

float init_bound(Init kind, const Shape& w) {
  QAT_CHECK(w.size() == 4, "init: weight must be (OC,C,KH,KW), got ", to_string(w));
  const double receptive = double(w[2] * w[3]);
  const double fan_in = double(w[1]) * receptive, fans = fan_in + double(w[0]) * receptive;
  switch (kind) {
    case Init::Glorot: return float(std::sqrt(6.0 / fans));
    case Init::BinaryConnect: return float(std::sqrt(1.5 / fans));
    // kaiming_uniform_(a = sqrt(5)): gain sqrt(1/3) times sqrt(3 / fan_in).
    case Init::PyTorchDefault: return float(1.0 / std::sqrt(fan_in));
    case Init::Unit: return 1.0f;
  }
  return 0.0f;
}

void init_uniform(Tensor& weight, Init kind, Rng& rng) {
  const float a = init_bound(kind, weight.shape());
  float* p = weight.data();
  for (int64_t i = 0; i < weight.numel(); ++i) p[i] = rng.uniform(-a, a);
}

}  // namespace qat
