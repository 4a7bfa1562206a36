#include "autograd/vector_math.h"

#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
// libmvec's 16-lane tanhf, named by the x86-64 vector function ABI
// ('e' = AVX-512, 'N' = unmasked, 16 lanes, 'v' = one vector argument).
extern "C" __m512 _ZGVeN16v_tanhf(__m512 x);
#endif

namespace qat {

void tanh_array(const float* x, float* y, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_tanhf(_mm512_loadu_ps(x + i)));
  if (i < n) {  // the last partial vector, through masked loads and stores
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _ZGVeN16v_tanhf(_mm512_maskz_loadu_ps(m, x + i)));
    return;
  }
#endif
  for (; i < n; ++i) y[i] = std::tanh(x[i]);
}

}  // namespace qat
