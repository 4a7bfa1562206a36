// Writes the binary seed files of the fuzz corpora (scripts/fuzz.sh runs
// it once, when tests/fuzz/corpus/<harness>/ is empty): the smallest valid
// file each reader accepts, made by qat's own writers or, for NIfTI and
// TIFF, by the libraries as tests/data/test_packers.cpp does. Checkpoints
// and integer models come from `qat train` and `qat export` (fuzz.sh).
//   qat_make_seeds OUT_DIR   ->  OUT_DIR/{dataset.h5, volume.nii, stack.tif, image.png}
#include <nifti2_io.h>
#include <tiffio.h>

#include <cstdio>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/png.h"

namespace {

using namespace qat;

void write_dataset_seed(const std::string& path) {
  data::Split s;
  for (int i = 0; i < 2; ++i) {
    data::Sample x{1, 4, 4, std::vector<float>(16, 0.25f * float(i)), std::vector<uint8_t>(16, 0)};
    x.mask[5] = 1;
    s.append(x);
  }
  data::write_dataset(path, {{"train", s}, {"val", s}}, {{"source", "seed"}, {"synthetic", "true"}});
}

void write_nifti_seed(const std::string& path) {
  const int64_t dims[8] = {3, 4, 4, 3, 1, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, /*data_fill=*/1);
  nifti_set_filenames(nim, path.c_str(), 0, 1);
  auto* v = static_cast<int16_t*>(nim->data);
  for (int i = 0; i < 48; ++i) v[i] = int16_t(i % 5);
  nifti_image_write(nim);
  nifti_image_free(nim);
}

void write_tiff_seed(const std::string& path) {
  TIFF* tif = TIFFOpen(path.c_str(), "w");
  std::vector<uint8_t> row(4);
  for (int page = 0; page < 2; ++page) {
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 4);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 4);
    for (uint32_t y = 0; y < 4; ++y) {
      for (int x = 0; x < 4; ++x) row[size_t(x)] = uint8_t(60 * (x + page));
      TIFFWriteScanline(tif, row.data(), y, 0);
    }
    TIFFWriteDirectory(tif);
  }
  TIFFClose(tif);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: qat_make_seeds OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  write_dataset_seed(dir + "/dataset.h5");
  write_nifti_seed(dir + "/volume.nii");
  write_tiff_seed(dir + "/stack.tif");
  const uint8_t pixels[16] = {0, 255, 0, 255, 255, 0, 255, 0, 0, 0, 255, 255, 9, 9, 9, 9};
  data::write_png_gray(dir + "/image.png", pixels, 4, 4);
  return 0;
}
