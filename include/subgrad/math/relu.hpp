#pragma once
/// \file
/// The piecewise-linear members of the ReLU family, each one rule: relu, leaky_relu, prelu,
/// rrelu, relu6, hardtanh, hardsigmoid, hardswish, threshold, thresholded_relu and the
/// generalized relu of Keras 3 (ReluOptions). Defaults are PyTorch's.
///
/// At each kink a comment says what the rules give there; docs/conventions.md has the table.
/// Every function works on double, on Var expressions and (with the forward layer) on Dual; a
/// trailing KinkRule overrides the thread's rule for the call.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primitive.hpp"

namespace subgrad {

namespace detail {
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
template <class T>
constexpr Evaluation<T> line(const T& value, double slope) {
  return {value, {T(slope), T(slope)}};
}
template <class T>
constexpr Evaluation<T> corner(const T& value, double left, double right) {
  return {value, {T(left), T(right)}};
}
template <class T>
constexpr Evaluation<T> not_a_number(const T& x) {
  return {x, {x, x}};
}
}  // namespace detail

/// Keras 3's generalized relu (members in Keras's order): negative_slope * (x - threshold) below
/// the threshold, 0 at it, x above it (clipped to [0, max_value] when max_value is set).
struct ReluOptions {
  double negative_slope = 0.0;
  std::optional<double> max_value = std::nullopt;
  double threshold = 0.0;
};

namespace rules {

/// max(x, 0); d/dx = [x > 0].
struct Relu {
  static constexpr std::string_view name = "relu";
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > 0.0) return detail::line(x, 1.0);
    if (x < 0.0) return detail::line(T(0.0), 0.0);
    if (x == 0.0)
      return detail::corner(T(0.0), 0.0,
                            1.0);  // at 0: left 0, right 1; min_norm 0 (= PyTorch, JAX, TF)
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(low, high, {0.0});
  }
};

/// x for x >= 0, negative_slope * x below; d/dx = 1 or negative_slope.
struct LeakyRelu {
  static constexpr std::string_view name = "leaky_relu";
  double negative_slope = 0.01;
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > 0.0) return detail::line(x, 1.0);
    if (x < 0.0) return detail::line(T(negative_slope * x), negative_slope);
    // at 0: left s, right 1; min_norm s for 0 <= s <= 1 (= PyTorch, TF; JAX gives 1)
    if (x == 0.0) return detail::corner(T(0.0), negative_slope, 1.0);
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return negative_slope == 1.0 ? std::vector<KinkPoint>{} : detail::points_in(low, high, {0.0});
  }
};

/// x for x > 0, a * x for x <= 0, with a learnable slope a (first argument x, second a);
/// d/dx = 1 or a, d/da = min(x, 0).
struct Prelu {
  static constexpr std::string_view name = "prelu";
  template <class T>
  constexpr T value(const T& x, const T& a) const {
    return x > 0.0 ? x : a * x;
  }
  template <class T>
  constexpr BasicBinarySlopes<T> slopes(const T& x, const T& a) const {
    if (x > 0.0) return {{T(1.0), T(1.0)}, {T(0.0), T(0.0)}};
    if (x < 0.0) return {{a, a}, {x, x}};
    // at 0: d/dx left a, right 1 (min_norm a = PyTorch); d/da = 0
    if (x == 0.0) return {{a, T(1.0)}, {T(0.0), T(0.0)}};
    return {{x, x}, {x, x}};
  }
};

/// min(max(x, 0), 6); d/dx = [0 < x < 6].
struct Relu6 {
  static constexpr std::string_view name = "relu6";
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > 0.0 && x < 6.0) return detail::line(x, 1.0);
    if (x < 0.0) return detail::line(T(0.0), 0.0);
    if (x > 6.0) return detail::line(T(6.0), 0.0);
    if (x == 0.0)
      return detail::corner(T(0.0), 0.0, 1.0);  // at 0: left 0, right 1; min_norm 0 (all agree)
    if (x == 6.0)
      return detail::corner(T(6.0), 1.0, 0.0);  // at 6: left 1, right 0; min_norm 0 (all agree)
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(low, high, {0.0, 6.0});
  }
};

