#include "experiments/studies/plots.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "autograd/check.h"
#include "data/png.h"
#include "experiments/studies/gnuplot.h"
#include "experiments/training/train.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> columns_of(const Table& t) {
  std::vector<std::string> cols;
  for (const auto& r : t.rows)
    if (std::find(cols.begin(), cols.end(), r.column) == cols.end()) cols.push_back(r.column);
  return cols;
}

// A column in a file name. A sweep file's columns are already plain
// (sweep.cpp check_name), but a table can be made from a folder of
// cell.yaml files, whose text nobody checked: no separator or dot-dot may
// take a file out of out_dir.
std::string file_part(const std::string& column) {
  if (column.empty()) return "all";
  std::string out = column;
  for (char& ch : out)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.')
      ch = '_';
  return out;
}

// Text on one line of a .dat file (a newline would start a data line).
std::string one_line(std::string s) {
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  return s;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "NaN";
  std::ostringstream o;
  o << v;
  return o.str();
}

}  // namespace

std::vector<std::string> write_plots(const Table& t, const std::string& out_dir,
                                     std::string& note) {
  fs::create_directories(out_dir);
  const std::vector<std::string> cols = columns_of(t);
  std::ostringstream gp;
  gp << "# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)\n"
     << "set terminal pngcairo size 900,600 noenhanced\n" << "set grid\n";
  std::vector<std::string> pngs;

  // Dice against the weight bits the paper's size column charges.
  {
    std::ofstream dat(out_dir + "/dice_vs_bits.dat");
    dat << "# per column a block: bits mean_dice std_dice paper_dice row\n";
    for (const auto& col : cols) {
      std::vector<const TableRow*> rows;
      for (const auto& r : t.rows)
        if (r.column == col && r.bits > 0) rows.push_back(&r);
      std::stable_sort(rows.begin(), rows.end(),
                       [](const TableRow* a, const TableRow* b) { return a->bits < b->bits; });
      dat << "# column " << file_part(col) << "\n";
      for (const auto* r : rows) {
        const MeanStd& d = r->metrics.at("dice");
        dat << r->bits << " " << num(d.mean) << " " << num(std::isfinite(d.std) ? d.std : 0.0)
            << " " << num(r->paper) << " " << one_line(r->row) << "\n";
      }
      dat << "\n\n";
    }
    gp << "set output 'dice_vs_bits.png'\n"
       << "set title " << gnuplot_quoted(t.name + ": val Dice (last epoch) against weight bits") << "\n"
       << "set xlabel 'weight bits (log scale; 32 = float)'\nset ylabel 'Dice %'\n"
       << "set logscale x 2\nset offsets graph 0.05, graph 0.05, 0, 0\nset yrange [0:100]\n"
       << "set key bottom right\nplot ";
    for (size_t i = 0; i < cols.size(); ++i) {
      const std::string c = file_part(cols[i]);
      gp << (i ? ", \\\n     " : "") << "'dice_vs_bits.dat' index " << i
         << " using 1:2:3 with yerrorlines lw 2 title " << gnuplot_quoted("ours " + c)
         << ", '' index " << i << " using 1:4 with linespoints dt 2 title "
         << gnuplot_quoted("paper " + c);
    }
    gp << "\nunset logscale x\nset offsets 0, 0, 0, 0\nset autoscale y\n";
    pngs.push_back(out_dir + "/dice_vs_bits.png");
  }

  // Training curves: mean val Dice per epoch, a line per row of the column.
  for (const auto& col : cols) {
    const std::string name = "curves_" + file_part(col);
    std::ofstream dat(out_dir + "/" + name + ".dat");
    std::vector<std::string> titles;
    for (const auto& r : t.rows) {
      if (r.column != col || r.dice_curve.empty()) continue;
      dat << "# " << one_line(r.row) << "\n";
      for (size_t e = 0; e < r.dice_curve.size(); ++e)
        dat << e + 1 << " " << num(r.dice_curve[e]) << "\n";
      dat << "\n\n";
      titles.push_back(r.row);
    }
    if (titles.empty()) continue;
    gp << "set output " << gnuplot_quoted(name + ".png") << "\n"
       << "set title " << gnuplot_quoted(t.name + " " + file_part(col) + ": mean val Dice per epoch")
       << "\nset xlabel 'epoch'\nset ylabel 'Dice %'\nset key bottom right\nplot ";
    for (size_t i = 0; i < titles.size(); ++i)
      gp << (i ? ", \\\n     " : "") << gnuplot_quoted(name + ".dat") << " index " << i
         << " using 1:2 with lines lw 2 title " << gnuplot_quoted(titles[i]);
    gp << "\n";
    pngs.push_back(out_dir + "/" + name + ".png");
  }
  {
    std::ofstream script(out_dir + "/plots.gp");
    script << gp.str();
  }
  if (!gnuplot_available()) {
    note = "gnuplot not found (install gnuplot-nox, scripts/setup.sh): wrote the data and " +
           out_dir + "/plots.gp, no PNG";
    return {};
  }
  if (!run_gnuplot(out_dir, "plots.gp", "")) {
    note = "gnuplot failed on " + out_dir + "/plots.gp";
    return {};
  }
  return pngs;
}

