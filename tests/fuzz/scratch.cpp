#include "tests/fuzz/scratch.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autograd/check.h"
#include "data/quiet_libs.h"
#include "tests/fuzz/harness.h"

namespace qat::fuzz {

namespace fs = std::filesystem;

namespace {

struct Scratch {
  std::string dir;
  Scratch() {
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm")
                                                        : fs::temp_directory_path();
    dir = (base / ("qat_fuzz_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

const std::string& scratch_dir() {
  static const Scratch s;
  return s.dir;
}

std::string write_scratch(const std::string& name, const void* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), std::streamsize(size));
  return path;
}

std::string write_scratch(const std::string& name, const std::string& text) {
  return write_scratch(name, text.data(), text.size());
}

std::vector<std::string> split_parts(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const std::string sep = "\n--\n";
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = all.find(sep, start)) != std::string::npos; start = at + sep.size())
    parts.push_back(all.substr(start, at - start));
  parts.push_back(all.substr(start));
  return parts;
}

void expect_clean(const std::string& what, const std::function<void()>& read) {
  try {
    read();
  } catch (const Error& e) {
    // Messages may quote a newline from the input: the programs print them
    // escaped (experiments/cli/one_line.h, tested in test_hostile_names).
    if (std::string(e.what()).empty()) throw HarnessBug(what + ": an empty error message");
  } catch (const HarnessBug&) {
    throw;
  } catch (const std::exception& e) {
    throw HarnessBug(what + ": " + typeid(e).name() + " escaped instead of qat::Error: " +
                     e.what());
  }
  // A handle qat forgets to close is no leak to LeakSanitizer (HDF5 frees
  // its objects at exit), so it is counted here.
  if (const ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); open > 0)
    throw HarnessBug(what + ": " + std::to_string(open) + " HDF5 objects left open");
}

void quiet_once() {
  static const bool done = (data::quiet_library_messages(), true);
  (void)done;
}

}  // namespace qat::fuzz
