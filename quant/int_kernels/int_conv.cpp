// Integer conv2d: im2col on codes, one integer GEMM per image, bias added
// in the accumulator's scale. Letters as in int_conv.h.
#include "quant/int_kernels/int_conv.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include <omp.h>

#include "autograd/check.h"
#include "quant/int_kernels/int_gemm.h"

namespace qat::quant {
namespace {

// col[(c,kh,kw), (oh-oh0,ow)] = x[c, oh*stride-pad+kh, ow*stride-pad+kw] for
// the output rows oh in [oh0, oh1), 0 outside the image. For each col row
// the output columns [lo, hi) read inside the image (the same for every oh);
// rows at stride 1 are then one copy each.
template <class T>
void im2col_codes(T* col, const T* x, const ConvGeometry& g, int64_t oh0, int64_t oh1) {
  const int64_t cols = (oh1 - oh0) * g.OW;  // pixels in this chunk
#pragma omp parallel for collapse(2)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = col + ((c * g.KH + kh) * g.KW + kw) * cols;
        const T* plane = x + c * g.H * g.W;
        const int64_t off = kw - g.pad;  // input column of ow = 0
        // ow*stride + off in [0, W)  <=>  ow in [lo, hi)
        const int64_t lo = std::min(g.OW, std::max<int64_t>(0, (-off + g.stride - 1) / g.stride));
        const int64_t hi = std::max(lo, std::min(g.OW, off >= g.W ? 0 : (g.W - 1 - off) / g.stride + 1));
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          T* dst = row + (oh - oh0) * g.OW;
          if (ih < 0 || ih >= g.H) {
            std::fill_n(dst, g.OW, T(0));
            continue;
          }
          const T* src = plane + ih * g.W + off;  // at ow = 0
          std::fill_n(dst, lo, T(0));
          if (g.stride == 1)
            std::copy(src + lo, src + hi, dst + lo);
          else
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.stride];
          std::fill(dst + hi, dst + g.OW, T(0));
        }
      }
}

// Output rows per chunk: the chunk's col (patch, rows*OW) stays near 1 MiB,
// so it is written and read from cache instead of memory (the whole col of
// up3's first conv at 200x200 would be 69 MB of int8); and at least 4
// chunks per thread per image, so that small layers still share the work.
int64_t rows_per_chunk(const ConvGeometry& g, size_t code_bytes) {
  constexpr int64_t kChunkBytes = int64_t(1) << 20;
  const int64_t row_bytes = g.patch() * g.OW * int64_t(code_bytes);
  const int64_t share = (g.OH + 4 * omp_get_max_threads() - 1) / (4 * omp_get_max_threads());
  return std::clamp<int64_t>(std::min(kChunkBytes / std::max<int64_t>(row_bytes, 1), share),
                             1, g.OH);
}

}  // namespace

// One parallel region: each thread takes chunks of output rows (of any
// image), builds their im2col and multiplies it by the packed weights; the
// im2col and GEMM inside run serially (nested regions are off). One barrier
// per conv, which matters on a shared machine where a descheduled thread
// stalls every barrier.
template <class T>
void conv2d_codes(int32_t* acc, const T* x, const PackedA<T>& w, const int32_t* bias,
                  const ConvGeometry& g) {
  QAT_CHECK(w.M == g.OC && w.K == g.patch(), "conv2d_codes: packed weight (", w.M, ", ",
            w.K, ") does not match OC=", g.OC, " and C*KH*KW=", g.patch());
  const int64_t rows = rows_per_chunk(g, sizeof(T));
  const int64_t per_image = (g.OH + rows - 1) / rows;
#pragma omp parallel
  {
    std::unique_ptr<T[]> col(new T[size_t(g.patch() * rows * g.OW)]);  // uninitialised
#pragma omp for schedule(dynamic)
    for (int64_t chunk = 0; chunk < g.N * per_image; ++chunk) {
      const int64_t n = chunk / per_image, oh0 = (chunk % per_image) * rows;
      const int64_t oh1 = std::min(g.OH, oh0 + rows), cols = (oh1 - oh0) * g.OW;
      im2col_codes(col.get(), x + n * g.C * g.H * g.W, g, oh0, oh1);
      // o (OC, cols; rows pixels apart) = w (OC, patch) * col (patch, cols)
      int32_t* o = acc + n * g.OC * g.pixels() + oh0 * g.OW;
      gemm_packed(o, w, col.get(), cols, /*ldc=*/g.pixels());
      if (bias)
        for (int64_t oc = 0; oc < g.OC; ++oc)
          for (int64_t p = 0; p < cols; ++p)  // wraps mod 2^32, as the GEMM
            o[oc * g.pixels() + p] =
                static_cast<int32_t>(uint32_t(o[oc * g.pixels() + p]) + uint32_t(bias[oc]));
    }
  }
}

