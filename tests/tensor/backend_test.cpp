// The backends behind matmul (include/subgrad/tensor/backend.hpp): every float product of each
// backend this CPU can run against a double-precision reference, in every transpose layout and
// at the edges of subgrad's 12 x 32 tiles and 256-deep blocks; a product's bits do not depend on
// the thread count; gradients through matmul agree between the backends; choosing a backend the
// CPU cannot run is an error.
#include <boost/test/unit_test.hpp>

#include <subgrad/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "../error_message.hpp"

namespace {

using subgrad::MatmulBackend;

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

// The backends this CPU runs, and the process's choice put back afterwards.
struct Backends {
  std::vector<MatmulBackend> available{MatmulBackend::openblas};
  Backends() {
    if (cpu_has_avx512()) available.push_back(MatmulBackend::avx512);
  }
  ~Backends() {
    subgrad::set_matmul_backend(MatmulBackend::automatic);
    subgrad::set_num_threads(2);
  }
};

const char* name(MatmulBackend backend) {
  return backend == MatmulBackend::avx512 ? "avx512" : "openblas";
}

// op(X) of rows x columns, as gemm reads it (stored transposed: columns x rows).
double element(const std::vector<float>& x, bool transposed, std::size_t rows, std::size_t columns,
               std::size_t i, std::size_t j) {
  return transposed ? x[j * rows + i] : x[i * columns + j];
}

// Checks C = alpha op(A) op(B) + beta C0 against a double sum. Each entry is within the standard
// bound of a float dot product of k terms: (k + 2) u (|alpha| sum |a b| + |beta c0|), u = 2^-24;
// one missing, doubled or misplaced term is larger than that (the inputs are in [-1, 1] but not
// tiny).
void check_product(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                   float alpha, float beta, std::mt19937& generator) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> a(m * k), b(k * n), c0(m * n);
  for (float& x : a) x = uniform(generator);
  for (float& x : b) x = uniform(generator);
  for (float& x : c0) x = uniform(generator);
  std::vector<float> c = c0;
  // beta == 0: C must not be read, as in BLAS; NaN there would show through.
  if (beta == 0.0f) c.assign(m * n, std::numeric_limits<float>::quiet_NaN());
  subgrad::detail::gemm<float>(transpose_a, transpose_b, m, n, k, alpha, a.data(), b.data(), beta,
                               c.data());
  const double u = std::ldexp(1.0, -24);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double sum = 0.0, magnitude = 0.0;
      for (std::size_t p = 0; p < k; ++p) {
        const double term =
            element(a, transpose_a, m, k, i, p) * element(b, transpose_b, k, n, p, j);
        sum += term;
        magnitude += std::fabs(term);
      }
      const double kept = beta == 0.0f ? 0.0 : double(beta) * c0[i * n + j];
      const double expected = double(alpha) * sum + kept;
      const double bound =
          double(k + 2) * u * (std::fabs(double(alpha)) * magnitude + std::fabs(kept));
      if (!(std::fabs(c[i * n + j] - expected) <= bound)) ++wrong;
    }
  }
  BOOST_TEST(wrong == 0u, subgrad::matmul_backend_description()
                              << ": " << m << " x " << n << " x " << k << ", transposes "
                              << transpose_a << transpose_b << ", alpha " << alpha << ", beta "
                              << beta << ": " << wrong << " entries off");
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_backend_multiplies_as_a_double_reference) {
  const Backends backends;
  std::mt19937 generator(20261206);
  for (const MatmulBackend backend : backends.available) {
    subgrad::set_matmul_backend(backend);
    BOOST_TEST((subgrad::matmul_backend() == backend));
    BOOST_TEST_MESSAGE("backend " << name(backend) << ": "
                                  << subgrad::matmul_backend_description());
    for (int layout = 0; layout < 4; ++layout) {
      const bool transpose_a = (layout & 1) != 0, transpose_b = (layout & 2) != 0;
      // Around the tile (12 rows, 32 columns, 16 per register) and the blocks (144 rows, 256
      // deep, 1024 columns).
      for (const std::size_t m : {1, 11, 12, 13, 145}) {
        for (const std::size_t n : {1, 15, 16, 17, 33, 1030}) {
          for (const std::size_t k : {1, 5, 256, 300}) {
            check_product(transpose_a, transpose_b, m, n, k, 1.0f, 0.0f, generator);
          }
        }
      }
      check_product(transpose_a, transpose_b, 30, 40, 513, -0.5f, 1.5f, generator);
      check_product(transpose_a, transpose_b, 7, 70, 20, 2.0f, 1.0f, generator);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_product_without_depth_scales_c_by_beta) {
  const Backends backends;
  for (const MatmulBackend backend : backends.available) {
    subgrad::set_matmul_backend(backend);
    std::vector<float> c = {1.0f, -2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    subgrad::detail::gemm<float>(false, false, 2, 3, 0, 1.0f, nullptr, nullptr, 0.5f, c.data());
    BOOST_TEST(c == (std::vector<float>{0.5f, -1.0f, 1.5f, 2.0f, 2.5f, 3.0f}),
               boost::test_tools::per_element());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> unread = {nan, nan};
    subgrad::detail::gemm<float>(false, false, 1, 2, 0, 1.0f, nullptr, nullptr, 0.0f,
                                 unread.data());
    BOOST_TEST(unread == (std::vector<float>{0.0f, 0.0f}), boost::test_tools::per_element());
  }
}

// Threads share a large product's columns, each computed as on one thread: the bits are the
// same for 1, 2 and 3 threads, and with one thread per product (DataParallel).
BOOST_AUTO_TEST_CASE(the_thread_count_does_not_change_a_product) {
  const Backends backends;
  if (!cpu_has_avx512()) {
    BOOST_TEST_MESSAGE("no AVX-512 on this CPU: only OpenBLAS, whose threads are its own");
    return;
  }
  subgrad::set_matmul_backend(MatmulBackend::avx512);
  std::mt19937 generator(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const std::size_t m = 150, n = 333, k = 300;  // above 2^20 multiply-adds: threads share it
  std::vector<float> a(m * k), b(k * n);
  for (float& x : a) x = uniform(generator);
  for (float& x : b) x = uniform(generator);
  const auto product = [&](bool transpose_b) {
    std::vector<float> c(m * n);
    subgrad::detail::gemm<float>(false, transpose_b, m, n, k, 1.0f, a.data(), b.data(), 0.0f,
                                 c.data());
    return c;
  };
  for (const bool transpose_b : {false, true}) {
    subgrad::set_num_threads(1);
    const std::vector<float> one = product(transpose_b);
    for (const int threads : {2, 3}) {
      subgrad::set_num_threads(threads);
      BOOST_TEST(product(transpose_b) == one, boost::test_tools::per_element());
    }
    const subgrad::detail::OneThreadPerProduct each_on_its_caller;
    BOOST_TEST(product(transpose_b) == one, boost::test_tools::per_element());
  }
}

// The backward products of matmul (dA = dC B^T, dB = A^T dC, in each layout) run on the backend
// too: float gradients of both backends agree to float rounding.
BOOST_AUTO_TEST_CASE(gradients_through_matmul_agree_between_backends) {
  const Backends backends;
  if (!cpu_has_avx512()) {
    BOOST_TEST_MESSAGE("no AVX-512 on this CPU: one backend, nothing to compare");
    return;
  }
  std::mt19937 generator(11);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  subgrad::Tensor<float> x(37, 70), w(45, 70), v(45, 13);
  for (subgrad::Tensor<float>* t : {&x, &w, &v}) {
    for (std::size_t i = 0; i < t->size(); ++i) t->data()[i] = uniform(generator);
  }
  const auto gradients = [&](MatmulBackend backend) {
    subgrad::set_matmul_backend(backend);
    subgrad::Tape tape;
    const subgrad::TensorVar<float> xv(x), wv(w), vv(v);
    const subgrad::TensorVar<float> h =
        subgrad::relu(subgrad::matmul(xv, subgrad::transpose(wv)));  // 37 x 45
    const subgrad::Var loss = subgrad::sum(subgrad::matmul(h, vv));  // 37 x 13
    subgrad::backward(loss);
    return std::vector<subgrad::Tensor<float>>{xv.adjoint(), wv.adjoint(), vv.adjoint()};
  };
  const auto openblas = gradients(MatmulBackend::openblas);
  const auto avx512 = gradients(MatmulBackend::avx512);
  for (std::size_t g = 0; g < openblas.size(); ++g) {
    BOOST_TEST_REQUIRE(openblas[g].size() == avx512[g].size());
    // Each entry is a float sum of at most 70 terms, so two summation orders differ by about
    // 70 x 2^-24 ~ 4e-6 of the terms' size, which here is of the order of the gradient's largest
    // entry (the backends differ by 1-2e-7 of it, measured); a wrong or missing term moves an
    // entry by far more than 1e-5 of it.
    float scale = 0.0f;
    for (std::size_t i = 0; i < openblas[g].size(); ++i)
      scale = std::max(scale, std::fabs(openblas[g].data()[i]));
    for (std::size_t i = 0; i < openblas[g].size(); ++i) {
      BOOST_TEST(std::fabs(openblas[g].data()[i] - avx512[g].data()[i]) <= 1e-5f * scale,
                 "gradient " << g << " element " << i << " (scale " << scale << ")");
    }
  }
}

BOOST_AUTO_TEST_CASE(the_backend_in_use_is_reported_and_a_missing_one_refused) {
  const Backends backends;
  subgrad::set_matmul_backend(MatmulBackend::automatic);
  const MatmulBackend automatic = subgrad::matmul_backend();
  BOOST_TEST((automatic == MatmulBackend::openblas || automatic == MatmulBackend::avx512));
  BOOST_TEST(subgrad::matmul_backend_description().find("OpenBLAS") != std::string::npos);
  subgrad::set_matmul_backend(MatmulBackend::openblas);
  BOOST_TEST(subgrad::matmul_backend_description().find("AVX-512") == std::string::npos);
  if (cpu_has_avx512()) {
    subgrad::set_matmul_backend(MatmulBackend::avx512);
    BOOST_TEST((subgrad::matmul_backend() == MatmulBackend::avx512));
    BOOST_TEST(subgrad::matmul_backend_description().find("subgrad's AVX-512 kernels") !=
               std::string::npos);
  } else {
    BOOST_CHECK_EXCEPTION(subgrad::set_matmul_backend(MatmulBackend::avx512), subgrad::Error,
                          says("subgrad::set_matmul_backend: MatmulBackend::avx512 needs a CPU "
                               "with AVX-512F"));
    BOOST_TEST((subgrad::matmul_backend() == automatic));  // unchanged
  }
}
