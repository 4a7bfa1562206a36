#include "data/quiet_libs.h"

#include <hdf5.h>
#include <nifti2_io.h>
#include <tiffio.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace qat::data {
namespace {

thread_local std::string tiff_message;

void keep_tiff_message(const char* module, const char* fmt, va_list args) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, args);
  tiff_message = (module ? std::string(module) + ": " : std::string()) + buf;
}

}  // namespace

void quiet_library_messages() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  TIFFSetErrorHandler(keep_tiff_message);
  TIFFSetWarningHandler(keep_tiff_message);
  nifti_set_debug_level(0);
}

std::string last_tiff_message() { return tiff_message; }

StderrSilenced::StderrSilenced() {
  std::fflush(stderr);
  saved_ = ::dup(2);
  const int null = ::open("/dev/null", O_WRONLY);
  if (saved_ >= 0 && null >= 0) ::dup2(null, 2);
  if (null >= 0) ::close(null);
}

StderrSilenced::~StderrSilenced() {
  std::fflush(stderr);
  if (saved_ < 0) return;
  ::dup2(saved_, 2);
  ::close(saved_);
}

}  // namespace qat::data
