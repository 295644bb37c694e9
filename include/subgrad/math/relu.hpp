#pragma once
/// \file
/// The piecewise-linear members of the ReLU family, each one rule: relu, leaky_relu, prelu,
/// rrelu, relu6, hardtanh, clamp, hardsigmoid, hardswish, threshold, thresholded_relu and the
/// generalized relu of Keras 3 (ReluOptions). Defaults are PyTorch's.
///
/// At each kink a comment says what the rules give there; docs/conventions.md has the table.
/// Every function works on double, on Var expressions, on Dual and on tensor expressions, and
/// takes a trailing KinkRule that overrides the thread's rule for the call. A rule's constructor
/// takes its parameters (with their defaults) and rejects invalid ones with subgrad::Error.

#include <algorithm>
#include <concepts>
#include <optional>
#include <random>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primal_value.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/math/elementary.hpp"
#include "subgrad/math/piecewise.hpp"

namespace subgrad {

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
    // Off the kink a select, not a branch on the sign (see detail::select).
    if (x != 0.0 && x == x) [[likely]] {
      const bool positive = x > 0.0;
      return detail::line(detail::select(positive, x, detail::passive<T>(0.0)),
                          detail::select(positive, 1.0, 0.0));
    }
    // at 0: left 0, right 1; min_norm 0 (= PyTorch, JAX, TF)
    if (x == 0.0) return detail::corner(detail::passive<T>(0.0), 0.0, 1.0);
    return detail::not_a_number(x);
  }
  /// The value alone, evaluate(x).value without a branch (NaN passes: !(NaN <= 0)), which is what
  /// element-wise loops call: g++ vectorises them then, at its default -ftrapping-math too.
  template <std::floating_point T>
  constexpr T value(const T& x) const {
    return detail::select(!(x <= 0.0), x, detail::passive<T>(0.0));
  }
  /// The derivative a kink rule picks from evaluate(x)'s slopes, without a branch, given its
  /// pick at the kink (`at_kink`: chosen_derivative of the slopes at 0); NaN passes. What
  /// element-wise backward loops call; the same bit for bit (tested).
  template <std::floating_point T>
  constexpr T derivative(const T& x, T at_kink) const {
    return detail::select(
        x > 0.0, detail::passive<T>(1.0),
        detail::select(x < 0.0, detail::passive<T>(0.0), detail::select(x == 0.0, at_kink, x)));
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::points_in(low, high, {0.0});
  }
};

/// x for x >= 0, negative_slope * x below; d/dx = 1 or negative_slope.
struct LeakyRelu {
  static constexpr std::string_view name = "leaky_relu";
  double negative_slope;
  constexpr LeakyRelu(double negative_slope_ = 0.01) : negative_slope(negative_slope_) {
    detail::require(detail::is_finite(negative_slope), name, "negative_slope", negative_slope,
                    "is not finite");
  }
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    // Off the kink a select, not a branch on the sign (see detail::select).
    if (x != 0.0 && x == x) [[likely]] {
      const bool positive = x > 0.0;
      return detail::line(detail::select(positive, x, T(negative_slope * x)),
                          detail::select(positive, 1.0, negative_slope));
    }
    // at 0: left s, right 1; min_norm s for 0 <= s <= 1 (= PyTorch, TF; JAX gives 1)
    if (x == 0.0) return detail::corner(detail::passive<T>(0.0), negative_slope, 1.0);
    return detail::not_a_number(x);
  }
  /// As Relu::derivative: evaluate(x)'s chosen slope without a branch, given the pick at 0.
  template <std::floating_point T>
  constexpr T derivative(const T& x, T at_kink) const {
    return detail::select(
        x > 0.0, detail::passive<T>(1.0),
        detail::select(x < 0.0, T(negative_slope), detail::select(x == 0.0, at_kink, x)));
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return negative_slope == 1.0 ? std::vector<KinkPoint>{} : detail::points_in(low, high, {0.0});
  }
};