/// clip(x, min, max); d/dx = [min < x < max].
struct Hardtanh {
  static constexpr std::string_view name = "hardtanh";
  double min = -1.0;
  double max = 1.0;
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > min && x < max) return detail::line(x, 1.0);
    if (x < min) return detail::line(T(min), 0.0);
    if (x > max) return detail::line(T(max), 0.0);
    if (min == max) return detail::line(T(min), 0.0);
    if (x == min)
      return detail::corner(T(min), 0.0,
                            1.0);  // at min: left 0, right 1; min_norm 0 (= PyTorch; JAX 1)
    if (x == max)
      return detail::corner(T(max), 1.0,
                            0.0);  // at max: left 1, right 0; min_norm 0 (= PyTorch; JAX 1)
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return min == max ? std::vector<KinkPoint>{} : detail::points_in(low, high, {min, max});
  }
};

/// relu6(x + 3) / 6; d/dx = 1/6 on (-3, 3).
struct Hardsigmoid {
  static constexpr std::string_view name = "hardsigmoid";
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > -3.0 && x < 3.0) return detail::line(T(x / 6.0 + 0.5), 1.0 / 6.0);
    if (x < -3.0) return detail::line(T(0.0), 0.0);
    if (x > 3.0) return detail::line(T(1.0), 0.0);
    if (x == -3.0)
      return detail::corner(T(0.0), 0.0,
                            1.0 / 6.0);  // at -3: left 0, right 1/6; min_norm 0 (all agree)
    if (x == 3.0)
      return detail::corner(T(1.0), 1.0 / 6.0,
                            0.0);  // at 3: left 1/6, right 0; min_norm 0 (all agree)
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(low, high, {-3.0, 3.0});
  }
};

/// x * relu6(x + 3) / 6; d/dx = 0 below -3, (2x + 3)/6 on (-3, 3), 1 above 3.
struct Hardswish {
  static constexpr std::string_view name = "hardswish";
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > -3.0 && x < 3.0) {
      const T slope = (2.0 * x + 3.0) / 6.0;
      return {x * (x + 3.0) / 6.0, {slope, slope}};
    }
    if (x < -3.0) return detail::line(T(0.0), 0.0);
    if (x > 3.0) return detail::line(x, 1.0);
    // at -3: left 0, right -1/2 (concave); min_norm 0 (= PyTorch >= 2.7, JAX; PyTorch 1.13 gave
    // -1/2)
    if (x == -3.0) return detail::corner(T(0.0), 0.0, -0.5);
    // at 3: left 3/2, right 1 (concave); min_norm 1 (= PyTorch >= 2.7, JAX; PyTorch 1.13 gave 3/2)
    if (x == 3.0) return detail::corner(T(3.0), 1.5, 1.0);
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(low, high, {-3.0, 3.0});
  }
};

/// PyTorch's Threshold: x if x > threshold, else value; d/dx = [x > threshold].
/// A jump at the threshold unless value == threshold.
struct Threshold {
  static constexpr std::string_view name = "threshold";
  double threshold = 0.0;
  double replacement = 0.0;
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > threshold) return detail::line(x, 1.0);
    if (x < threshold) return detail::line(T(replacement), 0.0);
    // at the threshold: left 0, right 1; min_norm 0 (= PyTorch); a jump unless value == threshold
    if (x == threshold) return detail::corner(T(replacement), 0.0, 1.0);
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(
        low, high, {threshold},
        replacement == threshold ? Smoothness::kink : Smoothness::discontinuous);
  }
};

/// The generalized relu of ReluOptions. Keras returns derivative 0 at a kink at 0 whatever the
/// slopes; here the kink rule decides, always within [min(left, right), max(left, right)].
struct GeneralizedRelu {
  static constexpr std::string_view name = "relu(options)";
  ReluOptions options;

  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    const double s = options.negative_slope;
    const double theta = options.threshold;
    if (x < theta) return detail::line(T(s * (x - theta)), s);
    if (x > theta) return above(x);
    if (x == theta) {
      // at the threshold: left s, right the upper piece's right slope; value 0 (Keras's strict
      // test)
      return {T(0.0), {T(s), above(x).slopes.right}};
    }
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    std::vector<KinkPoint> points;
    // At the threshold the lower piece ends at 0: a jump if the upper piece starts elsewhere,
    // a kink if only the slopes differ.
    const double theta = options.threshold;
    const double upper_start =
        options.max_value ? std::min(std::max(theta, 0.0), *options.max_value) : theta;
    if (upper_start != 0.0) {
      points = detail::points_in(low, high, {theta}, Smoothness::discontinuous);
    } else if (above(theta).slopes.right != options.negative_slope) {
      points = detail::points_in(low, high, {theta});
    }
    if (options.max_value) {
      if (theta < 0.0) {
        for (const KinkPoint& p : detail::points_in(low, high, {0.0})) points.push_back(p);
      }
      if (*options.max_value > theta && *options.max_value > 0.0) {
        for (const KinkPoint& p : detail::points_in(low, high, {*options.max_value})) {
          points.push_back(p);
        }
      }
    }
    return points;
  }

 private:
  // x > threshold: x, clipped to [0, max_value] when max_value is set.
  template <class T>
  constexpr Evaluation<T> above(const T& x) const {
    if (!options.max_value) return detail::line(x, 1.0);
    const double top = *options.max_value;
    if (x > 0.0 && x < top) return detail::line(x, 1.0);
    if (x < 0.0) return detail::line(T(0.0), 0.0);
    if (x > top) return detail::line(T(top), 0.0);
    if (x == 0.0 && top > 0.0)
      return detail::corner(T(0.0), 0.0, 1.0);  // clip at 0: left 0, right 1
    if (x == top && top > 0.0)
      return detail::corner(T(top), 1.0, 0.0);  // clip at max_value: left 1, right 0
    return detail::line(T(0.0), 0.0);
  }
};

}  // namespace rules

