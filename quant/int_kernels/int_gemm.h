// Integer matrix multiply for the fixed-point engine: int8 or int16 codes
// in, int32 accumulators out.
//
// Letters: A (M,K), B (K,N), C (M,N), all row-major and dense. In a conv,
// A is the weight (OC, C*KH*KW), B the im2col of the input (C*KH*KW, OH*OW)
// and C the accumulator (OC, OH*OW), as autograd/conv_im2col.cpp lays out.
//
// ## Which widths, and why two GEMMs
// - int8 x int8 (gemm<int8_t>): two's complement Q8.0 activations (codes
//   -128..127) times Q0.8 weights (-128..127), and every narrower format
//   (Q6.0 / Q0.4 in either sign convention: |code| <= 64 and <= 16).
//   AVX-512 VNNI vpdpbusd does 64 multiply-adds per instruction.
// - int16 x int16 (gemm<int16_t>): what does not fit a byte. The paper's
//   sign-magnitude Q8.0 is 9 bits (|code| <= 256 with the fraction carry,
//   quant/quantizers/spec.h) and its Q0.8 weights reach +-256; and the input of every
//   up-block conv is [upsampled, skip] with 4 more fraction bits than the
//   activation format (int_ops.h: bilinear x2 is exact at f + 4), so 12-bit
//   codes for Q8.0. vpdpwssd does 32 multiply-adds per instruction.
//   int16 activations x int8 weights go here too, with the weights widened
//   once: splitting a 16-bit activation into two bytes would cost two
//   vpdpbusd for the same 64 products, no gain over one vpdpwssd pair.
//
// ## Overflow
// All versions compute C = A*B modulo 2^32 (int32 accumulators wrap, as the
// hardware does, never undefined behaviour), which is the exact A*B whenever
// |A*B| < 2^31. accumulator_bound() tells the caller whether that holds for
// a layer; where it does not, the engine splits the layer's channels into
// groups whose sums do fit and adds them in int64 (experiments/runtime/int_engine.h).
//
// ## Versions (all give identical results; tests hold them to the naive one)
//   gemm_naive     triple loop in int64, truncated to int32
//   gemm_blocked   portable C++: cache blocks, OpenMP over column blocks
//   gemm_vnni      AVX-512 VNNI micro-kernel, OpenMP over column panels
//   (AMX)          int8 only: AMX tiles, tdpbssd on 32 x 32 blocks of C
//                  (int_gemm_amx.cpp), where the CPU and Linux allow them;
//                  the int16 GEMMs keep VNNI
//   (packed AVX2)  vpmaddwd on int16 pairs (int8 codes widened when packed),
//                  for CPUs without AVX-512 VNNI (AMD Zen 2/3, older Intel)
//   (AVX2 bytes)   vpmaddubsw on unsigned activation bytes times signed weight
//                  bytes, int16 sums widened every few k (int_gemm_maddubs.cpp):
//                  twice vpmaddwd's multiply-adds per instruction, for the int8
//                  layers whose pack_a(A, M, K, b_range) proves int16 cannot
//                  saturate (int_bound.h maddubs_run); the others keep vpmaddwd
//   gemm           the VNNI one if the CPU has it (checked once), else blocked;
//                  gemm_packed and the conv: VNNI, else AVX2, else blocked
#pragma once
#include <cstdint>
#include <vector>

#include "quant/int_kernels/int_bound.h"

