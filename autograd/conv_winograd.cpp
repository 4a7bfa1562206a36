// Winograd F(2x2,3x3) convolution (Lavin and Gray, CVPR 2016) for 3x3
// kernels, stride 1, pad 1: the shape of every U-Net convolution.
//
// The output is cut into 2x2 tiles; tile (ty, tx) of image n reads the 4x4
// input patch d whose top-left pixel is (2ty-1, 2tx-1), zeros outside. Per
// tile and pair of channels
//   y (2x2) = A^T [ (G w G^T) ⊙ (B^T d B) ] A
// takes 16 multiplications where the direct form takes 36. Summed over input
// channels, the 16 elementwise products become 16 GEMMs, one per position xi
// of the 4x4 transformed tile:
//   U[xi] (OC,C) = (G w G^T)[xi]      V[xi] (C,T) = (B^T d B)[xi]
//   M[xi] (OC,T) = U[xi] * V[xi]      y = A^T M A (+ bias)
// with T tiles. Every step is linear, so the backward is its exact adjoint:
//   dM = A dy A^T
//   dU[xi] = dM[xi] * V[xi]^T,  dw += G^T dU G
//   dV[xi] = U[xi]^T * dM[xi],  dx += B dV B^T  (patches overlap: scatter-add)
// All three passes do 16/36 of the direct multiplications, at the price of
// the transforms, which only read and write memory.
//
// Tiles are counted over the whole batch in tile rows of TW tiles (N*TH rows)
// and processed a chunk of rows at a time, so that V and M stay near
// kChunkBytes however large the batch. Each thread takes whole chunks:
// transforms and 16 single-threaded GEMMs (OpenBLAS runs on one thread
// inside a parallel region), with one parallel region per pass. Many small
// multi-threaded GEMMs instead would meet at a barrier each time, and on a
// shared machine every barrier waits for a thread that lost its core.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "autograd/conv_kernels.h"
#include "autograd/storage.h"

