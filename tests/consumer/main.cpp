// A program outside subgrad: it must build and print the right derivative.
#include <subgrad/subgrad.hpp>

#include <fmt/format.h>

int main() {
  subgrad::Var x = 3.0;
  subgrad::Var y = x * x + subgrad::sin(x);
  const double dy_dx = subgrad::grad(y, x);
  const double expected = 2.0 * 3.0 + std::cos(3.0);
  fmt::print("dy/dx = {} (expected {})\n", dy_dx, expected);
  return std::abs(dy_dx - expected) < 1e-14 ? 0 : 1;
}
