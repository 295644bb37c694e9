// The GEMM behind matmul, compiled once: Eigen 3.4's, on row-major maps of the tape's buffers.
#include <Eigen/Core>

#include "subgrad/tensor/linear_algebra.hpp"

namespace subgrad::detail {

namespace {
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const Matrix<T>>;

template <class T, class A, class B>
void product(const A& a, const B& b, T alpha, T beta, Eigen::Map<Matrix<T>>& c) {
  if (beta == T(0)) {
    c.noalias() = alpha * a * b;
  } else {
    if (beta != T(1)) c *= beta;
    c.noalias() += alpha * a * b;
  }
}
}  // namespace

template <class T>
void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, const T* b, T beta, T* c) {
  const auto M = static_cast<Eigen::Index>(m), N = static_cast<Eigen::Index>(n),
             K = static_cast<Eigen::Index>(k);
  Eigen::Map<Matrix<T>> C(c, M, N);
  const ConstMap<T> A(a, transpose_a ? K : M, transpose_a ? M : K);
  const ConstMap<T> B(b, transpose_b ? N : K, transpose_b ? K : N);
  if (!transpose_a && !transpose_b) product(A, B, alpha, beta, C);
  if (!transpose_a && transpose_b) product(A, B.transpose(), alpha, beta, C);
  if (transpose_a && !transpose_b) product(A.transpose(), B, alpha, beta, C);
  if (transpose_a && transpose_b) product(A.transpose(), B.transpose(), alpha, beta, C);
}

template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*,
                          const float*, float, float*);
template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                           const double*, double, double*);

}  // namespace subgrad::detail