namespace qat {
namespace {

constexpr size_t kChunkBytes = size_t(4) << 20;  // per thread

// Tiles are transformed L at a time, each array element of a tile holding
// L lanes: the lane loops are what the compiler vectorises (16 floats = one
// AVX-512 register).
constexpr int L = 16;
using Tile = float[4][4][L];

// ---- the 1-D transforms, applied to rows and then to columns.
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
// G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
// A^T = [1 1 1 0; 0 1 -1 -1]
#define QAT_LANES for (int l = 0; l < L; ++l)

// v = B^T d B
inline void input_tile(Tile& v, const Tile& d) {
  float t[4][4][L];
  for (int j = 0; j < 4; ++j) QAT_LANES {
    t[0][j][l] = d[0][j][l] - d[2][j][l];
    t[1][j][l] = d[1][j][l] + d[2][j][l];
    t[2][j][l] = d[2][j][l] - d[1][j][l];
    t[3][j][l] = d[1][j][l] - d[3][j][l];
  }
  for (int i = 0; i < 4; ++i) QAT_LANES {
    v[i][0][l] = t[i][0][l] - t[i][2][l];
    v[i][1][l] = t[i][1][l] + t[i][2][l];
    v[i][2][l] = t[i][2][l] - t[i][1][l];
    v[i][3][l] = t[i][1][l] - t[i][3][l];
  }
}

// d = B v B^T, the adjoint of input_tile
inline void input_tile_adjoint(Tile& d, const Tile& v) {
  float t[4][4][L];
  for (int j = 0; j < 4; ++j) QAT_LANES {
    t[0][j][l] = v[0][j][l];
    t[1][j][l] = v[1][j][l] - v[2][j][l] + v[3][j][l];
    t[2][j][l] = v[1][j][l] + v[2][j][l] - v[0][j][l];
    t[3][j][l] = -v[3][j][l];
  }
  for (int i = 0; i < 4; ++i) QAT_LANES {
    d[i][0][l] = t[i][0][l];
    d[i][1][l] = t[i][1][l] - t[i][2][l] + t[i][3][l];
    d[i][2][l] = t[i][1][l] + t[i][2][l] - t[i][0][l];
    d[i][3][l] = -t[i][3][l];
  }
}

// y (2x2) = A^T m A
inline void output_tile(float y[2][2][L], const Tile& m) {
  float t[2][4][L];
  for (int j = 0; j < 4; ++j) QAT_LANES {
    t[0][j][l] = m[0][j][l] + m[1][j][l] + m[2][j][l];
    t[1][j][l] = m[1][j][l] - m[2][j][l] - m[3][j][l];
  }
  for (int i = 0; i < 2; ++i) QAT_LANES {
    y[i][0][l] = t[i][0][l] + t[i][1][l] + t[i][2][l];
    y[i][1][l] = t[i][1][l] - t[i][2][l] - t[i][3][l];
  }
}

// m = A dy A^T, the adjoint of output_tile
inline void output_tile_adjoint(Tile& m, const float dy[2][2][L]) {
  float t[4][2][L];
  for (int j = 0; j < 2; ++j) QAT_LANES {
    t[0][j][l] = dy[0][j][l];
    t[1][j][l] = dy[0][j][l] + dy[1][j][l];
    t[2][j][l] = dy[0][j][l] - dy[1][j][l];
    t[3][j][l] = -dy[1][j][l];
  }
  for (int i = 0; i < 4; ++i) QAT_LANES {
    m[i][0][l] = t[i][0][l];
    m[i][1][l] = t[i][0][l] + t[i][1][l];
    m[i][2][l] = t[i][0][l] - t[i][1][l];
    m[i][3][l] = -t[i][1][l];
  }
}
#undef QAT_LANES

// u = G k G^T for one 3x3 kernel k (once per step: no lanes needed)
inline void weight_tile(float u[4][4], const float* k) {
  float t[4][3];
  for (int j = 0; j < 3; ++j) {
    t[0][j] = k[j];
    t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
    t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
    t[3][j] = k[6 + j];
  }
  for (int i = 0; i < 4; ++i) {
    u[i][0] = t[i][0];
    u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
    u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
    u[i][3] = t[i][2];
  }
}

// dk += G^T du G, the adjoint of weight_tile
inline void weight_tile_adjoint(float* dk, const float du[4][4]) {
  float t[3][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = du[0][j] + 0.5f * (du[1][j] + du[2][j]);
    t[1][j] = 0.5f * (du[1][j] - du[2][j]);
    t[2][j] = du[3][j] + 0.5f * (du[1][j] + du[2][j]);
  }
  for (int i = 0; i < 3; ++i) {
    dk[3 * i + 0] += t[i][0] + 0.5f * (t[i][1] + t[i][2]);
    dk[3 * i + 1] += 0.5f * (t[i][1] - t[i][2]);
    dk[3 * i + 2] += t[i][3] + 0.5f * (t[i][1] + t[i][2]);
  }
}

// ---- tiling
struct Tiling {
  int64_t TH, TW, rows;  // tiles down and across an image; N*TH tile rows
  int64_t blocks;        // blocks of L tiles across a row (the last partial)
  explicit Tiling(const ConvGeometry& g)
      : TH((g.OH + 1) / 2),
        TW((g.OW + 1) / 2),
        rows(g.N * TH),
        blocks((TW + L - 1) / L) {}
};

// The layout of one chunk of transformed tiles, (16, channels, tiles): the
// 16 planes start `stride` floats apart. One cache line more than packed, so
// that the 16 planes, written side by side, do not all fall into the same
// cache set when channels*tiles*4 bytes is a multiple of 4 KiB.
struct Planes {
  int64_t tiles, stride;
  Planes(int64_t channels, int64_t tiles) : tiles(tiles), stride(channels * tiles + L) {}
};

// Tile rows per chunk: as asked, or so that each thread's V (16,C,tiles) and
// M (16,OC,tiles) together take about kChunkBytes and every thread gets
// several chunks (the machine is shared: a thread that lost its core should
// not hold the others up).
int64_t rows_per_chunk(const ConvGeometry& g, const Tiling& t, int64_t asked) {
  const size_t row_bytes = 16 * sizeof(float) * size_t((g.C + g.OC) * t.TW);
  const int64_t spread = (t.rows + 4 * omp_get_max_threads() - 1) /
                         (4 * omp_get_max_threads());
  const int64_t rows =
      asked > 0 ? asked : std::min(int64_t(kChunkBytes / row_bytes), spread);
  return std::clamp<int64_t>(rows, 1, std::max<int64_t>(t.rows, 1));
}

// U[xi][oc][c] = (G w[oc,c] G^T)[xi]
void weight_transform(float* U, const float* w, const ConvGeometry& g) {
  const int64_t pairs = g.OC * g.C;
#pragma omp parallel for
  for (int64_t p = 0; p < pairs; ++p) {
    float u[4][4];
    weight_tile(u, w + 9 * p);
    for (int xi = 0; xi < 16; ++xi) U[xi * pairs + p] = u[xi / 4][xi % 4];
  }
}

// dw[oc,c] += G^T dU[.][oc][c] G
void weight_transform_adjoint(float* dw, const float* dU, const ConvGeometry& g) {
  const int64_t pairs = g.OC * g.C;
#pragma omp parallel for
  for (int64_t p = 0; p < pairs; ++p) {
    float du[4][4];
    for (int xi = 0; xi < 16; ++xi) du[xi / 4][xi % 4] = dU[xi * pairs + p];
    weight_tile_adjoint(dw + 9 * p, du);
  }
}

// Stores the L lanes of each of the 16 elements of a tile block into its
// plane (the first n lanes: the last block of a row may be partial).
// (Full blocks get a loop of constant length: one vector store each.)
inline void store_block(float* dst, int64_t stride, const Tile& v, int64_t n) {
  for (int xi = 0; xi < 16; ++xi) {
    float* d = dst + xi * stride;
    const float* s = v[xi / 4][xi % 4];
    if (n == L)
      for (int l = 0; l < L; ++l) d[l] = s[l];
    else
      for (int64_t l = 0; l < n; ++l) d[l] = s[l];
  }
}

// The inverse: lanes past n read as 0.
inline void load_block(Tile& v, const float* src, int64_t stride, int64_t n) {
  for (int xi = 0; xi < 16; ++xi) {
    const float* s = src + xi * stride;
    float* d = v[xi / 4][xi % 4];
    if (n == L)
      for (int l = 0; l < L; ++l) d[l] = s[l];
    else
      for (int l = 0; l < L; ++l) d[l] = l < n ? s[l] : 0.0f;
  }
}

// ---- row buffers split by column parity. A tile reads columns 2tx..2tx+3
// of its (padded) rows: split into even and odd columns, that is
// even[tx], odd[tx], even[tx+1], odd[tx+1], four contiguous vector loads
// for L tiles. The virtual row r has r[k] = src[k - shift] for
// k - shift in [0, n) and 0 elsewhere (shift 1: the padding column in front).
struct SplitRow {
  std::vector<float> even, odd;
  explicit SplitRow(const Tiling& t)
      : even(size_t(t.blocks * L + 1)), odd(even.size()) {}

