// The YAML readers: a config (its text, an `extends` base, --set strings)
// and a sweep file (with a base config beside it).
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "experiments/studies/sweep.h"
#include "experiments/training/config.h"
#include "tests/fuzz/harness.h"
#include "tests/fuzz/scratch.h"

namespace qat::fuzz {

// Parts (scratch.h split_parts): the config, base.yaml beside it (which
// the config reaches with `extends: base.yaml`), then one --set each.
// A config that loads must load again from the YAML a run writes of it.
void fuzz_config(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts = split_parts(data, size);
  const std::string path = write_scratch("config.yaml", parts[0]);
  write_scratch("base.yaml", parts.size() > 1 ? parts[1] : std::string());
  const std::vector<std::string> sets(parts.begin() + std::min<size_t>(2, parts.size()),
                                      parts.end());
  expect_clean("config", [&] {
    const Config c = load_config(path, sets);
    YAML::Emitter e;
    e << config_to_yaml(c);
    try {
      parse_config(YAML::Load(e.c_str()), "resolved");
    } catch (const std::exception& err) {
      throw HarnessBug(std::string("config: a loaded config does not load back: ") + err.what());
    }
  });
}

// Parts: the sweep file, base.yaml beside it. Plans of at most 256 cells
// have their first four configs loaded, as `qat sweep --plan` does.
void fuzz_sweep(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts = split_parts(data, size);
  const std::string path = write_scratch("sweep.yaml", parts[0]);
  write_scratch("base.yaml", parts.size() > 1 ? parts[1] : std::string());
  expect_clean("sweep", [&] {
    const Sweep s = load_sweep(path);
    const size_t cols = std::max<size_t>(1, s.columns.size());
    if (s.rows.size() * cols * s.seeds.size() > 256) return;
    std::vector<SweepCell> cells = plan_sweep(s);
    if (cells.size() > 4) cells.resize(4);
    format_plan(s, cells, load_cell_configs(s, cells));
  });
}

}  // namespace qat::fuzz
