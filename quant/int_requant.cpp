// Requantisation by multiplier, offset and shift; see int_requant.h.
#include "quant/int_requant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/check.h"

namespace qat::quant {
namespace {

// The smallest s >= 0 with x * 2^s an integer (x a finite float).
int exact_shift(float x) {
  if (x == 0.0f) return 0;
  int e = 0;
  const float m = std::frexp(x, &e);  // |m| in [0.5, 1), x = m * 2^e
  int64_t mant = int64_t(std::ldexp(double(m), 24));  // x = mant * 2^(e-24)
  int low = e - 24;                                    // exponent of mant's unit
  while (mant % 2 == 0) mant /= 2, ++low;
  return std::max(0, -low);
}

int top_exponent(float x) {  // |x| < 2^e
  int e = 0;
  std::frexp(x, &e);
  return e;
}

}  // namespace

Requant requant_from_affine(float a, float b) {
  if (!std::isfinite(a) || !std::isfinite(b))
    throw Error(detail::concat("requantisation: scale ", a, " and offset ", b,
                               " must be finite"));
  int s_max = 62;
  if (a != 0.0f) s_max = std::min(s_max, 30 - top_exponent(a));
  if (b != 0.0f) s_max = std::min(s_max, 61 - top_exponent(b));
  if (s_max < 0)
    throw Error(detail::concat("requantisation: scale ", a, " or offset ", b,
                               " too large for an int32 multiplier (expected "
                               "|scale| < 2^30, |offset| < 2^61)"));
  const int s = std::min(std::max(exact_shift(a), exact_shift(b)), s_max);
  const double ma = std::ldexp(double(a), s), mb = std::ldexp(double(b), s);
  Requant r;
  r.shift = s;
  r.multiplier = int32_t(std::nearbyint(ma));  // |ma| < 2^30: exact per the header
  r.offset = int64_t(std::nearbyint(mb));      // |mb| < 2^61
  r.exact = double(r.multiplier) == ma && double(r.offset) == mb;
  return r;
}

int64_t round_shift_half_even(int64_t x, int s) {
  QAT_CHECK(s >= 0 && s <= 62, "round_shift_half_even: shift ", s, " outside 0..62");
  if (s == 0) return x;
  const int64_t q = x >> s;             // floor(x / 2^s): arithmetic shift (C++20)
  const int64_t r = x - q * (int64_t(1) << s);  // in [0, 2^s)
  const int64_t half = int64_t(1) << (s - 1);
  return (r > half || (r == half && (q & 1))) ? q + 1 : q;
}

int32_t requantise(int32_t acc, const Requant& r, int32_t lo, int32_t hi) {
  const int64_t y = round_shift_half_even(int64_t(acc) * r.multiplier + r.offset, r.shift);
  return int32_t(std::clamp<int64_t>(y, lo, hi));
}

// |y| * 2^f = X / 2^shift with X = |acc*M + offset|. Integer part of |y|:
// floor(X / 2^(shift+f)); fraction code: the rest, X mod 2^(shift+f), rounded
// to f bits (half to even), which may carry to 2^f.
int32_t requantise_sign_magnitude(int32_t acc, const Requant& r, int i, int f,
                                  bool gm_code) {
  QAT_CHECK(i >= 0 && f >= 0 && i + f <= 24 && r.shift + f <= 62,
            "requantise_sign_magnitude: Q", i, ".", f, " with shift ", r.shift);
  const int64_t x = int64_t(acc) * r.multiplier + r.offset;
  const int64_t X = x < 0 ? -x : x;
  const int total = r.shift + f;  // fraction bits of X as a value of |y|
  const int64_t int_part = X >> total;
  const int64_t frac = X - (int_part << total);  // |y|'s fraction * 2^total
  int64_t frac_code = round_shift_half_even(frac, r.shift);  // 0 .. 2^f
  // The GM code clamps the fraction to [0, 2^f - 1] BEFORE rounding: at
  // f >= 1 the fraction is below 1 anyway (no effect, the carry stays), at
  // f = 0 it becomes 0: Q(i.0) truncates.
  if (gm_code && f == 0) frac_code = 0;
  const int64_t mag = std::min(int_part, (int64_t(1) << i) - 1) * (int64_t(1) << f) + frac_code;
  return int32_t(x < 0 ? -mag : mag);
}

namespace {
// out[n, c, p] = rq(acc[n, c, p], r[c]) over (N, C, P)
template <class T, class Rq>
void per_channel(T* out, const int32_t* acc, int64_t N, int64_t C, int64_t P,
                 const Requant* r, Rq rq) {
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const Requant rc = r[c];
      const int64_t base = (n * C + c) * P;
      for (int64_t p = 0; p < P; ++p) out[base + p] = T(rq(acc[base + p], rc));
    }
}

template <class T>
void check_fits(int64_t lo, int64_t hi, const char* what) {
  QAT_CHECK(lo <= hi && lo >= std::numeric_limits<T>::min() &&
                hi <= std::numeric_limits<T>::max(),
            what, ": codes [", lo, ", ", hi, "] do not fit a ", sizeof(T) * 8, "-bit integer");
}
}  // namespace

template <class T>
void requantise_channels(T* out, const int32_t* acc, int64_t N, int64_t C, int64_t P,
                         const Requant* r, int32_t lo, int32_t hi) {
  check_fits<T>(lo, hi, "requantise_channels");
  per_channel(out, acc, N, C, P, r,
              [lo, hi](int32_t a, const Requant& rc) { return requantise(a, rc, lo, hi); });
}

template <class T>
void requantise_channels_sign_magnitude(T* out, const int32_t* acc, int64_t N, int64_t C,
                                        int64_t P, const Requant* r, int i, int f,
                                        bool gm_code) {
  const int64_t top = int64_t(1) << std::min(i + f, 40);
  check_fits<T>(-top, top, "requantise_channels_sign_magnitude");
  per_channel(out, acc, N, C, P, r, [i, f, gm_code](int32_t a, const Requant& rc) {
    return requantise_sign_magnitude(a, rc, i, f, gm_code);
  });
}

template void requantise_channels<int8_t>(int8_t*, const int32_t*, int64_t, int64_t,
                                         int64_t, const Requant*, int32_t, int32_t);
template void requantise_channels<int16_t>(int16_t*, const int32_t*, int64_t, int64_t,
                                          int64_t, const Requant*, int32_t, int32_t);
template void requantise_channels_sign_magnitude<int8_t>(int8_t*, const int32_t*, int64_t,
                                                         int64_t, int64_t, const Requant*,
                                                         int, int, bool);
template void requantise_channels_sign_magnitude<int16_t>(int16_t*, const int32_t*, int64_t,
                                                          int64_t, int64_t, const Requant*,
                                                          int, int, bool);

}  // namespace qat::quant