  void zero() {
    std::fill(even.begin(), even.end(), 0.0f);
    std::fill(odd.begin(), odd.end(), 0.0f);
  }
  // even[e] = r[2e], odd[e] = r[2e+1]. The loops run over [lo, hi), the e
  // whose two columns both lie inside src, without a test (so that they
  // vectorise); the few e outside are handled one by one.
  void split(const float* src, int64_t n, int shift) {
    const int64_t lo = shift, hi = std::max(lo, (n + shift) / 2);
    for (int64_t e = lo; e < hi; ++e) {
      even[size_t(e)] = src[2 * e - shift];
      odd[size_t(e)] = src[2 * e + 1 - shift];
    }
    auto edge = [&](int64_t e) {
      auto at = [&](int64_t k) { return k >= 0 && k < n ? src[k] : 0.0f; };
      even[size_t(e)] = at(2 * e - shift);
      odd[size_t(e)] = at(2 * e + 1 - shift);
    };
    for (int64_t e = 0; e < lo; ++e) edge(e);
    for (int64_t e = hi; e < int64_t(even.size()); ++e) edge(e);
  }
  // dst[x] = r[x + shift] + bias, or dst[x] += r[x + shift], for x in [0, n)
  void merge(float* dst, int64_t n, int shift, float bias, bool add) const {
    const int64_t lo = shift, hi = std::max(lo, (n + shift) / 2);
    if (add)
      for (int64_t e = lo; e < hi; ++e) {
        dst[2 * e - shift] += even[size_t(e)];
        dst[2 * e + 1 - shift] += odd[size_t(e)];
      }
    else
      for (int64_t e = lo; e < hi; ++e) {
        dst[2 * e - shift] = even[size_t(e)] + bias;
        dst[2 * e + 1 - shift] = odd[size_t(e)] + bias;
      }
    // the columns the loops missed: at most the first and the last
    for (int64_t x = 0; x < n; x = (x == 0 ? std::max<int64_t>(1, n - 1) : n)) {
      const int64_t k = x + shift, e = k / 2;
      if (e >= lo && e < hi) continue;
      const float v = (k % 2 == 0 ? even : odd)[size_t(e)];
      dst[x] = add ? dst[x] + v : v + bias;
    }
  }
};

// V[xi][c][i] = (B^T d B)[xi] for tile i of the chunk of tile rows
// [r0, r0+nr) and its input patch d in channel c. A tile row reads input
// rows y0..y0+3 (y0 = 2ty-1), zeros outside.
void input_transform(float* V, const float* x, const ConvGeometry& g,
                     const Tiling& t, int64_t r0, int64_t nr) {
  const Planes p(g.C, nr * t.TW);
  std::vector<SplitRow> rows(4, SplitRow(t));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH) - 1;
      const float* plane = x + (n * g.C + c) * g.H * g.W;
      // Tile rows overlap by two input rows: the bottom two of the tile
      // row above are this one's top two.
      const bool carried = r > r0 && r % t.TH != 0;
      if (carried) {
        std::swap(rows[0], rows[2]);
        std::swap(rows[1], rows[3]);
      }
      for (int i = carried ? 2 : 0; i < 4; ++i) {
        if (y0 + i >= 0 && y0 + i < g.H)
          rows[size_t(i)].split(plane + (y0 + i) * g.W, g.W, /*shift=*/1);
        else
          rows[size_t(i)].zero();
      }
      float* v0 = V + c * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        Tile d, v;
        for (int i = 0; i < 4; ++i) {
          const float* ev = rows[size_t(i)].even.data() + b * L;
          const float* od = rows[size_t(i)].odd.data() + b * L;
          for (int l = 0; l < L; ++l) {
            d[i][0][l] = ev[l];
            d[i][1][l] = od[l];
            d[i][2][l] = ev[l + 1];
            d[i][3][l] = od[l + 1];
          }
        }
        input_tile(v, d);
        store_block(v0 + b * L, p.stride, v, std::min<int64_t>(L, t.TW - b * L));
      }
    }
}

