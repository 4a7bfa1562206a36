#include "experiments/studies/histogram.h"

#include <algorithm>
#include <filesystem>

#include "data/png.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/train.h"
#include "quant/quantizers/quantize.h"

namespace qat {

Histogram histogram(const float* v, int64_t n, int bins, float lo, float hi) {
  Histogram h{lo, hi, std::vector<int64_t>(size_t(bins), 0)};
  const float width = hi > lo ? (hi - lo) / float(bins) : 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    const int b = std::clamp(int((v[i] - lo) / width), 0, bins - 1);
    ++h.counts[size_t(b)];
  }
  return h;
}

std::vector<uint8_t> draw_histograms(const Histogram& f, const Histogram* q, int width,
                                     int height) {
  std::vector<uint8_t> rgb(size_t(width * height * 3), 255);
  auto column = [&](const Histogram& h, int64_t peak, uint8_t r, uint8_t g, uint8_t b, int thin) {
    const int bins = int(h.counts.size());
    for (int k = 0; k < bins; ++k) {
      if (!h.counts[size_t(k)]) continue;
      const int top = height - 1 - int(double(h.counts[size_t(k)]) / double(peak) * (height - 10));
      int x0 = k * width / bins, x1 = (k + 1) * width / bins;
      if (thin) x0 = (x0 + x1) / 2, x1 = x0 + thin;
      for (int x = x0; x < std::min(x1, width); ++x)
        for (int y = std::max(top, 0); y < height; ++y) {
          uint8_t* p = &rgb[size_t((y * width + x) * 3)];
          p[0] = r, p[1] = g, p[2] = b;
        }
    }
  };
  const int64_t peak_f = std::max<int64_t>(1, *std::max_element(f.counts.begin(), f.counts.end()));
  column(f, peak_f, 160, 160, 160, 0);
  if (q) {
    const int64_t peak_q = std::max<int64_t>(1, *std::max_element(q->counts.begin(), q->counts.end()));
    column(*q, peak_q, 220, 0, 0, 2);
  }
  // the zero line
  if (f.lo < 0 && f.hi > 0) {
    const int x = int(-f.lo / (f.hi - f.lo) * float(width));
    for (int y = 0; y < height; ++y) {
      uint8_t* p = &rgb[size_t((y * width + std::min(x, width - 1)) * 3)];
      p[0] = p[1] = p[2] = 0;
    }
  }
  return rgb;
}

std::string write_weight_histograms(const Config& c) {
  Model m = build_model(c);
  const std::string path = trained_model_path(c);
  load_checkpoint(path, *m.net, nullptr);
  const std::string dir = c.run_dir() + "/histograms";
  std::filesystem::create_directories(dir);
  constexpr int kBins = 200, kWidth = 600, kHeight = 240;
  for (const LayerQuant& l : m.layers) {
    const Tensor& w = l.conv->weight;
    const float* v = w.data();
    float lo = *std::min_element(v, v + w.numel()), hi = *std::max_element(v, v + w.numel());
    Histogram qh;
    const bool quantized = l.weight.format != quant::Format::None;
    if (quantized) {
      const Tensor q = quant::quantize_forward(w, l.weight, l.binary_scale).q;
      const float* pq = q.data();
      lo = std::min(lo, *std::min_element(pq, pq + q.numel()));
      hi = std::max(hi, *std::max_element(pq, pq + q.numel()));
      qh = histogram(pq, q.numel(), kBins, lo, hi);
    }
    const Histogram fh = histogram(v, w.numel(), kBins, lo, hi);
    const auto rgb = draw_histograms(fh, quantized ? &qh : nullptr, kWidth, kHeight);
    data::write_png_rgb(dir + "/" + l.name + ".png", rgb.data(), kHeight, kWidth);
  }
  return dir;
}

}  // namespace qat
