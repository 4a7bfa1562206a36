// The packers of `qat data`: a NIfTI volume (as image and label of the
// same pair), a TIFF stack (as volume and labels) and a PNG (as image and
// mask, twice, so that both train and val get one). Each writes a dataset
// into the scratch folder when the input is a readable image.
#include <filesystem>

#include "data/packers.h"
#include "tests/fuzz/harness.h"
#include "tests/fuzz/scratch.h"

namespace qat::fuzz {

void fuzz_nifti(const uint8_t* data, size_t size) {
  quiet_once();
  const std::string nii = write_scratch("volume.nii", data, size);
  const std::string out = scratch_dir() + "/nifti.h5";
  expect_clean("pack_nifti_pairs", [&] {
    data::pack_nifti_pairs(out, {{nii, nii, "train"}, {nii, nii, "val"}});
  });
}

void fuzz_tiff(const uint8_t* data, size_t size) {
  quiet_once();
  const std::string tif = write_scratch("stack.tif", data, size);
  const std::string out = scratch_dir() + "/tiff.h5";
  expect_clean("pack_tiff_stack", [&] { data::pack_tiff_stack(out, tif, tif); });
}

void fuzz_png(const uint8_t* data, size_t size) {
  quiet_once();
  namespace fs = std::filesystem;
  const std::string images = scratch_dir() + "/png_images", masks = scratch_dir() + "/png_masks";
  for (const std::string& dir : {images, masks}) {
    fs::create_directories(dir);
    for (const char* name : {"a.png", "b.png"})
      write_scratch(fs::path(dir).filename().string() + "/" + name, data, size);
  }
  const std::string out = scratch_dir() + "/png.h5";
  expect_clean("pack_png_folder", [&] { data::pack_png_folder(out, images, masks, 0.5); });
}

}  // namespace qat::fuzz
