#pragma once
/// \file
/// Helpers for writing rules: the pieces of a piecewise function (a line, a corner, NaN), the
/// kinks inside an interval, and the validation of a rule's parameters.

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <type_traits>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/limits.hpp"

namespace subgrad::detail {

/// The points of `candidates` inside [low, high], each of the given kind.
inline std::vector<KinkPoint> points_in(double low, double high,
                                        std::initializer_list<double> candidates,
                                        Smoothness kind = Smoothness::kink) {
  std::vector<KinkPoint> points;
  for (double at : candidates) {
    if (at >= low && at <= high) points.push_back({at, kind});
  }
  return points;
}
/// A value on a straight piece with the given slope.
template <class T>
constexpr Evaluation<T> line(const T& value, double slope) {
  return {value, {passive<T>(slope), passive<T>(slope)}};
}
/// A value at a kink with these one-sided slopes.
template <class T>
constexpr Evaluation<T> corner(const T& value, double left, double right) {
  return {value, {passive<T>(left), passive<T>(right)}};
}
/// NaN in, NaN value and slopes out.
template <class T>
constexpr Evaluation<T> not_a_number(const T& x) {
  return {x, {x, x}};
}

/// `condition ? if_true : if_false` without a branch for float and double: in element-wise loops
/// over data of random sign a branch would be mispredicted every other element, and compilers
/// turn a floating-point `?:` into one. Other types (Dual) get the plain `?:`.
template <class T>
constexpr T select(bool condition, const T& if_true, const T& if_false) {
  if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    using Bits = std::conditional_t<std::is_same_v<T, double>, std::uint64_t, std::uint32_t>;
    const Bits mask = Bits{0} - static_cast<Bits>(condition);
    return std::bit_cast<T>((std::bit_cast<Bits>(if_true) & mask) |
                            (std::bit_cast<Bits>(if_false) & ~mask));
  } else {
    return condition ? if_true : if_false;
  }
}

/// Whether x is neither infinite nor NaN (usable in constant expressions).
constexpr bool is_finite(double x) { return x - x == 0.0; }

/// Throws subgrad::Error "subgrad::PRIMITIVE: PARAMETER = VALUE EXPECTATION" unless `condition`:
/// the one way a rule's constructor rejects a parameter.
constexpr void require(bool condition, std::string_view primitive, std::string_view parameter,
                       double value, std::string_view expectation) {
  if (!condition) {
    throw Error(
        detail::message("subgrad::{}: {} = {} {}", {primitive, parameter, value, expectation}));
  }
}

/// Throws subgrad::Error unless lower <= upper (both named in the message).
constexpr void require_order(std::string_view primitive, std::string_view lower_name, double lower,
                             std::string_view upper_name, double upper) {
  if (!(lower <= upper)) {
    throw Error(detail::message("subgrad::{}: {} = {} is not <= {} = {}",
                                {primitive, lower_name, lower, upper_name, upper}));
  }
}

}  // namespace subgrad::detail
