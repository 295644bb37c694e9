// A packed, blocked SGEMM for AVX-512 (the GotoBLAS scheme): C is computed in tiles of 12 rows
// by 32 columns held in 24 registers; op(A) and op(B) are copied in blocks into buffers laid out
// in the order the tile's loop reads them (packing), which also takes care of transposes and of
// the edges (packed with zeros). A block of op(B) of depth_block x 32 stays in the L1 cache while
// every 12-row sliver of the packed block of op(A) (in the L2 cache) passes under it.
// Everything here is compiled for AVX-512 through target attributes, so libsubgrad built for
// plain x86-64 still has it; gemm.cpp calls it only on a CPU that has AVX-512F.
#include "avx512_sgemm.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace subgrad::detail {

#if defined(__x86_64__)
namespace {
constexpr std::size_t tile_rows = 12;       // rows of C per tile: 12 x 2 accumulators
constexpr std::size_t tile_columns = 32;    // columns of C per tile: two registers of 16 floats
constexpr std::size_t depth_block = 256;    // a packed 256 x 32 sliver of op(B): 32 KB, in L1
constexpr std::size_t row_block = 144;      // packed op(A): 144 x 256 floats, 144 KB, in L2
constexpr std::size_t column_block = 1024;  // packed op(B): 256 x 1024 floats, 1 MB

// op(X) of `rows` x `columns`, stored row-major, or transposed (then stored columns x rows).
struct Operand {
  const float* data;
  bool transposed;
  std::size_t rows, columns;
};

// Rows [first_row, first_row + rows) and depth [first_depth, first_depth + depth) of op(A) into
// slivers of tile_rows rows, each stored depth-major (the tile_rows values of one depth next to
// each other); rows past the end are zeros.
void pack_a(const Operand& a, std::size_t first_row, std::size_t rows, std::size_t first_depth,
            std::size_t depth, float* out) {
  for (std::size_t sliver = 0; sliver < rows; sliver += tile_rows, out += tile_rows * depth) {
    const std::size_t used = std::min(tile_rows, rows - sliver);
    const std::size_t row = first_row + sliver;
    if (used < tile_rows) std::fill_n(out, tile_rows * depth, 0.0f);
    if (a.transposed) {  // element (i, p) at data[p * rows + i]: a sliver's row is contiguous
      for (std::size_t p = 0; p < depth; ++p) {
        const float* from = a.data + (first_depth + p) * a.rows + row;
        std::copy_n(from, used, out + p * tile_rows);
      }
    } else {  // element (i, p) at data[i * columns + p]
      for (std::size_t r = 0; r < used; ++r) {
        const float* from = a.data + (row + r) * a.columns + first_depth;
        for (std::size_t p = 0; p < depth; ++p) out[p * tile_rows + r] = from[p];
      }
    }
  }
}

// A full sliver of a transposed op(B) (a linear layer's x W^T): column c of the sliver is row c
// of the stored matrix, so the 16 values of one depth in each half are one gather. Element by
// element this packing took as long as multiplying 12 to 16 rows (a 16 x 256 x 784 product: 163
// us, 98 with gathers, measured on an Emerald Rapids Xeon, which the Gather Data Sampling
// mitigation does not slow). The older Xeons whose microcode does slow gathers are ones OpenBLAS
// knows, so MatmulBackend::automatic gives them OpenBLAS's SkylakeX kernels instead.
[[gnu::target("avx512f")]] void gather_sliver(const float* first, std::size_t row_stride,
                                              std::size_t depth, float* out) {
  const __m512i rows =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(row_stride)));
  const float* second = first + 16 * row_stride;
  // The masked form with a zero source: the plain one leaves g++ 12 warning about its own
  // undefined source register.
  const __m512 zero = _mm512_setzero_ps();
  const __mmask16 all = 0xFFFF;
  for (std::size_t p = 0; p < depth; ++p, out += tile_columns) {
    _mm512_storeu_ps(out, _mm512_mask_i32gather_ps(zero, all, rows, first + p, 4));
    _mm512_storeu_ps(out + 16, _mm512_mask_i32gather_ps(zero, all, rows, second + p, 4));
  }
}

// Depth [first_depth, first_depth + depth) and columns [first_column, first_column + columns) of
// op(B) into slivers of tile_columns columns, each stored depth-major; columns past the end are
// zeros.
void pack_b(const Operand& b, std::size_t first_depth, std::size_t depth, std::size_t first_column,
            std::size_t columns, float* out) {
  for (std::size_t sliver = 0; sliver < columns;
       sliver += tile_columns, out += tile_columns * depth) {
    const std::size_t used = std::min(tile_columns, columns - sliver);
    const std::size_t column = first_column + sliver;
    if (used < tile_columns) std::fill_n(out, tile_columns * depth, 0.0f);
    if (b.transposed && used == tile_columns && b.rows < (std::size_t{1} << 26)) {
      gather_sliver(b.data + column * b.rows + first_depth, b.rows, depth, out);
    } else if (b.transposed) {  // element (p, j) at data[j * rows + p]
      for (std::size_t c = 0; c < used; ++c) {
        const float* from = b.data + (column + c) * b.rows + first_depth;
        for (std::size_t p = 0; p < depth; ++p) out[p * tile_columns + c] = from[p];
      }
    } else {  // element (p, j) at data[p * columns + j]: a sliver's row is contiguous
      for (std::size_t p = 0; p < depth; ++p) {
        std::memcpy(out + p * tile_columns, b.data + (first_depth + p) * b.columns + column,
                    used * sizeof(float));
      }
    }
  }
}

