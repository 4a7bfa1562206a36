// The HDF5 dataset reader (data/dataset.h), two ways: the bytes of a file
// mutated as they are, and valid HDF5 files written from the input with
// any shapes, dtypes, values (NaN, Inf, masks other than 0/1), layouts and
// root attributes, so that the values reach the checks behind the parser.
#include <hdf5.h>

#include <cmath>
#include <algorithm>

#include "data/dataset.h"
#include "autograd/check.h"
#include "data/h5.h"
#include "tests/fuzz/harness.h"
#include "tests/fuzz/scratch.h"

namespace qat::fuzz {

namespace {

constexpr int64_t kMaxBytes = int64_t(64) << 20;  // read_split's limit here

// What a reader that accepted a split promises: finite images, 0/1 masks.
void check_promises(const std::string& what, const std::vector<float>& images,
                    const std::vector<uint8_t>& masks) {
  for (float v : images)
    if (!std::isfinite(v)) throw HarnessBug(what + ": accepted an image value " + std::to_string(v));
  for (uint8_t m : masks)
    if (m > 1) throw HarnessBug(what + ": accepted a mask value " + std::to_string(int(m)));
}

// Everything qat reads from a dataset file, as `qat train` and `qat data` use it.
void read_everything(const std::string& path) {
  expect_clean("dataset attributes", [&] { data::read_attrs(path); });
  for (const char* split : {"train", "val", "test"}) {
    expect_clean(std::string("read_split ") + split, [&] {
      if (!data::has_split(path, split)) return;
      const data::Split s = data::read_split(path, split, kMaxBytes);
      check_promises("read_split", s.images, s.masks);
    });
    expect_clean(std::string("SplitReader ") + split, [&] {
      data::SplitReader r(path, split);
      data::Sample sample;
      for (int64_t i = 0; i < std::min<int64_t>(r.size(), 4); ++i) {
        r.read(i, sample);
        check_promises("SplitReader", sample.image, sample.mask);
      }
    });
  }
}

// Reads the input front to back; zeros once it runs out.
struct Bytes {
  const uint8_t* data;
  size_t size, at = 0;
  uint8_t next() { return at < size ? data[at++] : 0; }
  std::string text(size_t max) {
    const size_t n = std::min<size_t>(next() % (max + 1), size - std::min(at, size));
    std::string s(reinterpret_cast<const char*>(data + at), n);
    at += n;
    return s;
  }
};

hid_t pick_type(uint8_t b) {
  const hid_t types[] = {H5T_NATIVE_FLOAT, H5T_NATIVE_UINT8, H5T_NATIVE_DOUBLE, H5T_NATIVE_INT8,
                         H5T_NATIVE_UINT16, H5T_NATIVE_INT32, H5T_IEEE_F32BE, H5T_NATIVE_UINT64};
  return types[b % 8];
}

// A dataset of the input's choosing: rank 0-4, dims 0-5 (mostly the
// reference shape), values raw from the input (floats as bit patterns, so
// NaN and Inf come up), contiguous or chunked and compressed.
void write_dataset_from(Bytes& in, hid_t group, const char* name, hid_t default_type,
                        const std::vector<hsize_t>& shape) {
  const uint8_t choice = in.next();
  const hid_t type = choice & 0x80 ? pick_type(choice) : default_type;
  std::vector<hsize_t> dims = shape;
  if (choice & 0x40) {
    dims.resize(in.next() % 5);
    for (auto& d : dims) d = in.next() % 6;
  }
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  data::H5Handle space = data::h5_space(
      dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
      "make a space");
  data::H5Handle dcpl = data::h5_plist(H5Pcreate(H5P_DATASET_CREATE), "make a plist");
  if ((choice & 0x20) && !dims.empty() && count > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
    H5Pset_deflate(dcpl, 4);
  }
  data::H5Handle ds = data::h5_dataset(
      H5Dcreate2(group, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "create");
  std::vector<uint8_t> values(size_t(count) * H5Tget_size(type));
  for (auto& v : values) v = in.next();
  // Mask-like bytes are mostly 0/1 so that the other checks are reached too.
  if (H5Tget_size(type) == 1 && !(choice & 0x10))
    for (auto& v : values) v &= 1;
  if (count > 0) H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
}

void write_attr_from(Bytes& in, hid_t obj) {
  const char* names[] = {"source", "synthetic", "description", "slice_axis"};
  const std::string name = names[in.next() % 4];
  const std::string value = in.text(64);
  const uint8_t kind = in.next() % 3;
  data::H5Handle space = data::h5_space(H5Screate(H5S_SCALAR), "make a space");
  data::H5Handle type = data::h5_type(H5Tcopy(kind == 2 ? H5T_NATIVE_INT : H5T_C_S1), "type");
  if (kind == 0) H5Tset_size(type, value.size() + 1);
  if (kind == 1) H5Tset_size(type, H5T_VARIABLE);
  data::H5Handle a = data::h5_attr(
      H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attr");
  const char* p = value.c_str();
  const int number = int(value.size());
  H5Awrite(a, type, kind == 0 ? static_cast<const void*>(p)
                    : kind == 1 ? static_cast<const void*>(&p) : &number);
}

}  // namespace

void fuzz_dataset_bytes(const uint8_t* data, size_t size) {
  quiet_once();
  read_everything(write_scratch("data.h5", data, size));
}

void fuzz_dataset_values(const uint8_t* data, size_t size) {
  quiet_once();
  Bytes in{data, size};
  const std::string path = scratch_dir() + "/values.h5";
  try {  // an input the writer cannot represent (HDF5 refuses it) is skipped
    data::H5Handle file = data::h5_file(
        H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create");
    const uint8_t splits = in.next();
    const std::vector<hsize_t> shape{hsize_t(1 + in.next() % 3), hsize_t(1 + in.next() % 4),
                                     hsize_t(1 + in.next() % 4)};
    const char* names[] = {"train", "val", "test"};
    for (int k = 0; k < 3; ++k) {
      if (!(splits >> k & 1)) continue;
      data::H5Handle g = data::h5_group(
          H5Gcreate2(file, names[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group");
      if (!(splits >> (3 + k) & 1) || in.next() % 4)
        write_dataset_from(in, g, "images", H5T_NATIVE_FLOAT, shape);
      if (!(splits >> (3 + k) & 1) || in.next() % 4)
        write_dataset_from(in, g, "masks", H5T_NATIVE_UINT8, shape);
    }
    for (int a = in.next() % 4; a > 0; --a) write_attr_from(in, file);
  } catch (const Error&) {
    return;
  }
  read_everything(path);
}

}  // namespace qat::fuzz
