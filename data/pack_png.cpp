// A folder of PNG images and a folder of PNG masks matched by file name.
#include <algorithm>
#include <filesystem>

#include "autograd/check.h"
#include "data/pack_common.h"
#include "data/packers.h"
#include "data/png.h"

namespace qat::data {

using detail::concat;
namespace fs = std::filesystem;

PackReport pack_png_folder(const std::string& out_path, const std::string& images_dir,
                           const std::string& masks_dir, double val_fraction) {
  for (const std::string& d : {images_dir, masks_dir})
    if (!fs::is_directory(d)) throw Error(concat(d, ": not a directory, expected a PNG folder"));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(images_dir))
    if (e.is_regular_file() && e.path().extension() == ".png")
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.empty()) throw Error(concat(images_dir, ": no .png files, expected image PNGs"));
  Split all;
  std::vector<int64_t> ids;
  for (const std::string& name : names) {
    const fs::path mask_path = fs::path(masks_dir) / name;
    if (!fs::exists(mask_path))
      throw Error(concat(mask_path.string(), ": not found, expected the mask of ",
                         (fs::path(images_dir) / name).string()));
    const Image8 im = read_png_gray((fs::path(images_dir) / name).string());
    const Image8 mk = read_png_gray(mask_path.string());
    if (mk.h != im.h || mk.w != im.w)
      throw Error(concat(mask_path.string(), ": ", mk.h, "x", mk.w, ", expected ", im.h, "x",
                         im.w, " like its image"));
    Sample s{1, im.h, im.w, std::vector<float>(im.pixels.size()),
             std::vector<uint8_t>(mk.pixels.size())};
    for (size_t i = 0; i < im.pixels.size(); ++i) s.image[i] = float(im.pixels[i]) / 255.f;
    for (size_t i = 0; i < mk.pixels.size(); ++i) s.mask[i] = mk.pixels[i] > 0 ? 1 : 0;
    if (all.n > 0 && (s.h != all.h || s.w != all.w))
      throw Error(concat((fs::path(images_dir) / name).string(), ": ", s.h, "x", s.w,
                         ", expected ", all.h, "x", all.w, " like the first image"));
    all.append(s);
    ids.push_back(int64_t(ids.size()));
  }
  return write_train_val(out_path, all, ids, val_fraction,
                         {{"source", "PNG folders " + images_dir + " + " + masks_dir},
                          {"synthetic", "false"},
                          {"description", "pairs sorted by file name, the last ones val; "
                                          "mask = pixel > 0"}});
}

}  // namespace qat::data