void tile_pngs(const std::vector<std::vector<std::string>>& grid, const std::string& out,
               int gap) {
  std::vector<std::vector<data::Image8>> images(grid.size());
  int64_t cell_h = 0, cell_w = 0;
  size_t grid_w = 0;
  for (size_t r = 0; r < grid.size(); ++r) {
    grid_w = std::max(grid_w, grid[r].size());
    for (const auto& path : grid[r]) {
      images[r].push_back(path.empty() ? data::Image8{} : data::read_png_rgb(path));
      cell_h = std::max(cell_h, images[r].back().h);
      cell_w = std::max(cell_w, images[r].back().w);
    }
  }
  if (cell_h == 0 || grid_w == 0) throw Error(out + ": no images to tile");
  const int64_t H = int64_t(grid.size()) * (cell_h + gap) - gap;
  const int64_t W = int64_t(grid_w) * (cell_w + gap) - gap;
  std::vector<uint8_t> rgb(size_t(3 * H * W), 255);
  for (size_t r = 0; r < images.size(); ++r)
    for (size_t c = 0; c < images[r].size(); ++c) {
      const data::Image8& im = images[r][c];
      const int64_t y0 = int64_t(r) * (cell_h + gap), x0 = int64_t(c) * (cell_w + gap);
      for (int64_t y = 0; y < im.h; ++y)
        std::copy_n(&im.pixels[size_t(3 * y * im.w)], 3 * im.w,
                    &rgb[size_t(3 * ((y0 + y) * W + x0))]);
    }
  data::write_png_rgb(out, rgb.data(), H, W);
}

std::vector<std::string> write_overlays(const Table& t, const std::string& out_dir) {
  fs::create_directories(out_dir);
  std::vector<std::string> written;
  for (const auto& col : columns_of(t)) {
    std::vector<std::vector<std::string>> grid;
    for (const auto& r : t.rows) {
      if (r.column != col || r.first_run.empty()) continue;
      const fs::path pred = fs::path(r.first_run) / "predictions";
      if (!fs::exists(pred)) {
        const std::string cfg = r.first_run + "/config.yaml";
        predict(parse_config(YAML::LoadFile(cfg), cfg));
      }
      std::vector<std::string> overlays;
      for (const auto& e : fs::directory_iterator(pred)) {
        const std::string f = e.path().filename().string();
        if (f.size() > 12 && f.substr(f.size() - 12) == "_overlay.png")
          overlays.push_back(e.path().string());
      }
      std::sort(overlays.begin(), overlays.end());
      grid.push_back(overlays);
    }
    if (grid.empty()) continue;
    const std::string out = out_dir + "/overlays_" + file_part(col) + ".png";
    tile_pngs(grid, out);
    written.push_back(out);
  }
  return written;
}

}  // namespace qat
