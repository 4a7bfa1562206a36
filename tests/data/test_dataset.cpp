// The HDF5 format: round trips, attributes, per-sample reads, and every
// validation error naming the file/dataset, what was found and expected.
#include <doctest/doctest.h>
#include <hdf5.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include "autograd/check.h"
#include "data/dataset.h"
#include "tests/data/tmp_path.h"

using namespace qat::data;
using qat::data::test::TmpPath;

namespace {

Split ramp_split(int64_t n, int64_t c, int64_t h, int64_t w) {
  Split s{n, c, h, w, {}, {}};
  for (int64_t i = 0; i < n * c * h * w; ++i) s.images.push_back(float(i) * 0.5f - 3.f);
  for (int64_t i = 0; i < n * h * w; ++i) s.masks.push_back(uint8_t((i * 7) % 3 == 0));
  return s;
}

// Raw HDF5 writes for files the writer refuses to make.
void raw_write(hid_t loc, const char* name, hid_t type, std::vector<hsize_t> dims,
               const void* data) {
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(d);
  H5Sclose(space);
}

// A file with group "train" holding images/masks as given.
void raw_file(const std::string& path, hid_t img_type, std::vector<hsize_t> img_dims,
              const void* img, hid_t mask_type, std::vector<hsize_t> mask_dims, const void* mask) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (img) raw_write(g, "images", img_type, img_dims, img);
  if (mask) raw_write(g, "masks", mask_type, mask_dims, mask);
  H5Gclose(g);
  H5Fclose(f);
}