// One tile: C[0..rows) x [0..columns) = alpha * (packed A sliver x packed B sliver) + beta * C.
// The loops over the tile's rows are unrolled with constant indices so that the 24 accumulators
// stay in registers (an accumulator indexed at run time would put them all in memory).
[[gnu::target("avx512f")]] void tile(std::size_t depth, const float* a, const float* b, float* c,
                                     std::size_t ldc, std::size_t rows, std::size_t columns,
                                     float alpha, float beta) {
  __m512 left[tile_rows], right[tile_rows];
#pragma GCC unroll 12
  for (std::size_t r = 0; r < tile_rows; ++r) left[r] = right[r] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < depth; ++p, a += tile_rows, b += tile_columns) {
    const __m512 b_left = _mm512_loadu_ps(b), b_right = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (std::size_t r = 0; r < tile_rows; ++r) {
      const __m512 a_r = _mm512_set1_ps(a[r]);
      left[r] = _mm512_fmadd_ps(a_r, b_left, left[r]);
      right[r] = _mm512_fmadd_ps(a_r, b_right, right[r]);
    }
  }
  const auto mask_of = [](std::size_t count) -> __mmask16 {
    return count >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
  };
  const __mmask16 mask_left = mask_of(columns);
  const __mmask16 mask_right = mask_of(columns > 16 ? columns - 16 : 0);
  const __m512 scale = _mm512_set1_ps(alpha), keep = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (std::size_t r = 0; r < tile_rows; ++r) {
    if (r >= rows) break;
    float* row = c + r * ldc;
    __m512 out_left = _mm512_mul_ps(scale, left[r]), out_right = _mm512_mul_ps(scale, right[r]);
    if (beta != 0.0f) {  // beta == 0: C is not read (it may hold anything, NaN included)
      out_left = _mm512_fmadd_ps(keep, _mm512_maskz_loadu_ps(mask_left, row), out_left);
      out_right = _mm512_fmadd_ps(keep, _mm512_maskz_loadu_ps(mask_right, row + 16), out_right);
    }
    _mm512_mask_storeu_ps(row, mask_left, out_left);
    _mm512_mask_storeu_ps(row + 16, mask_right, out_right);
  }
}

// What C becomes when there is nothing to multiply (k == 0 or alpha == 0): beta C.
void scale_columns(std::size_t m, std::size_t n, float beta, float* c, std::size_t first_column,
                   std::size_t end_column) {
  for (std::size_t i = 0; i < m; ++i) {
    float* row = c + i * n;
    for (std::size_t j = first_column; j < end_column; ++j)
      row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
}
}  // namespace

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

void avx512_sgemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                  float alpha, const float* a, const float* b, float beta, float* c,
                  std::size_t first_column, std::size_t end_column) {
  if (m == 0 || first_column >= end_column) return;
  if (k == 0 || alpha == 0.0f) {
    scale_columns(m, n, beta, c, first_column, end_column);
    return;
  }
  const Operand op_a{a, transpose_a, m, k}, op_b{b, transpose_b, k, n};
  // Per thread, kept from call to call: a training step's products reuse them.
  thread_local std::vector<float> packed_a, packed_b;
  const auto round_up = [](std::size_t x, std::size_t to) { return (x + to - 1) / to * to; };
  packed_a.resize(round_up(std::min(m, row_block), tile_rows) * std::min(k, depth_block));
  packed_b.resize(round_up(std::min(end_column - first_column, column_block), tile_columns) *
                  std::min(k, depth_block));
  for (std::size_t jc = first_column; jc < end_column; jc += column_block) {
    const std::size_t columns = std::min(column_block, end_column - jc);
    for (std::size_t pc = 0; pc < k; pc += depth_block) {
      const std::size_t depth = std::min(depth_block, k - pc);
      const float beta_here = pc == 0 ? beta : 1.0f;  // later depth blocks add to C
      pack_b(op_b, pc, depth, jc, columns, packed_b.data());
      for (std::size_t ic = 0; ic < m; ic += row_block) {
        const std::size_t rows = std::min(row_block, m - ic);
        pack_a(op_a, ic, rows, pc, depth, packed_a.data());
        for (std::size_t jr = 0; jr < columns; jr += tile_columns) {
          const float* b_sliver = packed_b.data() + jr * depth;
          for (std::size_t ir = 0; ir < rows; ir += tile_rows) {
            tile(depth, packed_a.data() + ir * depth, b_sliver, c + (ic + ir) * n + jc + jr, n,
                 std::min(tile_rows, rows - ir), std::min(tile_columns, columns - jr), alpha,
                 beta_here);
          }
        }
      }
    }
  }
}
#else  // no AVX-512 on this architecture: cpu_has_avx512() is false, so this is never called
bool cpu_has_avx512() { return false; }
void avx512_sgemm(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*,
                  const float*, float, float*, std::size_t, std::size_t) {}
#endif

}  // namespace subgrad::detail
