// What made a run: qat's version and commit, the resolved config and the
// identity of its data. A run records it in provenance.yaml, in the
// attributes of checkpoint.h5 and best.h5, and (the version) in every
// log.csv row; `qat train` resumes a folder only when it matches, and
// `qat sweep` / `qat table` call a cell whose record differs "stale".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/training/config.h"

namespace qat {

const char* qat_version();  // meson's project version
const char* qat_commit();   // `git describe --always --dirty` at build time, or "unknown"
std::string qat_version_line();  // "qat 0.1.0 (commit 0695d07)"

// The identity of a dataset file: its size and an FNV-1a 64 checksum of
// the bytes of the train and val images and masks as read (so an HDF5 file
// rewritten with the same arrays keeps its checksum; a changed pixel does
// not). A modification time alone would call a copied file new and miss
// an edit within the same second.
struct DataFingerprint {
  int64_t bytes = -1;
  std::string checksum;  // 16 hex digits
  bool operator==(const DataFingerprint&) const = default;
};
// Cached per path, size and mtime within one process (a sweep asks once
// per cell).
DataFingerprint data_fingerprint(const std::string& path);

// How a raw scan becomes the network's input, as training did it: the
// packer's intensity scale (dataset attribute `intensity`), then per-image
// zero mean and unit standard deviation (data::normalize) over the centre
// crop of `crop` pixels. `qat predict` reads this back.
struct Provenance {
  std::string version, commit;
  std::string data_path;
  DataFingerprint data;
  int slice_axis = 2;            // the axis the data was packed along (NIfTI)
  std::string intensity = "raw";  // raw | scaled_8bit | scaled_16bit
  std::string normalisation = "per-image zero mean, unit std over the centre crop";
};
Provenance make_provenance(const Config& c);
// YAML text: provenance.yaml in the run folder and the checkpoints' attribute.
std::string provenance_yaml(const Provenance& p);
// Throws qat::Error naming `source` when the text is not a provenance record.
Provenance parse_provenance(const std::string& yaml, const std::string& source);

// One key whose value differs between a stored run and the config now.
struct ConfigChange {
  std::string key, was, now;
};
// Keys that cannot change what a run computes, left out of the comparison:
// threads, where the run lives and what is printed afterwards, and `data`
// (the path: its contents are compared by fingerprint instead).
bool ignored_for_resume(const std::string& key);
std::vector<ConfigChange> config_changes(const std::string& stored_config_yaml, const Config& now);
// The changes of a run folder's checkpoint against c and its data: the
// config keys, then "data contents" when the fingerprint differs. Empty
// when there is no checkpoint or nothing changed. An old checkpoint without
// a provenance record is compared by config only.
std::vector<ConfigChange> run_changes(const std::string& checkpoint, const Config& c);
std::string format_changes(const std::vector<ConfigChange>& changes);  // "lr: 0.001 -> 0.5; ..."

// Renames a run folder to <dir>.old-<YYYYmmdd-HHMMSS> (with a counter if
// taken) and returns the new name; nothing is deleted.
std::string move_run_aside(const std::string& dir);

}  // namespace qat
