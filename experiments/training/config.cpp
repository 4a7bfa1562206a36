#include "experiments/training/config.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

#include "autograd/check.h"
#include "experiments/training/plain_text.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

// Where a value came from, for messages: "runs/a.yaml: key 'lr'".
struct Where {
  const std::string& file;
  const std::string& key;
  std::string str() const { return file + ": key '" + key + "'"; }
};

std::string show(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "nothing";
}

template <class T>
T as(const YAML::Node& n, const Where& w, const char* expected) {
  if (!n.IsScalar()) throw Error(w.str() + ": expected " + expected + ", found " + show(n));
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    throw Error(w.str() + ": expected " + expected + ", found " + show(n));
  }
}

// A map's key: YAML allows lists and maps as keys (`? [a]: 1`), configs do not.
std::string key_of(const YAML::Node& k, const std::string& where) {
  if (!k.IsScalar()) throw Error(where + ": found a key that is " + show(k) + ", expected a name");
  return k.Scalar();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string one_of(const YAML::Node& n, const Where& w, std::vector<std::string> allowed) {
  const std::string v = as<std::string>(n, w, "a string");
  for (const auto& a : allowed)
    if (lower(v) == lower(a)) return a;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(w.str() + ": expected one of " + list + ", found '" + v + "'");
}

float positive(const YAML::Node& n, const Where& w) {
  const float v = as<float>(n, w, "a number");
  if (!(v > 0.0f)) throw Error(w.str() + ": expected a positive number, found " + show(n));
  return v;
}

float in_range(const YAML::Node& n, const Where& w, float lo, float hi) {
  const float v = as<float>(n, w, "a number");
  if (!(v >= lo && v <= hi)) {
    std::ostringstream os;
    os << w.str() << ": expected a number in [" << lo << ", " << hi << "], found " << show(n);
    throw Error(os.str());
  }
  return v;
}

int64_t at_least(const YAML::Node& n, const Where& w, int64_t lo) {
  const int64_t v = as<int64_t>(n, w, "a whole number");
  if (v < lo)
    throw Error(w.str() + ": expected a whole number >= " + std::to_string(lo) +
                ", found " + show(n));
  return v;
}

// Paths and names end up in folder names and plot scripts (plain_text.h).
std::string path(const YAML::Node& n, const Where& w) {
  const std::string v = as<std::string>(n, w, "a path");
  check_one_line(v, w.str());
  return v;
}

std::string folder_name(const YAML::Node& n, const Where& w) {
  const std::string v = as<std::string>(n, w, "a name");
  check_folder_name(v, w.str());
  return v;
}

bool boolean(const YAML::Node& n, const Where& w) { return as<bool>(n, w, "true or false"); }

// The paper writes `dropout: enable|disable`; true/false also work.
bool enable_disable(const YAML::Node& n, const Where& w) {
  const std::string v = lower(as<std::string>(n, w, "enable or disable"));
  if (v == "enable" || v == "true" || v == "yes") return true;
  if (v == "disable" || v == "false" || v == "no") return false;
  throw Error(w.str() + ": expected enable or disable, found " + show(n));
}

const std::vector<std::string> kQuantNames = {"Normal", "FIXED", "INT", "BNN", "Ternary",
                                              "none", "fixed", "fixed_gm", "fixed_pow2", "fixed_twos",
                                              "int", "binary", "ternary"};

struct Field {
  std::function<void(Config&, const YAML::Node&, const Where&)> set;
  std::function<YAML::Node(const Config&)> get;
};

template <class T>
YAML::Node node(const T& v) { return YAML::Node(v); }

LayerOverride parse_override(const YAML::Node& n, const Where& w) {
  if (!n.IsMap()) throw Error(w.str() + ": expected a map of weight/activation, found " + show(n));
  LayerOverride o;
  for (const auto& kv : n) {
    const std::string k = key_of(kv.first, w.str());
    const std::string key = w.key + "." + k;
    const Where inner{w.file, key};
    if (k == "weight") {
      o.has_weight = true;
      o.weight = parse_quant_choice(as<std::string>(kv.second, inner, "a quantizer"), inner.str());
    } else if (k == "activation") {
      o.has_activation = true;
      o.activation = parse_quant_choice(as<std::string>(kv.second, inner, "a quantizer"), inner.str());
    } else {
      throw Error(inner.str() + ": unknown key (expected weight or activation)");
    }
  }
  return o;
}

// A key bound to one Config member: parse sets it, and the member is
// written back as it is.
template <class T, class Parse>
Field member(T Config::*m, Parse parse) {
  return {[m, parse](Config& c, const YAML::Node& n, const Where& w) { c.*m = parse(n, w); },
          [m](const Config& c) { return node(c.*m); }};
}

// The paper's keys (SPEC.md), with its meanings.
std::map<std::string, Field> paper_fields() {
  using C = Config;
  using N = const YAML::Node&;
  using W = const Where&;
  return {
    {"dataset", member(&C::dataset, [](N n, W w) { return as<std::string>(n, w, "a string"); })},
    {"lr", member(&C::lr, [](N n, W w) { return positive(n, w); })},
    {"num_epochs", member(&C::num_epochs, [](N n, W w) { return at_least(n, w, 1); })},
    {"model_type", member(&C::model_type, [](N n, W w) { return one_of(n, w, {"unet"}); })},
    {"init_type", member(&C::init_type, [](N n, W w) { return one_of(n, w, {"glorot", "binaryconnect", "paper"}); })},
    {"quantization", member(&C::quantization, [](N n, W w) { return one_of(n, w, kQuantNames); })},
    {"activation_i_width", member(&C::activation_i_width, [](N n, W w) { return int(at_least(n, w, 0)); })},
    {"activation_f_width", member(&C::activation_f_width, [](N n, W w) { return int(at_least(n, w, 0)); })},
    {"weight_i_width", member(&C::weight_i_width, [](N n, W w) { return int(at_least(n, w, 0)); })},
    {"weight_f_width", member(&C::weight_f_width, [](N n, W w) { return int(at_least(n, w, 0)); })},
    {"dropout", {[](C& c, N n, W w) { c.dropout = enable_disable(n, w); },
                 [](const C& c) { return node(c.dropout ? "enable" : "disable"); }}},
    {"trained_model", member(&C::trained_model, [](N n, W w) { return path(n, w); })},
    {"experiment_name", member(&C::experiment_name, [](N n, W w) { return folder_name(n, w); })},
    {"log_output_dir", member(&C::log_output_dir, [](N n, W w) { return path(n, w); })},
    {"operation_mode",
     {[](C& c, N n, W w) {
        c.operation_mode = one_of(n, w, {"normal", "retrain", "inference", "visualize"});
      },
      [](const C& c) { return node(c.operation_mode); }}},
    // The paper's GPU index: there is no GPU here, so it is accepted and unused.
    {"gpu_core_num", {[](C&, N n, W w) { at_least(n, w, 0); },
                      [](const C&) { return YAML::Node(); }}},
  };
}

// qat's keys for the data, the optimizer, the schedule and the run.
std::map<std::string, Field> training_fields() {
  using C = Config;
  using N = const YAML::Node&;
  using W = const Where&;
  return {
    {"data", member(&C::data, [](N n, W w) { return path(n, w); })},
    {"batch_size", member(&C::batch_size, [](N n, W w) { return at_least(n, w, 1); })},
    {"crop", {[](C& c, N n, W w) {
                c.crop = at_least(n, w, 8);
                if (c.crop % 8)
                  throw Error(w.str() + ": expected a multiple of 8 (the U-Net pools three "
                                        "times), found " + show(n));
              },
              [](const C& c) { return node(c.crop); }}},
    {"width", member(&C::width, [](N n, W w) { return at_least(n, w, 1); })},
    {"seed", member(&C::seed, [](N n, W w) { return uint64_t(at_least(n, w, 0)); })},
    {"threads", member(&C::threads, [](N n, W w) { return int(at_least(n, w, 1)); })},
    {"adapt_threads", member(&C::adapt_threads, [](N n, W w) { return boolean(n, w); })},
    {"optimizer", member(&C::optimizer, [](N n, W w) { return one_of(n, w, {"adam", "sgd"}); })},
    {"momentum", member(&C::momentum, [](N n, W w) { return in_range(n, w, 0.0f, 1.0f); })},
    {"nesterov", member(&C::nesterov, [](N n, W w) { return boolean(n, w); })},
    {"weight_decay", member(&C::weight_decay, [](N n, W w) { return in_range(n, w, 0.0f, 1.0f); })},
    {"schedule", member(&C::schedule, [](N n, W w) { return one_of(n, w, {"cosine", "multistep", "constant"}); })},
    {"lr_min", member(&C::lr_min, [](N n, W w) { return in_range(n, w, 0.0f, 1e3f); })},
    {"warmup_epochs", member(&C::warmup_epochs, [](N n, W w) { return at_least(n, w, 0); })},
    {"milestones",
     {[](C& c, N n, W w) {
        if (!n.IsSequence()) throw Error(w.str() + ": expected a list of epochs, found " + show(n));
        c.milestones.clear();
        for (const auto& e : n) c.milestones.push_back(at_least(e, w, 1));
      },
      [](const C& c) { return node(c.milestones); }}},
    {"gamma", member(&C::gamma, [](N n, W w) { return in_range(n, w, 0.0f, 1.0f); })},
    {"loss", member(&C::loss, [](N n, W w) { return one_of(n, w, {"dice", "bce", "bce_dice"}); })},
    {"threshold", member(&C::threshold, [](N n, W w) { return in_range(n, w, 0.0f, 1.0f); })},
    {"augment", member(&C::augment, [](N n, W w) { return boolean(n, w); })},
    {"dropout_rate", member(&C::dropout_rate, [](N n, W w) { return in_range(n, w, 0.0f, 0.99f); })},
    {"steps_per_epoch", member(&C::steps_per_epoch, [](N n, W w) { return at_least(n, w, 0); })},
    {"val_batches", member(&C::val_batches, [](N n, W w) { return at_least(n, w, 0); })},
    {"telemetry", member(&C::telemetry, [](N n, W w) { return boolean(n, w); })},
    {"predict_split", member(&C::predict_split, [](N n, W w) { return one_of(n, w, {"train", "val", "test"}); })},
    {"predict_count", member(&C::predict_count, [](N n, W w) { return at_least(n, w, 0); })},
  };
}

// qat's keys for activations, quantizers and per-layer formats.
std::map<std::string, Field> quantization_fields() {
  using C = Config;
  using N = const YAML::Node&;
  using W = const Where&;
  return {
    {"activation", member(&C::activation, [](N n, W w) { return one_of(n, w, {"relu", "tanh", "ternary_tanh"}); })},
    {"beta_start", member(&C::beta_start, [](N n, W w) { return positive(n, w); })},
    {"beta_end", member(&C::beta_end, [](N n, W w) { return positive(n, w); })},
    {"binary_weight_scale", member(&C::binary_weight_scale, [](N n, W w) { return one_of(n, w, {"binaryconnect", "one"}); })},
    {"ste", member(&C::ste, [](N n, W w) { return one_of(n, w, {"default", "identity", "clipped"}); })},
    {"weight_quant",
     {[](C& c, N n, W w) {
        c.weight_quant = parse_quant_choice(as<std::string>(n, w, "a quantizer"), w.str()).text();
      },
      [](const C& c) { return c.weight_quant.empty() ? YAML::Node() : node(c.weight_quant); }}},
    {"activation_quant",
     {[](C& c, N n, W w) {
        c.activation_quant =
            parse_quant_choice(as<std::string>(n, w, "a quantizer"), w.str()).text();
      },
      [](const C& c) {
        return c.activation_quant.empty() ? YAML::Node() : node(c.activation_quant);
      }}},
    {"requantize_upsample",
     {[](C& c, N n, W w) { c.requantize_upsample = boolean(n, w); },
      // written only when on, so that the resolved configs of runs without
      // it stay as they were
      [](const C& c) { return c.requantize_upsample ? node(true) : YAML::Node(); }}},
    {"first_layer", member(&C::first_layer, [](N n, W w) { return one_of(n, w, {"full", "quantized"}); })},
    {"last_layer",
     {[](C& c, N n, W w) {
        const std::string v = as<std::string>(n, w, "full, quantized or a quantizer");
        c.last_layer = (v == "full" || v == "quantized") ? v : parse_quant_choice(v, w.str()).text();
      },
      [](const C& c) { return node(c.last_layer); }}},
    {"layers",
     {[](C& c, N n, W w) {
        if (!n.IsMap()) throw Error(w.str() + ": expected a map from layer name to overrides, found " + show(n));
        for (const auto& kv : n) {
          const std::string name = key_of(kv.first, w.str());
          const std::string key = w.key + "." + name;
          c.layers[name] = parse_override(kv.second, Where{w.file, key});
        }
      },
      [](const C& c) {
        YAML::Node out(YAML::NodeType::Map);
        for (const auto& [name, o] : c.layers) {
          if (o.has_weight) out[name]["weight"] = o.weight.text();
          if (o.has_activation) out[name]["activation"] = o.activation.text();
        }
        return out;
      }}},
  };
}

const std::map<std::string, Field>& fields() {
  static const std::map<std::string, Field> f = [] {
    std::map<std::string, Field> all = paper_fields();
    all.merge(training_fields());
    all.merge(quantization_fields());
    return all;
  }();
  return f;
}

// Levenshtein distance: how many single-letter edits turn a into b.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The message for an unknown key: the nearest known key when one is close
// (a typo), else where the keys are listed. Fifty keys would hide the one
// that was meant.
std::string unknown_key_hint(const std::string& key) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& [k, f] : fields()) {
    const size_t d = edit_distance(lower(key), k);
    if (d < best_d) best_d = d, best = k;
  }
  if (best_d <= std::max<size_t>(2, best.size() / 3)) return "did you mean " + best + "?";
  return "the keys are listed in experiments/training/config.h";
}

