// The transforms of Winograd F(m x m, 3x3) (Lavin and Gray, CVPR 2016) for
// m = 2 and m = 4, used by conv_winograd.cpp. A tile of m x m outputs reads
// an a x a input patch d (a = m + 2); per pair of channels
//   y (m x m) = A^T [ (G k G^T) ⊙ (B^T d B) ] A
// and the backward applies the adjoints (transposes) in reverse order.
//
// F(2x2,3x3), interpolation points 0, 1, -1 and infinity:
//   B^T = [1  0 -1  0     G = [1    0    0      A^T = [1 1  1  0
//          0  1  1  0          1/2  1/2  1/2            0 1 -1 -1]
//          0 -1  1  0          1/2 -1/2  1/2
//          0  1  0 -1]         0    0    1  ]
//
// F(4x4,3x3), interpolation points 0, 1, -1, 2, -2 and infinity (Lavin and
// Gray's). Its float error (test_conv_paths.cpp) is about 10x F(2x2)'s,
// ~7e-6 of the largest output at 64 channels. In a float32 simulation of
// one 64-channel conv, points 0, 1, -1, 1/2, -1/2 rounded worse (6.5e-6
// against 5e-6) and 0, 1, -1, 1/2, -2 better (2.4e-6), but the latter's
// B^T loses the +-pairs below and about doubles the work of the input
// transform, the hottest loop outside the GEMMs; 5e-6 is far below what
// training notices.
//   B^T = [4  0 -5  0 1 0     G = [ 1/4     0     0     A^T = [1 1  1 1  1 0
//          0 -4 -4  1 1 0          -1/6  -1/6  -1/6            0 1 -1 2 -2 0
//          0  4 -4 -1 1 0          -1/6   1/6  -1/6            0 1  1 4  4 0
//          0 -2 -1  2 1 0           1/24  1/12  1/6            0 1 -1 8 -8 1]
//          0  2 -1 -2 1 0           1/24 -1/12  1/6
//          0  4  0 -5  0 1]         0     0     1  ]
//
// Each matrix is written once below as a 1-D transform of a column of
// values; a 2-D transform applies it down the columns of a tile, then along
// the rows. Data tiles are transformed L at a time: each element of a tile
// holds L lanes, and the lane loops are what the compiler vectorises (16
// floats = one AVX-512 register). Kernels go one at a time (once per step).
#pragma once

