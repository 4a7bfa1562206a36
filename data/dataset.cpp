// Writer, whole-split reader and per-sample reader of the HDF5 format.
#include "data/dataset.h"

#include <cmath>
#include <filesystem>

#include "autograd/check.h"
#include "data/atomic_write.h"
#include "data/h5.h"
#include "data/h5_io.h"

namespace qat::data {

using detail::concat;

Sample Split::sample(int64_t i) const {
  QAT_CHECK(i >= 0 && i < n, "sample ", i, " out of range [0, ", n, ")");
  const int64_t img = c * h * w, hw = h * w;
  Sample s{c, h, w, {}, {}};
  s.image.assign(images.begin() + i * img, images.begin() + (i + 1) * img);
  s.mask.assign(masks.begin() + i * hw, masks.begin() + (i + 1) * hw);
  return s;
}

void Split::append(const Sample& s) {
  if (n == 0) {
    c = s.c, h = s.h, w = s.w;
  } else if (s.c != c || s.h != h || s.w != w) {
    throw Error(concat("Split::append: sample of shape ", s.c, "x", s.h, "x", s.w,
                       " does not match the split's ", c, "x", h, "x", w));
  }
  QAT_CHECK(int64_t(s.image.size()) == c * h * w && int64_t(s.mask.size()) == h * w,
            "sample buffers do not match its shape");
  images.insert(images.end(), s.image.begin(), s.image.end());
  masks.insert(masks.end(), s.mask.begin(), s.mask.end());
  ++n;
}

namespace {

H5Handle open_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(concat(path, ": file not found"));
  hid_t id;
  H5E_BEGIN_TRY { id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); }
  H5E_END_TRY;
  if (id < 0) throw Error(concat(path, ": not an HDF5 file (expected a qat dataset)"));
  return h5_file(id, "open " + path);
}

bool link_exists(hid_t loc, const std::string& name) {
  htri_t r;
  H5E_BEGIN_TRY { r = H5Lexists(loc, name.c_str(), H5P_DEFAULT); }
  H5E_END_TRY;
  return r > 0;
}

// Limits on shapes read from a file: 2^20 per dimension, 2^28 values
// (1 GiB of float32) per sample.
constexpr hsize_t kMaxDim = hsize_t(1) << 20;
constexpr int64_t kMaxSampleValues = int64_t(1) << 28;

// An opened split with validated shapes: images (N,C,H,W), masks (N,H,W).
struct OpenSplit {
  int64_t n = 0, c = 0, h = 0, w = 0;
  H5Handle images, masks;
};

