// FNV-1a 64: the one cheap checksum of qat's files (integer model
// datasets, data fingerprints, config hashes across MPI ranks). Not
// cryptographic: it catches corruption and edits, not an adversary.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qat::data {

struct Fnv1a {
  uint64_t h = 14695981039346656037ull;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void add(const std::string& s) { add(s.data(), s.size()); }
};

}  // namespace qat::data