// Copies every key of `over` into `base` (a later file wins).
void merge_into(YAML::Node& base, const YAML::Node& over, const std::string& where) {
  for (const auto& kv : over) base[key_of(kv.first, where)] = kv.second;
}

YAML::Node load_yaml_file(const std::string& path, std::set<std::string>& chain) {
  require_file(path, "config file");
  std::error_code ec;
  const std::string canonical = fs::canonical(path, ec).string();
  if (ec) throw Error(path + ": " + ec.message());
  if (!chain.insert(canonical).second)
    throw Error(path + ": `extends` forms a cycle through this file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw Error(path + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw Error(path + ": expected a map of keys at the top, found " + show(root));
  YAML::Node merged(YAML::NodeType::Map);
  if (root["extends"]) {
    const Where w{path, "extends"};
    const std::string base = as<std::string>(root["extends"], w, "a path");
    const fs::path base_path = fs::path(path).parent_path() / base;
    merged = load_yaml_file(base_path.string(), chain);
    root.remove("extends");
  }
  merge_into(merged, root, path);
  return merged;
}

}  // namespace

std::string QuantChoice::text() const {
  if (format == "none" || format == "binary" || format == "ternary") return format;
  if (format == "int") return "int:" + std::to_string(bits);
  return format + ":" + std::to_string(int_bits) + "." + std::to_string(frac_bits);
}

