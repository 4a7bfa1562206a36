// Winograd convolution F(m x m, 3x3) (Lavin and Gray, CVPR 2016), m = 2 or
// 4, for 3x3 kernels, stride 1, pad 1: the shape of every U-Net
// convolution. The transforms and their matrices are in
// winograd_transforms.h.
//
// The output is cut into m x m tiles; tile (ty, tx) of image n reads the
// a x a input patch d (a = m + 2) whose top-left pixel is (m ty-1, m tx-1),
// zeros outside. Per tile and pair of channels
//   y (m x m) = A^T [ (G w G^T) ⊙ (B^T d B) ] A
// takes a^2 multiplications where the direct form takes 9 m^2: per output
// pixel 4 for F(2x2), 2.25 for F(4x4), against 9. Summed over input
// channels, the a^2 elementwise products become a^2 GEMMs, one per position
// xi of the transformed tile:
//   U[xi] (OC,C) = (G w G^T)[xi]      V[xi] (C,T) = (B^T d B)[xi]
//   M[xi] (OC,T) = U[xi] * V[xi]      y = A^T M A (+ bias)
// with T tiles. Every step is linear, so the backward is its exact adjoint:
//   dM = A dy A^T
//   dU[xi] = dM[xi] * V[xi]^T,  dw += G^T dU G
//   dV[xi] = U[xi]^T * dM[xi],  dx += B dV B^T  (patches overlap: scatter-add)
// All three passes save the same share of multiplications, at the price of
// the transforms, which only read and write memory. F(4x4) saves more but
// rounds more (its matrices hold 4, 5, 8 and 1/24) and wastes more lanes
// and padding on small images; ops_conv.cpp picks m.
//
// Tiles are counted over the whole batch in tile rows of TW tiles (N*TH rows)
// and processed a chunk of rows at a time, so that V and M stay near
// kChunkBytes however large the batch. Each thread takes whole chunks:
// transforms and a^2 single-threaded GEMMs (gemm::sgemm, autograd/gemm/),
// with one parallel region per pass. Many small
// multi-threaded GEMMs instead would meet at a barrier each time, and on a
// shared machine every barrier waits for a thread that lost its core.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "autograd/check.h"
#include "autograd/conv_kernels.h"
#include "autograd/gemm/sgemm.h"
#include "autograd/storage.h"
#include "autograd/work_parts.h"
#include "autograd/winograd_transforms.h"

