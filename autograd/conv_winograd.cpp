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
// kChunkBytes however large the batch.
#include <cblas.h>

#include <algorithm>

#include "autograd/conv_kernels.h"
#include "autograd/storage.h"

namespace qat {
namespace {

constexpr size_t kChunkBytes = size_t(32) << 20;

using Tile = float[4][4];

// ---- the 1-D transforms, applied to rows and then to columns.
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
// G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
// A^T = [1 1 1 0; 0 1 -1 -1]

// v = B^T d B
inline void input_tile(Tile& v, const Tile& d) {
  float t[4][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {
    v[i][0] = t[i][0] - t[i][2];
    v[i][1] = t[i][1] + t[i][2];
    v[i][2] = t[i][2] - t[i][1];
    v[i][3] = t[i][1] - t[i][3];
  }
}

// d = B v B^T, the adjoint of input_tile
inline void input_tile_adjoint(Tile& d, const Tile& v) {
  float t[4][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = v[0][j];
    t[1][j] = v[1][j] - v[2][j] + v[3][j];
    t[2][j] = v[1][j] + v[2][j] - v[0][j];
    t[3][j] = -v[3][j];
  }
  for (int i = 0; i < 4; ++i) {
    d[i][0] = t[i][0];
    d[i][1] = t[i][1] - t[i][2] + t[i][3];
    d[i][2] = t[i][1] + t[i][2] - t[i][0];
    d[i][3] = -t[i][3];
  }
}

// y (2x2) = A^T m A
inline void output_tile(float y[2][2], const Tile& m) {
  float t[2][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = m[0][j] + m[1][j] + m[2][j];
    t[1][j] = m[1][j] - m[2][j] - m[3][j];
  }
  for (int i = 0; i < 2; ++i) {
    y[i][0] = t[i][0] + t[i][1] + t[i][2];
    y[i][1] = t[i][1] - t[i][2] - t[i][3];
  }
}

// m = A dy A^T, the adjoint of output_tile
inline void output_tile_adjoint(Tile& m, const float dy[2][2]) {
  float t[4][2];
  for (int j = 0; j < 2; ++j) {
    t[0][j] = dy[0][j];
    t[1][j] = dy[0][j] + dy[1][j];
    t[2][j] = dy[0][j] - dy[1][j];
    t[3][j] = -dy[1][j];
  }
  for (int i = 0; i < 4; ++i) {
    m[i][0] = t[i][0];
    m[i][1] = t[i][0] + t[i][1];
    m[i][2] = t[i][0] - t[i][1];
    m[i][3] = -t[i][1];
  }
}

// u = G k G^T for one 3x3 kernel k
inline void weight_tile(Tile& u, const float* k) {
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
inline void weight_tile_adjoint(float* dk, const Tile& du) {
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
  explicit Tiling(const ConvGeometry& g)
      : TH((g.OH + 1) / 2), TW((g.OW + 1) / 2), rows(g.N * ((g.OH + 1) / 2)) {}
};

// Tile rows per chunk: as asked, or so that V (16,C,tiles) and M (16,OC,tiles)
// together take about kChunkBytes.
int64_t rows_per_chunk(const ConvGeometry& g, const Tiling& t, int64_t asked) {
  const size_t row_bytes = 16 * sizeof(float) * size_t((g.C + g.OC) * t.TW);
  const int64_t rows = asked > 0 ? asked : int64_t(kChunkBytes / row_bytes);
  return std::clamp<int64_t>(rows, 1, std::max<int64_t>(t.rows, 1));
}

// d = the 4x4 patch of plane (H,W) at (y0, x0), zeros outside.
inline void load_patch(Tile& d, const float* plane, int64_t H, int64_t W,
                       int64_t y0, int64_t x0) {
  if (y0 >= 0 && x0 >= 0 && y0 + 4 <= H && x0 + 4 <= W) {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) d[i][j] = plane[(y0 + i) * W + x0 + j];
    return;
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t y = y0 + i, x = x0 + j;
      d[i][j] = (y >= 0 && y < H && x >= 0 && x < W) ? plane[y * W + x] : 0.0f;
    }
}

// U[xi][oc][c] = (G w[oc,c] G^T)[xi]
void weight_transform(float* U, const float* w, const ConvGeometry& g) {
  const int64_t pairs = g.OC * g.C;
#pragma omp parallel for
  for (int64_t p = 0; p < pairs; ++p) {
    Tile u;
    weight_tile(u, w + 9 * p);
    for (int xi = 0; xi < 16; ++xi) U[xi * pairs + p] = u[xi / 4][xi % 4];
  }
}

// dw[oc,c] += G^T dU[.][oc][c] G
void weight_transform_adjoint(float* dw, const float* dU, const ConvGeometry& g) {
  const int64_t pairs = g.OC * g.C;
#pragma omp parallel for
  for (int64_t p = 0; p < pairs; ++p) {
    Tile du;
    for (int xi = 0; xi < 16; ++xi) du[xi / 4][xi % 4] = dU[xi * pairs + p];
    weight_tile_adjoint(dw + 9 * p, du);
  }
}

// V[xi][c][i] = (B^T d B)[xi] for tile i of the chunk of tile rows
// [r0, r0+nr) and its input patch d in channel c. V is (16, C, nr*TW).
void input_transform(float* V, const float* x, const ConvGeometry& g,
                     const Tiling& t, int64_t r0, int64_t nr) {
  const int64_t tc = nr * t.TW, stride = g.C * tc;  // stride: between xi
#pragma omp parallel for collapse(2)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH) - 1;
      const float* plane = x + (n * g.C + c) * g.H * g.W;
      float* v0 = V + c * tc + (r - r0) * t.TW;
      for (int64_t tx = 0; tx < t.TW; ++tx) {
        Tile d, v;
        load_patch(d, plane, g.H, g.W, y0, 2 * tx - 1);
        input_tile(v, d);
        for (int xi = 0; xi < 16; ++xi) v0[xi * stride + tx] = v[xi / 4][xi % 4];
      }
    }
}

// dx += B dV B^T scattered back onto each tile's patch. Parallel over
// channels only: neighbouring patches of one channel overlap.
void input_transform_adjoint(float* dx, const float* dV, const ConvGeometry& g,
                             const Tiling& t, int64_t r0, int64_t nr) {
  const int64_t tc = nr * t.TW, stride = g.C * tc;
#pragma omp parallel for
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH) - 1;
      float* plane = dx + (n * g.C + c) * g.H * g.W;
      const float* v0 = dV + c * tc + (r - r0) * t.TW;
      for (int64_t tx = 0; tx < t.TW; ++tx) {
        Tile v, d;
        for (int xi = 0; xi < 16; ++xi) v[xi / 4][xi % 4] = v0[xi * stride + tx];
        input_tile_adjoint(d, v);
        const int64_t x0 = 2 * tx - 1;
        for (int i = 0; i < 4; ++i) {
          const int64_t y = y0 + i;
          if (y < 0 || y >= g.H) continue;
          for (int j = 0; j < 4; ++j) {
            const int64_t xx = x0 + j;
            if (xx >= 0 && xx < g.W) plane[y * g.W + xx] += d[i][j];
          }
        }
      }
    }
}

