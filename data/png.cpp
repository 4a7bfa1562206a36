#include "data/png.h"

#include <libpng16/png.h>  // <png.h> would find data/png.h

#include <cstring>

#include "autograd/check.h"

namespace qat::data {

using detail::concat;

namespace {

void write_png(const std::string& path, const uint8_t* pixels, int64_t h, int64_t w,
               png_uint_32 format) {
  if (h < 1 || w < 1) throw Error(concat(path, ": cannot write an empty ", h, "x", w, " PNG"));
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(w);
  image.height = png_uint_32(h);
  image.format = format;
  if (!png_image_write_to_file(&image, path.c_str(), 0, pixels, 0, nullptr))
    throw Error(concat(path, ": could not write PNG: ", image.message));
}

Image8 read_png(const std::string& path, png_uint_32 format, int64_t channels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    throw Error(concat(path, ": could not read PNG: ", image.message));
  image.format = format;
  // The header alone can declare 10^6 x 10^6 pixels (libpng's limit).
  constexpr int64_t kMaxPixels = int64_t(1) << 28;
  if (int64_t(image.height) * int64_t(image.width) > kMaxPixels) {
    png_image_free(&image);
    throw Error(concat(path, ": PNG of ", image.width, " x ", image.height,
                       " pixels, more than the limit of ", kMaxPixels));
  }
  Image8 out{int64_t(image.height), int64_t(image.width), channels, {}};
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  // Composite any alpha onto black rather than fail.
  png_color black{0, 0, 0};
  if (!png_image_finish_read(&image, &black, out.pixels.data(), 0, nullptr)) {
    png_image_free(&image);
    throw Error(concat(path, ": could not decode PNG: ", image.message));
  }
  return out;
}

}  // namespace

void write_png_gray(const std::string& path, const uint8_t* pixels, int64_t h, int64_t w) {
  write_png(path, pixels, h, w, PNG_FORMAT_GRAY);
}
void write_png_rgb(const std::string& path, const uint8_t* rgb, int64_t h, int64_t w) {
  write_png(path, rgb, h, w, PNG_FORMAT_RGB);
}
Image8 read_png_gray(const std::string& path) { return read_png(path, PNG_FORMAT_GRAY, 1); }
Image8 read_png_rgb(const std::string& path) { return read_png(path, PNG_FORMAT_RGB, 3); }

}  // namespace qat::data