namespace qat {
namespace {

using namespace winograd;

constexpr size_t kChunkBytes = size_t(4) << 20;  // per thread

// ---- tiling
template <int m>
struct Tiling {
  static constexpr int a = m + 2, kXi = a * a;  // a^2 GEMMs
  int64_t TH, TW, rows;  // tiles down and across an image; N*TH tile rows
  int64_t blocks;        // blocks of L tiles across a row (the last partial)
  explicit Tiling(const ConvGeometry& g)
      : TH((g.OH + m - 1) / m),
        TW((g.OW + m - 1) / m),
        rows(g.N * TH),
        blocks((TW + L - 1) / L) {}
};

// The layout of one chunk of transformed tiles, (a^2, channels, tiles): the
// a^2 planes start `stride` floats apart. One cache line more than packed,
// so that the planes, written side by side, do not all fall into the same
// cache set when channels*tiles*4 bytes is a multiple of 4 KiB.
struct Planes {
  int64_t tiles, stride;
  Planes(int64_t channels, int64_t tiles) : tiles(tiles), stride(channels * tiles + L) {}
};

// Tile rows per chunk: as asked, or so that each thread's V (a^2,C,tiles)
// and M (a^2,OC,tiles) together take about kChunkBytes and every thread
// gets several chunks (the machine is shared: a thread that lost its core
// should not hold the others up).
template <int m>
int64_t rows_per_chunk(const ConvGeometry& g, const Tiling<m>& t, int64_t asked) {
  const size_t row_bytes = t.kXi * sizeof(float) * size_t((g.C + g.OC) * t.TW);
  const int64_t spread = (t.rows + 4 * work_parts() - 1) / (4 * work_parts());
  const int64_t rows =
      asked > 0 ? asked : std::min(int64_t(kChunkBytes / row_bytes), spread);
  return std::clamp<int64_t>(rows, 1, std::max<int64_t>(t.rows, 1));
}

// U[xi][oc][c] = (G w[oc,c] G^T)[xi]
template <int m>
void weight_transform(float* U, const float* w, const ConvGeometry& g) {
  constexpr int a = m + 2;
  const int64_t pairs = g.OC * g.C;
#pragma omp parallel for
  for (int64_t p = 0; p < pairs; ++p) {
    float u[a][a];
    weight_tile<m>(u, w + 9 * p);
    for (int xi = 0; xi < a * a; ++xi) U[xi * pairs + p] = u[xi / a][xi % a];
  }
}

// dw[oc,c] += G^T dU[.][oc][c] G
template <int m>
void weight_transform_adjoint(float* dw, const float* dU, const ConvGeometry& g) {
  constexpr int a = m + 2;
  const int64_t pairs = g.OC * g.C;
#pragma omp parallel for
  for (int64_t p = 0; p < pairs; ++p) {
    float du[a][a];
    for (int xi = 0; xi < a * a; ++xi) du[xi / a][xi % a] = dU[xi * pairs + p];
    weight_tile_adjoint<m>(dw + 9 * p, du);
  }
}

// Stores the L lanes of each of the a^2 elements of a tile block into its
// plane (the first n lanes: the last block of a row may be partial).
// (Full blocks get a loop of constant length: one vector store each.)
template <int m>
inline void store_block(float* dst, int64_t stride, const Tile<m>& v, int64_t n) {
  constexpr int a = m + 2;
  for (int i = 0; i < a; ++i)
    for (int j = 0; j < a; ++j) {
      float* d = dst + (i * a + j) * stride;
      if (n == L)
        for (int l = 0; l < L; ++l) d[l] = v[i][j][l];
      else
        for (int64_t l = 0; l < n; ++l) d[l] = v[i][j][l];
    }
}

// The inverse: lanes past n read as 0.
template <int m>
inline void load_block(Tile<m>& v, const float* src, int64_t stride, int64_t n) {
  constexpr int a = m + 2;
  for (int i = 0; i < a; ++i)
    for (int j = 0; j < a; ++j) {
      const float* s = src + (i * a + j) * stride;
      if (n == L)
        for (int l = 0; l < L; ++l) v[i][j][l] = s[l];
      else
        for (int l = 0; l < L; ++l) v[i][j][l] = l < n ? s[l] : 0.0f;
    }
}

// ---- rows split by column mod m. A tile reads columns m tx .. m tx + m + 1
// of its (padded) rows; column m tx + j is phase j % m at index tx + j / m,
// so L tiles read a contiguous vectors per row, and the rows lie `stride`
// floats apart: the column transforms read them in place. The virtual row
// r has r[k] = src[k - shift] for k - shift in [0, n) and 0 elsewhere
// (shift 1: the padding column in front).
template <int m>
struct SplitRows {
  int64_t len, stride;      // entries per phase; floats per row (m phases)
  std::vector<float> data;  // row i, phase p at data[i * stride + p * len]
  SplitRows(const Tiling<m>& t, int count)
      : len(t.blocks * L + 1), stride(m * len), data(size_t(count * stride)) {}

  float* phase(int i, int p) { return data.data() + i * stride + p * len; }
  const float* phase(int i, int p) const { return data.data() + i * stride + p * len; }
  void zero(int i) { std::fill_n(phase(i, 0), stride, 0.0f); }
  // Rows `from` and `from + 1` become rows 0 and 1 (tile rows overlap by two).
  void carry(int from) { std::copy_n(phase(from, 0), 2 * stride, phase(0, 0)); }

  // The e whose m columns all lie inside src: [lo, hi). The loops over them
  // run without a test (so that they vectorise); the few columns outside
  // are handled one by one.
  static int64_t lo(int shift) { return (shift + m - 1) / m; }
  static int64_t hi(int64_t n, int shift) { return std::max(lo(shift), (n + shift) / m); }

  // phase(i, p)[e] = r[m e + p]
  void split(int i, const float* src, int64_t n, int shift) {
    const int64_t e0 = lo(shift), e1 = hi(n, shift);
    float* ph[m];
    for (int p = 0; p < m; ++p) ph[p] = phase(i, p);
    for (int64_t e = e0; e < e1; ++e)
      for (int p = 0; p < m; ++p) ph[p][e] = src[m * e + p - shift];
    auto edge = [&](int64_t e) {
      for (int p = 0; p < m; ++p) {
        const int64_t k = m * e + p - shift;
        ph[p][e] = k >= 0 && k < n ? src[k] : 0.0f;
      }
    };
    for (int64_t e = 0; e < e0; ++e) edge(e);
    for (int64_t e = e1; e < len; ++e) edge(e);
  }

