// The PNG writer: write, read back, compare.
#include <doctest/doctest.h>

#include "autograd/check.h"
#include "data/png.h"
#include "tests/data/tmp_path.h"

using namespace qat::data;

TEST_CASE("data: gray and RGB PNGs read back as written") {
  qat::data::test::TmpPath gray("gray.png"), rgb("rgb.png");
  std::vector<uint8_t> g(5 * 7), c(5 * 7 * 3);
  for (size_t i = 0; i < g.size(); ++i) g[i] = uint8_t(i * 7);
  for (size_t i = 0; i < c.size(); ++i) c[i] = uint8_t(255 - i);
  write_png_gray(gray.str(), g.data(), 5, 7);
  write_png_rgb(rgb.str(), c.data(), 5, 7);
  const Image8 gb = read_png_gray(gray.str()), cb = read_png_rgb(rgb.str());
  CHECK(gb.h == 5);
  CHECK(gb.w == 7);
  CHECK(gb.channels == 1);
  CHECK(gb.pixels == g);
  CHECK(cb.channels == 3);
  CHECK(cb.pixels == c);
  CHECK_THROWS_WITH_AS(read_png_gray("/nonexistent/x.png"), doctest::Contains("/nonexistent/x.png"),
                       qat::Error);
}
