// `qat table`'s arithmetic against hand-computed values: the paper's table
// as data, mean ± sample std, ranks with ties, Spearman's rho, the markdown
// and CSV of a hand-made table, and PNG tiling.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "data/png.h"
#include "experiments/studies/plots.h"
#include "experiments/studies/table.h"

using namespace qat;
namespace fs = std::filesystem;

TEST_CASE("table: the paper's numbers, looked up by row and column") {
  CHECK(paper_dice("full precision", "EM ReLU") == doctest::Approx(94.05));
  CHECK(paper_dice("Q6.0/Q0.4", "GM Tanh") == doctest::Approx(52.34));
  CHECK(paper_dice("Q4.0/Q0.2", "EM Tanh") == doctest::Approx(54.23));
  CHECK(paper_dice("TernaryNet", "NIH") == doctest::Approx(73.9));
  CHECK(std::isnan(paper_dice("BNN", "EM Tanh")));       // the paper prints "-"
  CHECK(std::isnan(paper_dice("TernaryNet", "GM ReLU")));
  CHECK(std::isnan(paper_dice("Q2.0/Q0.1", "EM ReLU")));  // not a row of the paper
  CHECK(std::isnan(paper_dice("BNN", "EM")));             // not a column
  CHECK(paper_size_mb("full precision") == doctest::Approx(18.48));
  CHECK(paper_size_mb("BNN") == doctest::Approx(0.56));
}

TEST_CASE("table: mean and sample standard deviation") {
  const MeanStd m = mean_std({2, 4, 4, 4, 5, 5, 7, 9});
  CHECK(m.n == 8);
  CHECK(m.mean == doctest::Approx(5.0));
  CHECK(m.std == doctest::Approx(std::sqrt(32.0 / 7.0)));  // sum of squares 32, n - 1 = 7
  const MeanStd one = mean_std({3.5});
  CHECK(one.mean == doctest::Approx(3.5));
  CHECK(std::isnan(one.std));
  CHECK(mean_std({}).n == 0);
}