namespace qat::winograd {

constexpr int L = 16;

template <int m>
using Tile = float[m + 2][m + 2][L];  // a x a

// The 1-D transforms on L lanes, element k of x at x + k*sx.
template <int m>
struct Transforms;

template <>
struct Transforms<2> {
  // v (4) = B^T d (4)
  static void input(float* __restrict v, int sv, const float* __restrict d, int sd) {
    for (int l = 0; l < L; ++l) {
      const float d0 = d[l], d1 = d[sd + l], d2 = d[2 * sd + l], d3 = d[3 * sd + l];
      v[l] = d0 - d2;
      v[sv + l] = d1 + d2;
      v[2 * sv + l] = d2 - d1;
      v[3 * sv + l] = d1 - d3;
    }
  }
  // d (4) = B v (4)
  static void input_adjoint(float* __restrict d, int sd, const float* __restrict v,
                            int sv) {
    for (int l = 0; l < L; ++l) {
      const float v0 = v[l], v1 = v[sv + l], v2 = v[2 * sv + l], v3 = v[3 * sv + l];
      d[l] = v0;
      d[sd + l] = v1 - v2 + v3;
      d[2 * sd + l] = v1 + v2 - v0;
      d[3 * sd + l] = -v3;
    }
  }
  // y (2) = A^T x (4)
  static void output(float* __restrict y, int sy, const float* __restrict x, int sx) {
    for (int l = 0; l < L; ++l) {
      const float x0 = x[l], x1 = x[sx + l], x2 = x[2 * sx + l], x3 = x[3 * sx + l];
      y[l] = x0 + x1 + x2;
      y[sy + l] = x1 - x2 - x3;
    }
  }
  // x (4) = A dy (2)
  static void output_adjoint(float* __restrict x, int sx, const float* __restrict y,
                             int sy) {
    for (int l = 0; l < L; ++l) {
      const float y0 = y[l], y1 = y[sy + l];
      x[l] = y0;
      x[sx + l] = y0 + y1;
      x[2 * sx + l] = y0 - y1;
      x[3 * sx + l] = -y1;
    }
  }
  // u (4) = G k (3)
  static void weight(float* u, int su, const float* k, int sk) {
    const float k0 = k[0], k1 = k[sk], k2 = k[2 * sk];
    u[0] = k0;
    u[su] = 0.5f * (k0 + k1 + k2);
    u[2 * su] = 0.5f * (k0 - k1 + k2);
    u[3 * su] = k2;
  }
  // dk (3) = G^T du (4)
  static void weight_adjoint(float* dk, int sk, const float* du, int su) {
    const float u0 = du[0], u1 = du[su], u2 = du[2 * su], u3 = du[3 * su];
    dk[0] = u0 + 0.5f * (u1 + u2);
    dk[sk] = 0.5f * (u1 - u2);
    dk[2 * sk] = u3 + 0.5f * (u1 + u2);
  }
};

template <>
struct Transforms<4> {
  // v (6) = B^T d (6)
  static void input(float* __restrict v, int sv, const float* __restrict d, int sd) {
    for (int l = 0; l < L; ++l) {
      const float d0 = d[l], d1 = d[sd + l], d2 = d[2 * sd + l], d3 = d[3 * sd + l],
                  d4 = d[4 * sd + l], d5 = d[5 * sd + l];
      const float p = d4 - 4.0f * d2, q = d3 - 4.0f * d1;  // v1, v2 = p +- q
      const float r = d4 - d2, s = 2.0f * (d3 - d1);       // v3, v4 = r +- s
      v[l] = 4.0f * d0 - 5.0f * d2 + d4;
      v[sv + l] = p + q;
      v[2 * sv + l] = p - q;
      v[3 * sv + l] = r + s;
      v[4 * sv + l] = r - s;
      v[5 * sv + l] = 4.0f * d1 - 5.0f * d3 + d5;
    }
  }
  // d (6) = B v (6)
  static void input_adjoint(float* __restrict d, int sd, const float* __restrict v,
                            int sv) {
    for (int l = 0; l < L; ++l) {
      const float v0 = v[l], v1 = v[sv + l], v2 = v[2 * sv + l], v3 = v[3 * sv + l],
                  v4 = v[4 * sv + l], v5 = v[5 * sv + l];
      const float s12 = v1 + v2, t12 = v1 - v2, s34 = v3 + v4, t34 = v3 - v4;
      d[l] = 4.0f * v0;
      d[sd + l] = 4.0f * (v5 - t12) - 2.0f * t34;
      d[2 * sd + l] = -5.0f * v0 - 4.0f * s12 - s34;
      d[3 * sd + l] = t12 + 2.0f * t34 - 5.0f * v5;
      d[4 * sd + l] = v0 + s12 + s34;
      d[5 * sd + l] = v5;
    }
  }
  // y (4) = A^T x (6)
  static void output(float* __restrict y, int sy, const float* __restrict x, int sx) {
    for (int l = 0; l < L; ++l) {
      const float x0 = x[l], x1 = x[sx + l], x2 = x[2 * sx + l], x3 = x[3 * sx + l],
                  x4 = x[4 * sx + l], x5 = x[5 * sx + l];
      const float s12 = x1 + x2, t12 = x1 - x2, s34 = x3 + x4, t34 = x3 - x4;
      y[l] = x0 + s12 + s34;
      y[sy + l] = t12 + 2.0f * t34;
      y[2 * sy + l] = s12 + 4.0f * s34;
      y[3 * sy + l] = t12 + 8.0f * t34 + x5;
    }
  }
  // x (6) = A dy (4)
  static void output_adjoint(float* __restrict x, int sx, const float* __restrict y,
                             int sy) {
    for (int l = 0; l < L; ++l) {
      const float y0 = y[l], y1 = y[sy + l], y2 = y[2 * sy + l], y3 = y[3 * sy + l];
      const float e1 = y0 + y2, o1 = y1 + y3;                       // x1, x2 = e1 +- o1
      const float e2 = y0 + 4.0f * y2, o2 = 2.0f * y1 + 8.0f * y3;  // x3, x4 = e2 +- o2
      x[l] = y0;
      x[sx + l] = e1 + o1;
      x[2 * sx + l] = e1 - o1;
      x[3 * sx + l] = e2 + o2;
      x[4 * sx + l] = e2 - o2;
      x[5 * sx + l] = y3;
    }
  }
  // u (6) = G k (3)
  static void weight(float* u, int su, const float* k, int sk) {
    const float k0 = k[0], k1 = k[sk], k2 = k[2 * sk];
    const float e = k0 + k2;
    u[0] = k0 / 4.0f;
    u[su] = -(e + k1) / 6.0f;
    u[2 * su] = -(e - k1) / 6.0f;
    u[3 * su] = k0 / 24.0f + k1 / 12.0f + k2 / 6.0f;
    u[4 * su] = k0 / 24.0f - k1 / 12.0f + k2 / 6.0f;
    u[5 * su] = k2;
  }
  // dk (3) = G^T du (6)
  static void weight_adjoint(float* dk, int sk, const float* du, int su) {
    const float u0 = du[0], u1 = du[su], u2 = du[2 * su], u3 = du[3 * su],
                u4 = du[4 * su], u5 = du[5 * su];
    dk[0] = u0 / 4.0f - (u1 + u2) / 6.0f + (u3 + u4) / 24.0f;
    dk[sk] = (u2 - u1) / 6.0f + (u3 - u4) / 12.0f;
    dk[2 * sk] = (u3 + u4 - u1 - u2) / 6.0f + u5;
  }
};

// ---- the 2-D transforms: down the columns (stride: one row), then along
// the rows (stride: one element). The data tiles come from and go to the
// split rows of conv_winograd.cpp where that saves a copy: `col[j]` is
// column j (its L lanes), the next row `rs` floats on.

// v = B^T d B
template <int m>
inline void input_tile(Tile<m>& v, const float* const* col, int rs) {
  constexpr int a = m + 2;
  Tile<m> t;
  for (int j = 0; j < a; ++j) Transforms<m>::input(&t[0][j][0], a * L, col[j], rs);
  for (int i = 0; i < a; ++i) Transforms<m>::input(v[i][0], L, t[i][0], L);
}

// d = B v B^T, the adjoint of input_tile
template <int m>
inline void input_tile_adjoint(Tile<m>& d, const Tile<m>& v) {
  constexpr int a = m + 2, row = a * L;
  Tile<m> t;
  for (int j = 0; j < a; ++j)
    Transforms<m>::input_adjoint(&t[0][j][0], row, &v[0][j][0], row);
  for (int i = 0; i < a; ++i) Transforms<m>::input_adjoint(d[i][0], L, t[i][0], L);
}

// y = A^T x A; row i of y at row[i], its elements `sj` floats apart
template <int m>
inline void output_tile(float* const* row, int sj, const Tile<m>& x) {
  constexpr int a = m + 2;
  float t[m][a][L];
  for (int j = 0; j < a; ++j)
    Transforms<m>::output(&t[0][j][0], a * L, &x[0][j][0], a * L);
  for (int i = 0; i < m; ++i) Transforms<m>::output(row[i], sj, t[i][0], L);
}

// x = A dy A^T, the adjoint of output_tile
template <int m>
inline void output_tile_adjoint(Tile<m>& x, const float* const* col, int rs) {
  constexpr int a = m + 2;
  float t[a][m][L];
  for (int j = 0; j < m; ++j) Transforms<m>::output_adjoint(&t[0][j][0], m * L, col[j], rs);
  for (int i = 0; i < a; ++i) Transforms<m>::output_adjoint(x[i][0], L, t[i][0], L);
}

// u = G k G^T for one 3x3 kernel k
template <int m>
inline void weight_tile(float u[m + 2][m + 2], const float* k) {
  constexpr int a = m + 2;
  float t[a][3];
  for (int j = 0; j < 3; ++j) Transforms<m>::weight(&t[0][j], 3, k + j, 3);
  for (int i = 0; i < a; ++i) Transforms<m>::weight(u[i], 1, t[i], 1);
}

// dk += G^T du G, the adjoint of weight_tile
template <int m>
inline void weight_tile_adjoint(float* dk, const float du[m + 2][m + 2]) {
  constexpr int a = m + 2;
  float t[3][a], r[3][3];
  for (int j = 0; j < a; ++j) Transforms<m>::weight_adjoint(&t[0][j], a, &du[0][j], a);
  for (int i = 0; i < 3; ++i) Transforms<m>::weight_adjoint(r[i], 1, t[i], 1);
  for (int i = 0; i < 9; ++i) dk[i] += r[i / 3][i % 3];
}

}  // namespace qat::winograd
