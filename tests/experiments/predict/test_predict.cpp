// `qat predict MODEL INPUT --out OUTPUT` on a real scan: a model trained two
// epochs on Colin27 slices segments a NIfTI volume cut from the mricron
// file; the output keeps the input's grid (dims, pixdim, qform and sform,
// read back with nifti2_io) and overlaps the AAL mask better than chance.
// Bad input is one-line errors, exit code 1, nothing at OUTPUT.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/run_qat.h"
#include "data/nifti_io.h"
#include "data/packers.h"
#include "data/png.h"
#include "experiments/predict/segment.h"
#include "experiments/training/train.h"

using namespace qat;
namespace fs = std::filesystem;

extern char** environ;

using qat::testing::read_file;
using qat::testing::run_qat;

namespace {

const fs::path kRoot = fs::temp_directory_path() / "qat_test_predict";
const std::string kTiny = QAT_TESTS "/experiments/training/tiny.yaml";
constexpr int64_t kZ0 = 40, kSlices = 6;  // axial slices kZ0.. of the 181x217x181 volume


// Slices [kZ0, kZ0 + kSlices) of a mricron volume as a NIfTI file of their
// own, its affine moved to where those voxels are.
std::string cut(const std::string& source, const std::string& out) {
  const data::NiftiVolume v = data::read_nifti_volume(source);
  nifti_image* nim = nifti_copy_nim_info(v.header.get());
  nim->nz = nim->dim[3] = kSlices;
  nim->nvox = nim->nx * nim->ny * kSlices;
  nim->datatype = DT_FLOAT32;
  nifti_datatype_sizes(DT_FLOAT32, &nim->nbyper, &nim->swapsize);
  nim->scl_slope = 0, nim->scl_inter = 0;
  for (int i = 0; i < 3; ++i) nim->sto_xyz.m[i][3] += nim->sto_xyz.m[i][2] * kZ0;
  const size_t n = size_t(nim->nvox);
  nim->data = std::malloc(n * sizeof(float));
  std::memcpy(nim->data, v.voxels.data() + size_t(kZ0 * v.nx * v.ny), n * sizeof(float));
  nifti_set_filenames(nim, out.c_str(), 0, 1);
  nifti_image_write(nim);
  nifti_image_free(nim);
  return out;
}

// A width-8 U-Net trained 2 epochs on every 2nd axial Colin27 slice.
std::string trained_run() {
  static const std::string dir = [] {
    fs::remove_all(kRoot);
    fs::create_directories(kRoot);
    data::Colin27Options o;
    o.slice_step = 2;
    const std::string h5 = (kRoot / "colin.h5").string();
    data::pack_colin27(h5, o);
    const Config c = load_config(
        kTiny, {"data=" + h5, "log_output_dir=" + kRoot.string(), "experiment_name=colin",
                "crop=176", "width=8", "num_epochs=2", "batch_size=4", "lr=0.005",
                "telemetry=false", "augment=false"});
    return train(c).run_dir;
  }();
  return dir;
}

}  // namespace

TEST_CASE("predict: a NIfTI volume is segmented with the input's grid and affine") {
  const std::string run = trained_run();
  const std::string in = cut(data::Colin27Options{}.t1, (kRoot / "scan.nii.gz").string());
  const std::string atlas = cut(data::Colin27Options{}.atlas, (kRoot / "atlas.nii.gz").string());
  const std::string out = (kRoot / "labels.nii.gz").string();
  REQUIRE(run_qat({"predict", run, in, "--out", out}, (kRoot / "err.txt").string()) == 0);

  nifti_image* a = nifti_image_read(in.c_str(), 0);
  nifti_image* b = nifti_image_read(out.c_str(), 1);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(b->datatype == DT_UINT8);
  for (int i = 0; i < 8; ++i) CHECK(a->dim[i] == b->dim[i]);
  for (int i = 1; i < 4; ++i) CHECK(a->pixdim[i] == doctest::Approx(b->pixdim[i]));
  CHECK(a->qform_code == b->qform_code);
  CHECK(a->sform_code == b->sform_code);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      CHECK(a->sto_xyz.m[i][j] == doctest::Approx(b->sto_xyz.m[i][j]));
      CHECK(a->qto_xyz.m[i][j] == doctest::Approx(b->qto_xyz.m[i][j]));
    }
  // against the AAL mask of the same voxels (what the packer calls foreground)
  const data::NiftiVolume truth = data::read_nifti_volume(atlas);
  REQUIRE(int64_t(truth.voxels.size()) == b->nvox);
  const auto* labels = static_cast<const uint8_t*>(b->data);
  int64_t both = 0, pred = 0, real = 0, not_binary = 0;
  for (int64_t i = 0; i < b->nvox; ++i) {
    not_binary += labels[i] > 1;
    const bool t = truth.voxels[size_t(i)] > 0;
    both += labels[i] && t, pred += labels[i], real += t;
  }
  CHECK(not_binary == 0);
  const double dice = 2.0 * double(both) / double(pred + real);
  INFO("Dice ", dice, " (all-zero answer: 0)");
  CHECK(dice > 0.3);
  nifti_image_free(a);
  nifti_image_free(b);

  // probabilities: float, same grid
  const std::string probs = (kRoot / "probs.nii").string();
  REQUIRE(run_qat({"predict", run, in, "--out", probs, "--probabilities"},
                  (kRoot / "err.txt").string()) == 0);
  nifti_image* p = nifti_image_read(probs.c_str(), 0);
  REQUIRE(p);
  CHECK(p->datatype == DT_FLOAT32);
  CHECK(p->nz == kSlices);
  nifti_image_free(p);
}

