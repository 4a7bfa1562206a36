#include "experiments/training/telemetry.h"

#include <cstdio>

#include "quant/quantizers/quantize.h"
#include "quant/quantizers/telemetry.h"

namespace qat {

void Telemetry::observe(const std::string& layer, Kind kind, const Tensor& x,
                        const quant::QuantSpec& spec, float binary_scale) {
  if (!active_) return;
  const quant::Quantized forward = quant::quantize_forward(x, spec, binary_scale);
  const Tensor& q = forward.q;
  Row r{epoch_, layer, kind == Kind::Weight ? "weight" : "activation", spec.name(),
        quant::saturated_fraction(forward),
        spec.ste == quant::Ste::Clipped ? quant::zero_grad_fraction(forward) : 0.0,
        quant::quantization_mse(x, q), -1.0, quant::distinct_levels(q), x.numel()};
  if (kind == Kind::Weight &&
      (spec.format == quant::Format::Binary || spec.format == quant::Format::Ternary)) {
    auto it = last_weights_.find(layer);
    if (it != last_weights_.end()) r.flips = quant::sign_flip_fraction(it->second, q);
    last_weights_[layer] = q;
  }
  rows_.push_back(r);
}

std::vector<Telemetry::Row> Telemetry::end() {
  active_ = false;
  return std::move(rows_);
}

std::string Telemetry::csv_header() {
  return "epoch,layer,kind,format,clipped,zero_grad,levels,mse,sign_flips,values";
}

std::string Telemetry::csv_line(const Row& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%lld,%s,%s,%s,%.6f,%.6f,%lld,%.6g,%.6f,%lld",
                (long long)r.epoch, r.layer.c_str(), r.kind.c_str(), r.format.c_str(),
                r.clipped, r.zero_grad, (long long)r.levels, r.mse, r.flips,
                (long long)r.values);
  return buf;
}

}  // namespace qat
