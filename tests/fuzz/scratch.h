// What every harness shares: a scratch folder of this process's own (on
// /dev/shm when there is one: the readers take paths, and a file in memory
// costs little more than HDF5's file-image API would), the input split into
// parts, and the check that only a clean qat::Error comes out.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qat::fuzz {

// This process's scratch folder, created once; removed at exit.
const std::string& scratch_dir();

// Writes bytes to scratch_dir()/name and returns the path.
std::string write_scratch(const std::string& name, const void* data, size_t size);
std::string write_scratch(const std::string& name, const std::string& text);

// The input cut at every "\n--\n" (a separator a YAML file seldom holds).
std::vector<std::string> split_parts(const uint8_t* data, size_t size);

// Runs read(); a qat::Error on one line is the expected answer to bad
// input, anything else escaping is a HarnessBug naming `what`.
void expect_clean(const std::string& what, const std::function<void()>& read);

// Silences HDF5's, libtiff's and libnifti's own messages once, as qat does.
void quiet_once();

}  // namespace qat::fuzz