/// Randomized leaky relu, evaluation form (PyTorch's defaults lower = 1/8, upper = 1/3): a leaky
/// relu with slope (lower + upper) / 2. The training form draws the slope (see rrelu below).
struct Rrelu : LeakyRelu {
  static constexpr std::string_view name = "rrelu";
  double lower;
  double upper;
  constexpr Rrelu(double lower_ = 1.0 / 8.0, double upper_ = 1.0 / 3.0)
      : LeakyRelu(checked_mean(lower_, upper_)), lower(lower_), upper(upper_) {}

 private:
  static constexpr double checked_mean(double lower, double upper) {
    detail::require(detail::is_finite(lower), name, "lower", lower, "is not finite");
    detail::require(detail::is_finite(upper), name, "upper", upper, "is not finite");
    detail::require_order(name, "lower", lower, "upper", upper);
    return (lower + upper) / 2.0;
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
    if (x > 0.0)
      return {{detail::passive<T>(1.0), detail::passive<T>(1.0)},
              {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
    if (x < 0.0) return {{a, a}, {x, x}};
    // at 0: d/dx left a, right 1 (min_norm a = PyTorch); d/da = 0
    if (x == 0.0)
      return {{a, detail::passive<T>(1.0)}, {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
    return {{x, x}, {x, x}};
  }
};

/// PyTorch's hardtanh: clip(x, min, max), defaults -1 and 1.
struct Hardtanh : Clip {
  static constexpr std::string_view name = "hardtanh";
  constexpr Hardtanh(double min_ = -1.0, double max_ = 1.0) : Clip(min_, max_, name) {}
};

/// min(max(x, 0), 6) = clip(x, 0, 6); kinks at 0 and 6, min_norm 0 at both (all frameworks
/// agree).
struct Relu6 : Clip {
  static constexpr std::string_view name = "relu6";
  constexpr Relu6() : Clip(0.0, 6.0) {}
};

/// relu6(x + 3) / 6 = clip(x, -3, 3) / 6 + 1/2; d/dx = 1/6 on (-3, 3).
struct Hardsigmoid {
  static constexpr std::string_view name = "hardsigmoid";
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    // at -3: left 0, right 1/6; at 3: left 1/6, right 0; min_norm 0 at both (all agree)
    const Evaluation<T> clipped = Clip(-3.0, 3.0).evaluate(x);
    return {clipped.value / 6.0 + 0.5, {clipped.slopes.left / 6.0, clipped.slopes.right / 6.0}};
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return Clip(-3.0, 3.0).kinks(low, high);
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
    if (x < -3.0) return detail::line(detail::passive<T>(0.0), 0.0);
    if (x > 3.0) return detail::line(x, 1.0);
    // at -3: left 0, right -1/2 (concave); min_norm 0 (= PyTorch >= 2.7, JAX; PyTorch 1.13 gave
    // -1/2)
    // (The quadratic piece's slope is written as a function of x so that nested forward mode
    // sees its second derivative, 1/3, on that side.)
    if (x == -3.0)
      return {detail::passive<T>(0.0), {detail::passive<T>(0.0), T((2.0 * x + 3.0) / 6.0)}};
    // at 3: left 3/2, right 1 (concave); min_norm 1 (= PyTorch >= 2.7, JAX; PyTorch 1.13 gave 3/2)
    if (x == 3.0)
      return {detail::passive<T>(3.0), {T((2.0 * x + 3.0) / 6.0), detail::passive<T>(1.0)}};
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
  double threshold;
  double replacement;
  constexpr Threshold(double threshold_, double replacement_)
      : threshold(threshold_), replacement(replacement_) {
    detail::require(threshold == threshold, name, "threshold", threshold, "is NaN");
    detail::require(replacement == replacement, name, "value", replacement, "is NaN");
  }
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

/// Keras 2's ThresholdedReLU: x if x > theta, else 0 (theta defaults to 1).
struct ThresholdedRelu : Threshold {
  static constexpr std::string_view name = "thresholded_relu";
  constexpr ThresholdedRelu(double theta = 1.0) : Threshold(theta, 0.0) {}
};

/// PyTorch's Hardshrink: x where |x| > lambda, else 0; d/dx = [|x| > lambda]. Jumps at +-lambda.
struct HardShrink {
  static constexpr std::string_view name = "hard_shrink";
  double lambda;
  constexpr HardShrink(double lambda_ = 0.5) : lambda(lambda_) {
    detail::require(detail::is_finite(lambda) && lambda >= 0.0, name, "lambda", lambda,
                    "must be finite and >= 0");
  }
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > lambda || x < -lambda) return detail::line(x, 1.0);
    if (x > -lambda && x < lambda) return detail::line(detail::passive<T>(0.0), 0.0);
    // at lambda: left 0, right 1; at -lambda: left 1, right 0; value 0; min_norm 0 (= PyTorch)
    if (x == lambda && lambda != 0.0) return detail::corner(detail::passive<T>(0.0), 0.0, 1.0);
    if (x == -lambda && lambda != 0.0) return detail::corner(detail::passive<T>(0.0), 1.0, 0.0);
    return x == x ? detail::line(x, 1.0) : detail::not_a_number(x);  // lambda == 0: identity
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    if (lambda == 0.0) return {};
    return detail::points_in(low, high, {-lambda, lambda}, Smoothness::discontinuous);
  }
};

/// PyTorch's Softshrink: x - lambda above lambda, x + lambda below -lambda, else 0;
/// d/dx = [|x| > lambda]. Kinks at +-lambda.
struct SoftShrink {
  static constexpr std::string_view name = "soft_shrink";
  double lambda;
  constexpr SoftShrink(double lambda_ = 0.5) : lambda(lambda_) {
    detail::require(detail::is_finite(lambda) && lambda >= 0.0, name, "lambda", lambda,
                    "must be finite and >= 0");
  }
  // The slopes are hard_shrink's; the value is shifted towards 0 by lambda outside.
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    Evaluation<T> at = HardShrink(lambda).evaluate(x);
    if (x > lambda) at.value = x - lambda;
    if (x < -lambda) at.value = x + lambda;
    return at;
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return lambda == 0.0 ? std::vector<KinkPoint>{}
                         : detail::points_in(low, high, {-lambda, lambda});
  }
};

/// The generalized relu of ReluOptions. Keras returns derivative 0 at a kink at 0 whatever the
/// slopes; here the kink rule decides, always within [min(left, right), max(left, right)].
struct GeneralizedRelu {
  static constexpr std::string_view name = "relu(options)";
  ReluOptions options;
  // No default: relu(x) is the plain relu.
  constexpr explicit GeneralizedRelu(const ReluOptions& options_) : options(options_) {
    detail::require(detail::is_finite(options.negative_slope), "relu(ReluOptions)",
                    "negative_slope", options.negative_slope, "is not finite");
    detail::require(detail::is_finite(options.threshold), "relu(ReluOptions)", "threshold",
                    options.threshold, "is not finite");
    detail::require(!options.max_value || *options.max_value >= 0.0, "relu(ReluOptions)",
                    "max_value", options.max_value.value_or(0.0), "must be >= 0");
  }

  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    const double s = options.negative_slope;
    const double theta = options.threshold;
    if (x < theta) return detail::line(T(s * (x - theta)), s);
    if (x > theta) return above(x);
    if (x == theta) {
      // at the threshold: left s, right the upper piece's right slope; value 0 (Keras's strict
      // test)
      return {detail::passive<T>(0.0), {T(s), above(x).slopes.right}};
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
    if (x < 0.0) return detail::line(detail::passive<T>(0.0), 0.0);
    if (x > top) return detail::line(T(top), 0.0);
    if (x == 0.0 && top > 0.0)
      return detail::corner(detail::passive<T>(0.0), 0.0, 1.0);  // clip at 0: left 0, right 1
    if (x == top && top > 0.0)
      return detail::corner(T(top), 1.0, 0.0);  // clip at max_value: left 1, right 0
    return detail::line(detail::passive<T>(0.0), 0.0);
  }
};

}  // namespace rules

namespace detail {
/// The rule a call's parameters make (the arguments after the operands, less a trailing KinkRule).
template <class Rule, class... Args>
Rule rule_of_call(const Args&... args) {
  constexpr bool with_rule = EndsWithKinkRule<Args...>::value;
  const std::tuple<const Args&...> all(args...);
  return [&]<std::size_t... P>(std::index_sequence<P...>) { return Rule(std::get<P>(all)...); }
  (std::make_index_sequence<sizeof...(Args) - (with_rule ? 1 : 0)>{});
}
/// The kink rule of a call: its trailing KinkRule, or the thread's.
template <class... Args>
KinkRule kink_rule_of_call(const Args&... args) {
  if constexpr (EndsWithKinkRule<Args...>::value) {
    return std::get<sizeof...(Args) - 1>(std::tuple<const Args&...>(args...));
  } else {
    return current_kink_rule();
  }
}
}  // namespace detail

/// max(x, 0); at 0 the kink rule decides (min_norm: 0).
SUBGRAD_PRIMITIVE_FUNCTION(relu, rules::Relu)
/// Keras 3's generalized relu: relu(x, ReluOptions{.negative_slope, .max_value, .threshold}).
SUBGRAD_PRIMITIVE_FUNCTION(relu, rules::GeneralizedRelu)
/// x for x >= 0, negative_slope * x below (default 0.01, as PyTorch).
SUBGRAD_PRIMITIVE_FUNCTION(leaky_relu, rules::LeakyRelu)
/// x for x > 0, a * x for x <= 0; a may be a Var (d/da = min(x, 0)) or a double.
SUBGRAD_PRIMITIVE_FUNCTION(prelu, rules::Prelu)
/// Randomized leaky relu, evaluation form: rrelu(x, lower = 1/8, upper = 1/3), a leaky relu with
/// slope (lower + upper) / 2.
SUBGRAD_PRIMITIVE_FUNCTION(rrelu, rules::Rrelu)
/// Randomized leaky relu, training form: rrelu(x, generator, lower, upper): for x <= 0 the slope
/// is drawn uniformly from [lower, upper] with `generator` (as PyTorch, no draw for x > 0).
template <class T, std::uniform_random_bit_generator Generator, class... Args>
requires PrimitiveCall<rules::Rrelu, T, Args...>
auto rrelu(const T& x, Generator& generator, const Args&... args) {
  rules::Rrelu rule = detail::rule_of_call<rules::Rrelu>(args...);
  if (!(primal_value(x) > 0.0)) {
    rule.negative_slope = std::uniform_real_distribution<double>(rule.lower, rule.upper)(generator);
  }
  return Primitive<rules::Rrelu>{rule}(x, detail::kink_rule_of_call(args...));
}
/// min(max(x, 0), 6).
SUBGRAD_PRIMITIVE_FUNCTION(relu6, rules::Relu6)
/// clip(x, min, max), defaults -1 and 1.
SUBGRAD_PRIMITIVE_FUNCTION(hardtanh, rules::Hardtanh)
/// relu6(x + 3) / 6.
SUBGRAD_PRIMITIVE_FUNCTION(hardsigmoid, rules::Hardsigmoid)
/// x * relu6(x + 3) / 6.
SUBGRAD_PRIMITIVE_FUNCTION(hardswish, rules::Hardswish)
/// PyTorch's Threshold(th, value): x if x > th, else value.
SUBGRAD_PRIMITIVE_FUNCTION(threshold, rules::Threshold)
/// Keras 2's ThresholdedReLU: x if x > theta, else 0 (theta defaults to 1).
SUBGRAD_PRIMITIVE_FUNCTION(thresholded_relu, rules::ThresholdedRelu)
/// PyTorch's Hardshrink: x where |x| > lambda, else 0 (lambda defaults to 0.5).
SUBGRAD_PRIMITIVE_FUNCTION(hard_shrink, rules::HardShrink)
/// PyTorch's Softshrink: x shrunk towards 0 by lambda, 0 inside [-lambda, lambda] (default 0.5).
SUBGRAD_PRIMITIVE_FUNCTION(soft_shrink, rules::SoftShrink)

}  // namespace subgrad