QuantChoice parse_quant_choice(const std::string& text, const std::string& where) {
  QuantChoice q;
  const auto colon = text.find(':');
  q.format = lower(text.substr(0, colon));
  const std::string arg = colon == std::string::npos ? "" : text.substr(colon + 1);
  auto bad = [&](const std::string& why) {
    return Error(where + ": quantizer '" + text + "' " + why +
                 " (expected none, binary, ternary, int:N, fixed:I.F, fixed_pow2:I.F or "
                 "fixed_gm:I.F, fixed_twos:I.F)");
  };
  if (q.format == "none" || q.format == "binary" || q.format == "ternary") {
    if (!arg.empty()) throw bad("takes no widths");
    return q;
  }
  try {
    size_t used = 0;
    if (q.format == "int") {
      q.bits = std::stoi(arg, &used);
      if (used != arg.size() || q.bits < 1 || q.bits > 24) throw bad("needs 1 to 24 bits");
      return q;
    }
    if (q.format == "fixed" || q.format == "fixed_gm" || q.format == "fixed_pow2" ||
        q.format == "fixed_twos") {
      const auto dot = arg.find('.');
      if (dot == std::string::npos) throw bad("needs I.F widths");
      q.int_bits = std::stoi(arg.substr(0, dot), &used);
      if (used != dot) throw bad("has a malformed integer width");
      q.frac_bits = std::stoi(arg.substr(dot + 1), &used);
      if (used != arg.size() - dot - 1) throw bad("has a malformed fraction width");
      if (q.int_bits < 0 || q.frac_bits < 0) throw bad("has a negative width");
      if (q.int_bits + q.frac_bits == 0) throw bad("has zero bits");
      if (q.int_bits + q.frac_bits > 24)
        throw bad("has more than 24 bits, more than float32 represents exactly");
      return q;
    }
  } catch (const std::logic_error&) {  // stoi
    throw bad("has malformed widths");
  }
  throw bad("is unknown");
}

