// The AMX path of the int8 GEMM (Intel Sapphire Rapids and later: AMX-TILE,
// AMX-INT8), C = A * B mod 2^32 like the others (int_gemm.h).
//
// tdpbssd (_tile_dpbssd) multiplies a 16 x 64 tile of signed bytes (16 rows
// of A, 64 k) by a 16 x 64-byte tile of signed bytes holding 64 k of 16
// columns of B in k-groups of 4 (row r: B[4r + t][j] at byte 4j + t), and
// adds the products into a 16 x 16 tile of int32: 16,384 multiply-adds in
// one instruction, against vpdpbusd's 64. Signed times signed: no +128
// offset and no correction. Like vpdpbusd it wraps mod 2^32.
//
// The B panel is the VNNI kernel's, 64 columns, k-groups of 4 (pack_b_panel
// with offset 0), so column block j0 of k-step s is a tile of 16 rows 256
// bytes apart. A is packed for tiles: rows padded to 32, k to 64, both with
// zeros (PackedA::tiles), so every tile is whole and the padding adds 0.
// The register tile is 32 x 32 of C in 4 tiles (tmm0-3), with two tiles of
// A (tmm4, 5) and two of B (tmm6, 7): each tile loaded serves two products.
//
// The tile registers are per thread: each call configures them and releases
// them (the OS then need not save 8 KiB of tile state per thread), and the
// process asks Linux for the tile data permission once (cpu_has_amx).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "quant/int_kernels/int_gemm_panels.h"

namespace qat::quant {

bool cpu_has_amx() {
  // ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA (Linux 5.16+): without the
  // permission the first tile instruction kills the process.
  static const bool has = [] {
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-int8")) return false;
    constexpr long kReqXcompPerm = 0x1023, kXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXtiledata) == 0;
  }();
  return has;
}

namespace panels {
namespace {

constexpr int64_t kNR = 64;  // columns of a B panel, as the VNNI kernel's

struct TileConfig {  // ldtilecfg's 64 bytes, palette 1
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-int8"))) void configure_tiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;  // all 16 x 64 bytes
  _tile_loadconfig(&cfg);
}

// C[0..mr, 0..nr) (rows ldc apart) = A rows (32 x Kt, Kt apart) x the panel's
// columns [j0, j0 + 32), for mr <= 32 and nr <= 32.
__attribute__((target("amx-tile,amx-int8"))) void amx_block(int32_t* C, int64_t ldc,
                                                             const int8_t* A, int64_t Kt,
                                                             const int8_t* Bp, int64_t j0,
                                                             int64_t mr, int64_t nr) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  constexpr int64_t kStrideB = kNR * 4;  // bytes from one k-group to the next
  for (int64_t s = 0; s < Kt / 64; ++s) {
    const int8_t* b = Bp + (s * 16 * kNR + j0) * 4;
    _tile_loadd(4, A + s * 64, Kt);
    _tile_loadd(5, A + 16 * Kt + s * 64, Kt);
    _tile_loadd(6, b, kStrideB);
    _tile_loadd(7, b + 16 * 4, kStrideB);
    _tile_dpbssd(0, 4, 6);
    _tile_dpbssd(1, 4, 7);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  }
  if (mr == 32 && nr == 32) {
    const int64_t stride = ldc * int64_t(sizeof(int32_t));
    _tile_stored(0, C, stride);
    _tile_stored(1, C + 16, stride);
    _tile_stored(2, C + 16 * ldc, stride);
    _tile_stored(3, C + 16 * ldc + 16, stride);
    return;
  }
  alignas(64) int32_t edge[32][32];
  _tile_stored(0, &edge[0][0], 128);
  _tile_stored(1, &edge[0][16], 128);
  _tile_stored(2, &edge[16][0], 128);
  _tile_stored(3, &edge[16][16], 128);
  for (int64_t i = 0; i < mr; ++i) std::memcpy(C + i * ldc, edge[i], size_t(nr) * 4);
}

__attribute__((target("amx-tile"))) void release_tiles() { _tile_release(); }

}  // namespace

template <class Rows>
void packed_amx(int32_t* C, const PackedA<int8_t>& A, const Rows& row, int64_t N,
                int64_t ldc) {
  const int64_t panels = (N + kNR - 1) / kNR, Kt = A.Kt;
#pragma omp parallel
  {
    thread_local std::vector<int8_t> Bp;  // kept between calls, as the VNNI path's
    if (Bp.size() < size_t(Kt * kNR)) Bp.resize(size_t(Kt * kNR));
    configure_tiles();
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t n0 = p * kNR, nr = std::min(kNR, N - n0);
      pack_b_panel<kNR>(Bp.data(), row, A.K, Kt, n0, nr, /*offset=*/0);
      for (int64_t m0 = 0; m0 < A.M; m0 += 32)
        for (int64_t j0 = 0; j0 < nr; j0 += 32)
          amx_block(C + m0 * ldc + n0 + j0, ldc, A.tiles.data() + m0 * Kt, Kt, Bp.data(), j0,
                    std::min<int64_t>(32, A.M - m0), std::min<int64_t>(32, nr - j0));
    }
    release_tiles();
  }
}

template void packed_amx(int32_t*, const PackedA<int8_t>&, const DenseRows<int8_t>&, int64_t,
                         int64_t);
template void packed_amx(int32_t*, const PackedA<int8_t>&, const OffsetRows<int8_t>&, int64_t,
                         int64_t);

}  // namespace panels
}  // namespace qat::quant
