#include "data/nifti_io.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "autograd/check.h"
#include "data/quiet_libs.h"

namespace qat::data {
namespace {

namespace fs = std::filesystem;

template <class T>
void convert(const void* raw, int64_t count, double slope, double inter, std::vector<float>& out) {
  const T* p = static_cast<const T*>(raw);
  out.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) out[size_t(i)] = float(double(p[i]) * slope + inter);
}

void to_float(const nifti_image& nim, const std::string& path, std::vector<float>& out) {
  // scl_slope 0 means "no scaling" in NIfTI.
  const double slope = nim.scl_slope == 0 ? 1.0 : nim.scl_slope, inter = nim.scl_inter;
  const int64_t n = nim.nvox;
  switch (nim.datatype) {
    case DT_UINT8: convert<uint8_t>(nim.data, n, slope, inter, out); break;
    case DT_INT8: convert<int8_t>(nim.data, n, slope, inter, out); break;
    case DT_UINT16: convert<uint16_t>(nim.data, n, slope, inter, out); break;
    case DT_INT16: convert<int16_t>(nim.data, n, slope, inter, out); break;
    case DT_UINT32: convert<uint32_t>(nim.data, n, slope, inter, out); break;
    case DT_INT32: convert<int32_t>(nim.data, n, slope, inter, out); break;
    case DT_FLOAT32: convert<float>(nim.data, n, slope, inter, out); break;
    case DT_FLOAT64: convert<double>(nim.data, n, slope, inter, out); break;
    default:
      throw Error(path + ": NIfTI datatype " + nifti_datatype_string(nim.datatype) +
                  ", expected an integer or float scalar type");
  }
}

// (x, y, z) of pixel (r, c) of slice k along axis.
size_t voxel_of(const NiftiVolume& v, int axis, int64_t k, int64_t r, int64_t c) {
  int64_t x = c, y = r, z = k;
  if (axis == 1) y = k, z = r;
  if (axis == 0) x = k, y = c, z = r;
  return size_t((z * v.ny + y) * v.nx + x);
}

void write_like(const std::string& path, const NiftiVolume& like, int datatype, const void* values) {
  if (!is_nifti_path(path))
    throw Error(path + ": output of a NIfTI input must end in .nii or .nii.gz");
  nifti_image* nim = nifti_copy_nim_info(like.header.get());
  if (!nim) throw Error(path + ": could not copy the input's NIfTI header");
  std::unique_ptr<nifti_image, void (*)(nifti_image*)> owned(nim, nifti_image_free);
  nim->datatype = datatype;
  nifti_datatype_sizes(datatype, &nim->nbyper, &nim->swapsize);
  nim->scl_slope = 0, nim->scl_inter = 0;  // the values as stored
  nim->cal_min = 0, nim->cal_max = datatype == DT_UINT8 ? 1 : 0;
  // one file (.nii), whatever pair or ASCII form the input came in
  if (nim->nifti_type == NIFTI_FTYPE_NIFTI2_2) nim->nifti_type = NIFTI_FTYPE_NIFTI2_1;
  else if (nim->nifti_type != NIFTI_FTYPE_NIFTI2_1) nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
  const size_t bytes = size_t(nim->nvox) * size_t(nim->nbyper);
  nim->data = std::malloc(bytes);  // freed by nifti_image_free
  std::memcpy(nim->data, values, bytes);
  const fs::path out(path);
  const std::string tmp =
      (out.parent_path() / (".tmp-" + std::to_string(getpid()) + "-" + out.filename().string()))
          .string();
  if (nifti_set_filenames(nim, tmp.c_str(), /*check=*/0, /*set_byte_order=*/1))
    throw Error(path + ": not a NIfTI file name");
  nifti_image_write(nim);
  // nifti_image_write reports nothing: read the header back to know.
  std::unique_ptr<nifti_image, void (*)(nifti_image*)> back(nifti_image_read(tmp.c_str(), 0),
                                                           nifti_image_free);
  if (!back || back->nvox != nim->nvox) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw Error(path + ": could not write the NIfTI volume (folder missing or not writable?)");
  }
  fs::rename(tmp, path);
}

}  // namespace

bool is_nifti_path(const std::string& path) {
  auto ends = [&](const std::string& s) {
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".nii") || ends(".nii.gz");
}