std::vector<hsize_t> dims_of(hid_t dset, const std::string& what) {
  H5Handle space = h5_space(H5Dget_space(dset), "get dataspace of " + what);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

std::string dims_str(const std::vector<hsize_t>& d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + ")";
}

void check_dtype(hid_t dset, H5T_class_t want_class, size_t want_size, bool want_unsigned,
                 const std::string& where, const char* expected) {
  H5Handle type = h5_type(H5Dget_type(dset), "get type of " + where);
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  bool ok = cls == want_class && size == want_size;
  if (ok && cls == H5T_INTEGER) ok = (H5Tget_sign(type) == H5T_SGN_NONE) == want_unsigned;
  if (!ok) {
    const char* cname = cls == H5T_FLOAT ? "float" : cls == H5T_INTEGER ? "integer" : "other";
    throw Error(concat(where, ": dtype is ", cname, " of ", size, " bytes, expected ", expected));
  }
}

OpenSplit open_split(hid_t file, const std::string& path, const std::string& split) {
  const std::string where = path + ":/" + split;
  if (!link_exists(file, split)) throw Error(concat(where, ": group not found"));
  H5Handle group = h5_group(H5Gopen2(file, split.c_str(), H5P_DEFAULT), "open " + where);
  OpenSplit s;
  for (const char* name : {"images", "masks"}) {
    if (!link_exists(group, name))
      throw Error(concat(where, "/", name, ": dataset not found"));
  }
  s.images = h5_open_dataset(group, "images", where + "/images");
  s.masks = h5_open_dataset(group, "masks", where + "/masks");
  check_dtype(s.images, H5T_FLOAT, 4, false, where + "/images", "float32");
  check_dtype(s.masks, H5T_INTEGER, 1, true, where + "/masks", "uint8");

  const auto di = dims_of(s.images, where + "/images");
  const auto dm = dims_of(s.masks, where + "/masks");
  if (di.size() != 3 && di.size() != 4)
    throw Error(concat(where, "/images: rank ", di.size(), " ", dims_str(di),
                       ", expected N x H x W or N x C x H x W"));
  if (dm.size() != 3)
    throw Error(concat(where, "/masks: rank ", dm.size(), " ", dims_str(dm),
                       ", expected N x H x W"));
  // Dims come from the file: keep every product below int64 (a file can
  // declare a 2^40 x 2^40 dataset that stores nothing).
  for (const auto* d : {&di, &dm})
    for (hsize_t x : *d)
      if (x > kMaxDim)
        throw Error(concat(where, ": shape ", dims_str(*d), " has a dimension above ", kMaxDim));
  const bool has_c = di.size() == 4;
  s.n = int64_t(di[0]);
  s.c = has_c ? int64_t(di[1]) : 1;
  s.h = int64_t(di[has_c ? 2 : 1]);
  s.w = int64_t(di[has_c ? 3 : 2]);
  if (int64_t(dm[0]) != s.n || int64_t(dm[1]) != s.h || int64_t(dm[2]) != s.w)
    throw Error(concat(where, ": images ", dims_str(di), " and masks ", dims_str(dm),
                       " differ in N, H or W"));
  if (s.n == 0 || s.c == 0 || s.h == 0 || s.w == 0)
    throw Error(concat(where, ": empty split ", dims_str(di), ", expected at least one sample"));
  if (s.c * s.h * s.w > kMaxSampleValues)
    throw Error(concat(where, "/images: samples of ", s.c, " x ", s.h, " x ", s.w,
                       " values, more than the limit of ", kMaxSampleValues));
  return s;
}

// Throws naming the first bad value. `first` is the index of the first sample.
void check_values(const std::string& where, const float* images, const uint8_t* masks,
                  int64_t count, int64_t image_size, int64_t mask_size, int64_t first) {
  for (int64_t i = 0; i < count * image_size; ++i)
    if (!std::isfinite(images[i]))
      throw Error(concat(where, "/images: sample ", first + i / image_size, " holds ",
                         images[i], ", expected finite values"));
  for (int64_t i = 0; i < count * mask_size; ++i)
    if (masks[i] > 1)
      throw Error(concat(where, "/masks: sample ", first + i / mask_size, " holds ",
                         int(masks[i]), ", expected 0 or 1"));
}

// One split as the group /<name> of file; `where` names it in errors.
void write_split(hid_t file, const std::string& where, const std::string& name, const Split& s) {
  if (s.n < 1) throw Error(concat(where, ": split has no samples, expected at least one"));
  QAT_CHECK(int64_t(s.images.size()) == s.n * s.c * s.h * s.w &&
                int64_t(s.masks.size()) == s.n * s.h * s.w,
            where, ": buffers do not match n, c, h, w");
  check_values(where, s.images.data(), s.masks.data(), s.n, s.c * s.h * s.w, s.h * s.w, 0);
  H5Handle gcpl = h5_plist(H5Pcreate(H5P_GROUP_CREATE), "create plist");
  h5_check(H5Pset_obj_track_times(gcpl, false), "untime " + where);
  H5Handle group = h5_group(H5Gcreate2(file, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT),
                            "create " + where);
  const auto n = hsize_t(s.n), c = hsize_t(s.c), h = hsize_t(s.h), w = hsize_t(s.w);
  // One channel is written N x H x W, the way most people pack gray images.
  const std::vector<hsize_t> idims = s.c == 1 ? std::vector<hsize_t>{n, h, w}
                                              : std::vector<hsize_t>{n, c, h, w};
  // One chunk per sample, so SplitReader reads touch one chunk each; no
  // timestamps, so that the same data gives the same bytes.
  const DatasetLayout layout{/*chunk_per_sample=*/true, /*deflate=*/4,
                             /*make_parents=*/false, /*track_times=*/false};
  write_h5_dataset(group.get(), "images", s.images.data(), idims, layout);
  write_h5_dataset(group.get(), "masks", s.masks.data(), {n, h, w}, layout);
}

}  // namespace

void write_dataset(const std::string& path, const std::map<std::string, Split>& splits,
                   const std::map<std::string, std::string>& attrs) {
  // Made in memory and written in one checked write (atomic_write.h): a
  // full disk is one error and leaves no partial dataset behind.
  write_file_atomic(path, h5_file_image([&](hid_t file) {
    for (const auto& [name, s] : splits) write_split(file, path + ":/" + name, name, s);
    H5Handle root = h5_group(H5Gopen2(file, "/", H5P_DEFAULT), "open / of " + path);
    for (const auto& [key, value] : attrs) write_h5_string_attr(root, key, value);
  }));
}

