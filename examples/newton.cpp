// Newton's method with subgrad::hessian and subgrad::gradient: first on a smooth problem (the
// Rosenbrock function), then on a least-squares problem with a relu penalty, whose Hessian is
// piecewise constant: Newton lands on the minimum as soon as it is on the right piece.
#include <subgrad/subgrad.hpp>

#include <cmath>
#include <cstdio>
#include <span>
#include <vector>

#include <fmt/format.h>

namespace {

using subgrad::Dual;
using subgrad::Var;

// Minimises f from x0 by full Newton steps x -= H^-1 g (two inputs), printing each step.
template <class F>
std::vector<double> newton(const char* title, F f, std::vector<double> x, int steps) {
  fmt::print("{}\n", title);
  for (int step = 0; step <= steps; ++step) {
    // f is written once, for Dual<Var>; its gradient is the value part's.
    const auto value_of = [&f](std::span<const Var> v) {
      const std::vector<Dual<Var>> d(v.begin(), v.end());
      return f(std::span<const Dual<Var>>(d)).value();
    };
    const subgrad::ValueAndGradient vg = subgrad::value_and_gradient(value_of, x);
    const double norm = std::hypot(vg.gradient[0], vg.gradient[1]);
    fmt::print("  step {:2}: x = ({:.12f}, {:.12f}), f = {:.3e}, |gradient| = {:.3e}\n", step, x[0],
               x[1], vg.value, norm);
    if (norm < 1e-13 || step == steps) break;
    const std::vector<std::vector<double>> h = subgrad::hessian(f, x);
    const double det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    x[0] -= (h[1][1] * vg.gradient[0] - h[0][1] * vg.gradient[1]) / det;
    x[1] -= (h[0][0] * vg.gradient[1] - h[1][0] * vg.gradient[0]) / det;
  }
  return x;
}

}  // namespace

int main() {
  newton(
      "Rosenbrock, (1 - x)^2 + 100 (y - x^2)^2, from (-1.2, 1): minimum at (1, 1)",
      [](std::span<const Dual<Var>> x) {
        const Dual<Var> a = 1.0 - x[0], b = x[1] - x[0] * x[0];
        return a * a + 100.0 * b * b;
      },
      {-1.2, 1.0}, 30);
  const std::vector<double> x = newton(
      "(x - 2)^2 + (y - 2)^2 + 10 relu(x + y - 2)^2, from (0, 0): minimum at (22/21, 22/21)",
      [](std::span<const Dual<Var>> x) {
        const Dual<Var> a = x[0] - 2.0, b = x[1] - 2.0;
        const Dual<Var> r = subgrad::relu(x[0] + x[1] - 2.0);
        return a * a + b * b + 10.0 * r * r;
      },
      {0.0, 0.0}, 10);
  const bool found = std::abs(x[0] - 22.0 / 21.0) < 1e-12 && std::abs(x[1] - 22.0 / 21.0) < 1e-12;
  fmt::print("{}\n", found ? "found (22/21, 22/21)" : "did not converge");
  return found ? 0 : 1;
}
