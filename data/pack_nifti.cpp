// NIfTI packers: Colin27 + AAL (the quickstart dataset) and image/label pairs
// (GM challenge, NIH pancreas layouts), cut into 2D slices.
#include <nifti2_io.h>

#include <cmath>
#include <memory>

#include "autograd/check.h"
#include "data/nifti_io.h"
#include "data/pack_common.h"
#include "data/packers.h"
#include "data/transforms.h"

namespace qat::data {

using detail::concat;

namespace {

// A 3D volume as float, x fastest: data[(z*ny + y)*nx + x].
struct Volume {
  int64_t nx = 0, ny = 0, nz = 0;
  double dx = 0, dy = 0, dz = 0;
  nifti_dmat44 to_world{};
  std::vector<float> data;
};

template <class T>
void convert(const void* raw, int64_t count, double slope, double inter, std::vector<float>& out) {
  const T* p = static_cast<const T*>(raw);
  out.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) out[size_t(i)] = float(double(p[i]) * slope + inter);
}

Volume read_volume(const std::string& path) {
  NiftiPtr nim = read_nifti_image(path);
  const int64_t extra = nim->nvox / std::max<int64_t>(1, nim->nx * nim->ny * nim->nz);
  if (nim->ndim < 3 || extra != 1)
    throw Error(concat(path, ": ", nim->ndim, "-D volume of ", nim->nvox, " voxels, expected ",
                       "a single 3D volume"));
  Volume v{nim->nx, nim->ny, nim->nz, nim->dx, nim->dy, nim->dz,
           nim->sform_code > 0 ? nim->sto_xyz : nim->qto_xyz, {}};
  // scl_slope 0 means "no scaling" in NIfTI.
  const double slope = nim->scl_slope == 0 ? 1.0 : nim->scl_slope, inter = nim->scl_inter;
  const int64_t n = nim->nvox;
  switch (nim->datatype) {
    case DT_UINT8: convert<uint8_t>(nim->data, n, slope, inter, v.data); break;
    case DT_INT8: convert<int8_t>(nim->data, n, slope, inter, v.data); break;
    case DT_UINT16: convert<uint16_t>(nim->data, n, slope, inter, v.data); break;
    case DT_INT16: convert<int16_t>(nim->data, n, slope, inter, v.data); break;
    case DT_UINT32: convert<uint32_t>(nim->data, n, slope, inter, v.data); break;
    case DT_INT32: convert<int32_t>(nim->data, n, slope, inter, v.data); break;
    case DT_FLOAT32: convert<float>(nim->data, n, slope, inter, v.data); break;
    case DT_FLOAT64: convert<double>(nim->data, n, slope, inter, v.data); break;
    default:
      throw Error(concat(path, ": NIfTI datatype ", nifti_datatype_string(nim->datatype),
                         ", expected an integer or float scalar type"));
  }
  for (float x : v.data)
    if (!std::isfinite(x)) throw Error(concat(path, ": holds ", x, ", expected finite voxels"));
  return v;
}

// The grids must agree voxel for voxel: same dimensions, spacing and
// voxel-to-world matrix (to 1e-3 mm).
void check_same_grid(const Volume& a, const std::string& pa, const Volume& b,
                     const std::string& pb) {
  if (a.nx != b.nx || a.ny != b.ny || a.nz != b.nz)
    throw Error(concat(pb, ": grid ", b.nx, "x", b.ny, "x", b.nz, " differs from ", pa, "'s ",
                       a.nx, "x", a.ny, "x", a.nz, "; expected the same voxel grid"));
  bool same = std::abs(a.dx - b.dx) < 1e-3 && std::abs(a.dy - b.dy) < 1e-3 &&
              std::abs(a.dz - b.dz) < 1e-3;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) same = same && std::abs(a.to_world.m[i][j] - b.to_world.m[i][j]) < 1e-3;
  if (!same)
    throw Error(concat(pb, ": voxel spacing or orientation differs from ", pa,
                       "'s; expected the same voxel grid"));
}

