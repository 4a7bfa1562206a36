// The libFuzzer entry of one harness, chosen at compile time by
// QAT_FUZZ_HARNESS (tests/fuzz/meson.build builds one program per harness).
// A HarnessBug is reported and aborts, which libFuzzer counts as a crash
// and keeps the input.
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    qat::fuzz::QAT_FUZZ_HARNESS(data, size);
  } catch (const qat::fuzz::HarnessBug& e) {
    std::fprintf(stderr, "HarnessBug: %s\n", e.what());
    std::abort();
  }
  return 0;
}
