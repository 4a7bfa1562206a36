// Transcendental functions over arrays. The activations call tanh for every
// element of every feature map, twice in the ternary tanh, and glibc's
// scalar tanhf took over half of a ternary-tanh training step.
#pragma once
#include <cstdint>

namespace qat {

// y[i] = tanh(x[i]) for i in [0, n). With AVX-512, 16 at a time through
// glibc's vector math library (libmvec, within 4 ulp of tanhf); otherwise
// std::tanh. x and y may be the same array.
void tanh_array(const float* x, float* y, int64_t n);

}  // namespace qat