// Slice k along `axis` as a 1-channel sample; mask = label > 0.
//   axis 2: (H,W) = (ny, nx); axis 1: (nz, nx); axis 0: (nz, ny).
Sample slice(const Volume& img, const Volume& lab, int axis, int64_t k) {
  const int64_t h = axis == 2 ? img.ny : img.nz, w = axis == 0 ? img.ny : img.nx;
  Sample s{1, h, w, std::vector<float>(size_t(h * w)), std::vector<uint8_t>(size_t(h * w))};
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      int64_t x = c, y = r, z = k;
      if (axis == 1) y = k, z = r;
      if (axis == 0) x = k, y = c, z = r;
      const size_t v = size_t((z * img.ny + y) * img.nx + x);
      s.image[size_t(r * w + c)] = img.data[v];
      s.mask[size_t(r * w + c)] = lab.data[v] > 0 ? 1 : 0;
    }
  return s;
}

int64_t axis_len(const Volume& v, int axis) { return axis == 0 ? v.nx : axis == 1 ? v.ny : v.nz; }

double foreground_of(const Sample& s) {
  int64_t ones = 0;
  for (uint8_t m : s.mask) ones += m;
  return double(ones) / double(s.mask.size());
}

}  // namespace

PackReport pack_colin27(const std::string& out_path, const Colin27Options& o) {
  if (o.slice_step < 1) throw Error(concat("pack_colin27: slice_step ", o.slice_step, ", expected >= 1"));
  const Volume t1 = read_volume(o.t1), atlas = read_volume(o.atlas);
  check_same_grid(t1, o.t1, atlas, o.atlas);
  Split all;
  std::vector<int64_t> ids;
  for (int64_t z = 0; z < t1.nz; z += o.slice_step) {
    Sample s = slice(t1, atlas, /*axis=*/2, z);
    if (foreground_of(s) < o.min_foreground) continue;
    all.append(pad(s, o.pad_h, o.pad_w));
    ids.push_back(z);
  }
  if (all.n < 2)
    throw Error(concat(o.atlas, ": only ", all.n, " axial slices with >= ", o.min_foreground,
                       " foreground, expected at least 2"));
  return write_train_val(out_path, all, ids, o.val_fraction,
                         {{"source", "Colin27 T1 (ch2.nii.gz) + AAL atlas (aal.nii.gz), "
                                     "Debian mricron-data"},
                          {"synthetic", "false"},
                          // what `qat predict` needs to cut and scale a new scan alike
                          {"slice_axis", "2"},
                          {"intensity", "raw"},
                          {"description", "axial slices (z increasing upwards), train below val; "
                                          "mask = AAL label > 0; images raw T1 intensities"}});
}

PackReport pack_nifti_pairs(const std::string& out_path, const std::vector<NiftiPair>& pairs,
                            const NiftiPairsOptions& o) {
  if (o.axis < 0 || o.axis > 2) throw Error(concat("pack_nifti_pairs: axis ", o.axis, ", expected 0, 1 or 2"));
  std::map<std::string, Split> splits;
  std::map<std::string, int64_t> counts;
  for (const NiftiPair& p : pairs) {
    if (p.split != "train" && p.split != "val" && p.split != "test")
      throw Error(concat(p.image, ": split '", p.split, "', expected train, val or test"));
    const Volume img = read_volume(p.image), lab = read_volume(p.label);
    check_same_grid(img, p.image, lab, p.label);
    Split& out = splits[p.split];
    for (int64_t k = 0; k < axis_len(img, o.axis); ++k) {
      Sample s = slice(img, lab, o.axis, k);
      if (foreground_of(s) < o.min_foreground) continue;
      if (out.n > 0 && (s.h != out.h || s.w != out.w))
        throw Error(concat(p.image, ": slices of ", s.h, "x", s.w, ", but split '", p.split,
                           "' already holds ", out.h, "x", out.w, "; expected one size per split"));
      out.append(s);
    }
  }
  PackReport report;
  for (auto it = splits.begin(); it != splits.end();) {
    if (it->second.n == 0) {
      it = splits.erase(it);
      continue;
    }
    report.push_back(describe(it->first, it->second, -1, -1));
    ++it;
  }
  if (!splits.count("train"))
    throw Error(concat(out_path, ": no train slices from the pairs given; expected at least one"));
  write_dataset(out_path, splits,
                {{"source", "NIfTI image/label pairs"}, {"synthetic", "false"},
                 {"slice_axis", std::to_string(o.axis)}, {"intensity", "raw"},
                 {"description", concat("2D slices along voxel axis ", o.axis,
                                        "; mask = label > 0")}});
  return report;
}

}  // namespace qat::data
