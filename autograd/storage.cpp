#include "autograd/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace qat {
namespace {

// Past this many idle bytes the pool frees instead of keeping.
constexpr size_t kPoolLimitBytes = size_t(6) << 30;
constexpr size_t kAlign = 64;

// Idle buffers by capacity. A request takes the smallest idle buffer that
// holds it, if that is at most twice its size. A step frees its forward
// temporaries in sizes the backward rarely asks for again: kept for an
// exact match only, they made the small step's peak 268 MiB of buffers for
// 176 MiB live (1541 for 1079 at full size). Replayed on a step's
// allocations, best fit up to 2x peaks at 219 and 1286 MiB and still
// allocates nothing after the first step; a looser limit gained nothing.
struct Pool {
  std::mutex mu;
  std::multimap<size_t, float*> idle;
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

Storage::Storage(size_t n) : n_(n), capacity_bytes_(padded_bytes(n)) {
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.idle.lower_bound(capacity_bytes_);
    if (it != p.idle.end() && it->first <= 2 * capacity_bytes_) {
      capacity_bytes_ = it->first;
      data_ = it->second;
      p.idle.erase(it);
      p.idle_bytes -= capacity_bytes_;
      return;
    }
  }
  data_ = static_cast<float*>(std::aligned_alloc(kAlign, capacity_bytes_));
  if (!data_) throw std::bad_alloc();
}

Storage::~Storage() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (p.idle_bytes + capacity_bytes_ > kPoolLimitBytes) {
    std::free(data_);
    return;
  }
  p.idle.emplace(capacity_bytes_, data_);
  p.idle_bytes += capacity_bytes_;
}

size_t storage_pool_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.idle_bytes;
}

void storage_pool_clear() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  for (auto& [bytes, ptr] : p.idle) std::free(ptr);
  p.idle.clear();
  p.idle_bytes = 0;
}

}  // namespace qat