Split read_split(const std::string& path, const std::string& split, int64_t max_bytes) {
  H5Handle file = open_file(path);
  OpenSplit o = open_split(file, path, split);
  const int64_t bytes = o.n * o.c * o.h * o.w * 4 + o.n * o.h * o.w;
  if (bytes > max_bytes)
    throw Error(concat(path, ":/", split, ": needs ", bytes, " bytes, more than the limit of ",
                       max_bytes, "; read it sample by sample with SplitReader"));
  Split s;
  s.n = o.n, s.c = o.c, s.h = o.h, s.w = o.w;
  s.images.resize(size_t(o.n * o.c * o.h * o.w));
  s.masks.resize(size_t(o.n * o.h * o.w));
  h5_check(H5Dread(o.images, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.images.data()),
           "read " + path + ":/" + split + "/images");
  h5_check(H5Dread(o.masks, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.masks.data()),
           "read " + path + ":/" + split + "/masks");
  check_values(path + ":/" + split, s.images.data(), s.masks.data(), s.n, s.c * s.h * s.w,
               s.h * s.w, 0);
  return s;
}

bool has_split(const std::string& path, const std::string& split) {
  H5Handle file = open_file(path);
  return link_exists(file, split);
}

std::map<std::string, std::string> read_attrs(const std::string& path) {
  H5Handle file = open_file(path);
  H5Handle root = h5_group(H5Gopen2(file, "/", H5P_DEFAULT), "open / of " + path);
  std::map<std::string, std::string> out;
  const int count = H5Aget_num_attrs(root);
  for (int i = 0; i < count; ++i) {
    H5Handle attr = h5_attr(H5Aopen_by_idx(root, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i),
                                           H5P_DEFAULT, H5P_DEFAULT),
                            "open attribute of " + path);
    const ssize_t len = H5Aget_name(attr, 0, nullptr);
    std::string name(size_t(len) + 1, '\0');
    H5Aget_name(attr, name.size(), name.data());
    name.resize(size_t(len));
    out[name] = read_h5_string_attr(root, name, path);
  }
  return out;
}

struct SplitReader::Impl {
  std::string where;
  H5Handle file;
  OpenSplit split;
};

SplitReader::SplitReader(const std::string& path, const std::string& split)
    : impl_(std::make_unique<Impl>()) {
  impl_->where = path + ":/" + split;
  impl_->file = open_file(path);
  impl_->split = open_split(impl_->file, path, split);
}

SplitReader::~SplitReader() = default;
int64_t SplitReader::size() const { return impl_->split.n; }
int64_t SplitReader::channels() const { return impl_->split.c; }
int64_t SplitReader::height() const { return impl_->split.h; }
int64_t SplitReader::width() const { return impl_->split.w; }

namespace {
// Reads sample i of a dataset whose first dimension is N into `out`.
void read_row(hid_t dset, hid_t mem_type, int64_t i, void* out, const std::string& where) {
  H5Handle file_space = h5_space(H5Dget_space(dset), "get dataspace of " + where);
  const int rank = H5Sget_simple_extent_ndims(file_space);
  std::vector<hsize_t> dims(size_t(rank), 0), start(size_t(rank), 0);
  H5Sget_simple_extent_dims(file_space, dims.data(), nullptr);
  start[0] = hsize_t(i);
  dims[0] = 1;
  h5_check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, dims.data(),
                               nullptr),
           "select sample of " + where);
  H5Handle mem_space = h5_space(H5Screate_simple(rank, dims.data(), nullptr), "create mem space");
  h5_check(H5Dread(dset, mem_type, mem_space, file_space, H5P_DEFAULT, out), "read " + where);
}
}  // namespace

void SplitReader::read(int64_t i, std::vector<float>& image, std::vector<uint8_t>& mask) const {
  const OpenSplit& s = impl_->split;
  if (i < 0 || i >= s.n)
    throw Error(concat(impl_->where, ": sample ", i, " out of range, expected [0, ", s.n, ")"));
  image.resize(size_t(s.c * s.h * s.w));
  mask.resize(size_t(s.h * s.w));
  read_row(s.images, H5T_NATIVE_FLOAT, i, image.data(), impl_->where + "/images");
  read_row(s.masks, H5T_NATIVE_UINT8, i, mask.data(), impl_->where + "/masks");
  check_values(impl_->where, image.data(), mask.data(), 1, s.c * s.h * s.w, s.h * s.w, i);
}

void SplitReader::read(int64_t i, Sample& out) const {
  out.c = impl_->split.c, out.h = impl_->split.h, out.w = impl_->split.w;
  read(i, out.image, out.mask);
}

}  // namespace qat::data
