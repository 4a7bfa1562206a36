// What a quantizer is: a format, its widths, and its straight-through
// estimator. Everything in quant/ takes a QuantSpec built (and validated) by
// make_spec; quantize.h applies it to a tensor.
//
// Formats (one file each, read them top to bottom):
//   none        identity, float32                        quantize.cpp
//   fixed       Q(i.f) sign-magnitude, paper eq. (1)-(3)   fixed.cpp
//   fixed_gm    the same as the released GM code runs it  fixed.cpp
//               (differs only at f = 0: truncates instead of rounding)
//   fixed_pow2  the EM code's FIXED: nearest power of two,  fixed_pow2.cpp
//               clamped to +-(2^(i-1) + 1 - 2^-f)
//   fixed_twos  Q(i.f) two's complement, as integer        fixed_twos.cpp
//               hardware stores it (i counts the sign bit)
//   int         min-max over the tensor to n-bit codes     int.cpp
//   binary      sign(x) * H                                binary.cpp
//   ternary     TWN per output channel: {-a, 0, +a}        ternary.cpp
//
// Storage bits, bits():
//   fixed, fixed_gm, fixed_pow2  1 + i + f  (sign + magnitude bits)
//   fixed_twos                   i + f      (i includes the sign bit)
//   int                          n
//   binary 1, ternary 2, none 32
// The paper's "size MB" column is NOT bits(): it multiplies every parameter
// by the WEIGHT format's i + f (16 for Q8.8, 8 for Q0.8, 4 for Q0.4, 2 for
// Q0.2), i.e. bits() - 1 for sign-magnitude, forgetting the sign bit; see
// paper_bits() and model_size.h.
// Note that sign-magnitude fixed can produce one level more than 1 + i + f
// bits hold: fraction rounding carries into the integer part, so Q0.4
// reaches +-1.0 and has 33 levels, not 32 (fixed.cpp). bits() is the
// nominal width the paper means; a device storing it must saturate the carry
// (which fixed_twos does).
#pragma once
#include <string>
#include <vector>

namespace qat::quant {

enum class Format { None, Fixed, FixedGm, FixedPow2, FixedTwos, Int, Binary, Ternary };

// The straight-through estimator of the backward. Identity passes the
// gradient unchanged; Clipped passes it only where the input lies inside the
// format's representable range (each format file says what that range is).
enum class Ste { Identity, Clipped };

// The widest format whose every level float32 holds exactly: its 24-bit
// significand (23 stored + 1 implicit) holds the integers up to 2^24, and a
// Q(i.f) level is an integer j (|j| <= 2^(i+f)) times 2^-f.
inline constexpr int kMaxWidth = 24;

struct QuantSpec {
  Format format = Format::None;
  int int_bits = 0;   // fixed*: i, integer bits (twos: including the sign)
  int frac_bits = 0;  // fixed*: f, fraction bits
  int code_bits = 0;  // int: n, the width of the code
  bool is_signed = true;  // fixed_twos only: signed (two's complement) or not
  Ste ste = Ste::Identity;

  // "none", "Q6.0", "Q6.0 GM code", "Q8.8 pow2", "Q0.4 two's complement",
  // "UQ4.0 unsigned", "int8", "binary", "ternary"
  std::string name() const;
  int bits() const;        // storage bits of one value, table above
  int paper_bits() const;  // bits the paper's size column charges per value
};

// Format from a config name, case-insensitive. The paper's YAML names:
// FIXED (-> fixed), INT, BNN (-> binary), Ternary, Normal (-> none); ours:
// fixed, fixed_gm, fixed_pow2, fixed_twos, int, binary, ternary, none.
// Throws qat::Error listing the known names.
Format parse_format(const std::string& name);
const char* format_key(Format f);  // our name: "fixed_pow2", ...

// The STE the released code uses: Clipped for binary (BNN's |x| <= 1),
// Identity for the others.
Ste default_ste(Format f);

// Builds and validates a spec. i and f are the config's *_i_width and
// *_f_width: fixed* use both; int takes n = i and insists on f = 0 (the
// released code ignores f for INT; we refuse rather than guess); binary,
// ternary and none ignore both, as the paper's README says.
QuantSpec make_spec(Format format, int i, int f, Ste ste);
QuantSpec make_spec(Format format, int i = 0, int f = 0);  // default_ste
QuantSpec make_spec(const std::string& format_name, int i, int f);
QuantSpec make_twos_spec(int i, int f, bool is_signed, Ste ste = Ste::Identity);

// Throws qat::Error naming the spec, the bad value and what was expected:
// negative widths, i = f = 0, i + f (or n) > kMaxWidth, n = 0.
void validate(const QuantSpec& spec);

}  // namespace qat::quant
