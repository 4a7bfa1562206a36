// NIfTI volumes in and out for `qat predict`: a scan read as float voxels
// with its header kept, slices cut along an axis as the packers cut them,
// and label or probability volumes written with the input's header (dims,
// pixdim, qform and sform), so that viewers overlay them on the scan.
#pragma once
#include <nifti2_io.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qat::data {

struct NiftiVolume {
  std::shared_ptr<nifti_image> header;  // without its voxels
  int64_t nx = 0, ny = 0, nz = 0;
  std::vector<float> voxels;  // after scl_slope/scl_inter, x fastest: (z*ny + y)*nx + x
};
using NiftiPtr = std::unique_ptr<nifti_image, void (*)(nifti_image*)>;
// The header, checked, then the voxels: a file of a few hundred bytes can
// declare 2^62 voxels, which libnifti would allocate before it found the
// data missing. Throws naming the file for no NIfTI header, fewer than one
// or more than 2^30 voxels, and voxels missing from the file.
NiftiPtr read_nifti_image(const std::string& path);

// Throws qat::Error naming the file for a file that is not NIfTI, a volume
// with no voxels, and one with a 4th dimension (time, components) > 1.
NiftiVolume read_nifti_volume(const std::string& path);

// The (H,W) of slice k along axis as pack_nifti cuts it: axis 2 (ny,nx),
// axis 1 (nz,nx), axis 0 (nz,ny); rows run along the slower voxel axis.
int64_t slice_count(const NiftiVolume& v, int axis);
void slice_shape(const NiftiVolume& v, int axis, int64_t& h, int64_t& w);
std::vector<float> get_slice(const NiftiVolume& v, int axis, int64_t k);
template <class T>
void put_slice(const NiftiVolume& v, int axis, int64_t k, const std::vector<T>& slice,
               std::vector<T>& volume);

// Writes a volume of like's grid: uint8 labels or float32 values, to a
// temporary name beside `path` and renamed (nothing half-written at path).
// path must end in .nii or .nii.gz.
void write_nifti_like(const std::string& path, const NiftiVolume& like,
                      const std::vector<uint8_t>& labels);
void write_nifti_like(const std::string& path, const NiftiVolume& like,
                      const std::vector<float>& values);

bool is_nifti_path(const std::string& path);  // .nii or .nii.gz

}  // namespace qat::data
