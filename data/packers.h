// Packers: turn the sources we meet (NIfTI volumes, TIFF stacks, PNG
// folders) into the qat HDF5 format. Each returns what it wrote. One-line
// usages are in data/FORMAT.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qat::data {

// What one split of a packed file holds. first/last: the source slice or
// page numbers of the first and last sample (-1 where that means nothing).
struct PackedSplit {
  std::string name;
  int64_t n = 0, h = 0, w = 0;
  double foreground = 0;  // fraction of mask pixels equal to 1
  int64_t first = -1, last = -1;
};
using PackReport = std::vector<PackedSplit>;

struct Colin27Options {
  std::string t1 = "/usr/share/mricron/templates/ch2.nii.gz";
  std::string atlas = "/usr/share/mricron/templates/aal.nii.gz";
  double min_foreground = 0.01;  // keep axial slices with >= 1% atlas pixels
  double val_fraction = 0.2;     // the upper (superior) 20% of kept slices
  int64_t slice_step = 1;        // keep every k-th slice (tests use > 1)
  // Zero-pad slices (centred) to at least pad_h x pad_w. 0 keeps the native
  // 217 x 181, which the paper's 200 x 200 crop does not fit: use a smaller
  // crop, or pad (e.g. 224 x 224, divisible by the U-Net's 8).
  int64_t pad_h = 0, pad_w = 0;
};
// Colin27 T1 (ch2) with the AAL atlas (label > 0 is foreground), 2D axial
// slices; train and val are contiguous blocks, train below val.
PackReport pack_colin27(const std::string& out_path, const Colin27Options& options = {});

struct NiftiPair {
  std::string image, label, split;  // split: "train", "val" or "test"
};
struct NiftiPairsOptions {
  int axis = 2;                // slice along this voxel axis (2: axial in RAS grids)
  double min_foreground = 0;   // drop slices with less foreground than this
};
// Every pair's image and label must share a grid; label > 0 is foreground.
PackReport pack_nifti_pairs(const std::string& out_path, const std::vector<NiftiPair>& pairs,
                            const NiftiPairsOptions& options = {});

struct TiffStackOptions {
  double val_fraction = 0.2;  // the last pages become val
  // ISBI 2012 labels are 255 for cell, 0 for membrane; the paper segments
  // membrane, so by default mask = (label <= 127). invert=false: label > 127.
  bool invert = true;
};
// 8-bit images are scaled to [0, 1]; 16-bit to [0, 1] by 65535; float kept.
PackReport pack_tiff_stack(const std::string& out_path, const std::string& volume_tif,
                           const std::string& labels_tif, const TiffStackOptions& options = {});

// PNGs in images_dir paired with the same file name in masks_dir, sorted by
// name; the last val_fraction of them become val. Images 8-bit gray scaled
// to [0, 1]; mask = pixel > 0 (so both 0/1 and 0/255 masks work).
PackReport pack_png_folder(const std::string& out_path, const std::string& images_dir,
                           const std::string& masks_dir, double val_fraction = 0.2);

}  // namespace qat::data
