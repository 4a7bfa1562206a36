// `qat data ...`: pack a dataset into qat's HDF5 format (data/FORMAT.md).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "autograd/check.h"
#include "data/packers.h"
#include "data/synthetic_em.h"
#include "experiments/cli/commands.h"

namespace qat {
namespace {

void print_pack(const std::string& out, const data::PackReport& report) {
  std::printf("wrote %s\n", out.c_str());
  for (const auto& s : report)
    std::printf("  %-5s %lld images %lldx%lld, foreground %.1f%%\n", s.name.c_str(),
                (long long)s.n, (long long)s.h, (long long)s.w, 100.0 * s.foreground);
}

}  // namespace

void add_data_commands(CLI::App& app) {
  auto* data = app.add_subcommand("data", "pack a dataset into qat's HDF5 format (data/FORMAT.md)");
  data->require_subcommand(1);

  static std::string out;
  auto* colin = data->add_subcommand("colin27", "the Colin27 T1 + AAL atlas brain (Debian mricron-data)");
  colin->add_option("out", out, "output .h5")->required();
  static data::Colin27Options colin_opt;
  colin->add_option("--val-fraction", colin_opt.val_fraction, "upper fraction of slices for val");
  static int64_t colin_pad = 0;
  colin->add_option("--pad", colin_pad,
                    "zero-pad slices to PAD x PAD (e.g. 224 for the paper's 200x200 crop)");
  colin->callback([] {
    colin_opt.pad_h = colin_opt.pad_w = colin_pad;
    print_pack(out, data::pack_colin27(out, colin_opt));
  });

  static data::SyntheticEmOptions em;
  auto* syn = data->add_subcommand("synthetic-em", "SYNTHETIC EM-like membranes (not real data)");
  syn->add_option("out", out, "output .h5")->required();
  syn->add_option("--train", em.n_train, "training images");
  syn->add_option("--val", em.n_val, "validation images");
  syn->add_option("--size", em.size, "image side in pixels");
  syn->add_option("--seed", em.seed, "seed");
  syn->callback([] { print_pack(out, data::make_synthetic_em(out, em)); });

  static std::vector<std::string> pairs;
  static data::NiftiPairsOptions nifti_opt;
  auto* nifti = data->add_subcommand("nifti", "NIfTI image/label pairs (GM challenge, NIH pancreas)");
  nifti->add_option("out", out, "output .h5")->required();
  nifti->add_option("--pair", pairs, "SPLIT:IMAGE.nii.gz:LABEL.nii.gz (repeat)")->required();
  nifti->add_option("--axis", nifti_opt.axis, "slice axis (2: axial)");
  nifti->callback([] {
    std::vector<data::NiftiPair> list;
    for (const auto& p : pairs) {
      const auto a = p.find(':'), b = p.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos)
        throw qat::Error("--pair '" + p + "': expected SPLIT:IMAGE:LABEL");
      list.push_back({p.substr(a + 1, b - a - 1), p.substr(b + 1), p.substr(0, a)});
    }
    print_pack(out, data::pack_nifti_pairs(out, list, nifti_opt));
  });

  static std::string volume, labels, images_dir, masks_dir;
  static data::TiffStackOptions tiff_opt;
  auto* tiff = data->add_subcommand("tiff", "multi-page TIFF stacks (ISBI 2012 train-volume.tif)");
  tiff->add_option("out", out, "output .h5")->required();
  tiff->add_option("volume", volume, "image stack")->required();
  tiff->add_option("labels", labels, "label stack")->required();
  tiff->add_option("--val-fraction", tiff_opt.val_fraction, "last fraction of pages for val");
  tiff->add_flag("!--no-invert", tiff_opt.invert, "foreground = bright labels (default: dark membranes)");
  tiff->callback([] { print_pack(out, data::pack_tiff_stack(out, volume, labels, tiff_opt)); });

  static double png_val = 0.2;
  auto* png = data->add_subcommand("png", "folders of PNG image/mask pairs matched by name");
  png->add_option("out", out, "output .h5")->required();
  png->add_option("images", images_dir, "image folder")->required();
  png->add_option("masks", masks_dir, "mask folder")->required();
  png->add_option("--val-fraction", png_val, "last fraction of pairs for val");
  png->callback([] { print_pack(out, data::pack_png_folder(out, images_dir, masks_dir, png_val)); });
}


}  // namespace qat
