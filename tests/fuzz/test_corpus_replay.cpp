// Every input kept under tests/fuzz/corpus/<harness>/ (the minimised
// corpus, seeds included) and tests/fuzz/regressions/<harness>/ (each input
// a fuzzer found a bug with, kept after the fix) through its harness: no
// fuzzing, a few seconds, so a reader that regresses fails CI in both builds.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/harness.h"

namespace fs = std::filesystem;

TEST_CASE("fuzz corpus: every kept input of every harness is answered cleanly") {
  for (const qat::fuzz::Harness& h : qat::fuzz::harnesses()) {
    const fs::path fuzz = fs::path(QAT_TESTS) / "fuzz";
    std::vector<fs::path> files;
    for (const char* kind : {"corpus", "regressions"})
      if (fs::is_directory(fuzz / kind / h.name))
        for (const auto& e : fs::directory_iterator(fuzz / kind / h.name))
          if (e.path().filename() != ".keep") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    CHECK_MESSAGE(!files.empty(), h.name, ": no corpus");
    for (const fs::path& f : files) {
      std::ifstream in(f, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      INFO(h.name, ": ", f.filename().string());
      CHECK_NOTHROW(h.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    }
  }
}
