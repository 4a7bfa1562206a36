// Packers on tiny inputs written here (NIfTI pairs, a 3-page TIFF, PNG
// folders), the real Colin27 files, and the synthetic EM generator.
#include <doctest/doctest.h>
#include <nifti2_io.h>
#include <tiffio.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "autograd/check.h"
#include "data/packers.h"
#include "data/png.h"
#include "data/synthetic_em.h"
#include "tests/data/tmp_path.h"

using namespace qat::data;
using qat::data::test::TmpPath;
namespace fs = std::filesystem;

namespace {

// A (nx, ny, nz) int16 volume with voxel (x, y, z) = f(x, y, z).
template <class F>
void write_nifti(const std::string& path, int64_t nx, int64_t ny, int64_t nz, F f) {
  const int64_t dims[8] = {3, nx, ny, nz, 1, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, /*data_fill=*/1);
  REQUIRE(nim);
  REQUIRE(nifti_set_filenames(nim, path.c_str(), 0, 1) == 0);
  auto* v = static_cast<int16_t*>(nim->data);
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x) v[(z * ny + y) * nx + x] = int16_t(f(x, y, z));
  nifti_image_write(nim);
  nifti_image_free(nim);
}

// 8-bit pages, page k pixel (y, x) = f(k, y, x).
template <class F>
void write_tiff(const std::string& path, int pages, int h, int w, F f) {
  TIFF* tif = TIFFOpen(path.c_str(), "w");
  REQUIRE(tif);
  std::vector<uint8_t> row(static_cast<size_t>(w));
  for (int k = 0; k < pages; ++k) {
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, h);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) row[size_t(x)] = uint8_t(f(k, y, x));
      TIFFWriteScanline(tif, row.data(), uint32_t(y), 0);
    }
    TIFFWriteDirectory(tif);
  }
  TIFFClose(tif);
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("data: pack_nifti_pairs slices along the axis; label > 0 is 1") {
  TmpPath dir("nifti");
  fs::create_directories(dir.path);
  const std::string a_img = (dir.path / "a.nii.gz").string(), a_lab = (dir.path / "a_lab.nii.gz").string();
  const std::string b_img = (dir.path / "b.nii").string(), b_lab = (dir.path / "b_lab.nii").string();
  // 4 x 3 x 2 volumes; label 2 in the x = 3 column, 0 elsewhere.
  write_nifti(a_img, 4, 3, 2, [](auto x, auto y, auto z) { return 100 * z + 10 * y + x; });
  write_nifti(a_lab, 4, 3, 2, [](auto x, auto, auto) { return x == 3 ? 2 : 0; });
  write_nifti(b_img, 4, 3, 2, [](auto x, auto y, auto z) { return -(100 * z + 10 * y + x); });
  write_nifti(b_lab, 4, 3, 2, [](auto, auto y, auto) { return y == 0 ? 5 : 0; });
  const std::string out = (dir.path / "pairs.h5").string();

  const PackReport r = pack_nifti_pairs(out, {{a_img, a_lab, "train"}, {b_img, b_lab, "val"}});
  REQUIRE(r.size() == 2);
  const Split train = read_split(out, "train"), val = read_split(out, "val");
  CHECK(train.n == 2);  // axial: one slice per z
  CHECK(train.h == 3);
  CHECK(train.w == 4);
  CHECK(train.images[size_t(3 * 4 + 2 * 4 + 1)] == 100 + 20 + 1);  // slice z=1, (y=2, x=1)
  CHECK(train.masks == std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                                            0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(val.images[5] == -(10 + 1));
  CHECK(r[0].name == "train");
  CHECK(r[0].foreground == doctest::Approx(0.25));
  CHECK(r[1].foreground == doctest::Approx(1.0 / 3));
  CHECK(read_attrs(out).at("synthetic") == "false");
  CHECK(read_attrs(out).at("slice_axis") == "2");  // what qat predict cuts a new scan along
  CHECK(read_attrs(out).at("intensity") == "raw");

  SUBCASE("axis 0 gives (nz, ny) slices, one per x") {
    pack_nifti_pairs(out, {{a_img, a_lab, "train"}}, {.axis = 0});
    CHECK(read_attrs(out).at("slice_axis") == "0");
    const Split s = read_split(out, "train");
    CHECK(s.n == 4);
    CHECK(s.h == 2);
    CHECK(s.w == 3);
    CHECK(s.images[size_t(3 * 6 + 1 * 3 + 2)] == 100 + 20 + 3);  // x=3, (z=1, y=2)
    CHECK(s.masks[size_t(3 * 6)] == 1);
    CHECK(s.masks[0] == 0);
  }
  SUBCASE("min_foreground drops empty slices") {
    pack_nifti_pairs(out, {{a_img, a_lab, "train"}}, {.axis = 0, .min_foreground = 0.5});
    CHECK(read_split(out, "train").n == 1);  // only x = 3 is all foreground
  }
  SUBCASE("grids that differ are refused, naming both files") {
    write_nifti(b_lab, 4, 3, 3, [](auto, auto, auto) { return 0; });
    CHECK_THROWS_WITH_AS(pack_nifti_pairs(out, {{b_img, b_lab, "train"}}),
                         doctest::Contains("grid 4x3x3 differs from"), qat::Error);
  }
}

TEST_CASE("data: Colin27 packs into contiguous train-below-val axial slices") {
  const Colin27Options defaults;
  if (!fs::exists(defaults.t1) || !fs::exists(defaults.atlas)) {
    MESSAGE("mricron-data not installed: Colin27 test skipped");
    return;
  }
  TmpPath tmp("colin.h5");
  Colin27Options o;
  o.slice_step = 4;  // a quarter of the slices keeps the test fast
  const PackReport r = pack_colin27(tmp.str(), o);
  REQUIRE(r.size() == 2);
  const PackedSplit &train = r[0], &val = r[1];
  CHECK(train.name == "train");
  CHECK(val.name == "val");
  CHECK(train.h == 217);
  CHECK(train.w == 181);
  CHECK(train.first <= train.last);
  CHECK(train.last < val.first);  // not interleaved
  CHECK(val.n == doctest::Approx(0.25 * double(train.n + val.n)).epsilon(0.5));
  CHECK(train.foreground > 0.05);
  CHECK(train.foreground < 0.5);
  CHECK(val.foreground > 0.01);
  CHECK(val.foreground < 0.5);
  const Split back = read_split(tmp.str(), "val");
  CHECK(back.n == val.n);
  int64_t ones = 0;
  for (uint8_t m : back.masks) ones += m;
  CHECK(double(ones) / double(back.masks.size()) == doctest::Approx(val.foreground));
  CHECK(read_attrs(tmp.str()).at("source").find("Colin27") != std::string::npos);

  o.slice_step = 40;
  o.pad_h = 224, o.pad_w = 224;
  const PackReport padded = pack_colin27(tmp.str(), o);
  CHECK(padded[0].h == 224);
  CHECK(padded[0].w == 224);
}

TEST_CASE("data: pack_tiff_stack keeps page order, last pages val, membrane = dark by default") {
  TmpPath dir("tiff");
  fs::create_directories(dir.path);
  const std::string vol = (dir.path / "vol.tif").string(), lab = (dir.path / "lab.tif").string();
  write_tiff(vol, 3, 4, 5, [](int k, int y, int x) { return 50 * k + 10 * y + x; });
  // Label: 0 (membrane) on the first row, 255 (cell) elsewhere.
  write_tiff(lab, 3, 4, 5, [](int, int y, int) { return y == 0 ? 0 : 255; });
  const std::string out = (dir.path / "em.h5").string();
  const PackReport r = pack_tiff_stack(out, vol, lab, {.val_fraction = 0.34});
  REQUIRE(r.size() == 2);
  CHECK(r[0].first == 0);
  CHECK(r[0].last == 1);
  CHECK(r[1].first == 2);
  const Split train = read_split(out, "train"), val = read_split(out, "val");
  CHECK(train.n == 2);
  CHECK(val.n == 1);
  CHECK(val.h == 4);
  CHECK(val.w == 5);
  CHECK(val.images[size_t(2 * 5 + 3)] == doctest::Approx((100 + 23) / 255.0));
  CHECK(train.images[size_t(20 + 7)] == doctest::Approx((50 + 12) / 255.0));
  for (int64_t p = 0; p < 20; ++p) CHECK(val.masks[size_t(p)] == (p < 5 ? 1 : 0));
  CHECK(r[1].foreground == doctest::Approx(0.25));

  pack_tiff_stack(out, vol, lab, {.val_fraction = 0.34, .invert = false});
  for (int64_t p = 0; p < 20; ++p) CHECK(read_split(out, "val").masks[size_t(p)] == (p < 5 ? 0 : 1));

  write_tiff(lab, 2, 4, 5, [](int, int, int) { return 0; });
  CHECK_THROWS_WITH_AS(pack_tiff_stack(out, vol, lab), doctest::Contains("2 pages, expected as many"),
                       qat::Error);
}

TEST_CASE("data: pack_png_folder pairs PNGs by name; mask = pixel > 0") {
  TmpPath dir("pngs");
  fs::create_directories(dir.path / "img");
  fs::create_directories(dir.path / "mask");
  const uint8_t a[6] = {0, 51, 102, 153, 204, 255}, b[6] = {10, 10, 10, 10, 10, 10};
  const uint8_t ma[6] = {0, 1, 0, 1, 0, 1}, mb[6] = {255, 255, 0, 0, 0, 0};
  write_png_gray((dir.path / "img/s1.png").string(), a, 2, 3);
  write_png_gray((dir.path / "img/s2.png").string(), b, 2, 3);
  write_png_gray((dir.path / "mask/s1.png").string(), ma, 2, 3);
  write_png_gray((dir.path / "mask/s2.png").string(), mb, 2, 3);
  const std::string out = (dir.path / "png.h5").string();
  const PackReport r = pack_png_folder(out, (dir.path / "img").string(),
                                       (dir.path / "mask").string(), 0.5);
  REQUIRE(r.size() == 2);
  const Split train = read_split(out, "train"), val = read_split(out, "val");
  CHECK(train.n == 1);
  CHECK(train.images == std::vector<float>{0.f, 0.2f, 0.4f, 0.6f, 0.8f, 1.f});
  CHECK(train.masks == std::vector<uint8_t>{0, 1, 0, 1, 0, 1});
  CHECK(val.masks == std::vector<uint8_t>{1, 1, 0, 0, 0, 0});
  fs::remove(dir.path / "mask/s2.png");
  CHECK_THROWS_WITH_AS(pack_png_folder(out, (dir.path / "img").string(),
                                       (dir.path / "mask").string(), 0.5),
                       doctest::Contains("s2.png: not found, expected the mask of"), qat::Error);
}

TEST_CASE("data: synthetic EM looks like EM and repeats byte for byte with its seed") {
  SyntheticEmOptions o;
  o.n_train = 2, o.n_val = 1, o.size = 64, o.seed = 12;
  TmpPath a("em_a.h5"), b("em_b.h5"), c("em_c.h5");
  const PackReport r = make_synthetic_em(a.str(), o);
  make_synthetic_em(b.str(), o);
  CHECK(bytes_of(a.str()) == bytes_of(b.str()));
  o.seed = 13;
  make_synthetic_em(c.str(), o);
  CHECK(bytes_of(a.str()) != bytes_of(c.str()));

  REQUIRE(r.size() == 2);
  CHECK(r[0].n == 2);
  CHECK(r[1].n == 1);
  // Membranes cover a fraction like ISBI's (about a fifth), not all or none.
  CHECK(r[0].foreground > 0.08);
  CHECK(r[0].foreground < 0.45);
  const auto attrs = read_attrs(a.str());
  CHECK(attrs.at("synthetic") == "true");
  CHECK(attrs.at("source") == "qat synthetic EM-like generator (not real data)");

  // Membranes are dark, interiors bright: mean intensity by class.
  const Split s = read_split(a.str(), "train");
  double fg = 0, bg = 0;
  int64_t nfg = 0, nbg = 0;
  for (size_t i = 0; i < s.masks.size(); ++i) {
    CHECK(s.images[i] >= 0.f);
    CHECK(s.images[i] <= 1.f);
    (s.masks[i] ? fg : bg) += s.images[i];
    (s.masks[i] ? nfg : nbg) += 1;
  }
  CHECK(fg / double(nfg) < 0.4);
  CHECK(bg / double(nbg) > 0.55);
}
