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
  std::unique_ptr<TIFF, void (*)(TIFF*)> tif(TIFFOpen(path.c_str(), "r"), TIFFClose);
  if (!tif) throw Error(path + ": could not read as TIFF" + why_tiff());
  uint32_t w = 0, h = 0;
  uint16_t bits = 0, spp = 1, format = SAMPLEFORMAT_UINT;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &format);
  const bool is_float = format == SAMPLEFORMAT_IEEEFP && bits == 32;
  const bool is_uint = format == SAMPLEFORMAT_UINT && (bits == 8 || bits == 16);
  if (spp != 1 || !(is_float || is_uint))
    throw Error(path + ": " + std::to_string(spp) + " samples of " + std::to_string(bits) +
                " bits, expected one gray sample of 8/16-bit uint or 32-bit float");
  GrayImage g{int64_t(h), int64_t(w), std::vector<float>(size_t(h) * w)};
  std::vector<uint8_t> line(size_t(TIFFScanlineSize(tif.get())));
  for (uint32_t y = 0; y < h; ++y) {
    if (TIFFReadScanline(tif.get(), line.data(), y, 0) < 0)
      throw Error(path + ": could not read row " + std::to_string(y) + why_tiff());
    for (uint32_t x = 0; x < w; ++x) {
      float& v = g.values[size_t(y) * w + x];
      if (bits == 8) v = float(line[x]) / 255.f;
      if (bits == 16 && is_uint) v = float(reinterpret_cast<const uint16_t*>(line.data())[x]) / 65535.f;
      if (is_float) v = reinterpret_cast<const float*>(line.data())[x];
    }
  }
  return g;
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