  // dst[x] = r[x + shift] + bias, or dst[x] += r[x + shift], for x in [0, n)
  void merge(int i, float* dst, int64_t n, int shift, float bias, bool add) const {
    const int64_t e0 = lo(shift), e1 = hi(n, shift);
    const float* ph[m];
    for (int p = 0; p < m; ++p) ph[p] = phase(i, p);
    if (add)
      for (int64_t e = e0; e < e1; ++e)
        for (int p = 0; p < m; ++p) dst[m * e + p - shift] += ph[p][e];
    else
      for (int64_t e = e0; e < e1; ++e)
        for (int p = 0; p < m; ++p) dst[m * e + p - shift] = ph[p][e] + bias;
    // the columns the loops missed: fewer than m at each end
    auto edge = [&](int64_t x) {
      const int64_t k = x + shift;
      const float v = ph[k % m][k / m];
      dst[x] = add ? dst[x] + v : v + bias;
    };
    const int64_t x0 = std::min(n, m * e0 - shift), x1 = std::max(x0, m * e1 - shift);
    for (int64_t x = 0; x < x0; ++x) edge(x);
    for (int64_t x = x1; x < n; ++x) edge(x);
  }
};

// V[xi][c][i] = (B^T d B)[xi] for tile i of the chunk of tile rows
// [r0, r0+nr) and its input patch d in channel c. A tile row reads input
// rows y0..y0+a-1 (y0 = m ty - 1), zeros outside.
template <int m>
void input_transform(float* V, const float* x, const ConvGeometry& g,
                     const Tiling<m>& t, int64_t r0, int64_t nr) {
  constexpr int a = m + 2;
  const Planes p(g.C, nr * t.TW);
  SplitRows<m> rows(t, a);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = m * (r % t.TH) - 1;
      const float* plane = x + (n * g.C + c) * g.H * g.W;
      // Tile rows overlap by two input rows: the bottom two of the tile
      // row above are this one's top two.
      const bool carried = r > r0 && r % t.TH != 0;
      if (carried) rows.carry(m);
      for (int i = carried ? 2 : 0; i < a; ++i) {
        if (y0 + i >= 0 && y0 + i < g.H)
          rows.split(i, plane + (y0 + i) * g.W, g.W, /*shift=*/1);
        else
          rows.zero(i);
      }
      float* v0 = V + c * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        const float* col[a];
        for (int j = 0; j < a; ++j) col[j] = rows.phase(0, j % m) + b * L + j / m;
        Tile<m> v;
        input_tile<m>(v, col, int(rows.stride));
        store_block<m>(v0 + b * L, p.stride, v, std::min<int64_t>(L, t.TW - b * L));
      }
    }
}

// dx += B dV B^T scattered back onto each tile's patch: the adjoint of
// input_transform, accumulated in split rows and added into dx row by row.
template <int m>
void input_transform_adjoint(float* dx, const float* dV, const ConvGeometry& g,
                             const Tiling<m>& t, int64_t r0, int64_t nr) {
  constexpr int a = m + 2;
  const Planes p(g.C, nr * t.TW);
  SplitRows<m> rows(t, a);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = m * (r % t.TH) - 1;
      float* plane = dx + (n * g.C + c) * g.H * g.W;
      // The top two rows continue the sums of the tile row above (its
      // bottom two, not yet added into dx).
      const bool carried = r > r0 && r % t.TH != 0;
      if (carried) rows.carry(m);
      for (int i = carried ? 2 : 0; i < a; ++i) rows.zero(i);
      const float* v0 = dV + c * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        Tile<m> v, d;
        load_block<m>(v, v0 + b * L, p.stride, std::min<int64_t>(L, t.TW - b * L));
        input_tile_adjoint<m>(d, v);
        // one loop per column j: the last two columns of a tile are the
        // first two of the next
        for (int i = 0; i < a; ++i)
          for (int j = 0; j < a; ++j) {
            float* s = rows.phase(i, j % m) + b * L + j / m;
            for (int l = 0; l < L; ++l) s[l] += d[i][j][l];
          }
      }
      const bool next_carries = r + 1 < r0 + nr && (r + 1) % t.TH != 0;
      for (int i = 0; i < (next_carries ? m : a); ++i)
        if (y0 + i >= 0 && y0 + i < g.H)
          rows.merge(i, plane + (y0 + i) * g.W, g.W, /*shift=*/1, 0.0f, /*add=*/true);
    }
}

