// A unique scratch path per test run, removed at the end of the scope.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

namespace qat::data::test {

struct TmpPath {
  std::filesystem::path path;
  explicit TmpPath(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("qat_data_" + std::to_string(::getpid()) + "_" + name)) {
    std::filesystem::remove_all(path);
  }
  ~TmpPath() { std::filesystem::remove_all(path); }
  std::string str() const { return path.string(); }
};

}  // namespace qat::data::test