template <class T>
void conv2d_codes(int32_t* acc, const T* x, const T* w, const int32_t* bias,
                  const ConvGeometry& g) {
  conv2d_codes(acc, x, pack_a(w, g.OC, g.patch()), bias, g);
}

namespace {

// v.size() >= n: grows, never shrinks, so that a buffer kept between calls
// is allocated (and its pages touched) once.
template <class T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// The rows [ih0, ih0 + R) of the zero-padded image of x (C, H, W) (rows
// from -pad; rows outside the image and the pad columns hold the code 0,
// the value 0), as xw (C, R, Wp): one chunk's window of a part's input.
template <class T>
void pad_window(T* xw, const T* x, const ConvGeometry& g, int64_t C, int64_t ih0,
                int64_t R, int64_t R_stride) {
  const int64_t Wp = g.W + 2 * g.pad;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < R; ++r) {
      T* dst = xw + (c * R_stride + r) * Wp;
      const int64_t ih = ih0 + r;
      if (ih < 0 || ih >= g.H) {
        std::fill_n(dst, Wp, T(0));
        continue;
      }
      std::fill_n(dst, g.pad, T(0));
      std::copy_n(x + (c * g.H + ih) * g.W, g.W, dst + g.pad);
      std::fill_n(dst + g.pad + g.W, g.pad, T(0));
    }
}

// One chunk of conv2d_codes_parts: output rows [oh0, oh1) of image n.
struct RowChunk {
  int64_t n, oh0, oh1;
};

// Each image's rows in chunks of at most `rows`, shrinking towards the end
// as OpenMP's guided schedule does (a chunk is at most the rows left over
// twice the threads, and at least 2 rows), handed out dynamically in this
// order: the threads then finish a layer within a small chunk of each
// other. With equal chunks (at least 4 per thread) a thread waited for
// its partner's last chunk, on average half a chunk: 2 threads at 200x200
// spent 4-5% of the engine in libgomp's barrier.
std::vector<RowChunk> row_chunks(int64_t N, int64_t OH, int64_t rows, int threads) {
  std::vector<RowChunk> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh0 = 0; oh0 < OH;) {
      const int64_t left = OH - oh0;
      const int64_t take = std::min({rows, left, std::max<int64_t>(
                                                       2, (left + 2 * threads - 1) / (2 * threads))});
      out.push_back({n, oh0, oh0 + take});
      oh0 += take;
    }
  return out;
}

}  // namespace

