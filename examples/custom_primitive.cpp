// Two ways to teach subgrad a derivative:
//  1. a rule with a kink (soft shrinkage), used like any built-in primitive;
//  2. a node: an external computation (a dense linear solve done by Eigen) whose adjoint is
//     written by hand and swept together with the ordinary statements;
//  3. the same solve differentiated through Eigen's own LU on Var (<subgrad/eigen.hpp>), compared
//     with the node: the same gradient, and what each costs.
#include <subgrad/eigen.hpp>
#include <subgrad/subgrad.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
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

// sum_i x_i^2 with x = A^{-1} b, A (n x n, row-major) and b the parameters; the solve done by
// the node above or by Eigen's partial-pivoting LU on Var.
template <bool through_node>
subgrad::Var squared_solution(std::span<const subgrad::Var> parameters, std::size_t n) {
  using subgrad::Var;
  const std::span<const Var> a = parameters.first(n * n);
  const std::span<const Var> b = parameters.subspan(n * n, n);
  std::vector<Var> solution;
  if constexpr (through_node) {
    solution = solve(a, b);
  } else {
    const auto size = static_cast<Eigen::Index>(n);
    Eigen::Matrix<Var, Eigen::Dynamic, Eigen::Dynamic> matrix(size, size);
    Eigen::Matrix<Var, Eigen::Dynamic, 1> right_side(size);
    for (Eigen::Index i = 0; i < size; ++i) {
      right_side(i) = b[static_cast<std::size_t>(i)];
      for (Eigen::Index j = 0; j < size; ++j)
        matrix(i, j) = a[static_cast<std::size_t>(i * size + j)];
    }
    const Eigen::Matrix<Var, Eigen::Dynamic, 1> x = matrix.partialPivLu().solve(right_side);
    solution.assign(x.data(), x.data() + n);
  }
  Var total = 0.0 * solution[0];
  for (const Var& value : solution) total += value * value;
  return total;
}

// The median time of a full gradient (record, sweep, read out) over `runs` runs, in ms.
template <class F>
double median_gradient_ms(F f, const std::vector<double>& point, int runs) {
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<double> gradient = subgrad::gradient(f, point);
    const auto stop = std::chrono::steady_clock::now();
    if (gradient.empty()) return 0.0;
    times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::nth_element(times.begin(), times.begin() + runs / 2, times.end());
  return times[static_cast<std::size_t>(runs / 2)];
}

// Part 3: node against Eigen's LU on Var for an n x n system. Returns the largest difference of
// the two gradients relative to the largest gradient component.
double compare_with_eigen(std::size_t n) {
  using subgrad::Var;
  std::vector<double> point(n * n + n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j)
      point[i * n + j] = (i == j ? 2.0 : 0.0) + 0.5 * std::sin(1.0 + 0.7 * double(i * n + j));
    point[n * n + i] = std::cos(0.3 * double(i));
  }
  const auto node = [n](std::span<const Var> p) { return squared_solution<true>(p, n); };
  const auto eigen = [n](std::span<const Var> p) { return squared_solution<false>(p, n); };
  const std::vector<double> by_node = subgrad::gradient(node, point);
  const std::vector<double> by_eigen = subgrad::gradient(eigen, point);
  double largest = 0.0, difference = 0.0;
  for (std::size_t k = 0; k < point.size(); ++k) {
    largest = std::max(largest, std::abs(by_node[k]));
    difference = std::max(difference, std::abs(by_node[k] - by_eigen[k]));
  }
  auto statements = [&point](const auto& f) {
    subgrad::Tape tape;
    std::vector<Var> inputs(point.size());
    subgrad::variables(point, inputs);
    const std::size_t before = tape.statement_count();
    [[maybe_unused]] const Var y = f(std::span<const Var>(inputs));
    return tape.statement_count() - before;
  };
  const int runs = n <= 20 ? 201 : 21;
  const double node_ms = median_gradient_ms(node, point, runs);
  const double eigen_ms = median_gradient_ms(eigen, point, runs);
  fmt::print("{:>5} {:>14} {:>16} {:>12.4f} {:>14.4f} {:>8.1f} {:>14.1e}\n", n, statements(node),
             statements(eigen), node_ms, eigen_ms, eigen_ms / node_ms, difference / largest);
  return difference / largest;
}

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

  // 3. The node against differentiating through Eigen's LU on Var.
  fmt::print(
      "\nsum x^2, x = A^-1 b: gradient through the node against through Eigen's partialPivLu on "
      "Var\n{:>5} {:>14} {:>16} {:>12} {:>14} {:>8} {:>14}\n",
      "n", "node: stmts", "Eigen: stmts", "node ms", "Eigen ms", "ratio", "max rel diff");
  double worst = 0.0;
  for (const std::size_t n : {3, 10, 30, 100}) worst = std::max(worst, compare_with_eigen(n));
  return largest_error < 1e-6 && worst < 1e-10 ? 0 : 1;
}
