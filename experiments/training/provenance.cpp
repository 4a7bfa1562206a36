#include "experiments/training/provenance.h"

#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "autograd/check.h"
#include "data/dataset.h"
#include "data/fnv1a.h"
#include "experiments/training/checkpoint.h"
#include "experiments/training/model.h"
#include "experiments/training/train.h"
#include "experiments/training/qat_version.h"  // generated (meson.build)

namespace qat {
namespace fs = std::filesystem;

const char* qat_version() { return QAT_VERSION; }
const char* qat_commit() { return QAT_COMMIT; }
std::string qat_version_line() {
  return std::string("qat ") + qat_version() + " (commit " + qat_commit() + ")";
}

namespace {

DataFingerprint compute_fingerprint(const std::string& path) {
  DataFingerprint f;
  f.bytes = int64_t(fs::file_size(path));
  data::Fnv1a h;
  std::vector<float> image;
  std::vector<uint8_t> mask;
  for (const char* split : {"train", "val"}) {
    if (!data::has_split(path, split)) continue;
    h.add(std::string(split));  // a sample moved from train to val changes the sum
    const data::SplitReader reader(path, split);
    for (int64_t i = 0; i < reader.size(); ++i) {
      reader.read(i, image, mask);
      h.add(image.data(), image.size() * sizeof(float));
      h.add(mask.data(), mask.size());
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h.h);
  f.checksum = hex;
  return f;
}

std::string emit(const YAML::Node& n) {
  if (!n || n.IsNull()) return "(unset)";
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

}  // namespace

DataFingerprint data_fingerprint(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, DataFingerprint> cache;
  if (!fs::exists(path)) throw Error(path + ": dataset file not found");
  const auto mtime = fs::last_write_time(path).time_since_epoch().count();
  const std::string key = fs::absolute(path).string() + "|" +
                          std::to_string(fs::file_size(path)) + "|" + std::to_string(mtime);
  std::lock_guard lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, compute_fingerprint(path)).first;
  return it->second;
}

Provenance make_provenance(const Config& c) {
  Provenance p;
  p.version = qat_version();
  p.commit = qat_commit();
  p.data_path = c.data;
  p.data = data_fingerprint(c.data);
  const auto attrs = data::read_attrs(c.data);
  // Files packed before these attributes existed: NIfTI packers cut axial
  // slices (axis 2) of raw intensities.
  if (attrs.count("slice_axis")) p.slice_axis = std::stoi(attrs.at("slice_axis"));
  if (attrs.count("intensity")) p.intensity = attrs.at("intensity");
  return p;
}

std::string provenance_yaml(const Provenance& p) {
  YAML::Node n;
  n["qat_version"] = p.version;
  n["commit"] = p.commit;
  n["data"] = p.data_path;
  n["data_bytes"] = p.data.bytes;
  n["data_checksum"] = p.data.checksum;
  n["slice_axis"] = p.slice_axis;
  n["intensity"] = p.intensity;
  n["normalisation"] = p.normalisation;
  YAML::Emitter e;
  e << n;
  return std::string(e.c_str()) + "\n";
}

Provenance parse_provenance(const std::string& yaml, const std::string& source) {
  try {
    const YAML::Node n = YAML::Load(yaml);
    Provenance p;
    p.version = n["qat_version"].as<std::string>();
    p.commit = n["commit"].as<std::string>();
    p.data_path = n["data"].as<std::string>();
    p.data.bytes = n["data_bytes"].as<int64_t>();
    p.data.checksum = n["data_checksum"].as<std::string>();
    p.slice_axis = n["slice_axis"].as<int>();
    p.intensity = n["intensity"].as<std::string>();
    p.normalisation = n["normalisation"].as<std::string>();
    return p;
  } catch (const YAML::Exception& e) {
    throw Error(source + ": provenance record unreadable (" + e.what() +
                "), expected the keys of provenance.yaml");
  }
}

bool ignored_for_resume(const std::string& key) {
  static const std::set<std::string> ignored = {
      "threads", "adapt_threads", "log_output_dir", "experiment_name", "operation_mode", "trained_model",
      "predict_split", "predict_count", "data"};
  return ignored.count(key) > 0;
}

std::vector<ConfigChange> config_changes(const std::string& stored_config_yaml, const Config& now) {
  const YAML::Node was = YAML::Load(stored_config_yaml), is = config_to_yaml(now);
  std::set<std::string> keys;
  for (const auto& kv : was) keys.insert(kv.first.as<std::string>());
  for (const auto& kv : is) keys.insert(kv.first.as<std::string>());
  std::vector<ConfigChange> changes;
  for (const auto& k : keys) {
    if (ignored_for_resume(k)) continue;
    const std::string a = emit(was[k]), b = emit(is[k]);
    if (a != b) changes.push_back({k, a, b});
  }
  return changes;
}

namespace {

// A run continued to more (or fewer) epochs is the run the new num_epochs
// would have made when the learning rate and beta of the epochs already
// done do not depend on the total: a constant schedule, given milestones.
// A cosine schedule's are not, so there num_epochs is a change.
bool same_epochs_done(const std::string& stored_yaml, const Config& now, int64_t done,
                      const std::string& checkpoint) {
  const Config was = parse_config(YAML::Load(stored_yaml), checkpoint);
  for (int64_t e = 0; e < done; ++e)
    if (lr_for_epoch(was, e) != lr_for_epoch(now, e) ||
        beta_for_epoch(was, e) != beta_for_epoch(now, e))
      return false;
  return true;
}

}  // namespace

std::vector<ConfigChange> run_changes(const std::string& checkpoint, const Config& c) {
  if (!fs::exists(checkpoint)) return {};
  const TrainState s = read_checkpoint_state(checkpoint);
  std::vector<ConfigChange> changes = config_changes(s.config_yaml, c);
  if (changes.size() == 1 && changes[0].key == "num_epochs" &&
      same_epochs_done(s.config_yaml, c, s.epoch, checkpoint))
    changes.clear();
  if (!s.provenance_yaml.empty()) {
    const Provenance p = parse_provenance(s.provenance_yaml, checkpoint);
    if (!fs::exists(c.data)) {
      changes.push_back({"data contents", p.data_path + " (checksum " + p.data.checksum + ")",
                         c.data + " (not found)"});
      return changes;
    }
    const DataFingerprint now = data_fingerprint(c.data);
    if (!(p.data == now))
      changes.push_back({"data contents", p.data_path + " (" + std::to_string(p.data.bytes) +
                                              " bytes, checksum " + p.data.checksum + ")",
                         c.data + " (" + std::to_string(now.bytes) + " bytes, checksum " +
                             now.checksum + ")"});
  }
  return changes;
}

namespace {

// A float config value as a person wrote it: YAML stores 0.001f as
// 0.00100000005; the shortest decimal that reads back as the same float.
std::string readable(const std::string& value) {
  char* end = nullptr;
  const float f = std::strtof(value.c_str(), &end);
  if (value.empty() || *end != '\0' || value.find('.') == std::string::npos) return value;
  char buf[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, double(f));
    if (std::strtof(buf, nullptr) == f) break;
  }
  return buf;
}

}  // namespace

std::string format_changes(const std::vector<ConfigChange>& changes) {
  std::string s;
  for (const auto& ch : changes)
    s += (s.empty() ? "" : "; ") + ch.key + ": " + readable(ch.was) + " -> " + readable(ch.now);
  return s;
}

std::string move_run_aside(const std::string& dir) {
  const std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  std::string target = dir + ".old-" + stamp;
  for (int k = 2; fs::exists(target); ++k) target = dir + ".old-" + stamp + "-" + std::to_string(k);
  fs::rename(dir, target);
  return target;
}

}  // namespace qat