std::string error_of(const std::string& path) {
  try {
    read_split(path, "train");
  } catch (const qat::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("data: write then read a split of one and of three channels") {
  TmpPath tmp("roundtrip.h5");
  const Split gray = ramp_split(3, 1, 4, 5), rgb = ramp_split(2, 3, 4, 5);
  write_dataset(tmp.str(), {{"train", gray}, {"val", rgb}},
                {{"source", "unit test"}, {"synthetic", "true"}});
  for (const auto& [name, want] : {std::pair{"train", gray}, std::pair{"val", rgb}}) {
    const Split got = read_split(tmp.str(), name);
    CHECK(got.n == want.n);
    CHECK(got.c == want.c);
    CHECK(got.h == 4);
    CHECK(got.w == 5);
    CHECK(got.images == want.images);
    CHECK(got.masks == want.masks);
  }
  CHECK(has_split(tmp.str(), "val"));
  CHECK_FALSE(has_split(tmp.str(), "test"));
  const auto attrs = read_attrs(tmp.str());
  CHECK(attrs.size() == 2);
  CHECK(attrs.at("source") == "unit test");
  CHECK(attrs.at("synthetic") == "true");

  // One channel is stored N x H x W, as FORMAT.md promises.
  hid_t f = H5Fopen(tmp.str().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "train/images", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  CHECK(H5Sget_simple_extent_ndims(sp) == 3);
  H5Sclose(sp), H5Dclose(d), H5Fclose(f);
}

TEST_CASE("data: SplitReader reads the same samples as the whole read") {
  TmpPath tmp("reader.h5");
  const Split s = ramp_split(4, 2, 3, 3);
  write_dataset(tmp.str(), {{"train", s}}, {});
  SplitReader reader(tmp.str(), "train");
  CHECK(reader.size() == 4);
  CHECK(reader.channels() == 2);
  for (int64_t i : {3, 0, 2, 1}) {
    Sample got;
    reader.read(i, got);
    const Sample want = s.sample(i);
    CHECK(got.image == want.image);
    CHECK(got.mask == want.mask);
    // Hand check of one value: image i, channel 1, pixel (2, 1).
    CHECK(got.image[size_t(9 + 2 * 3 + 1)] == float(i * 18 + 9 + 7) * 0.5f - 3.f);
  }
  Sample out;
  CHECK_THROWS_WITH_AS(reader.read(4, out), doctest::Contains("out of range"), qat::Error);
}

TEST_CASE("data: read_split refuses a split above the memory limit") {
  TmpPath tmp("limit.h5");
  write_dataset(tmp.str(), {{"train", ramp_split(2, 1, 4, 4)}}, {});
  // 2*16 floats + 2*16 bytes = 160 bytes.
  CHECK_NOTHROW(read_split(tmp.str(), "train", 160));
  CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train", 159), doctest::Contains("SplitReader"),
                       qat::Error);
}

TEST_CASE("data: attributes written by h5py (variable-length strings) are read") {
  TmpPath tmp("vlen.h5");
  write_dataset(tmp.str(), {{"train", ramp_split(1, 1, 2, 2)}}, {});
  hid_t f = H5Fopen(tmp.str().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "description", t, sp, H5P_DEFAULT, H5P_DEFAULT);
  const char* value = "from h5py";
  H5Awrite(a, t, &value);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t), H5Fclose(f);
  CHECK(read_attrs(tmp.str()).at("description") == "from h5py");
}

// fuzz_dataset_bytes found a file whose compact train/masks holds fewer
// bytes than its shape, on which HDF5 1.10.8's H5Dread read past a heap
// buffer (an ASan report; tests/fuzz/regressions/dataset_bytes/ keeps it).
// Made here on purpose: masks written compact, then the size in its layout
// message (version 3: 3, class 0 = compact, size as 2 bytes) cut from 32 to 23.
TEST_CASE("data: a compact dataset that stores fewer bytes than its shape is refused") {
  TmpPath tmp("compact.h5");
  const Split s = ramp_split(2, 1, 4, 4);
  hid_t f = H5Fcreate(tmp.str().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  raw_write(g, "images", H5T_NATIVE_FLOAT, {2, 4, 4}, s.images.data());
  const hsize_t dims[] = {2, 4, 4};
  hid_t space = H5Screate_simple(3, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_layout(dcpl, H5D_COMPACT);
  hid_t d = H5Dcreate2(g, "masks", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.masks.data());
  H5Dclose(d), H5Pclose(dcpl), H5Sclose(space), H5Gclose(g), H5Fclose(f);
  CHECK_NOTHROW(read_split(tmp.str(), "train"));  // intact, it reads

  std::ifstream in(tmp.str(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string message = std::string("\x03\x00\x20\x00", 4) +
                              std::string(s.masks.begin(), s.masks.end());
  const size_t at = bytes.find(message);
  REQUIRE(at != std::string::npos);
  REQUIRE(bytes.find(message, at + 1) == std::string::npos);
  bytes[at + 2] = 23;
  std::ofstream(tmp.str(), std::ios::binary | std::ios::trunc) << bytes;
  CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train"),
                       doctest::Contains(":/train/masks: compact storage of 23 bytes, where 32 "
                                         "values of 1 bytes need 32: a damaged file"),
                       qat::Error);
}

// The same bug through a chunk: a deflate stream that inflates to fewer
// bytes than the chunk (fuzz_dataset_bytes's file of 2026-12-01 did this to
// train/masks), written with H5Dwrite_chunk, which bypasses the filters.
// Also a stream that does not inflate.
TEST_CASE("data: a chunk that decodes to the wrong size is refused") {
  const Split s = ramp_split(2, 1, 4, 4);
  auto file_with_chunk = [&](const std::string& path, const std::vector<unsigned char>& raw) {
    write_dataset(path, {{"train", s}}, {});  // chunk per sample, deflate
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "train/masks", H5P_DEFAULT);
    const hsize_t second[] = {1, 0, 0};
    H5Dwrite_chunk(d, H5P_DEFAULT, 0, second, raw.size(), raw.data());
    H5Dclose(d), H5Fclose(f);
  };
  TmpPath tmp("chunk.h5");
  std::vector<unsigned char> short_stream(64);
  uLongf n = short_stream.size();
  const unsigned char ten[10] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  REQUIRE(compress(short_stream.data(), &n, ten, sizeof ten) == Z_OK);
  short_stream.resize(n);
  file_with_chunk(tmp.str(), short_stream);
  CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train"),
                       doctest::Contains(":/train/masks: a stored chunk decodes to 10 bytes, "
                                         "where its chunk shape needs 16: a damaged file"),
                       qat::Error);
  CHECK_THROWS_WITH_AS(SplitReader(tmp.str(), "train"), doctest::Contains("decodes to 10 bytes"),
                       qat::Error);
  const std::vector<unsigned char> twenty(20, 1);  // a stream longer than the chunk
  std::vector<unsigned char> long_stream(64);
  n = long_stream.size();
  REQUIRE(compress(long_stream.data(), &n, twenty.data(), twenty.size()) == Z_OK);
  long_stream.resize(n);
  file_with_chunk(tmp.str(), long_stream);
  CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train"),
                       doctest::Contains("chunk decodes to more than 16 bytes"), qat::Error);
  file_with_chunk(tmp.str(), {1, 2, 3, 4, 5, 6, 7});
  CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train"),
                       doctest::Contains("chunk decodes to nothing (a broken stream)"),
                       qat::Error);
  {  // no filter: the chunk index records 10 bytes for a chunk of 16
    hid_t f = H5Fcreate(tmp.str().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    raw_write(g, "images", H5T_NATIVE_FLOAT, {2, 4, 4}, s.images.data());
    const hsize_t dims[] = {2, 4, 4}, chunk[] = {1, 4, 4}, second[] = {1, 0, 0};
    hid_t space = H5Screate_simple(3, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    hid_t d = H5Dcreate2(g, "masks", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.masks.data());
    H5Dwrite_chunk(d, H5P_DEFAULT, 0, second, sizeof ten, ten);
    H5Dclose(d), H5Pclose(dcpl), H5Sclose(space), H5Gclose(g), H5Fclose(f);
    CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train"),
                         doctest::Contains(":/train/masks: a stored chunk decodes to 10 bytes"),
                         qat::Error);
  }

}

// A type HDF5 would size its conversion buffer by: fuzz_int_model made one of
// 4 GB; here 16-byte floats and a string.
TEST_CASE("data: datasets of anything but numbers of 1 to 8 bytes are refused") {
  TmpPath tmp("types.h5");
  const std::vector<long double> wide(32, 1.0L);
  const std::vector<uint8_t> masks(32, 0);
  raw_file(tmp.str(), H5T_NATIVE_LDOUBLE, {2, 4, 4}, wide.data(), H5T_NATIVE_UINT8, {2, 4, 4},
           masks.data());
  CHECK(error_of(tmp.str()).find(":/train/images: a dataset of 16-byte floats, expected numbers "
                                 "of 1 to 8 bytes") != std::string::npos);
  hid_t text = H5Tcopy(H5T_C_S1);
  H5Tset_size(text, 4);
  const std::vector<char> chars(32 * 4, 'a');
  raw_file(tmp.str(), text, {2, 4, 4}, chars.data(), H5T_NATIVE_UINT8, {2, 4, 4}, masks.data());
  H5Tclose(text);
  CHECK(error_of(tmp.str()).find("a dataset of 4-byte non-numbers") != std::string::npos);
}

// The chunk check's bounds, and a filter it cannot decode.
TEST_CASE("data: a chunk grid too large, or a filter qat does not decode, is refused") {
  const Split s = ramp_split(2, 1, 4, 4);
  TmpPath tmp("filters.h5");
  {  // a chunk grid too large to walk (the dims are checked after it)
    hid_t f = H5Fcreate(tmp.str().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    raw_write(g, "images", H5T_NATIVE_FLOAT, {2, 4, 4}, s.images.data());
    const hsize_t dims[] = {1 << 12, 1 << 11, 1}, chunk[] = {1, 1, 1};
    hid_t space = H5Screate_simple(3, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    H5Dclose(H5Dcreate2(g, "masks", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    H5Pclose(dcpl), H5Sclose(space), H5Gclose(g), H5Fclose(f);
    CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train"),
                         doctest::Contains(":/train/masks: a grid of more than 4194304 chunks"),
                         qat::Error);
  }
  // a chunk larger than its dataset, which HDF5 would allocate whole (no
  // writer makes one: fuzz_dataset_bytes's file, masks 2 x 4 x 4 in chunks
  // of 134217729 x 4 x 4, 2 GB)
  const std::string huge = std::string(QAT_TESTS) +
                           "/fuzz/regressions/dataset_bytes/"
                           "dataset_bytes-oom-1a04ca829f7c53206965986ffae062b403e016f8";
  CHECK_THROWS_WITH_AS(read_split(huge, "train"),
                       doctest::Contains(":/train/masks: chunk dimension 0 is 134217729, "
                                         "expected 1 to the dataset's 2"),
                       qat::Error);
  hid_t f = H5Fcreate(tmp.str().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  raw_write(g, "masks", H5T_NATIVE_UINT8, {2, 4, 4}, s.masks.data());
  const hsize_t dims[] = {2, 4, 4}, chunk[] = {1, 4, 4};
  hid_t space = H5Screate_simple(3, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 3, chunk);
  H5Pset_scaleoffset(dcpl, H5Z_SO_FLOAT_DSCALE, 2);
  hid_t d = H5Dcreate2(g, "images", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.images.data());
  H5Dclose(d), H5Pclose(dcpl), H5Sclose(space), H5Gclose(g), H5Fclose(f);
  CHECK_THROWS_WITH_AS(read_split(tmp.str(), "train"),
                       doctest::Contains(":/train/images: HDF5 filter 6 ('scaleoffset'), where "
                                         "qat reads deflate, shuffle and fletcher32 only"),
                       qat::Error);
}

TEST_CASE("data: the reader names the file, dataset, what it found and expected") {
  TmpPath tmp("bad.h5");
  const std::string p = tmp.str();
  std::vector<float> img(2 * 3 * 3, 0.5f);
  std::vector<uint8_t> mask(2 * 3 * 3, 1);

  SUBCASE("missing file") {
    CHECK(std::string(error_of(p)).find("file not found") != std::string::npos);
  }
  SUBCASE("missing group") {
    write_dataset(p, {{"val", ramp_split(1, 1, 2, 2)}}, {});
    const std::string e = error_of(p);
    CHECK(e.find(p + ":/train") != std::string::npos);
    CHECK(e.find("group not found") != std::string::npos);
  }
  SUBCASE("missing masks") {
    raw_file(p, H5T_NATIVE_FLOAT, {2, 3, 3}, img.data(), 0, {}, nullptr);
    CHECK(error_of(p).find("/train/masks: dataset not found") != std::string::npos);
  }
  SUBCASE("images of wrong rank") {
    raw_file(p, H5T_NATIVE_FLOAT, {18}, img.data(), H5T_NATIVE_UINT8, {2, 3, 3}, mask.data());
    const std::string e = error_of(p);
    CHECK(e.find("/train/images: rank 1 (18)") != std::string::npos);
    CHECK(e.find("expected N x H x W or N x C x H x W") != std::string::npos);
  }
  SUBCASE("images as float64") {
    std::vector<double> d(18, 0.5);
    raw_file(p, H5T_NATIVE_DOUBLE, {2, 3, 3}, d.data(), H5T_NATIVE_UINT8, {2, 3, 3}, mask.data());
    CHECK(error_of(p).find("images: dtype is float of 8 bytes, expected float32") !=
          std::string::npos);
  }
  SUBCASE("masks as int8") {
    raw_file(p, H5T_NATIVE_FLOAT, {2, 3, 3}, img.data(), H5T_NATIVE_INT8, {2, 3, 3}, mask.data());
    CHECK(error_of(p).find("masks: dtype is integer of 1 bytes, expected uint8") !=
          std::string::npos);
  }
  SUBCASE("masks of another N, H or W") {
    raw_file(p, H5T_NATIVE_FLOAT, {2, 3, 3}, img.data(), H5T_NATIVE_UINT8, {2, 3, 2}, mask.data());
    CHECK(error_of(p).find("images (2, 3, 3) and masks (2, 3, 2) differ") != std::string::npos);
  }
  SUBCASE("mask value 255") {
    mask[10] = 255;  // sample 1
    raw_file(p, H5T_NATIVE_FLOAT, {2, 3, 3}, img.data(), H5T_NATIVE_UINT8, {2, 3, 3}, mask.data());
    CHECK(error_of(p).find("masks: sample 1 holds 255, expected 0 or 1") != std::string::npos);
  }
  SUBCASE("NaN and Inf in images") {
    img[3] = std::numeric_limits<float>::quiet_NaN();
    raw_file(p, H5T_NATIVE_FLOAT, {2, 3, 3}, img.data(), H5T_NATIVE_UINT8, {2, 3, 3}, mask.data());
    CHECK(error_of(p).find("images: sample 0 holds nan, expected finite") != std::string::npos);
    img[3] = 0, img[17] = INFINITY;
    raw_file(p, H5T_NATIVE_FLOAT, {2, 3, 3}, img.data(), H5T_NATIVE_UINT8, {2, 3, 3}, mask.data());
    CHECK(error_of(p).find("images: sample 1 holds inf") != std::string::npos);
    // The per-sample reader checks values when it reads them.
    SplitReader reader(p, "train");
    Sample s;
    CHECK_NOTHROW(reader.read(0, s));
    CHECK_THROWS_WITH_AS(reader.read(1, s), doctest::Contains("sample 1 holds inf"), qat::Error);
  }
}

TEST_CASE("data: the writer refuses empty splits and masks other than 0/1") {
  TmpPath tmp("refuse.h5");
  CHECK_THROWS_WITH_AS(write_dataset(tmp.str(), {{"train", Split{}}}, {}),
                       doctest::Contains("no samples"), qat::Error);
  Split s = ramp_split(1, 1, 2, 2);
  s.masks[0] = 2;
  CHECK_THROWS_WITH_AS(write_dataset(tmp.str(), {{"train", s}}, {}),
                       doctest::Contains("holds 2, expected 0 or 1"), qat::Error);
}
