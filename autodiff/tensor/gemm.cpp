// The GEMM behind matmul, compiled once: OpenBLAS's sgemm/dgemm on the tape's row-major buffers,
// or, for float on a CPU with AVX-512 whose OpenBLAS runs generic kernels, libsubgrad's own
// (avx512_sgemm.cpp). Measured on this project's 2-core machines (docs/design.md): OpenBLAS 106
// GFLOP/s on one thread and 196 on two for a 1024^3 float product where it knows the CPU,
// whatever the user's -march; 27-33 where it falls back to its Prescott kernels (Debian 12's
// 0.3.21 on an Emerald Rapids Xeon), against 130 for subgrad's own; Eigen 3.4 41 GFLOP/s at -O3
// and 149 at -O3 -march=native, on one thread.
#include <cblas.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "avx512_sgemm.hpp"
#include "subgrad/tensor/backend.hpp"
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

// The kernels OpenBLAS chose for this CPU ("SkylakeX", "Haswell", "Prescott", ...).
std::string_view openblas_kernels() { return openblas_get_corename(); }
bool openblas_has_avx512_kernels() {
  constexpr std::array<std::string_view, 3> avx512_cores = {"SkylakeX", "Cooperlake",
                                                            "SapphireRapids"};
  return std::find(avx512_cores.begin(), avx512_cores.end(), openblas_kernels()) !=
         avx512_cores.end();
}
// What MatmulBackend::automatic means on this machine: subgrad's kernels where the CPU has
// AVX-512 but OpenBLAS does not use it (an OpenBLAS older than the CPU falls back to generic
// kernels: Debian 12's 0.3.21 runs its Prescott kernels on an Emerald Rapids Xeon, 4 times
// slower than subgrad's there, and its Haswell kernels 1.7 times slower).
MatmulBackend automatic_backend() {
  return cpu_has_avx512() && !openblas_has_avx512_kernels() ? MatmulBackend::avx512
                                                            : MatmulBackend::openblas;
}
std::atomic<MatmulBackend> chosen_backend{MatmulBackend::automatic};
MatmulBackend backend_in_use() {
  const MatmulBackend chosen = chosen_backend.load(std::memory_order_relaxed);
  if (chosen != MatmulBackend::automatic) return chosen;
  static const MatmulBackend automatic = automatic_backend();
  return automatic;
}

// subgrad's float kernels, on one thread when the product is small (as OpenBLAS's, above),
// otherwise with the columns of C shared by the requested threads: every column is computed as
// on one thread, so the result does not depend on the thread count.
void avx512_product(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                    float alpha, const float* a, const float* b, float beta, float* c) {
  constexpr std::size_t columns_per_tile = 32;  // a thread's share is a whole number of tiles
  std::size_t threads = 1;
  if (!one_thread_per_product.load(std::memory_order_acquire) &&
      m * n * k > largest_single_thread_product) {
    threads = std::min<std::size_t>(static_cast<std::size_t>(requested_count()),
                                    (n + columns_per_tile - 1) / columns_per_tile);
  }
  if (threads <= 1) {
    avx512_sgemm(transpose_a, transpose_b, m, n, k, alpha, a, b, beta, c, 0, n);
    return;
  }
  const std::size_t tiles = (n + columns_per_tile - 1) / columns_per_tile;
  const auto first_column = [&](std::size_t t) {
    return std::min(n, t * tiles / threads * columns_per_tile);
  };
  std::vector<std::thread> helpers;
  std::vector<std::exception_ptr> errors(threads);
  const auto share = [&](std::size_t t) {
    try {
      avx512_sgemm(transpose_a, transpose_b, m, n, k, alpha, a, b, beta, c, first_column(t),
                   first_column(t + 1));
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  helpers.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(share, t);
  share(0);
  for (std::thread& helper : helpers) helper.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
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
  if (backend_in_use() == MatmulBackend::avx512) {
    avx512_product(transpose_a, transpose_b, m, n, k, alpha, a, b, beta, c);
  } else {
    row_major_gemm(cblas_sgemm, transpose_a, transpose_b, m, n, k, alpha, a, b, beta, c);
  }
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
  gemm<float>(transpose_a, transpose_b, m, n, k, static_cast<float>(alpha), wide_a.data(),
              wide_b.data(), static_cast<float>(beta), wide_c.data());
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

void set_matmul_backend(MatmulBackend backend) {
  if (backend == MatmulBackend::avx512 && !detail::cpu_has_avx512()) {
    throw Error(
        "subgrad::set_matmul_backend: MatmulBackend::avx512 needs a CPU with AVX-512F, and this "
        "one has none (MatmulBackend::automatic or openblas work on any CPU)");
  }
  detail::chosen_backend.store(backend, std::memory_order_relaxed);
}

MatmulBackend matmul_backend() { return detail::backend_in_use(); }

std::string matmul_backend_description() {
  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": its first two words.
  const std::string_view config = openblas_get_config();
  std::size_t end = config.find(' ');
  if (end != std::string_view::npos) end = config.find(' ', end + 1);
  const std::string_view openblas = config.substr(0, end);
  if (detail::backend_in_use() == MatmulBackend::avx512) {
    return fmt::format(
        "float: subgrad's AVX-512 kernels ({} runs its {} kernels on this CPU); "
        "double: {}",
        openblas, detail::openblas_kernels(), openblas);
  }
  return fmt::format("{} with its {} kernels", openblas, detail::openblas_kernels());
}

}  // namespace subgrad