TEST_CASE("predict: whole images of any size come back at their size") {
  Segmenter s(trained_run(), "float");
  for (auto [h, w] : {std::pair<int64_t, int64_t>{217, 181}, {9, 13}, {8, 8}}) {
    std::vector<float> img(size_t(h * w), 1.0f);
    const auto p = s.probabilities(img, h, w);
    CHECK(int64_t(p.size()) == h * w);
  }
  int64_t ph = 0, pw = 0;
  const auto x = network_input(std::vector<float>(size_t(217 * 181), 2.0f), 217, 181, 176, ph, pw);
  CHECK(ph == 224);
  CHECK(pw == 184);
  CHECK(x.size() == size_t(224 * 184));
}

TEST_CASE("predict: bad input is one line naming the file, exit 1, nothing at OUTPUT") {
  const std::string run = trained_run(), err = (kRoot / "err.txt").string();
  auto refused = [&](const std::string& model, const std::string& input, const std::string& out,
                     const std::string& expected) {
    fs::remove(out);
    CHECK(run_qat({"predict", model, input, "--out", out}, err) == 1);
    const std::string message = read_file(err);
    INFO(message);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(std::count(message.begin(), message.end(), '\n') == 1);
    CHECK(!fs::exists(out));
    for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
      CHECK(e.path().filename().string().rfind(".tmp-", 0) != 0);
  };
  const std::string out = (kRoot / "bad_out.nii.gz").string();
  std::ofstream(kRoot / "empty.nii") << "";
  refused(run, (kRoot / "empty.nii").string(), out, "empty.nii: could not read as NIfTI");
  std::ofstream(kRoot / "text.nii.gz") << "not a volume\n";
  refused(run, (kRoot / "text.nii.gz").string(), out, "text.nii.gz: could not read as NIfTI");
  {  // 4-D: two volumes in time
    const int64_t dims[8] = {4, 8, 8, 8, 2, 1, 1, 1};
    nifti_image* nim = nifti_make_new_nim(dims, DT_FLOAT32, 1);
    const std::string path = (kRoot / "fourd.nii").string();
    nifti_set_filenames(nim, path.c_str(), 0, 1);
    nifti_image_write(nim);
    nifti_image_free(nim);
    refused(run, path, out, "fourd.nii: a 4-D NIfTI volume");
  }
  {  // found by tests/fuzz (nifti): a header libnifti printed "** ERROR" for, and
     // one declaring far more voxels than the file holds (it was allocated)
    const int64_t dims[8] = {3, 8, 8, 8, 1, 1, 1, 1};
    nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, 1);
    const std::string path = (kRoot / "patched.nii").string();
    nifti_set_filenames(nim, path.c_str(), 0, 1);
    nifti_image_write(nim);
    nifti_image_free(nim);
    auto patch = [&](std::streamoff at, int16_t value) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(at);
      f.write(reinterpret_cast<const char*>(&value), sizeof value);
    };
    patch(/*datatype=*/70, 3);
    refused(run, path, out, "patched.nii: could not read as NIfTI");
    patch(70, DT_INT16);
    patch(/*dim[1..3]=*/42, 1000), patch(44, 1000), patch(46, 1000);
    refused(run, path, out, "patched.nii: its NIfTI header declares 2000000000 bytes of voxels, "
                            "the file holds 1376");
  }
  const std::vector<uint8_t> tiny(4 * 4, 100);
  data::write_png_gray((kRoot / "tiny.png").string(), tiny.data(), 4, 4);
  refused(run, (kRoot / "tiny.png").string(), (kRoot / "tiny_mask.png").string(),
          "tiny.png: an image of 4x4 pixels, expected at least 8x8");
  fs::create_directories(kRoot / "untrained");
  refused((kRoot / "untrained").string(), (kRoot / "scan.nii.gz").string(), out,
          "untrained: no trained model in this folder");
  // not HDF5: one line, no HDF5-DIAG stack
  std::ofstream(kRoot / "fake.h5") << "hello\n";
  refused((kRoot / "fake.h5").string(), (kRoot / "scan.nii.gz").string(), out, "fake.h5");
  // a PNG of fine size: a mask of its size
  const std::vector<uint8_t> img(40 * 24, 50);
  data::write_png_gray((kRoot / "ok.png").string(), img.data(), 40, 24);
  REQUIRE(run_qat({"predict", run, (kRoot / "ok.png").string(), "--out",
                   (kRoot / "ok_mask.tif").string()}, err) == 0);
  CHECK(fs::exists(kRoot / "ok_mask.tif"));
}

TEST_CASE("cli: unknown command, --version, usage errors") {
  const std::string err = (fs::temp_directory_path() / "qat_cli_err.txt").string();
  CHECK(run_qat({"bogus"}, err) == 2);
  CHECK(read_file(err) == "qat: error: unknown command 'bogus' (run `qat --help` for the list)\n");
  CHECK(run_qat({"train"}, err) == 2);  // CLI11's own codes become the usage code
  CHECK(run_qat({"--version"}, err) == 0);
}
