// HDF5, libtiff and libnifti print their own diagnostics to stderr (a
// 10-line HDF5-DIAG stack for a file that is not HDF5). qat's errors already
// name the file and what was expected, so the programs switch them off;
// libtiff's last message is kept to be folded into qat's one-line error.
#pragma once
#include <string>

namespace qat::data {

void quiet_library_messages();
// The last error or warning libtiff reported since quiet_library_messages()
// ("" if none), e.g. "Not a TIFF file, bad magic number 20553 (0x5049)".
std::string last_tiff_message();

// libnifti prints some header errors ("** ERROR: nifti_convert_n1hdr2nim:
// bad datatype") whatever its debug level: while one of these lives, this
// process's stderr goes to /dev/null. Only around a single-threaded library
// call (another thread's message would be lost too).
class StderrSilenced {
 public:
  StderrSilenced();
  ~StderrSilenced();
  StderrSilenced(const StderrSilenced&) = delete;
  StderrSilenced& operator=(const StderrSilenced&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace qat::data
