// bench_tensor: the tensor layer's costs in one run, each beside its reference:
//   overhead  relu + sum + backward on a 1-element tensor (PyTorch 1.13 took 12.0 us here)
//   fused     forward + backward of relu(x * w + b) on 10^6 floats against a hand-written loop
//   matmul    1024^3 float GFLOP/s through subgrad::matmul against the GEMM it calls directly
//   mlp       one forward + backward step of a 784-256-128-10 relu MLP, batch 128, float
// Medians of repeated runs; --json PATH also writes the figures.
#include <subgrad/io/file.hpp>
#include <subgrad/tensor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace {

using subgrad::Tape;
using subgrad::Tensor;
using subgrad::TensorVar;
using Clock = std::chrono::steady_clock;

// Median seconds of `runs` timings of `body` (after one warm-up call).
double median_seconds(int runs, const std::function<void()>& body) {
  body();
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    body();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

Tensor<float> random_tensor(std::size_t rows, std::size_t cols, std::mt19937& generator) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor<float> t(rows, cols);
  for (float& v : t.span()) v = normal(generator);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      fmt::print(stderr, "usage: bench_tensor [--json PATH]\n");
      return 2;
    }
  }
  std::mt19937 generator(1);
  Tape tape;

  // Per-operation overhead.
  const Tensor<float> one{{0.5f}};
  constexpr int overhead_iterations = 10000;
  const double overhead = median_seconds(7,
                                         [&] {
                                           for (int k = 0; k < overhead_iterations; ++k) {
                                             tape.clear();
                                             TensorVar<float> x(one);
                                             subgrad::backward(subgrad::sum(subgrad::relu(x)));
                                           }
                                         }) /
                          overhead_iterations;

  // Fused element-wise forward and backward against a hand-written loop.
  constexpr std::size_t rows = 1000, cols = 1000;
  const Tensor<float> x0 = random_tensor(rows, cols, generator);
  const Tensor<float> w0 = random_tensor(rows, cols, generator);
  const Tensor<float> b0 = random_tensor(1, cols, generator);
  float sink = 0.0f;
  const double fused = median_seconds(9, [&] {
    tape.clear();
    TensorVar<float> x(x0), w(w0), b(b0);
    const TensorVar<float> y = subgrad::relu(x * w + b);
    subgrad::backward(subgrad::sum(y));
    sink += x.adjoint()(0, 0);
  });
  std::vector<float> hand_y(rows * cols), dx(rows * cols), dw(rows * cols), db(cols);
  // Written as a performance-minded user would: raw pointers, no aliasing, branch-free, so that
  // the compiler vectorizes both loops.
  const double hand = median_seconds(9, [&] {
    const float* __restrict x = x0.data();
    const float* __restrict w = w0.data();
    const float* __restrict b = b0.data();
    float* __restrict y = hand_y.data();
    float* __restrict dx_out = dx.data();
    float* __restrict dw_out = dw.data();
    float* __restrict db_out = db.data();
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < cols; ++j)
        y[i * cols + j] = std::max(x[i * cols + j] * w[i * cols + j] + b[j], 0.0f);
    }
    std::fill(db.begin(), db.end(), 0.0f);
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < cols; ++j) {
        const float z = x[i * cols + j] * w[i * cols + j] + b[j];
        const float g = static_cast<float>(z > 0.0f);  // d sum(y) / dz
        dx_out[i * cols + j] = g * w[i * cols + j];
        dw_out[i * cols + j] = g * x[i * cols + j];
        db_out[j] += g;
      }
    }
    sink += dx[0] + hand_y[0];
  });

  // matmul against the GEMM it calls.
  constexpr std::size_t n = 1024;
  const Tensor<float> a0 = random_tensor(n, n, generator), c0 = random_tensor(n, n, generator);
  const double flops = 2.0 * n * n * n;
  const double through_subgrad = median_seconds(5, [&] {
    tape.clear();
    const TensorVar<float> product = subgrad::matmul(a0, c0);
    sink += product.value()(0, 0);
  });
  Tensor<float> direct(n, n);
  const double through_gemm = median_seconds(5, [&] {
    subgrad::detail::gemm<float>(false, false, n, n, n, 1.0f, a0.data(), c0.data(), 0.0f,
                                 direct.data());
    sink += direct(0, 0);
  });

  // One training step of a 784-256-128-10 MLP, batch 128.
  const Tensor<float> w1 = random_tensor(256, 784, generator), b1(1, 256);
  const Tensor<float> w2 = random_tensor(128, 256, generator), b2(1, 128);
  const Tensor<float> w3 = random_tensor(10, 128, generator), b3(1, 10);
  const Tensor<float> batch = random_tensor(128, 784, generator);
  std::vector<int> labels(128);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 10);
  const double step = median_seconds(21, [&] {
    tape.clear();
    TensorVar<float> W1(w1), B1(b1), W2(w2), B2(b2), W3(w3), B3(b3);
    TensorVar<float> h1 = subgrad::relu(subgrad::matmul(batch, subgrad::transpose(W1)) + B1);
    TensorVar<float> h2 = subgrad::relu(subgrad::matmul(h1, subgrad::transpose(W2)) + B2);
    const subgrad::Var loss =
        subgrad::cross_entropy(subgrad::matmul(h2, subgrad::transpose(W3)) + B3, labels);
    subgrad::backward(loss);
    sink += static_cast<float>(loss.value());
  });

  fmt::print("{:<44} {:>12} {:>12} {:>8}\n", "case", "subgrad", "reference", "ratio");
  fmt::print("{:<44} {:>9.3f} us {:>12} {:>8}\n", "overhead: relu+sum+backward, 1 element",
             overhead * 1e6, "12.0 us (PyTorch 1.13)", "");
  fmt::print("{:<44} {:>9.2f} ms {:>9.2f} ms {:>7.0f}%\n", "fused relu(x*w+b) fwd+bwd, 10^6 floats",
             fused * 1e3, hand * 1e3, 100.0 * hand / fused);
  fmt::print("{:<44} {:>6.1f} GFLOP/s {:>5.1f} GFLOP/s {:>7.0f}%\n",
             "matmul 1024^3 float (vs its GEMM)", flops / through_subgrad / 1e9,
             flops / through_gemm / 1e9, 100.0 * through_gemm / through_subgrad);
  fmt::print("{:<44} {:>9.2f} ms\n", "MLP 784-256-128-10 step, batch 128, float", step * 1e3);
  fmt::print("(medians; ratio = reference time / subgrad time; checksum {})\n", sink != 0.0f);
  if (!json_path.empty()) {
    subgrad::write_file_atomically(
        json_path,
        fmt::format("{{\"overhead_us\": {}, \"fused_ms\": {}, \"hand_ms\": {}, \"matmul_gflops\": "
                    "{}, \"gemm_gflops\": {}, \"mlp_step_ms\": {}}}\n",
                    overhead * 1e6, fused * 1e3, hand * 1e3, flops / through_subgrad / 1e9,
                    flops / through_gemm / 1e9, step * 1e3));
  }
}