Config parse_config(const YAML::Node& root, const std::string& source) {
  Config c;
  c.source = source;
  if (!root.IsMap()) throw Error(source + ": expected a map of keys at the top");
  for (const auto& kv : root) {
    const std::string key = key_of(kv.first, source);
    auto it = fields().find(key);
    if (it == fields().end())
      throw Error(source + ": unknown key '" + key + "' (" + unknown_key_hint(key) + ")");
    it->second.set(c, kv.second, Where{source, key});
  }
  if (c.beta_end < c.beta_start)
    throw Error(source + ": key 'beta_end': expected >= beta_start (" +
                std::to_string(c.beta_start) + "), found " + std::to_string(c.beta_end));
  return c;
}

void require_file(const std::string& path, const std::string& kind) {
  std::error_code ec;  // the error_code overloads throw nothing
  const fs::file_status st = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) throw Error(path + ": " + ec.message());
  if (!fs::exists(st)) throw Error(path + ": " + kind + " not found");
  if (!fs::is_regular_file(st))
    throw Error(path + ": " + (fs::is_directory(st) ? "a directory" : "not a regular file") +
                ", expected a " + kind);
}

namespace {

// node[key], made a map if missing; a scalar or a list there is an error
// (yaml-cpp would throw BadSubscript, found by fuzz_config).
YAML::Node map_at(YAML::Node node, const std::string& key, const std::string& what) {
  if (!node[key]) node[key] = YAML::Node(YAML::NodeType::Map);
  YAML::Node section = node[key];
  if (!section.IsMap())
    throw Error(what + ": '" + key + "' is " + (section.IsSequence() ? "a list" : "a value") +
                " in the config, not a section of keys");
  return section;
}

}  // namespace

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::set<std::string> chain;
  YAML::Node root = load_yaml_file(path, chain);
  for (const std::string& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--set '" + o + "': expected key=value");
    const std::string key = o.substr(0, eq);
    YAML::Node value;
    try {
      value = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw Error("--set '" + o + "': value is not valid YAML: " + e.what());
    }
    // Dotted keys reach into sections: layers.conv9.weight=fixed:0.8
    std::vector<std::string> parts;
    std::stringstream ss(key);
    for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
    // Layer names contain dots themselves: everything between `layers.` and
    // the last part is the layer name.
    if (parts.size() > 2 && parts[0] == "layers") {
      std::string layer = parts[1];
      for (size_t i = 2; i + 1 < parts.size(); ++i) layer += "." + parts[i];
      parts = {"layers", layer, parts.back()};
    }
    if (parts.size() != 1 && parts.size() != 3)
      throw Error("--set '" + o + "': cannot place key '" + key + "'");
    YAML::Node at = root;  // reset(), not =: yaml-cpp's = would write into root
    for (size_t i = 0; i + 1 < parts.size(); ++i)
      at.reset(map_at(at, parts[i], "--set '" + o + "'"));
    at[parts.back()] = value;
  }
  return parse_config(root, path);
}

YAML::Node config_to_yaml(const Config& c) {
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& [key, field] : fields()) {
    YAML::Node v = field.get(c);
    if (!v.IsNull()) out[key] = v;
  }
  return out;
}

}  // namespace qat