// dx += B dV B^T scattered back onto each tile's patch: the adjoint of
// input_transform, accumulated in split rows and added into dx row by row.
void input_transform_adjoint(float* dx, const float* dV, const ConvGeometry& g,
                             const Tiling& t, int64_t r0, int64_t nr) {
  const Planes p(g.C, nr * t.TW);
  std::vector<SplitRow> rows(4, SplitRow(t));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH) - 1;
      float* plane = dx + (n * g.C + c) * g.H * g.W;
      // The top two rows continue the sums of the tile row above (its
      // bottom two, not yet added into dx).
      const bool carried = r > r0 && r % t.TH != 0;
      if (carried) {
        std::swap(rows[0], rows[2]);
        std::swap(rows[1], rows[3]);
      }
      for (int i = carried ? 2 : 0; i < 4; ++i) rows[size_t(i)].zero();
      const float* v0 = dV + c * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        Tile v, d;
        load_block(v, v0 + b * L, p.stride, std::min<int64_t>(L, t.TW - b * L));
        input_tile_adjoint(d, v);
        for (int i = 0; i < 4; ++i) {
          float* ev = rows[size_t(i)].even.data() + b * L;
          float* od = rows[size_t(i)].odd.data() + b * L;
          // columns 2tx and 2tx+1, then 2tx+2 and 2tx+3: separate loops, as
          // the second pair overlaps the first pair of the next tile
          for (int l = 0; l < L; ++l) ev[l] += d[i][0][l];
          for (int l = 0; l < L; ++l) od[l] += d[i][1][l];
          for (int l = 0; l < L; ++l) ev[l + 1] += d[i][2][l];
          for (int l = 0; l < L; ++l) od[l + 1] += d[i][3][l];
        }
      }
      const bool next_carries = r + 1 < r0 + nr && (r + 1) % t.TH != 0;
      for (int i = 0; i < (next_carries ? 2 : 4); ++i)
        if (y0 + i >= 0 && y0 + i < g.H)
          rows[size_t(i)].merge(plane + (y0 + i) * g.W, g.W, /*shift=*/1, 0.0f,
                                /*add=*/true);
    }
}

