#pragma once
// libsubgrad's own single-precision GEMM for CPUs with AVX-512, compiled for that instruction
// set whatever the build's flags and chosen at run time (gemm.cpp says when). Private to
// libsubgrad.

#include <cstddef>

namespace subgrad::detail {

/// Whether this CPU can run avx512_sgemm.
bool cpu_has_avx512();

/// Row-major C = alpha op(A) op(B) + beta C, as cblas_sgemm with CblasRowMajor: A is stored
/// K x M when transposed (else M x K), B N x K when transposed (else K x N), C is M x N. Only
/// columns [first_column, end_column) of C are computed, so that threads can share a product;
/// beta == 0 means C is not read. The CPU must have AVX-512F (cpu_has_avx512()).
void avx512_sgemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                  float alpha, const float* a, const float* b, float beta, float* c,
                  std::size_t first_column, std::size_t end_column);

}  // namespace subgrad::detail