TEST_CASE("table: ranks with ties and Spearman's rho") {
  CHECK(ranks_descending({10, 30, 20}) == std::vector<double>{3, 1, 2});
  CHECK(ranks_descending({5, 7, 7, 1}) == std::vector<double>{3, 1.5, 1.5, 4});
  CHECK(spearman({1, 2, 3, 4}, {10, 20, 30, 40}) == doctest::Approx(1.0));
  CHECK(spearman({1, 2, 3, 4}, {40, 30, 20, 10}) == doctest::Approx(-1.0));
  // ranks (4,3,2,1) vs (4,2,3,1): d^2 = 0,1,1,0, rho = 1 - 6*2/(4*15) = 0.8
  CHECK(spearman({1, 2, 3, 4}, {1, 3, 2, 4}) == doctest::Approx(0.8));
  // ties: ranks a (1,2.5,2.5,4) vs b (1,2,3,4): Pearson of the ranks
  // = 4.5 / sqrt(4.5 * 5) = 0.948683
  CHECK(spearman({4, 2, 2, 1}, {4, 3, 2, 1}) == doctest::Approx(0.948683).epsilon(1e-5));
  CHECK(std::isnan(spearman({1}, {2})));
  CHECK(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
}

TEST_CASE("table: markdown and CSV of a hand-made table") {
  Table t;
  t.name = "hand";
  t.source = "hand.yaml";
  t.paper_column = "GM";
  t.epochs = 3;
  t.metrics = {"dice", "hausdorff"};
  TableRow a;
  a.row = "fp", a.column = "relu", a.row_paper = "full precision", a.column_paper = "ReLU";
  a.seeds = {0, 1};
  a.metrics["dice"] = mean_std({50, 54});  // 52 ± 2.83
  a.metrics["hausdorff"] = mean_std({3});
  a.paper = 56.32, a.rank = 1, a.paper_rank = 1, a.bits = 32;
  a.size_paper_way = 18.45, a.size_honest = 18.45, a.paper_size = 18.48;
  t.rows.push_back(a);
  t.spearman["relu"] = kNaN;
  t.unfinished.push_back({"q4/relu/seed1", "failed", "exit status 1"});
  const std::string md = table_markdown(t);
  INFO(md);
  CHECK(md.find("| fp (full precision) | relu | 2 | 52.00 ± 2.83 | 3.00 | 56.32 | -4.32 | "
                "1 (1) | 32 | 18.45 | 18.45 | 18.48 |") != std::string::npos);
  CHECK(md.find("**last** epoch (3)") != std::string::npos);
  CHECK(md.find("in column relu: -") != std::string::npos);
  CHECK(md.find("- q4/relu/seed1: failed — exit status 1") !=
        std::string::npos);
  const std::string csv = table_csv(t);
  CHECK(csv.find("row,column,row_paper,column_paper,seeds,dice_mean,dice_std,hausdorff_mean,"
                 "hausdorff_std,paper_dice,diff") == 0);
  CHECK(csv.find("fp,relu,full precision,ReLU,2,52.0000,2.8284,3.0000,,56.3200,-4.3200,") !=
        std::string::npos);
}

TEST_CASE("table --epoch best: the epoch of the best validation Dice, the first of ties") {
  const std::vector<std::map<std::string, double>> log = {
      {{"dice", 0.5}}, {{"dice", 0.8}}, {{"dice", 0.7}}, {{"dice", 0.8}}, {{"dice", 0.6}}};
  CHECK(reported_epoch(log, EpochSelect::Last) == 4);
  CHECK(reported_epoch(log, EpochSelect::Best) == 1);
  Table t;
  t.epochs = 5;
  t.select = EpochSelect::Best;
  t.metrics = {"dice"};
  TableRow a;
  a.row = "fp", a.column = "relu";
  a.seeds = {0, 1};
  a.metrics["dice"] = mean_std({80, 82});
  a.epoch = mean_std({2, 5});
  t.rows.push_back(a);
  const std::string md = table_markdown(t);
  INFO(md);
  CHECK(md.find("**best-Dice** epoch (of 5") != std::string::npos);
  CHECK(md.find("| fp | relu | 2 | 3.5 | 81.00 ± 1.41 |") != std::string::npos);
}

TEST_CASE("plots: PNG tiles land where the grid puts them") {
  const fs::path dir = fs::temp_directory_path() / "qat_test_table";
  fs::create_directories(dir);
  // a 2x3 red image and a 1x1 blue one
  const uint8_t red[18] = {255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0};
  const uint8_t blue[3] = {0, 0, 255};
  data::write_png_rgb((dir / "red.png").string(), red, 2, 3);
  data::write_png_rgb((dir / "blue.png").string(), blue, 1, 1);
  const std::string out = (dir / "tiled.png").string();
  tile_pngs({{(dir / "red.png").string(), ""}, {(dir / "blue.png").string()}}, out, /*gap=*/1);
  const data::Image8 im = data::read_png_rgb(out);
  // cells 2x3 with a 1-pixel gap: 2 rows -> 2*2+1 = 5 high, 2 columns -> 2*3+1 = 7 wide
  REQUIRE(im.h == 5);
  REQUIRE(im.w == 7);
  auto px = [&](int y, int x) {
    const uint8_t* p = &im.pixels[size_t(3 * (y * im.w + x))];
    return std::vector<int>{p[0], p[1], p[2]};
  };
  CHECK(px(0, 0) == std::vector<int>{255, 0, 0});
  CHECK(px(1, 2) == std::vector<int>{255, 0, 0});
  CHECK(px(0, 3) == std::vector<int>{255, 255, 255});  // gap
  CHECK(px(0, 4) == std::vector<int>{255, 255, 255});  // the empty cell
  CHECK(px(3, 0) == std::vector<int>{0, 0, 255});      // second row starts after the gap
  CHECK(px(3, 1) == std::vector<int>{255, 255, 255});
}
