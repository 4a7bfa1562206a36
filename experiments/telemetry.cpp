#include "experiments/telemetry.h"

#include <algorithm>
#include <cstdio>

#include "quant/quantize.h"

namespace qat {

void Telemetry::observe(const std::string& layer, Kind kind, const Tensor& x,
                        const quant::QuantSpec& spec, float binary_scale) {
  if (!active_) return;
  const auto key = std::make_pair(layer, kind);
  auto [it, inserted] = acc_.try_emplace(key);
  if (inserted) order_.push_back(key);
  Acc& a = it->second;
  a.format = spec.name();
  const quant::Quantized r = quant::quantize_forward(x, spec, binary_scale);
  const float *px = x.data(), *pq = r.q.data();
  const int64_t n = x.numel();
  std::vector<float> seen(pq, pq + n);
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  std::vector<float> merged;
  std::set_union(a.levels.begin(), a.levels.end(), seen.begin(), seen.end(),
                 std::back_inserter(merged));
  a.levels = std::move(merged);
  const bool clipped_ste = spec.ste == quant::Ste::Clipped;
  for (int64_t i = 0; i < n; ++i) {
    a.clipped += (r.flags[size_t(i)] & quant::kSaturated) != 0;
    a.outside += clipped_ste && (r.flags[size_t(i)] & quant::kOutside) != 0;
    const double d = double(px[i]) - pq[i];
    a.sse += d * d;
  }
  a.values += n;
  const bool signed_weights = kind == Kind::Weight && (spec.format == quant::Format::Binary ||
                                                       spec.format == quant::Format::Ternary);
  if (signed_weights) {
    a.track_signs = true;
    std::vector<int8_t> signs(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) signs[size_t(i)] = int8_t((pq[i] > 0) - (pq[i] < 0));
    auto& last = last_signs_[layer];
    if (last.size() == signs.size()) {
      for (size_t i = 0; i < signs.size(); ++i) a.flipped += signs[i] != last[i];
      a.flips_counted += int64_t(signs.size());
    }
    last = std::move(signs);
  }
}

std::vector<Telemetry::Row> Telemetry::end(int64_t epoch) {
  active_ = false;
  std::vector<Row> rows;
  for (const auto& key : order_) {
    const Acc& a = acc_.at(key);
    const double n = double(std::max<int64_t>(a.values, 1));
    rows.push_back(Row{epoch, key.first, key.second == Kind::Weight ? "weight" : "activation",
                       a.format, double(a.clipped) / n, double(a.outside) / n, a.sse / n,
                       a.track_signs && a.flips_counted
                           ? double(a.flipped) / double(a.flips_counted)
                           : -1.0,
                       int64_t(a.levels.size()), a.values});
  }
  acc_.clear();
  order_.clear();
  return rows;
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
