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

// "log at x = 0 gives value -inf", "pow at (x, y) = (0, -1) gives value inf": a primitive's report.
std::string primitive_report(std::string_view primitive, bool binary, double x, double y,
                             double value, double partial_x, double partial_y) {
  if (!binary) {
    const double partials[1] = {partial_x};
    return fmt::format("{} at x = {} gives {}", primitive, number(x),
                       what_is_not_finite(value, partials));
  }
  const double partials[2] = {partial_x, partial_y};
  return fmt::format("{} at (x, y) = ({}, {}) gives {}", primitive, number(x), number(y),
                     what_is_not_finite(value, partials));
}
}  // namespace

void throw_non_finite_unary(std::string_view primitive, double x, double value, double derivative) {
  throw Error("subgrad::FiniteCheck: " +
              primitive_report(primitive, false, x, 0.0, value, derivative, 0.0));
}

void throw_non_finite_binary(std::string_view primitive, double x, double y, double value,
                             double partial_x, double partial_y) {
  throw Error("subgrad::FiniteCheck: " +
              primitive_report(primitive, true, x, y, value, partial_x, partial_y));
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

void throw_non_finite_element_primitive(std::string_view primitive, bool binary, double x, double y,
                                        double value, double partial_x, double partial_y,
                                        std::size_t row, std::size_t col, std::size_t rows,
                                        std::size_t cols) {
  throw Error(fmt::format(
      "subgrad::FiniteCheck: {}, at element ({}, {}) of a {} x {} element-wise tensor expression",
      primitive_report(primitive, binary, x, y, value, partial_x, partial_y), row, col, rows,
      cols));
}

void throw_non_finite_element_partial(double value, double partial, std::size_t operand,
                                      std::string_view operand_is, std::size_t row, std::size_t col,
                                      std::size_t rows, std::size_t cols) {
  throw Error(fmt::format(
      "subgrad::FiniteCheck: an element-wise tensor expression gives value {} and partial {} "
      "with respect to its operand {} ({}) at element ({}, {}) of its {} x {} result",
      number(value), number(partial), operand, operand_is, row, col, rows, cols));
}

}  // namespace subgrad::detail