// Each chunk of output rows [oh0, oh1) reads the window of input rows
// [oh0 - pad, oh1 - pad + KH - 1), zero-padded to Wp = W + 2 pad columns.
// Read as one flat row per channel, the window holds output pixel
// (oh0 + r, ow) at q = r*Wp + ow and its tap (c, kh, kw) at
// window[c][q + kh*Wp + kw]: every im2col row is one contiguous slice of
// the window, handed to the GEMM as a pointer (gemm_packed_rows), so the
// 9x larger im2col is never built. The Wp - OW columns past each output row
// are computed and dropped: 1% of the work at 200 wide, 8% at 25.
void conv2d_codes_parts(const std::vector<ConvPart>& parts, const int32_t* bias,
                        const ConvGeometry& g, const ConvEpilogue& epilogue) {
  QAT_CHECK(!parts.empty(), "conv2d_codes_parts: no input");
  const int64_t Wp = g.W + 2 * g.pad;
  QAT_CHECK(g.stride == 1 && g.OH == g.H + 2 * g.pad - g.KH + 1 && g.OW == Wp - g.KW + 1,
            "conv2d_codes_parts: stride 1 and a ", g.OH, "x", g.OW, " output expected from ",
            g.H, "x", g.W, " with pad ", g.pad, ", kernel ", g.KH, "x", g.KW);
  // Output rows per chunk: at least 4 chunks per thread per image, so that
  // small layers still share the work, and the chunk's accumulators
  // (OC x rows x Wp int32) near 512 KiB: fewer rows spend more on the
  // window's KH - 1 extra rows and on the last, partly empty panel of 64
  // columns (measured: 128 KiB made the integer part 30% slower, 256 KiB
  // 7%, 1 MiB the same).
  const int64_t share = (g.OH + 4 * omp_get_max_threads() - 1) / (4 * omp_get_max_threads());
  const int64_t rows = std::clamp<int64_t>(
      std::min((int64_t(1) << 19) / std::max<int64_t>(g.OC * Wp * 4, 1), share), 1, g.OH);
  const std::vector<RowChunk> chunks = row_chunks(g.N, g.OH, rows, omp_get_max_threads());
  const int64_t most = rows * Wp;
  const int64_t R = rows + g.KH - 1;  // window rows
  // Each part's im2col rows as offsets into its window.
  std::vector<std::vector<int64_t>> offsets;
  size_t window_bytes = 0;
  for (const ConvPart& part : parts) {
    QAT_CHECK((part.x8 && part.w8 && !part.x16) || (part.x16 && part.w16 && !part.x8),
              "conv2d_codes_parts: a part needs codes and weights of one type");
    QAT_CHECK(part.more.empty() || part.x8, "conv2d_codes_parts: further inputs need int8");
    int64_t C = part.C;  // all inputs of the part
    for (const ConvPart::More& m : part.more) C += m.C;
    const int64_t M = part.w8 ? part.w8->M : part.w16->M;
    const int64_t K = part.w8 ? part.w8->K : part.w16->K;
    QAT_CHECK(M == g.OC && K == C * g.KH * g.KW, "conv2d_codes_parts: packed weight (",
              M, ", ", K, ") does not match OC=", g.OC, " and C*KH*KW=", C * g.KH * g.KW);
    QAT_CHECK(part.shift >= 0 && part.shift < 31, "conv2d_codes_parts: shift ", part.shift);
    std::vector<int64_t>& o = offsets.emplace_back();
    for (int64_t c = 0; c < C; ++c)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) o.push_back((c * R + kh) * Wp + kw);
    window_bytes = std::max(window_bytes, size_t(C * R * Wp) * (part.x8 ? 1 : 2));
  }
#pragma omp parallel
  {
    // Per thread, kept between calls (OpenMP's threads persist): a fresh
    // megabyte per thread per conv came from mmap, and its page faults cost
    // 11-16 ms of a 2-thread forward at 200x200.
    thread_local std::vector<int16_t> window;
    thread_local std::vector<int32_t> part_acc, acc;
    grow(window, window_bytes / 2 + 1);
    grow(part_acc, size_t(g.OC * most));
    grow(acc, size_t(g.OC * rows * g.OW));
#pragma omp for schedule(dynamic)
    for (const RowChunk& chunk : chunks) {
      const int64_t n = chunk.n, oh0 = chunk.oh0, oh1 = chunk.oh1;
      const int64_t cols = (oh1 - oh0 - 1) * Wp + g.OW;  // the last row's junk left out
      for (size_t i = 0; i < parts.size(); ++i) {
        const ConvPart& part = parts[i];
        const int64_t stride = part.image_stride ? part.image_stride : part.C * g.H * g.W;
        const int64_t filled = oh1 - oh0 + g.KH - 1;  // R, or fewer in the last chunk
        // part_acc (OC, cols) = w (OC, patch) * im2col (patch, cols)
        if (part.x8) {
          auto* w8 = reinterpret_cast<int8_t*>(window.data());
          pad_window(w8, part.x8 + n * stride, g, part.C, oh0 - g.pad, filled, R);
          int8_t* next = w8 + part.C * R * Wp;  // the further inputs' channels after it
          for (const ConvPart::More& m : part.more) {
            const int64_t s = m.image_stride ? m.image_stride : m.C * g.H * g.W;
            pad_window(next, m.x8 + n * s, g, m.C, oh0 - g.pad, filled, R);
            next += m.C * R * Wp;
          }
          gemm_packed_rows(part_acc.data(), *part.w8, w8, offsets[i].data(), cols);
        } else {
          pad_window(window.data(), part.x16 + n * stride, g, part.C, oh0 - g.pad, filled, R);
          gemm_packed_rows(part_acc.data(), *part.w16, window.data(), offsets[i].data(), cols);
        }
        // acc (OC, rows*OW) = (part_acc << shift) + bias for the first part,
        // += part_acc << shift for the others; junk columns dropped; mod
        // 2^32, as the GEMM
        const uint32_t s = uint32_t(part.shift);
        for (int64_t oc = 0; oc < g.OC; ++oc) {
          const uint32_t b = i == 0 && bias ? uint32_t(bias[oc]) : 0u;
          for (int64_t r = 0; r < oh1 - oh0; ++r) {
            const int32_t* src = part_acc.data() + oc * cols + r * Wp;
            int32_t* dst = acc.data() + (oc * (oh1 - oh0) + r) * g.OW;
            if (i == 0)
              for (int64_t w = 0; w < g.OW; ++w) dst[w] = int32_t((uint32_t(src[w]) << s) + b);
            else
              for (int64_t w = 0; w < g.OW; ++w)
                dst[w] = int32_t(uint32_t(dst[w]) + (uint32_t(src[w]) << s));
          }
        }
      }
      epilogue(acc.data(), n, oh0, oh1);
    }
  }
}

