// Writing a whole file so that a failure leaves nothing half written: the
// bytes go to <path>.tmp, every write is checked, and only a complete file
// is renamed to path. A full disk or a file-size limit (`ulimit -f`; qat
// ignores SIGXFSZ) is then one qat::Error naming path, the previous file at
// path (if any) is untouched and no .tmp is left.
#pragma once
#include <string>

namespace qat::data {

// fault_point, if given, is called once the file is half written and once
// it is written but not yet renamed: the chaos test's kill points
// (experiments/training/write_faults.h).
void write_file_atomic(const std::string& path, const std::string& content,
                       void (*fault_point)() = nullptr);

}  // namespace qat::data
