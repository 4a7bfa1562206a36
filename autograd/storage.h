// Float buffers for tensors, recycled through a pool of idle buffers.
//
// A training step allocates the same activation buffers in the same sizes
// every time. Returning them to glibc and asking again costs a page fault per
// 4 KiB on every step (PyTorch loses a third of its step to this on this
// machine), so a freed buffer waits in the pool for the next request it can
// hold (at most twice its size; storage.cpp says why) instead.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qat {

class Storage {
 public:
  explicit Storage(size_t n);  // uninitialised
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return n_; }

 private:
  float* data_;
  size_t n_;
  size_t capacity_bytes_;  // of data_: the request padded, or the idle buffer it got
};

// Bytes held by the pool and not in use; and a way to give them back.
size_t storage_pool_bytes();
void storage_pool_clear();

}  // namespace qat