NiftiPtr read_nifti_image(const std::string& path) {
  constexpr int64_t kMaxVoxels = int64_t(1) << 30;  // 1024^3
  NiftiPtr nim(nullptr, nifti_image_free);
  {
    const StderrSilenced quiet;
    nim.reset(nifti_image_read(path.c_str(), /*read_data=*/0));
  }
  if (!nim) throw Error(path + ": could not read as NIfTI (expected a .nii or .nii.gz volume)");
  bool dims_ok = nim->ndim >= 1 && nim->ndim <= 7;
  for (int i = 1; dims_ok && i <= nim->ndim; ++i) dims_ok = nim->dim[i] >= 1;
  if (!dims_ok)
    throw Error(path + ": its NIfTI header has " + std::to_string(nim->ndim) +
                " dimensions, some below 1; expected 1 to 7 dimensions of at least 1");
  if (nim->nvox < 1 || nim->nvox > kMaxVoxels || nim->nbyper < 1 || nim->nbyper > 16)
    throw Error(path + ": its NIfTI header declares " + std::to_string(nim->nvox) +
                " voxels, expected 1 to " + std::to_string(kMaxVoxels));
  // An uncompressed file must hold what its header declares; libnifti
  // would allocate it first (gzip sizes are known only after inflating).
  const int64_t bytes = nim->nvox * nim->nbyper;
  constexpr int64_t kMaxBytes = int64_t(1) << 31;
  if (bytes > kMaxBytes)
    throw Error(path + ": its NIfTI header declares " + std::to_string(bytes) +
                " bytes of voxels, more than the limit of " + std::to_string(kMaxBytes));
  const std::string data_file = nim->iname ? nim->iname : path;
  std::error_code ec;
  const auto file_size = fs::file_size(data_file, ec);
  if (!nifti_is_gzfile(data_file.c_str()) && !ec &&
      int64_t(file_size) < nim->iname_offset + bytes)
    throw Error(path + ": its NIfTI header declares " + std::to_string(bytes) +
                " bytes of voxels, the file holds " + std::to_string(file_size));
  int loaded;
  {
    const StderrSilenced quiet;
    loaded = nifti_image_load(nim.get());
  }
  if (loaded != 0 || !nim->data)
    throw Error(path + ": could not read its " + std::to_string(nim->nvox) +
                " voxels (the file is shorter than its NIfTI header says?)");
  return nim;
}

NiftiVolume read_nifti_volume(const std::string& path) {
  if (!fs::exists(path)) throw Error(path + ": file not found");
  NiftiPtr nim = read_nifti_image(path);
  if (nim->nvox <= 0 || nim->nx <= 0 || nim->ny <= 0 || nim->nz <= 0)
    throw Error(path + ": a NIfTI volume of " + std::to_string(nim->nvox) +
                " voxels, expected a non-empty 2-D or 3-D volume");
  if (nim->ndim > 3 && nim->nvox != nim->nx * nim->ny * nim->nz)
    throw Error(path + ": a " + std::to_string(nim->ndim) + "-D NIfTI volume (" +
                std::to_string(nim->nx) + "x" + std::to_string(nim->ny) + "x" +
                std::to_string(nim->nz) + "x" + std::to_string(nim->nt) +
                "...), expected a single 3-D volume");
  NiftiVolume v;
  v.nx = nim->nx, v.ny = nim->ny, v.nz = nim->nz;
  to_float(*nim, path, v.voxels);
  for (float x : v.voxels)
    if (!std::isfinite(x)) throw Error(path + ": holds " + std::to_string(x) + ", expected finite voxels");
  std::free(nim->data);
  nim->data = nullptr;
  v.header = std::shared_ptr<nifti_image>(nim.release(), nifti_image_free);
  return v;
}

int64_t slice_count(const NiftiVolume& v, int axis) { return axis == 0 ? v.nx : axis == 1 ? v.ny : v.nz; }

void slice_shape(const NiftiVolume& v, int axis, int64_t& h, int64_t& w) {
  h = axis == 2 ? v.ny : v.nz;
  w = axis == 0 ? v.ny : v.nx;
}

std::vector<float> get_slice(const NiftiVolume& v, int axis, int64_t k) {
  int64_t h = 0, w = 0;
  slice_shape(v, axis, h, w);
  std::vector<float> s(size_t(h * w));
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) s[size_t(r * w + c)] = v.voxels[voxel_of(v, axis, k, r, c)];
  return s;
}

template <class T>
void put_slice(const NiftiVolume& v, int axis, int64_t k, const std::vector<T>& slice,
               std::vector<T>& volume) {
  int64_t h = 0, w = 0;
  slice_shape(v, axis, h, w);
  volume.resize(v.voxels.size());
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) volume[voxel_of(v, axis, k, r, c)] = slice[size_t(r * w + c)];
}
template void put_slice(const NiftiVolume&, int, int64_t, const std::vector<uint8_t>&,
                        std::vector<uint8_t>&);
template void put_slice(const NiftiVolume&, int, int64_t, const std::vector<float>&,
                        std::vector<float>&);

void write_nifti_like(const std::string& path, const NiftiVolume& like,
                      const std::vector<uint8_t>& labels) {
  write_like(path, like, DT_UINT8, labels.data());
}
void write_nifti_like(const std::string& path, const NiftiVolume& like,
                      const std::vector<float>& values) {
  write_like(path, like, DT_FLOAT32, values.data());
}

}  // namespace qat::data