namespace detail {
template <class Rule, class T>
concept PrimitiveArgument = std::invocable < const Primitive<Rule>
&, const T& > ;

inline rules::LeakyRelu checked_leaky(double negative_slope, std::string_view operation) {
  if (!std::isfinite(negative_slope)) {
    throw Error(
        fmt::format("subgrad::{}: negative_slope = {} is not finite", operation, negative_slope));
  }
  return rules::LeakyRelu{negative_slope};
}
inline rules::LeakyRelu checked_rrelu(double lower, double upper) {
  if (!(lower <= upper) || !std::isfinite(lower) || !std::isfinite(upper)) {
    throw Error(fmt::format(
        "subgrad::rrelu: need finite lower <= upper, got lower = {}, upper = {}", lower, upper));
  }
  return rules::LeakyRelu{(lower + upper) / 2.0};
}
inline rules::Hardtanh checked_hardtanh(double min, double max) {
  if (!(min <= max))
    throw Error(fmt::format("subgrad::hardtanh: min = {} is not <= max = {}", min, max));
  return rules::Hardtanh{min, max};
}
inline rules::GeneralizedRelu checked_relu_options(const ReluOptions& options) {
  if (!std::isfinite(options.negative_slope) || !std::isfinite(options.threshold) ||
      (options.max_value && !(*options.max_value >= 0.0))) {
    throw Error(fmt::format(
        "subgrad::relu(ReluOptions): need finite negative_slope and threshold and "
        "max_value >= 0, got negative_slope = {}, max_value = {}, threshold = {}",
        options.negative_slope, options.max_value ? fmt::format("{}", *options.max_value) : "none",
        options.threshold));
  }
  return rules::GeneralizedRelu{options};
}
}  // namespace detail

/// max(x, 0); at 0 the kink rule decides (min_norm: 0).
SUBGRAD_PRIMITIVE_FUNCTION(relu, rules::Relu)
/// Keras 3's generalized relu: relu(x, ReluOptions{.negative_slope, .max_value, .threshold}).
template <class T>
requires detail::PrimitiveArgument<rules::GeneralizedRelu, T>
auto relu(const T& x, const ReluOptions& options) {
  return Primitive<rules::GeneralizedRelu>{detail::checked_relu_options(options)}(x);
}
template <class T>
requires detail::PrimitiveArgument<rules::GeneralizedRelu, T>
auto relu(const T& x, const ReluOptions& options, KinkRule kink_rule) {
  return Primitive<rules::GeneralizedRelu>{detail::checked_relu_options(options)}(x, kink_rule);
}

/// x for x >= 0, negative_slope * x below (default 0.01, as PyTorch).
template <class T>
requires detail::PrimitiveArgument<rules::LeakyRelu, T>
auto leaky_relu(const T& x, double negative_slope = 0.01) {
  return Primitive<rules::LeakyRelu>{detail::checked_leaky(negative_slope, "leaky_relu")}(x);
}
template <class T>
requires detail::PrimitiveArgument<rules::LeakyRelu, T>
auto leaky_relu(const T& x, double negative_slope, KinkRule kink_rule) {
  return Primitive<rules::LeakyRelu>{detail::checked_leaky(negative_slope, "leaky_relu")}(
      x, kink_rule);
}
template <class T>
requires detail::PrimitiveArgument<rules::LeakyRelu, T>
auto leaky_relu(const T& x, KinkRule kink_rule) {
  return Primitive<rules::LeakyRelu>{}(x, kink_rule);
}

