#include "data/synthetic_em.h"

#include <algorithm>
#include <cmath>

#include "autograd/check.h"
#include "data/filters.h"
#include "data/pack_common.h"

namespace qat::data {

namespace {

struct Cell {
  float x, y;             // seed point
  float width;            // membrane width on this cell's side
  float brightness;       // interior gray level
  bool has_mito;
  float mx, my, ra, rb, angle;  // the blob: centre, radii, orientation
};

Cell random_cell(const SyntheticEmOptions& o, Rng& rng) {
  Cell c{};
  c.x = rng.uniform(0.f, float(o.size));
  c.y = rng.uniform(0.f, float(o.size));
  c.width = rng.uniform(o.membrane_lo, o.membrane_hi);
  c.brightness = rng.uniform(0.6f, 0.85f);
  c.has_mito = rng.uniform() < o.mito_probability;
  const float r = o.cell_size / 24.f;  // blob sizes follow the cell size
  c.mx = c.x + rng.uniform(-3.f, 3.f) * r;
  c.my = c.y + rng.uniform(-3.f, 3.f) * r;
  c.ra = rng.uniform(3.f, 6.f) * r;
  c.rb = rng.uniform(1.5f, 3.f) * r;
  c.angle = rng.uniform(0.f, float(M_PI));
  return c;
}

bool in_blob(const Cell& c, float x, float y) {
  const float dx = x - c.mx, dy = y - c.my;
  const float u = std::cos(c.angle) * dx + std::sin(c.angle) * dy;
  const float v = -std::sin(c.angle) * dx + std::cos(c.angle) * dy;
  return (u * u) / (c.ra * c.ra) + (v * v) / (c.rb * c.rb) <= 1.f;
}

}  // namespace

Sample synthetic_em_sample(const SyntheticEmOptions& o, Rng& rng) {
  QAT_CHECK(o.size >= 8 && o.cell_size > 1, "synthetic EM: size >= 8 and cell_size > 1");
  const int64_t n = o.size;
  const int64_t k = std::max<int64_t>(4, std::llround(double(n * n) / (o.cell_size * o.cell_size)));
  std::vector<Cell> cells;
  for (int64_t i = 0; i < k; ++i) cells.push_back(random_cell(o, rng));

  // Texture: smoothed noise, drawn for every pixel before anything else.
  std::vector<float> texture(size_t(n * n));
  for (float& t : texture) t = rng.normal();
  gaussian_blur(texture.data(), n, n, 2.f, Border::clamp);

  Sample s{1, n, n, std::vector<float>(size_t(n * n)), std::vector<uint8_t>(size_t(n * n))};
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) {
      const float px = float(x) + 0.5f, py = float(y) + 0.5f;
      // Nearest (a) and second nearest (b) seeds.
      int64_t a = -1, b = -1;
      float da = INFINITY, db = INFINITY;
      for (int64_t i = 0; i < k; ++i) {
        const float d = (px - cells[i].x) * (px - cells[i].x) + (py - cells[i].y) * (py - cells[i].y);
        if (d < da) b = a, db = da, a = i, da = d;
        else if (d < db) b = i, db = d;
      }
      // Distance to the a|b border: (|p-b|^2 - |p-a|^2) / (2 |a-b|).
      const float sep = std::hypot(cells[a].x - cells[b].x, cells[a].y - cells[b].y);
      const float border = (db - da) / (2.f * std::max(sep, 1e-3f));
      const float half_width = 0.25f * (cells[a].width + cells[b].width);
      const size_t p = size_t(y * n + x);
      const bool membrane = border < half_width;
      s.mask[p] = membrane ? 1 : 0;
      if (membrane) s.image[p] = 0.18f + 0.03f * texture[p];
      else if (cells[a].has_mito && in_blob(cells[a], px, py)) s.image[p] = 0.35f + 0.05f * texture[p];
      else s.image[p] = cells[a].brightness + 0.08f * texture[p];
    }
  gaussian_blur(s.image.data(), n, n, o.blur_sigma, Border::clamp);
  for (float& v : s.image) v = std::clamp(v + o.noise_std * rng.normal(), 0.f, 1.f);
  return s;
}

PackReport make_synthetic_em(const std::string& out_path, const SyntheticEmOptions& o) {
  if (o.n_train < 1 || o.n_val < 0)
    throw Error(detail::concat("synthetic EM: n_train ", o.n_train, ", n_val ", o.n_val,
                               ", expected n_train >= 1 and n_val >= 0"));
  Rng rng(o.seed);
  std::map<std::string, Split> splits;
  for (int64_t i = 0; i < o.n_train + o.n_val; ++i)
    splits[i < o.n_train ? "train" : "val"].append(synthetic_em_sample(o, rng));
  PackReport report;
  for (const auto& [name, split] : splits) report.push_back(describe(name, split, -1, -1));
  write_dataset(out_path, splits,
                {{"source", "qat synthetic EM-like generator (not real data)"},
                 {"synthetic", "true"},
                 {"description", detail::concat("Voronoi cells, membranes = mask 1; seed ", o.seed,
                                                ", size ", o.size)}});
  return report;
}

}  // namespace qat::data
