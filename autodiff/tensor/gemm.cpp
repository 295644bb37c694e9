// The GEMM behind matmul, compiled once: OpenBLAS's sgemm/dgemm on the tape's row-major buffers.
// Measured on this project's 2-core machine (docs/design.md): OpenBLAS 106 GFLOP/s on one
// thread and 196 on two for a 1024^3 float product, whatever the user's -march; Eigen 3.4 41
// GFLOP/s at -O3 and 149 at -O3 -march=native, on one thread.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "subgrad/tensor/linear_algebra.hpp"
#include "subgrad/tensor/threads.hpp"

namespace subgrad {

namespace detail {

namespace {
// The threads the user asked for; products of at most this many multiply-adds run on one
// (measured: a 2-64-64-1 network's step takes 45 us when its tiny products are split over two
// threads, 33 us on one; the 2^20 products of a 784-256-128-10 network at batch 32, such as its
// 128 x 256 weight gradient over 32 samples, take as long or, that one, 1.6 times longer on two
// threads), larger ones on all.
std::atomic<int> requested_threads{0};
constexpr std::size_t largest_single_thread_product = std::size_t{1} << 20;
// OpenBLAS's thread count is one setting for the whole process: it is changed around a small
// product only while a single thread of the program multiplies. Once a second thread calls
// gemm, products keep the requested count.
std::atomic<std::thread::id> only_caller{};
std::atomic<bool> several_callers{false};

bool may_change_threads() {
  const std::thread::id me = std::this_thread::get_id();
  std::thread::id expected{};
  if (only_caller.compare_exchange_strong(expected, me) || expected == me) {
    return !several_callers.load(std::memory_order_relaxed);
  }
  several_callers.store(true, std::memory_order_relaxed);
  return false;
}

// The requested thread count: set_num_threads's, or OpenBLAS's own until that is called.
int requested_count() {
  int requested = requested_threads.load(std::memory_order_relaxed);
  if (requested == 0) {
    requested = openblas_get_num_threads();
    requested_threads.store(requested, std::memory_order_relaxed);
  }
  return requested;
}

// OneThreadPerProduct: how many live, and whether any does (read by every product).
std::mutex one_thread_mutex;
int one_thread_holders = 0;
std::atomic<bool> one_thread_per_product{false};

// Runs `product` on one thread when it is small, on the requested threads otherwise.
template <class Product>
void with_threads_for(std::size_t m, std::size_t n, std::size_t k, Product product) {
  if (one_thread_per_product.load(std::memory_order_acquire)) {
    product();  // OpenBLAS is at one thread until the last OneThreadPerProduct ends
    return;
  }
  const int requested = requested_count();
  const bool small =
      m * n * k <= largest_single_thread_product && requested > 1 && may_change_threads();
  if (small) openblas_set_num_threads(1);
  product();
  if (small) openblas_set_num_threads(requested);
}
}  // namespace

OneThreadPerProduct::OneThreadPerProduct() {
  const std::lock_guard lock(one_thread_mutex);
  if (one_thread_holders++ == 0) {
    requested_count();  // remembered before OpenBLAS's count is changed
    openblas_set_num_threads(1);
    one_thread_per_product.store(true, std::memory_order_release);
  }
}

OneThreadPerProduct::~OneThreadPerProduct() {
  const std::lock_guard lock(one_thread_mutex);
  if (--one_thread_holders == 0) {
    one_thread_per_product.store(false, std::memory_order_release);
    openblas_set_num_threads(requested_threads.load(std::memory_order_relaxed));
  }
}

// Row-major C = alpha op(A) op(B) + beta C through cblas_sgemm or cblas_dgemm.
template <class T, class CblasGemm>
void row_major_gemm(CblasGemm cblas_gemm, bool transpose_a, bool transpose_b, std::size_t m,
                    std::size_t n, std::size_t k, T alpha, const T* a, const T* b, T beta, T* c) {
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
  with_threads_for(m, n, k, [&] {
    cblas_gemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
               transpose_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, a, transpose_a ? M : K, b,
               transpose_b ? K : N, beta, c, N);
  });
}

template <>
void gemm<float>(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                 float alpha, const float* a, const float* b, float beta, float* c) {
  row_major_gemm(cblas_sgemm, transpose_a, transpose_b, m, n, k, alpha, a, b, beta, c);
}
template <>
void gemm<double>(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                  double alpha, const double* a, const double* b, double beta, double* c) {
  row_major_gemm(cblas_dgemm, transpose_a, transpose_b, m, n, k, alpha, a, b, beta, c);
}

#if SUBGRAD_HAS_FLOAT16
namespace {
// Without F16C each conversion is a call into libgcc (90 % of a 16-bit training step, measured);
// with it, one instruction. Chosen at load time, so the library still runs on any x86-64.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void widen(const _Float16* in,
                                                                       float* out, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<float>(in[k]);
}
__attribute__((target_clones("arch=x86-64-v3", "default"))) void narrow(const float* in,
                                                                        _Float16* out,
                                                                        std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<_Float16>(in[k]);
}
}  // namespace

template <>
void gemm<_Float16>(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                    _Float16 alpha, const _Float16* a, const _Float16* b, _Float16 beta,
                    _Float16* c) {
  // Widening to float is exact, so this is a 16-bit GEMM that accumulates in float.
  thread_local std::vector<float> wide_a, wide_b, wide_c;
  wide_a.resize(m * k);
  wide_b.resize(k * n);
  wide_c.resize(m * n);
  widen(a, wide_a.data(), m * k);
  widen(b, wide_b.data(), k * n);
  if (beta == _Float16(0)) {
    std::fill(wide_c.begin(), wide_c.end(), 0.0f);  // C is not read
  } else {
    widen(c, wide_c.data(), m * n);
  }
  row_major_gemm(cblas_sgemm, transpose_a, transpose_b, m, n, k, static_cast<float>(alpha),
                 wide_a.data(), wide_b.data(), static_cast<float>(beta), wide_c.data());
  narrow(wide_c.data(), c, m * n);
}
#endif

}  // namespace detail

void set_num_threads(int threads) {
  if (threads < 1) {
    throw Error(fmt::format("subgrad::set_num_threads: {} threads (need at least 1)", threads));
  }
  const std::lock_guard lock(detail::one_thread_mutex);
  detail::requested_threads.store(threads, std::memory_order_relaxed);
  // While products are held at one thread, the count takes effect when they are released.
  if (detail::one_thread_holders == 0) openblas_set_num_threads(threads);
}

int num_threads() { return openblas_get_num_threads(); }

}  // namespace subgrad
