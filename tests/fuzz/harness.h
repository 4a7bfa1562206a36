// libFuzzer harnesses, one per reader of files people share (issue 16).
// Each is an ordinary function on bytes, compiled into qat_tests (which
// replays every input kept under tests/fuzz/corpus/<name>/ through it, so a
// regression fails CI) and, in the clang fuzz build, behind a thin
// LLVMFuzzerTestOneInput (fuzz_main.cpp).
//
// What counts as a bug, besides a crash, hang, leak or sanitizer report: any
// exception other than qat::Error, an empty error message, and a reader
// that accepts a file and returns values it promised to refuse (NaN, masks
// other than 0/1). Those throw HarnessBug.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace qat::fuzz {

struct HarnessBug : std::logic_error {
  using std::logic_error::logic_error;
};

using HarnessFn = void (*)(const uint8_t* data, size_t size);

struct Harness {
  const char* name;  // also the corpus folder: tests/fuzz/corpus/<name>/
  HarnessFn run;
};

// Every harness, in the order scripts/fuzz.sh runs them.
const std::vector<Harness>& harnesses();

void fuzz_config(const uint8_t* data, size_t size);
void fuzz_sweep(const uint8_t* data, size_t size);
void fuzz_dataset_bytes(const uint8_t* data, size_t size);
void fuzz_dataset_values(const uint8_t* data, size_t size);
void fuzz_checkpoint(const uint8_t* data, size_t size);
void fuzz_int_model(const uint8_t* data, size_t size);
void fuzz_nifti(const uint8_t* data, size_t size);
void fuzz_tiff(const uint8_t* data, size_t size);
void fuzz_png(const uint8_t* data, size_t size);

}  // namespace qat::fuzz
