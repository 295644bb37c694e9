// Two ways to teach subgrad a derivative:
//  1. a rule with a kink (soft shrinkage), used like any built-in primitive;
//  2. a node: an external computation (a dense linear solve done by Eigen) whose adjoint is
//     written by hand and swept together with the ordinary statements.
#include <subgrad/subgrad.hpp>

#include <cmath>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <Eigen/Dense>

namespace {

// shrink(x) = x - lambda for x > lambda, x + lambda for x < -lambda, 0 between.
// At +-lambda: left and right slopes {0, 1} and {1, 0}; the kink rule picks (min_norm: 0).
struct Shrink {
  static constexpr std::string_view name = "shrink";
  double lambda = 0.5;
  double value(double x) const {
    if (x > lambda) return x - lambda;
    if (x < -lambda) return x + lambda;
    return 0.0;
  }
  subgrad::Slopes slopes(double x) const {
    if (x == lambda) return {0.0, 1.0};
    if (x == -lambda) return {1.0, 0.0};
    const double slope = std::abs(x) > lambda ? 1.0 : 0.0;
    return {slope, slope};
  }
};
inline constexpr subgrad::Primitive<Shrink> shrink{};

// x = A^{-1} b as one node. With x_bar the adjoint of x: b_bar = A^{-T} x_bar and
// A_bar = -b_bar x^T.
std::vector<subgrad::Var> solve(std::span<const subgrad::Var> a, std::span<const subgrad::Var> b) {
  const auto n = static_cast<Eigen::Index>(b.size());
  Eigen::MatrixXd matrix(n, n);
  Eigen::VectorXd right_side(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    right_side(i) = b[static_cast<std::size_t>(i)].value();
    for (Eigen::Index j = 0; j < n; ++j)
      matrix(i, j) = a[static_cast<std::size_t>(i * n + j)].value();
  }
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(matrix);
  const Eigen::VectorXd x = lu.solve(right_side);

  std::vector<subgrad::Var> inputs(a.begin(), a.end());
  inputs.insert(inputs.end(), b.begin(), b.end());
  const std::vector<double> values(x.data(), x.data() + n);
  return subgrad::record_node(inputs, values, [lu, x, n](subgrad::NodeAdjoints& adjoints) {
    Eigen::VectorXd x_bar(n);
    for (Eigen::Index i = 0; i < n; ++i) x_bar(i) = adjoints.output(static_cast<std::size_t>(i));
    const Eigen::VectorXd b_bar = lu.transpose().solve(x_bar);
    for (Eigen::Index i = 0; i < n; ++i) {
      for (Eigen::Index j = 0; j < n; ++j) {
        adjoints.input(static_cast<std::size_t>(i * n + j)) -= b_bar(i) * x(j);
      }
      adjoints.input(static_cast<std::size_t>(n * n + i)) += b_bar(i);
    }
  });
}

}  // namespace

int main() {
  using subgrad::Var;

  // 1. The user rule at and away from its kink.
  Var x = 0.5;
  fmt::print("shrink(0.5) = {}; d/dx at the kink: min_norm {}, left {}, right {}\n", shrink(0.5),
             subgrad::grad(shrink(x), x), subgrad::grad(shrink(x, subgrad::kink::left), x),
             subgrad::grad(shrink(x, subgrad::kink::right), x));
  Var z = 2.0;
  fmt::print("d/dz shrink(z^2) at z = 2: {} (expected 4)\n", subgrad::grad(shrink(z * z), z));

  // 2. loss = sum_i x_i^2 with x = A^{-1} b, differentiated through the node.
  auto loss = [](std::span<const Var> parameters) {
    const std::span<const Var> a = parameters.first(9);
    const std::span<const Var> b = parameters.subspan(9, 3);
    Var scaled_b0 = b[0] * 2.0;  // a statement before the node
    const std::vector<Var> right_side{scaled_b0, b[1], b[2]};
    const std::vector<Var> solution = solve(a, right_side);
    Var total = 0.0 * solution[0];
    for (const Var& value : solution) total += value * value;  // statements after the node
    return total;
  };
  const std::vector<double> point{4, 1, 0, 1, 3, 1, 0, 1, 2, 1.0, 2.0, 3.0};
  const subgrad::ValueAndGradient result = subgrad::value_and_gradient(loss, point);

  // Check against central differences of the same function on double.
  auto loss_on_double = [&](std::vector<double> p) {
    Eigen::Matrix3d matrix;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) matrix(i, j) = p[static_cast<std::size_t>(3 * i + j)];
    const Eigen::Vector3d right_side(2.0 * p[9], p[10], p[11]);
    return matrix.partialPivLu().solve(right_side).squaredNorm();
  };
  double largest_error = 0.0;
  for (std::size_t k = 0; k < point.size(); ++k) {
    std::vector<double> up = point, down = point;
    const double h = 1e-6;
    up[k] += h;
    down[k] -= h;
    const double numeric = (loss_on_double(up) - loss_on_double(down)) / (2 * h);
    largest_error = std::max(largest_error, std::abs(numeric - result.gradient[k]));
  }
  fmt::print(
      "loss = {:.6f}\ngradient = [{:.5f}]\nlargest difference from central differences: {:.1e}\n",
      result.value, fmt::join(result.gradient, ", "), largest_error);
  return largest_error < 1e-6 ? 0 : 1;
}
