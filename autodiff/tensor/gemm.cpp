// The GEMM behind matmul, compiled once: OpenBLAS's sgemm/dgemm on the tape's row-major buffers.
// Measured on this project's 2-core machine (docs/design.md): OpenBLAS 106 GFLOP/s on one
// thread and 196 on two for a 1024^3 float product, whatever the user's -march; Eigen 3.4 41
// GFLOP/s at -O3 and 149 at -O3 -march=native, on one thread.
#include <cblas.h>

#include "subgrad/tensor/linear_algebra.hpp"
#include "subgrad/tensor/threads.hpp"

namespace subgrad {

namespace detail {

template <>
void gemm<float>(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                 float alpha, const float* a, const float* b, float beta, float* c) {
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, a, transpose_a ? M : K, b,
              transpose_b ? K : N, beta, c, N);
}
template <>
void gemm<double>(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                  double alpha, const double* a, const double* b, double beta, double* c) {
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
  cblas_dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, a, transpose_a ? M : K, b,
              transpose_b ? K : N, beta, c, N);
}

}  // namespace detail

void set_num_threads(int threads) {
  if (threads < 1) {
    throw Error(fmt::format("subgrad::set_num_threads: {} threads (need at least 1)", threads));
  }
  openblas_set_num_threads(threads);
}

int num_threads() { return openblas_get_num_threads(); }

}  // namespace subgrad
