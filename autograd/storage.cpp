#include "autograd/storage.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace qat {
namespace {

// Past this many idle bytes the pool frees instead of keeping.
constexpr size_t kPoolLimitBytes = size_t(6) << 30;
constexpr size_t kAlign = 64;

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<float*>> idle;
  size_t idle_bytes = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: storages may die after main
  return *p;
}

size_t padded_bytes(size_t n) {
  const size_t bytes = (n == 0 ? 1 : n) * sizeof(float);
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

Storage::Storage(size_t n) : n_(n) {
  const size_t bytes = padded_bytes(n);
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.idle.find(bytes);
    if (it != p.idle.end() && !it->second.empty()) {
      data_ = it->second.back();
      it->second.pop_back();
      p.idle_bytes -= bytes;
      return;
    }
  }
  data_ = static_cast<float*>(std::aligned_alloc(kAlign, bytes));
  if (!data_) throw std::bad_alloc();
}

Storage::~Storage() {
  const size_t bytes = padded_bytes(n_);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (p.idle_bytes + bytes > kPoolLimitBytes) {
    std::free(data_);
    return;
  }
  p.idle[bytes].push_back(data_);
  p.idle_bytes += bytes;
}

size_t storage_pool_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.idle_bytes;
}

void storage_pool_clear() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  for (auto& [bytes, list] : p.idle)
    for (float* ptr : list) std::free(ptr);
  p.idle.clear();
  p.idle_bytes = 0;
}

}  // namespace qat
