// Hello gradient: derivatives of a function of three variables, recorded on the thread's
// default tape; the same through the functional form; and a kink whose derivative is a rule.
#include <subgrad/subgrad.hpp>

#include <span>
#include <vector>

#include <fmt/format.h>

int main() {
  using subgrad::Var;

  Var a = 1.5;
  Var b = -0.5;
  Var c = 2.0;
  Var y = a * b + exp(c) / (1.0 + c * c);  // one statement on the tape
  const auto [dy_da, dy_db, dy_dc] = subgrad::grad(y, a, b, c);
  fmt::print("y = {:.6f}\n", y);
  fmt::print("dy/da = {:.6f}  dy/db = {:.6f}  dy/dc = {:.6f}\n", dy_da, dy_db, dy_dc);

  // The functional form records on a tape of its own.
  auto rosenbrock = [](std::span<const Var> x) {
    return 100.0 * subgrad::square(x[1] - x[0] * x[0]) + subgrad::square(1.0 - x[0]);
  };
  const std::vector<double> point{-1.2, 1.0};
  const subgrad::ValueAndGradient result = subgrad::value_and_gradient(rosenbrock, point);
  fmt::print("rosenbrock({}) = {:.4f}, gradient = {}\n", fmt::join(point, ", "), result.value,
             fmt::join(result.gradient, ", "));

  // |x| at 0: the derivative is whatever the kink rule picks from [-1, 1].
  Var zero = 0.0;
  fmt::print("d|x|/dx at 0: min_norm {}, left {}, right {}, convex(0.75) {}\n",
             subgrad::grad(abs(zero), zero), subgrad::grad(abs(zero, subgrad::kink::left), zero),
             subgrad::grad(abs(zero, subgrad::kink::right), zero),
             subgrad::grad(abs(zero, subgrad::kink::convex(0.75)), zero));
  return 0;
}
