// The qat HDF5 dataset format (see data/FORMAT.md): groups train, val and
// optionally test, each with images (float32, N x H x W or N x C x H x W)
// and masks (uint8 0/1, N x H x W).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qat::data {

// One image and its mask. image (C,H,W), mask (H,W) values 0/1.
struct Sample {
  int64_t c = 0, h = 0, w = 0;
  std::vector<float> image;
  std::vector<uint8_t> mask;
};

// A whole split in memory. images (N,C,H,W), masks (N,H,W).
struct Split {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<float> images;
  std::vector<uint8_t> masks;

  Sample sample(int64_t i) const;
  void append(const Sample& s);  // first append fixes c, h, w
};

// Where a loader gets its samples: a Split in memory or a file read
// sample by sample.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t size() const = 0;
  virtual void read(int64_t i, Sample& out) const = 0;
};

class InMemorySource : public SampleSource {
 public:
  explicit InMemorySource(const Split& split) : split_(split) {}
  int64_t size() const override { return split_.n; }
  void read(int64_t i, Sample& out) const override { out = split_.sample(i); }

 private:
  const Split& split_;
};

// Reads one sample at a time by hyperslab, for splits too large for memory.
// Shapes and dtypes are validated on open; values (mask 0/1, finite images)
// on each read. The Debian HDF5 build is thread-safe, so a prefetching
// loader may call read() from its worker thread.
class SplitReader : public SampleSource {
 public:
  SplitReader(const std::string& path, const std::string& split);
  ~SplitReader() override;
  int64_t size() const override;
  int64_t channels() const;
  int64_t height() const;
  int64_t width() const;
  void read(int64_t i, Sample& out) const override;
  void read(int64_t i, std::vector<float>& image, std::vector<uint8_t>& mask) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes every split (each must have n >= 1) and the string attributes on the
// root. Overwrites `path`.
void write_dataset(const std::string& path, const std::map<std::string, Split>& splits,
                   const std::map<std::string, std::string>& attrs);

constexpr int64_t kDefaultMaxBytes = int64_t(2) << 30;  // 2 GiB

// Reads and validates a whole split. Throws if it needs more than max_bytes
// of memory (use SplitReader then).
Split read_split(const std::string& path, const std::string& split,
                 int64_t max_bytes = kDefaultMaxBytes);

bool has_split(const std::string& path, const std::string& split);
std::map<std::string, std::string> read_attrs(const std::string& path);

}  // namespace qat::data