// out tiles = A^T M A + bias, for the chunk's tiles; M is (16, OC, nr*TW).
void output_transform(float* out, const float* M, const float* bias,
                      const ConvGeometry& g, const Tiling& t, int64_t r0,
                      int64_t nr) {
  const int64_t tc = nr * t.TW, stride = g.OC * tc;
#pragma omp parallel for collapse(2)
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH);
      float* plane = out + (n * g.OC + oc) * g.OH * g.OW;
      const float* m0 = M + oc * tc + (r - r0) * t.TW;
      const float b = bias ? bias[oc] : 0.0f;
      for (int64_t tx = 0; tx < t.TW; ++tx) {
        Tile m;
        float y[2][2];
        for (int xi = 0; xi < 16; ++xi) m[xi / 4][xi % 4] = m0[xi * stride + tx];
        output_tile(y, m);
        for (int i = 0; i < 2 && y0 + i < g.OH; ++i)
          for (int j = 0; j < 2 && 2 * tx + j < g.OW; ++j)
            plane[(y0 + i) * g.OW + 2 * tx + j] = y[i][j] + b;
      }
    }
}

// dM = A dy A^T for the chunk's tiles, dy the 2x2 of dout (0 outside).
void output_transform_adjoint(float* dM, const float* dout, const ConvGeometry& g,
                              const Tiling& t, int64_t r0, int64_t nr) {
  const int64_t tc = nr * t.TW, stride = g.OC * tc;
#pragma omp parallel for collapse(2)
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t r = r0; r < r0 + nr; ++r) {
      const int64_t n = r / t.TH, y0 = 2 * (r % t.TH);
      const float* plane = dout + (n * g.OC + oc) * g.OH * g.OW;
      float* m0 = dM + oc * tc + (r - r0) * t.TW;
      for (int64_t tx = 0; tx < t.TW; ++tx) {
        float dy[2][2];
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) {
            const int64_t y = y0 + i, x = 2 * tx + j;
            dy[i][j] = (y < g.OH && x < g.OW) ? plane[y * g.OW + x] : 0.0f;
          }
        Tile m;
        output_tile_adjoint(m, dy);
        for (int xi = 0; xi < 16; ++xi) m0[xi * stride + tx] = m[xi / 4][xi % 4];
      }
    }
}

