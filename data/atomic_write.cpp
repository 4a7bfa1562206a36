#include "data/atomic_write.h"

#include <filesystem>
#include <fstream>

#include "autograd/check.h"

namespace qat::data {
namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, const std::string& content,
                       void (*fault_point)()) {
  const std::string tmp = path + ".tmp";
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(tmp + ": cannot write (folder missing or not writable?)");
  const size_t half = content.size() / 2;
  f.write(content.data(), std::streamsize(half)).flush();
  if (fault_point) fault_point();  // half written
  f.write(content.data() + half, std::streamsize(content.size() - half));
  f.close();
  if (!f) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    const bool had_one = fs::exists(path, ignored);
    throw Error(path + ": write failed (disk full or file too large?), " +
                (had_one ? "the previous file is kept" : "nothing written"));
  }
  if (fault_point) fault_point();  // written, not yet in place
  fs::rename(tmp, path);
}

}  // namespace qat::data
