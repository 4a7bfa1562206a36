#include "data/image_io.h"

#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "autograd/check.h"
#include "data/png.h"
#include "data/quiet_libs.h"
#include "data/tiff_pages.h"

namespace qat::data {
namespace {

namespace fs = std::filesystem;

std::string extension(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

std::string why_tiff() {
  const std::string m = last_tiff_message();
  return m.empty() ? "" : " (" + m + ")";
}

GrayImage read_tiff_gray(const std::string& path) {
  std::vector<TiffPage> pages = read_tiff_pages(path);  // a scan's mask: its first page
  return {pages[0].h, pages[0].w, std::move(pages[0].values)};
}

void write_tiff_gray(const std::string& path, const std::vector<uint8_t>& pixels, int64_t h,
                     int64_t w) {
  std::unique_ptr<TIFF, void (*)(TIFF*)> tif(TIFFOpen(path.c_str(), "w"), TIFFClose);
  if (!tif) throw Error(path + ": could not write a TIFF" + why_tiff());
  TIFFSetField(tif.get(), TIFFTAG_IMAGEWIDTH, uint32_t(w));
  TIFFSetField(tif.get(), TIFFTAG_IMAGELENGTH, uint32_t(h));
  TIFFSetField(tif.get(), TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(tif.get(), TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif.get(), TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif.get(), TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif.get(), TIFFTAG_COMPRESSION, COMPRESSION_DEFLATE);
  std::vector<uint8_t> row(static_cast<size_t>(w));
  for (int64_t y = 0; y < h; ++y) {
    std::copy(pixels.begin() + y * w, pixels.begin() + (y + 1) * w, row.begin());
    if (TIFFWriteScanline(tif.get(), row.data(), uint32_t(y), 0) < 0)
      throw Error(path + ": could not write row " + std::to_string(y) + why_tiff());
  }
}

}  // namespace

bool is_png_path(const std::string& path) { return extension(path) == ".png"; }
bool is_tiff_path(const std::string& path) {
  return extension(path) == ".tif" || extension(path) == ".tiff";
}

GrayImage read_gray_image(const std::string& path) {
  if (!fs::exists(path)) throw Error(path + ": file not found");
  if (is_tiff_path(path)) return read_tiff_gray(path);
  if (!is_png_path(path))
    throw Error(path + ": unknown image type, expected .nii, .nii.gz, .png, .tif or .tiff");
  const Image8 im = read_png_gray(path);
  GrayImage g{im.h, im.w, std::vector<float>(im.pixels.size())};
  for (size_t i = 0; i < im.pixels.size(); ++i) g.values[i] = float(im.pixels[i]) / 255.f;
  return g;
}

void write_gray_image(const std::string& path, const std::vector<uint8_t>& pixels, int64_t h,
                      int64_t w) {
  const fs::path out(path);
  // same extension, so that the writers pick the same format
  const std::string tmp =
      (out.parent_path() / (".tmp-" + std::to_string(getpid()) + "-" + out.filename().string()))
          .string();
  try {
    if (is_tiff_path(path)) write_tiff_gray(tmp, pixels, h, w);
    else if (is_png_path(path)) write_png_gray(tmp, pixels.data(), h, w);
    else throw Error(path + ": output of an image must end in .png, .tif or .tiff");
  } catch (...) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw;
  }
  fs::rename(tmp, path);
}

}  // namespace qat::data