// out tiles = A^T M A + bias, for the chunk's tiles: output columns 2tx and
// 2tx+1 are the even and odd halves of two split rows.
void output_transform(float* out, const float* M, const float* bias,
                      const ConvGeometry& g, const Tiling& t, int64_t r0,
                      int64_t nr) {
  const Planes p(g.OC, nr * t.TW);
  std::vector<SplitRow> rows(2, SplitRow(t));
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH);
      float* plane = out + (n * g.OC + oc) * g.OH * g.OW;
      const float* m0 = M + oc * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        Tile m;
        float y[2][2][L];
        load_block(m, m0 + b * L, p.stride, std::min<int64_t>(L, t.TW - b * L));
        output_tile(y, m);
        for (int i = 0; i < 2; ++i)
          for (int l = 0; l < L; ++l) {
            rows[size_t(i)].even[size_t(b * L + l)] = y[i][0][l];
            rows[size_t(i)].odd[size_t(b * L + l)] = y[i][1][l];
          }
      }
      const float bo = bias ? bias[oc] : 0.0f;
      for (int i = 0; i < 2 && y0 + i < g.OH; ++i)
        rows[size_t(i)].merge(plane + (y0 + i) * g.OW, g.OW, /*shift=*/0, bo,
                              /*add=*/false);
    }
}

// dM = A dy A^T for the chunk's tiles, dy the 2x2 of dout (0 outside).
void output_transform_adjoint(float* dM, const float* dout, const ConvGeometry& g,
                              const Tiling& t, int64_t r0, int64_t nr) {
  const Planes p(g.OC, nr * t.TW);
  std::vector<SplitRow> rows(2, SplitRow(t));
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH);
      const float* plane = dout + (n * g.OC + oc) * g.OH * g.OW;
      for (int i = 0; i < 2; ++i) {
        if (y0 + i < g.OH)
          rows[size_t(i)].split(plane + (y0 + i) * g.OW, g.OW, /*shift=*/0);
        else
          rows[size_t(i)].zero();
      }
      float* m0 = dM + oc * p.tiles + (r - r0) * t.TW;
      for (int64_t b = 0; b < t.blocks; ++b) {
        float dy[2][2][L];
        Tile m;
        for (int i = 0; i < 2; ++i)
          for (int l = 0; l < L; ++l) {
            dy[i][0][l] = rows[size_t(i)].even[size_t(b * L + l)];
            dy[i][1][l] = rows[size_t(i)].odd[size_t(b * L + l)];
          }
        output_tile_adjoint(m, dy);
        store_block(m0 + b * L, p.stride, m, std::min<int64_t>(L, t.TW - b * L));
      }
    }
}

// c[xi] = op(a[xi]) * op(b[xi]) (+ c[xi] if accumulate) for the 16 xi;
// op(a) is (M,K), stored transposed if ta; op(b) is (K,N); c is (M,N).
// sa, sb, sc: floats between consecutive xi.
void gemm16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* a,
            int64_t sa, const float* b, int64_t sb, float* c, int64_t sc,
            bool accumulate) {
  for (int64_t xi = 0; xi < 16; ++xi)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K), 1.0f,
                a + xi * sa, int(ta ? M : K), b + xi * sb, int(tb ? K : N),
                accumulate ? 1.0f : 0.0f, c + xi * sc, int(N));
}

}  // namespace

bool winograd_applies(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride == 1 && g.pad == 1;
}

