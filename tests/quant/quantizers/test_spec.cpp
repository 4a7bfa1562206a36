// QuantSpec: names, bit widths, config parsing, validation errors.
#include <doctest/doctest.h>

#include <string>

#include "autograd/check.h"
#include "quant/quantizers/spec.h"

using namespace qat;
using namespace qat::quant;

namespace {
// The message of the qat::Error that f throws ("" if none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("quant spec: human names") {
  CHECK(make_spec(Format::Fixed, 6, 0).name() == "Q6.0");
  CHECK(make_spec(Format::FixedGm, 6, 0).name() == "Q6.0 GM code");
  CHECK(make_spec(Format::FixedPow2, 8, 8).name() == "Q8.8 pow2");
  CHECK(make_twos_spec(0, 4, /*is_signed=*/true).name() == "Q0.4 two's complement");
  CHECK(make_twos_spec(4, 0, /*is_signed=*/false).name() == "UQ4.0 unsigned");
  CHECK(make_spec(Format::Int, 8, 0).name() == "int8");
  CHECK(make_spec(Format::Binary).name() == "binary");
  CHECK(make_spec(Format::Ternary).name() == "ternary");
  CHECK(make_spec(Format::None).name() == "none");
}

TEST_CASE("quant spec: storage bits and the paper's size-column bits") {
  // Sign-magnitude: a sign bit plus i + f; the paper charges i + f only.
  struct Row {
    int i, f, bits, paper;
  };
  for (Row r : {Row{8, 8, 17, 16}, Row{8, 0, 9, 8}, Row{0, 8, 9, 8}, Row{6, 0, 7, 6},
                Row{0, 4, 5, 4}, Row{4, 0, 5, 4}, Row{0, 2, 3, 2}}) {
    const QuantSpec s = make_spec(Format::Fixed, r.i, r.f);
    CHECK(s.bits() == r.bits);
    CHECK(s.paper_bits() == r.paper);
  }
  CHECK(make_twos_spec(1, 3, true).bits() == 4);  // i counts the sign bit
  CHECK(make_twos_spec(4, 0, false).bits() == 4);
  CHECK(make_spec(Format::Int, 8, 0).bits() == 8);
  CHECK(make_spec(Format::Binary).bits() == 1);
  CHECK(make_spec(Format::Ternary).bits() == 2);
  CHECK(make_spec(Format::Ternary).paper_bits() == 2);  // the paper's 1.15 MB
  CHECK(make_spec(Format::None).bits() == 32);
}

TEST_CASE("quant spec: parse_format takes the paper's and our names, any case") {
  CHECK(parse_format("FIXED") == Format::Fixed);
  CHECK(parse_format("INT") == Format::Int);
  CHECK(parse_format("BNN") == Format::Binary);
  CHECK(parse_format("Ternary") == Format::Ternary);
  CHECK(parse_format("Normal") == Format::None);
  CHECK(parse_format("fixed_pow2") == Format::FixedPow2);
  CHECK(parse_format("Fixed_Twos") == Format::FixedTwos);
  CHECK(parse_format("fixed_gm") == Format::FixedGm);
  CHECK(parse_format("binary") == Format::Binary);
  CHECK(parse_format("none") == Format::None);
  const std::string msg = error_of([] { parse_format("float8"); });
  CHECK(msg.find("'float8'") != std::string::npos);
  CHECK(msg.find("FIXED, INT, BNN, Ternary, Normal") != std::string::npos);
  CHECK(msg.find("fixed_twos") != std::string::npos);
}

TEST_CASE("quant spec: default STE is clipped for binary only") {
  CHECK(make_spec(Format::Binary).ste == Ste::Clipped);
  CHECK(make_spec("BNN", 0, 0).ste == Ste::Clipped);
  CHECK(make_spec(Format::Fixed, 0, 4).ste == Ste::Identity);
  CHECK(make_spec(Format::Ternary).ste == Ste::Identity);
  CHECK(make_spec(Format::Fixed, 0, 4, Ste::Clipped).ste == Ste::Clipped);
}

TEST_CASE("quant spec: the factory refuses bad widths, saying what it found") {
  std::string msg = error_of([] { make_spec(Format::Fixed, -1, 4); });
  CHECK(msg.find("i = -1") != std::string::npos);
  CHECK(msg.find(">= 0") != std::string::npos);
  msg = error_of([] { make_spec(Format::FixedTwos, 2, -3); });
  CHECK(msg.find("f = -3") != std::string::npos);
  msg = error_of([] { make_spec(Format::Fixed, 0, 0); });
  CHECK(msg.find("i = f = 0") != std::string::npos);
  msg = error_of([] { make_spec(Format::FixedPow2, 16, 9); });
  CHECK(msg.find("i + f = 25") != std::string::npos);
  CHECK(msg.find("float32") != std::string::npos);
  CHECK(error_of([] { make_spec(Format::Fixed, 16, 8); }).empty());  // 24 is fine
  msg = error_of([] { make_spec(Format::Int, 25, 0); });
  CHECK(msg.find("n = 25") != std::string::npos);
  CHECK(!error_of([] { make_spec(Format::Int, 0, 0); }).empty());
  msg = error_of([] { make_spec("INT", 8, 8); });
  CHECK(msg.find("f width = 8") != std::string::npos);
  CHECK(!error_of([] { make_spec("q8", 8, 0); }).empty());
  // Widths are ignored where the paper's README says they are unused.
  CHECK(error_of([] { make_spec("BNN", 8, 8); }).empty());
  // A hand-built spec is checked again by validate().
  QuantSpec s;
  s.format = Format::Fixed;
  s.int_bits = 30;
  CHECK(error_of([&] { validate(s); }).find("Q30.0") != std::string::npos);
}
