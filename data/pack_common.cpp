#include "data/pack_common.h"

#include <algorithm>
#include <cmath>

#include "autograd/check.h"

namespace qat::data {

int64_t val_count(int64_t n, double fraction) {
  if (fraction < 0 || fraction >= 1)
    throw Error(detail::concat("val_fraction is ", fraction, ", expected in [0, 1)"));
  int64_t v = int64_t(std::llround(double(n) * fraction));
  if (n >= 2 && fraction > 0) v = std::clamp<int64_t>(v, 1, n - 1);
  return std::min(v, n);
}

PackedSplit describe(const std::string& name, const Split& s, int64_t first, int64_t last) {
  int64_t ones = 0;
  for (uint8_t m : s.masks) ones += m;
  const double fg = s.masks.empty() ? 0.0 : double(ones) / double(s.masks.size());
  return {name, s.n, s.h, s.w, fg, first, last};
}

PackReport write_train_val(const std::string& out_path, const Split& all,
                           const std::vector<int64_t>& ids, double val_fraction,
                           const std::map<std::string, std::string>& attrs) {
  QAT_CHECK(int64_t(ids.size()) == all.n, "one id per sample");
  const int64_t n_val = val_count(all.n, val_fraction), n_train = all.n - n_val;
  if (n_train < 1)
    throw Error(detail::concat(out_path, ": only ", all.n, " samples, expected enough for a ",
                               "train split after taking ", n_val, " for val"));
  std::map<std::string, Split> splits;
  PackReport report;
  for (int64_t i = 0; i < all.n; ++i) splits[i < n_train ? "train" : "val"].append(all.sample(i));
  report.push_back(describe("train", splits["train"], ids.front(), ids[size_t(n_train - 1)]));
  if (n_val > 0) report.push_back(describe("val", splits["val"], ids[size_t(n_train)], ids.back()));
  write_dataset(out_path, splits, attrs);
  return report;
}

}  // namespace qat::data
