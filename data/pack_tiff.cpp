// Multi-page TIFF stacks (ISBI 2012: train-volume.tif + train-labels.tif).
#include <tiffio.h>

#include <memory>

#include "autograd/check.h"
#include "data/pack_common.h"
#include "data/packers.h"
#include "data/tiff_pages.h"

namespace qat::data {

using detail::concat;

namespace {

}  // namespace

PackReport pack_tiff_stack(const std::string& out_path, const std::string& volume_tif,
                           const std::string& labels_tif, const TiffStackOptions& o) {
  const std::vector<TiffPage> images = read_tiff_pages(volume_tif),
                              labels = read_tiff_pages(labels_tif);
  if (images.size() != labels.size())
    throw Error(concat(labels_tif, ": ", labels.size(), " pages, expected as many as ",
                       volume_tif, "'s ", images.size()));
  Split all;
  std::vector<int64_t> ids;
  for (size_t k = 0; k < images.size(); ++k) {
    const TiffPage &im = images[k], &lab = labels[k];
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
