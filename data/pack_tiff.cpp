// Multi-page TIFF stacks (ISBI 2012: train-volume.tif + train-labels.tif).
#include <tiffio.h>

#include <memory>

#include "autograd/check.h"
#include "data/pack_common.h"
#include "data/packers.h"

namespace qat::data {

using detail::concat;

namespace {

struct Page {
  int64_t h = 0, w = 0;
  std::vector<float> values;  // 8/16-bit scaled to [0, 1], float as stored
  std::vector<uint16_t> raw;  // 8/16-bit integer values as stored
};

std::vector<Page> read_pages(const std::string& path) {
  TIFFSetWarningHandler(nullptr);  // unknown tags in ImageJ stacks are harmless
  std::unique_ptr<TIFF, void (*)(TIFF*)> tif(TIFFOpen(path.c_str(), "r"), TIFFClose);
  if (!tif) throw Error(concat(path, ": could not open as TIFF"));
  std::vector<Page> pages;
  do {
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
      throw Error(concat(path, ": page ", pages.size(), " has ", spp, " samples of ", bits,
                         " bits, expected one gray sample of 8/16-bit uint or 32-bit float"));
    Page p{int64_t(h), int64_t(w), std::vector<float>(size_t(h) * w), {}};
    if (is_uint) p.raw.resize(size_t(h) * w);
    std::vector<uint8_t> line(size_t(TIFFScanlineSize(tif.get())));
    for (uint32_t y = 0; y < h; ++y) {
      if (TIFFReadScanline(tif.get(), line.data(), y, 0) < 0)
        throw Error(concat(path, ": page ", pages.size(), ": could not read row ", y));
      for (uint32_t x = 0; x < w; ++x) {
        const size_t i = size_t(y) * w + x;
        if (bits == 8) p.raw[i] = line[x];
        if (bits == 16) p.raw[i] = reinterpret_cast<const uint16_t*>(line.data())[x];
        if (is_float) p.values[i] = reinterpret_cast<const float*>(line.data())[x];
        if (is_uint) p.values[i] = float(p.raw[i]) / (bits == 8 ? 255.f : 65535.f);
      }
    }
    pages.push_back(std::move(p));
  } while (TIFFReadDirectory(tif.get()));
  return pages;
}

}  // namespace

PackReport pack_tiff_stack(const std::string& out_path, const std::string& volume_tif,
                           const std::string& labels_tif, const TiffStackOptions& o) {
  const std::vector<Page> images = read_pages(volume_tif), labels = read_pages(labels_tif);
  if (images.size() != labels.size())
    throw Error(concat(labels_tif, ": ", labels.size(), " pages, expected as many as ",
                       volume_tif, "'s ", images.size()));
  Split all;
  std::vector<int64_t> ids;
  for (size_t k = 0; k < images.size(); ++k) {
    const Page &im = images[k], &lab = labels[k];
    if (lab.h != im.h || lab.w != im.w || lab.raw.empty())
      throw Error(concat(labels_tif, ": page ", k, " is ", lab.h, "x", lab.w,
                         (lab.raw.empty() ? " float" : ""), ", expected ", im.h, "x", im.w,
                         " integer labels like ", volume_tif));
    // Threshold at half the 8-bit range (labels of 16 bits are rare; same rule).
    Sample s{1, im.h, im.w, im.values, std::vector<uint8_t>(lab.raw.size())};
    for (size_t i = 0; i < lab.raw.size(); ++i) {
      const bool bright = lab.raw[i] > 127;
      s.mask[i] = (o.invert ? !bright : bright) ? 1 : 0;
    }
    all.append(s);
    ids.push_back(int64_t(k));
  }
  return write_train_val(out_path, all, ids, o.val_fraction,
                         {{"source", "multi-page TIFF " + volume_tif + " + " + labels_tif},
                          {"synthetic", "false"},
                          {"description", concat("pages in order, the last ones val; mask = label ",
                                                 o.invert ? "<= 127" : "> 127")}});
}

}  // namespace qat::data