// out tiles = A^T M A + bias, for the chunk's tiles: output column m tx + j
// is phase j of the split row.
template <int m>
void output_transform(float* out, const float* M, const float* bias,
                      const ConvGeometry& g, const Tiling<m>& t, int64_t r0,
                      int64_t nr) {
  const Planes p(g.OC, nr * t.TW);
  SplitRows<m> rows(t, m);
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = m * (r % t.TH);
      float* plane = out + (n * g.OC + oc) * g.OH * g.OW;
      const float* m0 = M + oc * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        Tile<m> x;
        load_block<m>(x, m0 + b * L, p.stride, std::min<int64_t>(L, t.TW - b * L));
        float* row[m];
        for (int i = 0; i < m; ++i) row[i] = rows.phase(i, 0) + b * L;
        output_tile<m>(row, int(rows.len), x);
      }
      const float bo = bias ? bias[oc] : 0.0f;
      for (int i = 0; i < m && y0 + i < g.OH; ++i)
        rows.merge(i, plane + (y0 + i) * g.OW, g.OW, /*shift=*/0, bo, /*add=*/false);
    }
}

// dM = A dy A^T for the chunk's tiles, dy the m x m of dout (0 outside).
template <int m>
void output_transform_adjoint(float* dM, const float* dout, const ConvGeometry& g,
                              const Tiling<m>& t, int64_t r0, int64_t nr) {
  const Planes p(g.OC, nr * t.TW);
  SplitRows<m> rows(t, m);
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = m * (r % t.TH);
      const float* plane = dout + (n * g.OC + oc) * g.OH * g.OW;
      for (int i = 0; i < m; ++i) {
        if (y0 + i < g.OH)
          rows.split(i, plane + (y0 + i) * g.OW, g.OW, /*shift=*/0);
        else
          rows.zero(i);
      }
      float* m0 = dM + oc * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        const float* col[m];
        for (int j = 0; j < m; ++j) col[j] = rows.phase(0, j) + b * L;
        Tile<m> x;
        output_tile_adjoint<m>(x, col, int(rows.stride));
        store_block<m>(m0 + b * L, p.stride, x, std::min<int64_t>(L, t.TW - b * L));
      }
    }
}

// C[xi] = op(A[xi]) * op(B[xi]) (+ C[xi] if accumulate) for the `count` xi;
// op(A) is (M,K), stored transposed if ta; op(B) is (K,N); C is (M,N).
// sa, sb, sc: floats between consecutive xi.
void gemms(int count, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
           const float* A, int64_t sa, const float* B, int64_t sb, float* C,
           int64_t sc, bool accumulate) {
  for (int64_t xi = 0; xi < count; ++xi)
    gemm::sgemm({.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .A = A + xi * sa,
                 .lda = ta ? M : K, .B = B + xi * sb, .ldb = tb ? K : N,
                 .C = C + xi * sc, .ldc = N, .accumulate = accumulate});
}

template <int m>
void forward(float* out, const float* x, const float* w, const float* bias,
             const ConvGeometry& g, int64_t chunk_rows) {
  const Tiling<m> t(g);
  const int kXi = t.kXi;
  const int64_t nr = rows_per_chunk(g, t, chunk_rows);
  const int64_t chunks = (t.rows + nr - 1) / nr, pairs = g.OC * g.C;
  Storage U(size_t(kXi * pairs));
  weight_transform<m>(U.data(), w, g);
#pragma omp parallel
  {
    Storage V(size_t(kXi * Planes(g.C, nr * t.TW).stride)),
        M(size_t(kXi * Planes(g.OC, nr * t.TW).stride));
#pragma omp for schedule(dynamic)
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t r0 = k * nr, rows = std::min(nr, t.rows - r0);
      const Planes pv(g.C, rows * t.TW), pm(g.OC, rows * t.TW);
      input_transform(V.data(), x, g, t, r0, rows);
      // M[xi] (OC, tiles) = U[xi] (OC, C) * V[xi] (C, tiles)
      gemms(kXi, false, false, g.OC, pv.tiles, g.C, U.data(), pairs, V.data(),
            pv.stride, M.data(), pm.stride, false);
      output_transform(out, M.data(), bias, g, t, r0, rows);
    }
  }
}

// One chunk of the backward: dU (a^2, OC, C) += dM V^T if dU, and the
// chunk's share of dx if dx. dM and V are the caller's scratch.
template <int m>
void backward_chunk(float* dx, float* dU, float* dM, float* V, const float* dout,
                    const float* x, const float* U, const ConvGeometry& g,
                    const Tiling<m>& t, int64_t r0, int64_t rows) {
  const int kXi = t.kXi;
  const int64_t pairs = g.OC * g.C;
  const Planes pv(g.C, rows * t.TW), pm(g.OC, rows * t.TW);
  output_transform_adjoint(dM, dout, g, t, r0, rows);
  if (dU) {
    input_transform(V, x, g, t, r0, rows);
    // dU[xi] (OC, C) += dM[xi] (OC, tiles) * V[xi]^T (tiles, C)
    gemms(kXi, false, true, g.OC, g.C, pm.tiles, dM, pm.stride, V, pv.stride, dU, pairs,
          true);
  }
  if (dx) {
    // dV[xi] (C, tiles) = U[xi]^T (C, OC) * dM[xi] (OC, tiles)
    gemms(kXi, true, false, g.C, pm.tiles, g.OC, U, pairs, dM, pm.stride, V, pv.stride,
          false);
    input_transform_adjoint(dx, V, g, t, r0, rows);
  }
}

