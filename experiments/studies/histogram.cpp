#include "experiments/studies/histogram.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data/png.h"
#include "experiments/studies/gnuplot.h"
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

namespace {

constexpr int kBins = 200;
// Above this many levels the grid would hide the bars: the title says its
// step instead.
constexpr size_t kMaxMarkedLevels = 65;

struct LayerHistogram {
  std::string name, format;
  Histogram float_counts, quant_counts;  // quant_counts empty: a float layer
  std::map<float, int64_t> quant_values; // each quantized value and how often
  std::vector<float> grid;               // the quantizer's levels
};

LayerHistogram layer_histogram(const LayerQuant& l) {
  const Tensor& w = l.conv->weight;
  const float* v = w.data();
  float lo = *std::min_element(v, v + w.numel()), hi = *std::max_element(v, v + w.numel());
  LayerHistogram h;
  h.name = l.name;
  h.format = "float";
  if (l.weight.format != quant::Format::None) {
    const Tensor q = quant::quantize_forward(w, l.weight, l.binary_scale).q;
    const float* pq = q.data();
    lo = std::min(lo, *std::min_element(pq, pq + q.numel()));
    hi = std::max(hi, *std::max_element(pq, pq + q.numel()));
    h.quant_counts = histogram(pq, q.numel(), kBins, lo, hi);
    for (int64_t k = 0; k < q.numel(); ++k) ++h.quant_values[pq[k]];
    h.grid = quant::levels(l.weight, l.binary_scale);
    h.format = l.weight.name();
  }
  h.float_counts = histogram(v, w.numel(), kBins, lo, hi);
  return h;
}

// <name>.dat: bin centre and float count per bin; then (index 1) each
// quantized value and its count, so that the spikes stand on the levels.
void write_dat(const std::string& path, const LayerHistogram& h) {
  std::ofstream dat(path);
  dat << "# bin_centre float_count\n";
  const Histogram& f = h.float_counts;
  const double width = (f.hi - f.lo) / kBins;
  for (int k = 0; k < kBins; ++k)
    dat << f.lo + (k + 0.5) * width << " " << f.counts[size_t(k)] << "\n";
  dat << "\n\n# quantized_value count\n";
  for (const auto& [value, count] : h.quant_values) dat << value << " " << count << "\n";
}

// The gnuplot commands of one layer's plot: float weights as grey boxes
// (left axis), quantized as red impulses (right axis), the level grid as
// dotted lines.
std::string layer_plot(const LayerHistogram& h) {
  std::ostringstream gp;
  const bool quantized = !h.quant_counts.counts.empty();
  const bool mark = quantized && h.grid.size() <= kMaxMarkedLevels;
  gp << "set output " << gnuplot_quoted(h.name + ".png") << "\nunset arrow\n"
     << "set title "
     << gnuplot_quoted(h.name + ": weights, " + h.format +
                       (quantized && !mark ? " (" + std::to_string(h.grid.size()) +
                                                 " levels, not marked)"
                                           : ""))
     << "\n";
  if (mark)
    for (float level : h.grid)
      gp << "set arrow from " << level << ", graph 0 to " << level
         << ", graph 1 nohead dt 3 lc rgb '#6060c0'\n";
  gp << "plot " << gnuplot_quoted(h.name + ".dat") << " index 0 using 1:2 with boxes fs solid 0.6 lc rgb '#a0a0a0' "
     << "title 'float weights'";
  if (quantized)
    gp << ", '' index 1 using 1:2 axes x1y2 with impulses lw 3 lc rgb '#dc0000' title 'quantized'";
  gp << "\n";
  return gp.str();
}

}  // namespace

std::string write_weight_histograms(const Config& c) {
  Model m = build_model(c);
  load_checkpoint(trained_checkpoint(c), *m.net, nullptr);
  const std::string dir = c.run_dir() + "/histograms";
  std::filesystem::create_directories(dir);
  std::vector<LayerHistogram> layers;
  for (const LayerQuant& l : m.layers) layers.push_back(layer_histogram(l));
  std::ostringstream gp;
  gp << "# Made by `qat train` with operation_mode: visualize; redraw: gnuplot histograms.gp\n"
     << "set terminal pngcairo size 800,360 noenhanced\nset grid\nset key top left\n"
     << "set xlabel 'weight value'\nset ylabel 'float weights per bin'\n"
     << "set y2label 'quantized weights per level'\nset ytics nomirror\nset y2tics\n"
     << "set style fill solid\n";
  for (const LayerHistogram& h : layers) {
    write_dat(dir + "/" + h.name + ".dat", h);
    gp << layer_plot(h);
  }
  {
    std::ofstream script(dir + "/histograms.gp");
    script << gp.str();
  }
  if (gnuplot_available() && run_gnuplot(dir, "histograms.gp", "histograms.err")) {
    std::filesystem::remove(dir + "/histograms.err");
    return dir;
  }
  // Without gnuplot: the same bars drawn by hand, no axes.
  std::printf("gnuplot %s: weight histograms drawn without axes\n",
              gnuplot_available() ? "failed (see histograms.err)" : "not found");
  constexpr int kWidth = 600, kHeight = 240;
  for (const LayerHistogram& h : layers) {
    const bool quantized = !h.quant_counts.counts.empty();
    const auto rgb =
        draw_histograms(h.float_counts, quantized ? &h.quant_counts : nullptr, kWidth, kHeight);
    data::write_png_rgb(dir + "/" + h.name + ".png", rgb.data(), kHeight, kWidth);
  }
  return dir;
}

}  // namespace qat