namespace qat::quant {

// T = int8_t or int16_t; both are instantiated in int_gemm.cpp. ldc is the
// row stride of C (>= N; 0 means N), so that a caller can fill a column
// block of a wider C: the conv writes a chunk of output pixels this way.
template <class T>
void gemm_naive(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
                int64_t ldc = 0);
template <class T>
void gemm_blocked(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
                  int64_t ldc = 0);
template <class T>  // qat::Error if !cpu_has_vnni()
void gemm_vnni(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
               int64_t ldc = 0);
template <class T>
void gemm(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
          int64_t ldc = 0);

// The left operand packed once, for a conv whose weights are used on many
// images or chunks: rows padded to the VNNI tile (6 rows) and k to the lane
// group (4 int8, 2 int16) with zeros, and the int8 offset correction
// 128 * rowsum per row (int_gemm.cpp). Works on any CPU.
template <class T>
struct PackedA {
  int64_t M = 0, K = 0, Kp = 0;  // Kp: K padded to the group
  std::vector<T> data;           // (rows padded to 6, Kp)
  std::vector<int32_t> corr;     // one per padded row
  std::vector<int16_t> wide;     // int8 only: data widened to int16 (the AVX2 path)
  // int8 only, the AVX2 byte path: B's codes are offset by byte_offset into
  // unsigned bytes, byte_run k-groups of 4 are added in int16 (0: not proven
  // safe, the path is not taken), each window of byte_run groups starting
  // from the centres of int_bound.h, byte_init (row tiles of 6, windows, 8)
  // the pair (-c lane 0, -c lane 1) of int16 per row (rows 6, 7 unused);
  // byte_corr = byte_offset * rowsum - sum of the row's centres.
  int byte_offset = 0, byte_run = 0;
  std::vector<int32_t> byte_corr;
  std::vector<uint32_t> byte_init;
  // int8 on an AMX CPU: the rows again, padded with zeros to 32 rows and
  // Kt = K rounded up to 64, so that every tile is whole (int_gemm_amx.cpp).
  int64_t Kt = 0;
  std::vector<T> tiles;
};
template <class T>
PackedA<T> pack_a(const T* A, int64_t M, int64_t K);
// The same for a B whose codes lie in b_range (the activation format's
// code_range, int_bound.h): also prepares the AVX2 byte path when the range
// fits a byte after the offset -b_range.lo and maddubs_run proves the int16
// sums of these weights cannot leave int16 for any such B.
PackedA<int8_t> pack_a(const int8_t* A, int64_t M, int64_t K, CodeRange b_range);
// The byte path's fields of p (packed from A) for codes + offset and windows
// of `run` groups with these centres (int_bound.h maddubs_centres), as pack_a sets them once maddubs_run has
// proven the run; tests call it with a run the proof refuses.
void set_byte_path(PackedA<int8_t>& p, const int8_t* A, int offset, int run,
                   const std::vector<int32_t>& centres);
// C (A.M, N) = A * B (A.K, N): VNNI if the CPU has it, else the blocked loops
// on the packed rows. Parallel over column panels; called inside a parallel
// region (nested parallelism off, the OpenMP default) it runs serially.
template <class T>
void gemm_packed(int32_t* C, const PackedA<T>& A, const T* B, int64_t N, int64_t ldc = 0);
// The same with B's row k the N codes at base + rows[k] (A.K offsets): a
// stride-1 conv passes its zero-padded input, in which every row of the
// im2col is one contiguous slice (int_conv.cpp), so no im2col is built.
template <class T>
void gemm_packed_rows(int32_t* C, const PackedA<T>& A, const T* base, const int64_t* rows,
                      int64_t N, int64_t ldc = 0);

// True if this CPU runs the _vnni versions (AVX-512 F, BW and VNNI).
bool cpu_has_vnni();
// True if this CPU has AMX-TILE and AMX-INT8 and Linux let the process use
// the tile registers (asked for once, at the first call).
bool cpu_has_amx();
bool cpu_has_avx2();
// What gemm_packed and the integer conv run: the best path the CPU has, at
// most a limit (default vnni: no limit). The limit is for tests and
// benchmarks of the fallbacks: set_gemm_path_limit, or the environment
// variable QAT_INT_GEMM=portable|avx2|maddubs|vnni|amx read at the first call.
// maddubs is AVX2 with the byte path allowed for the int8 GEMMs whose
// PackedA has byte_run > 0 (every other GEMM runs avx2 under it); avx2 is
// vpmaddwd only. amx runs the int8 GEMMs on AMX tiles and the int16 ones
// on VNNI; best is no limit.
enum class GemmPath { portable = 0, avx2 = 1, maddubs = 2, vnni = 3, amx = 4, best = amx };
GemmPath gemm_path();
void set_gemm_path_limit(GemmPath limit);
const char* gemm_path_name(GemmPath path);
// gemm_path() is vnni or amx; set_portable_only(b): the limit portable, or none.
bool use_vnni();
void set_portable_only(bool portable_only);

}  // namespace qat::quant
