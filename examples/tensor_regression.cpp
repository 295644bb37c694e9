// tensor_regression: a 1-32-32-1 network written with tensor expressions (no nn layer), fitted to
// y = sin(3x) on [-1, 1] by full-batch gradient descent. Before training, check_gradient verifies
// the first layer's gradient (kinks at exact zeros included); then the loss is printed as it
// falls. Exits non-zero if the check fails or the loss does not fall below 1 % of its start.
//
//   tensor_regression [--activation NAME] [--steps N]
#include <subgrad/tensor.hpp>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace {

using subgrad::Tape;
using subgrad::Tensor;
using subgrad::TensorVar;
using subgrad::Var;

struct Parameters {
  Tensor<double> w1, b1, w2, b2, w3, b3;
};

// PyTorch's default initialisation of a Linear layer: uniform in +-1/sqrt(inputs).
Tensor<double> uniform(std::size_t rows, std::size_t cols, std::size_t inputs, std::mt19937& g) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(inputs));
  std::uniform_real_distribution<double> draw(-bound, bound);
  Tensor<double> t(rows, cols);
  for (double& v : t.span()) v = draw(g);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string activation = "relu";
  int steps = 3000;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--activation" && i + 1 < argc) {
      activation = argv[++i];
    } else if (argument == "--steps" && i + 1 < argc) {
      steps = std::atoi(argv[++i]);
    } else {
      fmt::print(stderr, "usage: tensor_regression [--activation NAME] [--steps N]\n");
      return 2;
    }
  }
  const auto rule = subgrad::find_unary_primitive(activation);
  if (!rule) {
    fmt::print(stderr, "tensor_regression: no primitive called '{}'\n", activation);
    return 2;
  }
  const subgrad::Primitive<subgrad::DynamicUnaryRule> act{*rule};

  // Data: 64 points, x in rows.
  Tensor<double> x(64, 1), y(64, 1);
  for (std::size_t i = 0; i < 64; ++i) {
    x(i, 0) = -1.0 + 2.0 * static_cast<double>(i) / 63.0;
    y(i, 0) = std::sin(3.0 * x(i, 0));
  }
  std::mt19937 generator(7);
  Parameters p{uniform(32, 1, 1, generator),   uniform(1, 32, 1, generator),
               uniform(32, 32, 32, generator), uniform(1, 32, 32, generator),
               uniform(1, 32, 32, generator),  uniform(1, 1, 32, generator)};

  // The network as tensor expressions: each line is one matmul and one fused element-wise node.
  auto loss_of = [&](const TensorVar<double>& w1, const TensorVar<double>& b1,
                     const TensorVar<double>& w2, const TensorVar<double>& b2,
                     const TensorVar<double>& w3, const TensorVar<double>& b3) {
    const TensorVar<double> h1 = act(subgrad::matmul(x, subgrad::transpose(w1)) + b1);
    const TensorVar<double> h2 = act(subgrad::matmul(h1, subgrad::transpose(w2)) + b2);
    return subgrad::mse(subgrad::matmul(h2, subgrad::transpose(w3)) + b3, y);
  };

  // Verify the gradient of the first layer's weights before trusting it.
  const subgrad::GradientReport report = subgrad::check_gradient(
      [&](const TensorVar<double>& w1) { return loss_of(w1, p.b1, p.w2, p.b2, p.w3, p.b3); }, p.w1);
  fmt::print("check_gradient of the first layer ({} coordinates): {}\n", report.coordinates.size(),
             report.ok() ? "passed" : "FAILED");
  if (!report.ok()) {
    fmt::print("{}\n", report);
    return 1;
  }

  Tape tape;
  double first = 0.0, last = 0.0;
  const double rate = 0.1;
  for (int step = 0; step <= steps; ++step) {
    tape.clear();
    TensorVar<double> w1(p.w1), b1(p.b1), w2(p.w2), b2(p.b2), w3(p.w3), b3(p.b3);
    const Var loss = loss_of(w1, b1, w2, b2, w3, b3);
    subgrad::backward(loss);
    for (auto [parameter, variable] : {std::pair{&p.w1, &w1},
                                       {&p.b1, &b1},
                                       {&p.w2, &w2},
                                       {&p.b2, &b2},
                                       {&p.w3, &w3},
                                       {&p.b3, &b3}}) {
      const Tensor<double> gradient = variable->adjoint();
      for (std::size_t k = 0; k < gradient.size(); ++k)
        parameter->data()[k] -= rate * gradient.data()[k];
    }
    if (step == 0) first = loss.value();
    last = loss.value();
    if (step % (steps / 6 > 0 ? steps / 6 : 1) == 0)
      fmt::print("step {:5}  loss {:.6f}\n", step, last);
  }
  const bool fell = last < 0.01 * first;
  fmt::print("activation {}: loss {:.6f} -> {:.6f} ({})\n", activation, first, last,
             fell ? "below 1 % of the start" : "did NOT fall below 1 % of the start");
  return fell ? 0 : 1;
}