template <int m>
void backward(float* dx, float* dw, const float* dout, const float* x,
              const float* w, const ConvGeometry& g, int64_t chunk_rows) {
  const Tiling<m> t(g);
  const int kXi = t.kXi;
  const int64_t nr = rows_per_chunk(g, t, chunk_rows);
  const int64_t chunks = (t.rows + nr - 1) / nr, pairs = g.OC * g.C;
  Storage U(size_t(kXi * pairs)), dU(size_t(kXi * pairs));
  if (dx) weight_transform<m>(U.data(), w, g);
  // The chunks are cut into `parts` runs of neighbours; each part sums its
  // chunks' weight gradients, in order, into its own buffer, and the
  // buffers are added in part order afterwards. The result depends on the
  // number of parts, not on the number of threads that work through them,
  // so a run repeats bit for bit on one thread or two (work_parts.h).
  const int parts = work_parts();  // a part may get no chunk: its buffer stays 0
  Storage part_dU(dw ? size_t(parts * kXi * pairs) : 0);
#pragma omp parallel
  {
    // V holds the input transform for dU, then is overwritten with dV.
    Storage V(size_t(kXi * Planes(g.C, nr * t.TW).stride)),
        dM(size_t(kXi * Planes(g.OC, nr * t.TW).stride));
    // Neighbouring chunks scatter into the two input rows they share: the
    // even chunks run first, then the odd ones, so no two threads add into
    // the same pixel at once.
    for (int64_t parity = 0; parity < 2; ++parity) {
#pragma omp for schedule(dynamic)
      for (int p = 0; p < parts; ++p) {
        float* my_dU = dw ? part_dU.data() + p * kXi * pairs : nullptr;
        if (dw && parity == 0) std::fill_n(my_dU, kXi * pairs, 0.0f);
        const int64_t k0 = chunks * p / parts, k1 = chunks * (p + 1) / parts;
        for (int64_t k = k0 + ((k0 % 2) != parity); k < k1; k += 2) {
          const int64_t r0 = k * nr, rows = std::min(nr, t.rows - r0);
          backward_chunk(dx, my_dU, dM.data(), V.data(), dout, x, U.data(), g, t, r0, rows);
        }
      }
    }
  }
  if (dw) {
    std::fill_n(dU.data(), dU.size(), 0.0f);
    for (int p = 0; p < parts; ++p) {
      const float* part = part_dU.data() + p * kXi * pairs;
      for (int64_t i = 0; i < kXi * pairs; ++i) dU.data()[i] += part[i];
    }
    weight_transform_adjoint<m>(dw, dU.data(), g);
  }
}

}  // namespace

bool winograd_applies(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride == 1 && g.pad == 1;
}

void conv2d_winograd_forward(float* out, const float* x, const float* w,
                             const float* bias, const ConvGeometry& g, int tile,
                             int64_t chunk_rows) {
  QAT_CHECK(winograd_applies(g) && (tile == 2 || tile == 4),
            "conv2d_winograd_forward: needs a 3x3 stride-1 pad-1 conv and tile 2 or 4, got tile ",
            tile);
  if (tile == 4)
    forward<4>(out, x, w, bias, g, chunk_rows);
  else
    forward<2>(out, x, w, bias, g, chunk_rows);
}

void conv2d_winograd_backward(float* dx, float* dw, float* dbias,
                              const float* dout, const float* x, const float* w,
                              const ConvGeometry& g, int tile, int64_t chunk_rows) {
  QAT_CHECK(winograd_applies(g) && (tile == 2 || tile == 4),
            "conv2d_winograd_backward: needs a 3x3 stride-1 pad-1 conv and tile 2 or 4, got tile ",
            tile);
  if (dbias) conv2d_bias_backward(dbias, dout, g);
  if (!dx && !dw) return;
  if (tile == 4)
    backward<4>(dx, dw, dout, x, w, g, chunk_rows);
  else
    backward<2>(dx, dw, dout, x, w, g, chunk_rows);
}

}  // namespace qat
