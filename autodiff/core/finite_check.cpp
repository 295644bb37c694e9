#include "subgrad/core/finite_check.hpp"

#include <cmath>
#include <span>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace subgrad::detail {

namespace {
// NaN without the sign fmt would print ("-nan"): the sign of a NaN means nothing here.
std::string number(double x) { return std::isnan(x) ? std::string("nan") : fmt::format("{}", x); }
std::string what_is_not_finite(double value, std::span<const double> partials) {
  if (!std::isfinite(value)) return "value " + number(value);
  for (std::size_t k = 0; k < partials.size(); ++k) {
    if (!std::isfinite(partials[k])) {
      return partials.size() == 1
                 ? fmt::format("value {} and derivative {}", number(value), number(partials[k]))
                 : fmt::format("value {} and partial {} = {}", number(value), k + 1,
                               number(partials[k]));
    }
  }
  return "finite values";
}
}  // namespace

void throw_non_finite_unary(std::string_view primitive, double x, double value, double derivative) {
  const double partials[1] = {derivative};
  throw Error(fmt::format("subgrad::FiniteCheck: {} at x = {} gives {}", primitive, number(x),
                          what_is_not_finite(value, partials)));
}

void throw_non_finite_binary(std::string_view primitive, double x, double y, double value,
                             double partial_x, double partial_y) {
  const double partials[2] = {partial_x, partial_y};
  throw Error(fmt::format("subgrad::FiniteCheck: {} at (x, y) = ({}, {}) gives {}", primitive,
                          number(x), number(y), what_is_not_finite(value, partials)));
}

void throw_non_finite_primitive() {
  const NonFinitePrimitive noted = non_finite_primitive;
  non_finite_primitive = {};
  if (noted.binary) {
    throw_non_finite_binary(noted.primitive, noted.x, noted.y, noted.value, noted.partial_x,
                            noted.partial_y);
  }
  throw_non_finite_unary(noted.primitive, noted.x, noted.value, noted.partial_x);
}

void throw_non_finite_statement(double value, const double* partials, std::size_t count) {
  const std::span<const double> all(partials, count);
  throw Error(
      fmt::format("subgrad::FiniteCheck: a statement (+ - * / of its operands) gives {}; "
                  "its partials are ({})",
                  what_is_not_finite(value, all), fmt::join(all, ", ")));
}

void throw_non_finite_element(std::string_view operation, double value, std::size_t row,
                              std::size_t col, std::size_t rows, std::size_t cols) {
  if (rows == 0 && cols == 0) {
    throw Error(fmt::format("subgrad::FiniteCheck: {} gives {}", operation, number(value)));
  }
  throw Error(
      fmt::format("subgrad::FiniteCheck: {} gives {} at element ({}, {}) of its {} x {} "
                  "result",
                  operation, number(value), row, col, rows, cols));
}

}  // namespace subgrad::detail