/// x for x > 0, a * x for x <= 0; a may be a Var (d/da = min(x, 0)) or a double.
template <class X, class A>
requires std::invocable < const Primitive<rules::Prelu>
&, const X&, const A& > constexpr auto prelu(const X& x, const A& a) {
  return Primitive<rules::Prelu>{}(x, a);
}
template <class X, class A>
requires std::invocable < const Primitive<rules::Prelu>
&, const X&, const A&, KinkRule > constexpr auto prelu(const X& x, const A& a, KinkRule kink_rule) {
  return Primitive<rules::Prelu>{}(x, a, kink_rule);
}

/// Randomized leaky relu, evaluation form: a leaky relu with slope (lower + upper) / 2.
template <class T>
requires detail::PrimitiveArgument<rules::LeakyRelu, T>
auto rrelu(const T& x, double lower = 1.0 / 8.0, double upper = 1.0 / 3.0) {
  return Primitive<rules::LeakyRelu>{detail::checked_rrelu(lower, upper)}(x);
}
template <class T>
requires detail::PrimitiveArgument<rules::LeakyRelu, T>
auto rrelu(const T& x, double lower, double upper, KinkRule kink_rule) {
  return Primitive<rules::LeakyRelu>{detail::checked_rrelu(lower, upper)}(x, kink_rule);
}
/// Randomized leaky relu, training form: for x <= 0 the slope is drawn uniformly from
/// [lower, upper] with `generator` (as PyTorch, no draw for x > 0).
template <class T, std::uniform_random_bit_generator Generator>
requires detail::PrimitiveArgument<rules::LeakyRelu, T>
auto rrelu(const T& x, Generator& generator, double lower = 1.0 / 8.0, double upper = 1.0 / 3.0) {
  rules::LeakyRelu rule = detail::checked_rrelu(lower, upper);
  if (!(primal_value(x) > 0.0))
    rule.negative_slope = std::uniform_real_distribution<double>(lower, upper)(generator);
  return Primitive<rules::LeakyRelu>{rule}(x);
}

/// min(max(x, 0), 6).
SUBGRAD_PRIMITIVE_FUNCTION(relu6, rules::Relu6)

/// clip(x, min, max), defaults -1 and 1.
template <class T>
requires detail::PrimitiveArgument<rules::Hardtanh, T>
auto hardtanh(const T& x, double min = -1.0, double max = 1.0) {
  return Primitive<rules::Hardtanh>{detail::checked_hardtanh(min, max)}(x);
}
template <class T>
requires detail::PrimitiveArgument<rules::Hardtanh, T>
auto hardtanh(const T& x, double min, double max, KinkRule kink_rule) {
  return Primitive<rules::Hardtanh>{detail::checked_hardtanh(min, max)}(x, kink_rule);
}
template <class T>
requires detail::PrimitiveArgument<rules::Hardtanh, T>
auto hardtanh(const T& x, KinkRule kink_rule) { return Primitive<rules::Hardtanh>{}(x, kink_rule); }

/// relu6(x + 3) / 6.
SUBGRAD_PRIMITIVE_FUNCTION(hardsigmoid, rules::Hardsigmoid)

/// x * relu6(x + 3) / 6.
SUBGRAD_PRIMITIVE_FUNCTION(hardswish, rules::Hardswish)

/// PyTorch's Threshold(th, value): x if x > th, else value.
template <class T>
requires detail::PrimitiveArgument<rules::Threshold, T>
constexpr auto threshold(const T& x, double th, double value) {
  return Primitive<rules::Threshold>{rules::Threshold{th, value}}(x);
}
template <class T>
requires detail::PrimitiveArgument<rules::Threshold, T>
constexpr auto threshold(const T& x, double th, double value, KinkRule kink_rule) {
  return Primitive<rules::Threshold>{rules::Threshold{th, value}}(x, kink_rule);
}

/// Keras 2's ThresholdedReLU: x if x > theta, else 0 (theta defaults to 1).
template <class T>
requires detail::PrimitiveArgument<rules::Threshold, T>
constexpr auto thresholded_relu(const T& x, double theta = 1.0) {
  return Primitive<rules::Threshold>{rules::Threshold{theta, 0.0}}(x);
}
template <class T>
requires detail::PrimitiveArgument<rules::Threshold, T>
constexpr auto thresholded_relu(const T& x, double theta, KinkRule kink_rule) {
  return Primitive<rules::Threshold>{rules::Threshold{theta, 0.0}}(x, kink_rule);
}

}  // namespace subgrad
