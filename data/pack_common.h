// Helpers the packers share (internal to data/).
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "data/packers.h"

namespace qat::data {

// How many of n ordered items go to val: round(n * fraction), but leaving at
// least one on each side when n >= 2 and fraction > 0.
int64_t val_count(int64_t n, double fraction);

PackedSplit describe(const std::string& name, const Split& s, int64_t first, int64_t last);

// Splits the ordered samples in `all` into a train block then a val block,
// writes them with attrs and returns the report. `ids` are the source
// numbers of the samples (slice or page), in the same order.
PackReport write_train_val(const std::string& out_path, const Split& all,
                           const std::vector<int64_t>& ids, double val_fraction,
                           const std::map<std::string, std::string>& attrs);

}  // namespace qat::data