// c[xi] = op(a[xi]) * op(b[xi]) (+ c[xi] if accumulate), for the 16 xi;
// a[xi] is (M,K) or, transposed, (K,M); likewise b.
void gemm16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* a,
            const float* b, float* c, bool accumulate) {
  for (int64_t xi = 0; xi < 16; ++xi)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K), 1.0f,
                a + xi * M * K, int(ta ? M : K), b + xi * K * N, int(tb ? K : N),
                accumulate ? 1.0f : 0.0f, c + xi * M * N, int(N));
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
  Storage U(size_t(16 * g.OC * g.C)), V(size_t(16 * g.C * nr * t.TW)),
      M(size_t(16 * g.OC * nr * t.TW));
  weight_transform(U.data(), w, g);
  for (int64_t r0 = 0; r0 < t.rows; r0 += nr) {
    const int64_t rows = std::min(nr, t.rows - r0), tc = rows * t.TW;
    input_transform(V.data(), x, g, t, r0, rows);
    // M[xi] (OC, tc) = U[xi] (OC, C) * V[xi] (C, tc)
    gemm16(false, false, g.OC, tc, g.C, U.data(), V.data(), M.data(), false);
    output_transform(out, M.data(), bias, g, t, r0, rows);
  }
}

void conv2d_winograd_backward(float* dx, float* dw, float* dbias,
                              const float* dout, const float* x, const float* w,
                              const ConvGeometry& g, int64_t chunk_rows) {
  if (dbias) conv2d_bias_backward(dbias, dout, g);
  if (!dx && !dw) return;
  const Tiling t(g);
  const int64_t nr = rows_per_chunk(g, t, chunk_rows);
  // V holds the input transform for dU, then is overwritten with dV.
  Storage U(size_t(16 * g.OC * g.C)), dU(size_t(16 * g.OC * g.C)),
      V(size_t(16 * g.C * nr * t.TW)), dM(size_t(16 * g.OC * nr * t.TW));
  if (dx) weight_transform(U.data(), w, g);
  if (dw) std::fill_n(dU.data(), dU.size(), 0.0f);
  for (int64_t r0 = 0; r0 < t.rows; r0 += nr) {
    const int64_t rows = std::min(nr, t.rows - r0), tc = rows * t.TW;
    output_transform_adjoint(dM.data(), dout, g, t, r0, rows);
    if (dw) {
      input_transform(V.data(), x, g, t, r0, rows);
      // dU[xi] (OC, C) += dM[xi] (OC, tc) * V[xi]^T (tc, C)
      gemm16(false, true, g.OC, g.C, tc, dM.data(), V.data(), dU.data(), true);
    }
    if (dx) {
      // dV[xi] (C, tc) = U[xi]^T (C, OC) * dM[xi] (OC, tc)
      gemm16(true, false, g.C, tc, g.OC, U.data(), dM.data(), V.data(), false);
      input_transform_adjoint(dx, V.data(), g, t, r0, rows);
    }
  }
  if (dw) weight_transform_adjoint(dw, dU.data(), g);
}

}  // namespace qat
