#include "quant/quantizers/spec.h"

#include <algorithm>
#include <cctype>

#include "autograd/check.h"

namespace qat::quant {
namespace {

struct NamedFormat {
  const char* name;
  Format format;
};

// Ours first (format_key reads the first match), then the paper's YAML names.
constexpr NamedFormat kNames[] = {
    {"none", Format::None},         {"fixed", Format::Fixed},
    {"fixed_gm", Format::FixedGm},  {"fixed_pow2", Format::FixedPow2},
    {"fixed_twos", Format::FixedTwos}, {"int", Format::Int},
    {"binary", Format::Binary},     {"ternary", Format::Ternary},
    {"normal", Format::None},       {"bnn", Format::Binary},
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

bool is_fixed_point(Format f) {
  return f == Format::Fixed || f == Format::FixedGm || f == Format::FixedPow2 ||
         f == Format::FixedTwos;
}

std::string q_name(const QuantSpec& s) {
  return detail::concat("Q", s.int_bits, ".", s.frac_bits);
}

}  // namespace

const char* format_key(Format f) {
  for (const auto& n : kNames)
    if (n.format == f) return n.name;
  QAT_CHECK(false, "format_key: format ", int(f), " has no name");
  return "";
}

Format parse_format(const std::string& name) {
  const std::string key = lower(name);
  for (const auto& n : kNames)
    if (key == n.name) return n.format;
  throw Error("quantization format '" + name +
              "' is unknown; expected one of (any case) FIXED, INT, BNN, "
              "Ternary, Normal (paper config) or fixed, fixed_gm, fixed_pow2, "
              "fixed_twos, int, binary, ternary, none");
}

Ste default_ste(Format f) { return f == Format::Binary ? Ste::Clipped : Ste::Identity; }

std::string QuantSpec::name() const {
  switch (format) {
    case Format::None: return "none";
    case Format::Fixed: return q_name(*this);
    case Format::FixedGm: return q_name(*this) + " GM code";
    case Format::FixedPow2: return q_name(*this) + " pow2";
    case Format::FixedTwos:
      return is_signed ? detail::concat(q_name(*this), " two's complement")
                       : detail::concat("U", q_name(*this), " unsigned");
    case Format::Int: return detail::concat("int", code_bits);
    case Format::Binary: return "binary";
    case Format::Ternary: return "ternary";
  }
  return "?";
}

int QuantSpec::bits() const {
  switch (format) {
    case Format::None: return 32;
    case Format::Fixed:
    case Format::FixedGm:
    case Format::FixedPow2: return 1 + int_bits + frac_bits;
    case Format::FixedTwos: return int_bits + frac_bits;
    case Format::Int: return code_bits;
    case Format::Binary: return 1;
    case Format::Ternary: return 2;
  }
  return 0;
}

int QuantSpec::paper_bits() const {
  if (is_fixed_point(format)) return int_bits + frac_bits;
  return bits();
}

void validate(const QuantSpec& s) {
  const std::string who = "quantizer " + std::string(format_key(s.format)) + " (" +
                          s.name() + "): ";
  if (is_fixed_point(s.format)) {
    if (s.int_bits < 0 || s.frac_bits < 0)
      throw Error(who + "widths i = " + std::to_string(s.int_bits) + ", f = " +
                  std::to_string(s.frac_bits) + "; expected both >= 0");
    if (s.int_bits + s.frac_bits == 0)
      throw Error(who + "i = f = 0 leaves no bits; expected i + f >= 1");
    if (s.int_bits + s.frac_bits > kMaxWidth)
      throw Error(who + "i + f = " + std::to_string(s.int_bits + s.frac_bits) +
                  "; expected <= 24, the widest whose levels float32 (24-bit "
                  "significand) represents exactly");
  }
  if (s.format == Format::Int && (s.code_bits < 1 || s.code_bits > kMaxWidth))
    throw Error(who + "n = " + std::to_string(s.code_bits) +
                " bits; expected 1 <= n <= 24 (float32 holds integer codes "
                "exactly up to 2^24)");
}

QuantSpec make_spec(Format format, int i, int f, Ste ste) {
  QuantSpec s;
  s.format = format;
  s.ste = ste;
  if (is_fixed_point(format)) {
    s.int_bits = i;
    s.frac_bits = f;
  } else if (format == Format::Int) {
    if (f != 0)
      throw Error("quantizer int: f width = " + std::to_string(f) +
                  "; expected 0 (int takes its n bits from the i width)");
    s.code_bits = i;
  }
  validate(s);
  return s;
}

QuantSpec make_spec(Format format, int i, int f) {
  return make_spec(format, i, f, default_ste(format));
}

QuantSpec make_spec(const std::string& format_name, int i, int f) {
  return make_spec(parse_format(format_name), i, f);
}

QuantSpec make_twos_spec(int i, int f, bool is_signed, Ste ste) {
  QuantSpec s = make_spec(Format::FixedTwos, i, f, ste);
  s.is_signed = is_signed;
  return s;
}

}  // namespace qat::quant