void conv2d_winograd_forward(float* out, const float* x, const float* w,
                             const float* bias, const ConvGeometry& g,
                             int64_t chunk_rows) {
  const Tiling t(g);
  const int64_t nr = rows_per_chunk(g, t, chunk_rows);
  const int64_t chunks = (t.rows + nr - 1) / nr, pairs = g.OC * g.C;
  Storage U(size_t(16 * pairs));
  weight_transform(U.data(), w, g);
#pragma omp parallel
  {
    Storage V(size_t(16 * Planes(g.C, nr * t.TW).stride)),
        M(size_t(16 * Planes(g.OC, nr * t.TW).stride));
#pragma omp for schedule(dynamic)
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t r0 = k * nr, rows = std::min(nr, t.rows - r0);
      const Planes pv(g.C, rows * t.TW), pm(g.OC, rows * t.TW);
      input_transform(V.data(), x, g, t, r0, rows);
      // M[xi] (OC, tiles) = U[xi] (OC, C) * V[xi] (C, tiles)
      gemm16(false, false, g.OC, pv.tiles, g.C, U.data(), pairs, V.data(),
             pv.stride, M.data(), pm.stride, false);
      output_transform(out, M.data(), bias, g, t, r0, rows);
    }
  }
}

void conv2d_winograd_backward(float* dx, float* dw, float* dbias,
                              const float* dout, const float* x, const float* w,
                              const ConvGeometry& g, int64_t chunk_rows) {
  if (dbias) conv2d_bias_backward(dbias, dout, g);
  if (!dx && !dw) return;
  const Tiling t(g);
  const int64_t nr = rows_per_chunk(g, t, chunk_rows);
  const int64_t chunks = (t.rows + nr - 1) / nr, pairs = g.OC * g.C;
  Storage U(size_t(16 * pairs)), dU(size_t(16 * pairs));
  if (dx) weight_transform(U.data(), w, g);
  // Each thread sums its chunks' weight gradients into its own buffer; the
  // buffers are added in thread order afterwards. With the static schedule
  // a thread always gets the same chunks, so a run repeats bit for bit
  // (for the same thread count), which resuming a run relies on.
  const int threads = omp_get_max_threads();
  Storage thread_dU(dw ? size_t(threads * 16 * pairs) : 0);
#pragma omp parallel num_threads(threads)
  {
    // V holds the input transform for dU, then is overwritten with dV.
    Storage V(size_t(16 * Planes(g.C, nr * t.TW).stride)),
        dM(size_t(16 * Planes(g.OC, nr * t.TW).stride));
    float* my_dU = dw ? thread_dU.data() + omp_get_thread_num() * 16 * pairs : nullptr;
    if (dw) std::fill_n(my_dU, 16 * pairs, 0.0f);
    // Neighbouring chunks scatter into the two input rows they share: the
    // even chunks run first, then the odd ones, so no two threads add into
    // the same pixel at once.
    for (int64_t parity = 0; parity < 2; ++parity) {
#pragma omp for schedule(static)
      for (int64_t k = parity; k < chunks; k += 2) {
        const int64_t r0 = k * nr, rows = std::min(nr, t.rows - r0);
        const Planes pv(g.C, rows * t.TW), pm(g.OC, rows * t.TW);
        output_transform_adjoint(dM.data(), dout, g, t, r0, rows);
        if (dw) {
          input_transform(V.data(), x, g, t, r0, rows);
          // dU[xi] (OC, C) += dM[xi] (OC, tiles) * V[xi]^T (tiles, C)
          gemm16(false, true, g.OC, g.C, pm.tiles, dM.data(), pm.stride,
                 V.data(), pv.stride, my_dU, pairs, true);
        }
        if (dx) {
          // dV[xi] (C, tiles) = U[xi]^T (C, OC) * dM[xi] (OC, tiles)
          gemm16(true, false, g.C, pm.tiles, g.OC, U.data(), pairs, dM.data(),
                 pm.stride, V.data(), pv.stride, false);
          input_transform_adjoint(dx, V.data(), g, t, r0, rows);
        }
      }
    }
  }
  if (dw) {
    std::fill_n(dU.data(), dU.size(), 0.0f);
    for (int th = 0; th < threads; ++th) {
      const float* part = thread_dU.data() + th * 16 * pairs;
      for (int64_t i = 0; i < 16 * pairs; ++i) dU.data()[i] += part[i];
    }
  }
  if (dw) weight_transform_adjoint(dw, dU.data(), g);
}

}  // namespace qat