template <class T>
void conv2d_codes_naive(int32_t* acc, const T* x, const T* w,
                             const int32_t* bias, const ConvGeometry& g) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t s = bias ? bias[oc] : 0;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = oh * g.stride - g.pad + kh;
                const int64_t iw = ow * g.stride - g.pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                s += int64_t(x[((n * g.C + c) * g.H + ih) * g.W + iw]) *
                     w[((oc * g.C + c) * g.KH + kh) * g.KW + kw];
              }
          acc[((n * g.OC + oc) * g.OH + oh) * g.OW + ow] = static_cast<int32_t>(s);
        }
}

int32_t bias_code(float bias, int frac_bits) {
  // bias * 2^f is exact in double (a float times a power of two), and so is
  // nearbyint (ties to even under the default rounding mode).
  const double scaled = std::nearbyint(std::ldexp(double(bias), frac_bits));
  if (!std::isfinite(scaled) || scaled < -2147483648.0 || scaled > 2147483647.0)
    throw Error(detail::concat("integer conv: bias ", bias, " at ", frac_bits,
                               " fraction bits is the code ", scaled,
                               ", expected a code within int32"));
  return int32_t(scaled);
}

void conv2d_codes_wide(int64_t* acc, const int32_t* x, const int32_t* w, int shift,
                       const ConvGeometry& g) {
  QAT_CHECK(shift >= 0 && shift < 31, "conv2d_codes_wide: shift ", shift);
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.OC; ++oc) {
      int64_t* out = acc + (n * g.OC + oc) * g.pixels();
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const int64_t wv =
                int64_t(w[((oc * g.C + c) * g.KH + kh) * g.KW + kw]) * (int64_t(1) << shift);
            if (wv == 0) continue;
            const int32_t* plane = x + (n * g.C + c) * g.H * g.W;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * g.stride - g.pad + kh;
              if (ih < 0 || ih >= g.H) continue;
              const int32_t* row = plane + ih * g.W;
              int64_t* o = out + oh * g.OW;
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                const int64_t iw = ow * g.stride - g.pad + kw;
                if (iw >= 0 && iw < g.W) o[ow] += wv * row[iw];
              }
            }
          }
    }
}

int32_t bias_code_scaled(float bias, float scale, int frac_bits) {
  if (!(scale > 0.0f) || !std::isfinite(scale))
    throw Error(detail::concat("integer conv: weight scale ", scale, ", expected > 0"));
  const double scaled = std::nearbyint(std::ldexp(double(bias) / double(scale), frac_bits));
  if (!std::isfinite(scaled) || scaled < -2147483648.0 || scaled > 2147483647.0)
    throw Error(detail::concat("integer conv: bias ", bias, " over weight scale ", scale,
                               " at ", frac_bits, " fraction bits is the code ", scaled,
                               ", expected a code within int32"));
  return int32_t(scaled);
}

template void conv2d_codes<int8_t>(int32_t*, const int8_t*, const int8_t*,
                                   const int32_t*, const ConvGeometry&);
template void conv2d_codes<int16_t>(int32_t*, const int16_t*, const int16_t*,
                                    const int32_t*, const ConvGeometry&);
template void conv2d_codes<int8_t>(int32_t*, const int8_t*, const PackedA<int8_t>&,
                                   const int32_t*, const ConvGeometry&);
template void conv2d_codes<int16_t>(int32_t*, const int16_t*, const PackedA<int16_t>&,
                                    const int32_t*, const ConvGeometry&);
template void conv2d_codes_naive<int8_t>(int32_t*, const int8_t*, const int8_t*,
                                         const int32_t*, const ConvGeometry&);
template void conv2d_codes_naive<int16_t>(int32_t*, const int16_t*, const int16_t*,
                                          const int32_t*, const ConvGeometry&);

}  // namespace qat::quant
