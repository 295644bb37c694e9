#pragma once
/// \file
/// One-sided slopes of a primitive and the rule that picks a derivative where they differ.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/primal_value.hpp"

namespace subgrad {

/// The one-sided derivatives {left, right} of a primitive at a point; equal where it is
/// differentiable.
template <class T>
struct BasicSlopes {
  T left;
  T right;
};

/// One-sided derivatives of a scalar primitive in double precision.
using Slopes = BasicSlopes<double>;

/// One-sided partial derivatives of a binary primitive: `x` and `y` hold the left and right
/// partials with respect to each argument. "Left" is the side where x is slightly smaller
/// than at the point, "right" where it is slightly larger (for max at a tie: left = (0, 1),
/// right = (1, 0)).
template <class T>
struct BasicBinarySlopes {
  BasicSlopes<T> x;
  BasicSlopes<T> y;
};
/// One-sided partials of a binary primitive in double precision.
using BinarySlopes = BasicBinarySlopes<double>;

/// The partials {d/dx, d/dy} chosen for a binary primitive.
template <class T>
struct BinaryPartials {
  T x;
  T y;
};
using Partials2 = BinaryPartials<double>;

/// How a function behaves at a point: differentiable, a kink (continuous, one-sided slopes
/// differ) or a jump (discontinuous).
enum class Smoothness { smooth, kink, discontinuous };

/// A point where a primitive is not differentiable, as its rule declares it.
struct KinkPoint {
  double at;
  Smoothness kind;
};

/// A primitive's value together with its slopes, for rules that compute both at once.
template <class T>
struct Evaluation {
  T value;
  BasicSlopes<T> slopes;
};

/// Chooses the derivative at a kink, where the left and right slopes differ.
/// Every choice is an element of the Clarke subdifferential [min(left, right), max(left, right)].
struct KinkRule {
  enum class Kind : std::uint8_t { min_norm, left, right, midpoint, convex };
  Kind kind = Kind::min_norm;
  /// The weight of the right slope; used by `convex` only.
  double weight = 0.0;

  constexpr bool operator==(const KinkRule&) const = default;

  /// The rule's name as written in code: "min_norm", "left", "right", "midpoint", "convex(0.25)".
  std::string name() const {
    switch (kind) {
      case Kind::min_norm:
        return "min_norm";
      case Kind::left:
        return "left";
      case Kind::right:
        return "right";
      case Kind::midpoint:
        return "midpoint";
      case Kind::convex:
        return detail::message("convex({})", {weight});
    }
    return "unknown";
  }
};

/// Writes the rule's name ("convex(0.25)").
template <class Traits>
std::basic_ostream<char, Traits>& operator<<(std::basic_ostream<char, Traits>& out,
                                             const KinkRule& rule) {
  return out << rule.name();
}

namespace kink {
/// The element of [left, right] closest to 0 (PyTorch's documented rule; relu'(0) = 0).
inline constexpr KinkRule min_norm{KinkRule::Kind::min_norm, 0.0};
/// The left derivative.
inline constexpr KinkRule left{KinkRule::Kind::left, 0.0};
/// The right derivative.
inline constexpr KinkRule right{KinkRule::Kind::right, 1.0};
/// The mean of the left and right derivatives.
inline constexpr KinkRule midpoint{KinkRule::Kind::midpoint, 0.5};
/// (1 - t) * left + t * right, t in [0, 1].
constexpr KinkRule convex(double t) {
  if (!(t >= 0.0 && t <= 1.0)) {
    throw Error(detail::message("subgrad::kink::convex: weight t = {} is not in [0, 1]", {t}));
  }
  return KinkRule{KinkRule::Kind::convex, t};
}
/// One rule of each kind, for code that must hold under every rule (tests, reports); the convex
/// family is represented by t = 0.25, a weight no other kind gives.
inline constexpr std::array<KinkRule, 5> all = {min_norm, left, right, midpoint,
                                                KinkRule{KinkRule::Kind::convex, 0.25}};
}  // namespace kink

/// Reads a rule as written on a command line: "min_norm", "left", "right", "midpoint" or
/// "convex(t)" / "convex:t".
inline KinkRule parse_kink_rule(std::string_view text) {
  if (text == "min_norm") return kink::min_norm;
  if (text == "left") return kink::left;
  if (text == "right") return kink::right;
  if (text == "midpoint") return kink::midpoint;
  if (text.starts_with("convex") && text.size() > 7) {
    std::string weight(text.substr(7));
    if (!weight.empty() && weight.back() == ')') weight.pop_back();
    std::size_t used = 0;
    double t = std::nan("");
    try {
      t = std::stod(weight, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == weight.size() && used > 0) return kink::convex(t);
  }
  throw Error(detail::message(
      "subgrad::parse_kink_rule: '{}' is not a kink rule (min_norm, left, right, midpoint, "
      "convex(t))",
      {text}));
}

namespace detail {
inline thread_local KinkRule thread_kink_rule = kink::min_norm;

/// The weight t of the right end of the segment [left, right] (in one or two dimensions)
/// that the rule selects. For min_norm: the projection of 0 onto the segment.
inline double kink_weight(KinkRule rule, const double* left, const double* right, int dimension) {
  switch (rule.kind) {
    case KinkRule::Kind::min_norm: {
      double along = 0.0;
      double length_squared = 0.0;
      for (int k = 0; k < dimension; ++k) {
        const double step = right[k] - left[k];
        along -= left[k] * step;
        length_squared += step * step;
      }
      if (!(length_squared > 0.0)) return 0.0;
      const double t = along / length_squared;
      return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
    }
    case KinkRule::Kind::left:
      return 0.0;
    case KinkRule::Kind::right:
      return 1.0;
    case KinkRule::Kind::midpoint:
      return 0.5;
    case KinkRule::Kind::convex:
      return rule.weight;
  }
  return 0.0;
}

/// The largest value, NaN if any is NaN: the value of maxout.
constexpr double largest_value(std::span<const double> values) {
  double largest = values[0];
  for (double v : values) {
    if (v != v) return v;
    if (v > largest) largest = v;
  }
  return largest;
}

/// The weight of each piece's derivative in d max(pieces) (maxout): the largest piece gets 1; k
/// tied pieces share it as the rule says (min_norm and midpoint: 1/k each; right: all to the
/// first tied piece; left: all to the last; convex(t): t to the first, 1 - t to the last, so two
/// pieces behave exactly as max(x, y)). The one definition, shared by every mode. Returns the
/// maximum (NaN if any piece is NaN, with NaN weights).
inline double maxout_weights(std::span<const double> values, KinkRule rule,
                             std::span<double> weights) {
  if (values.empty()) throw Error("subgrad::maxout: needs at least one piece");
  const double largest = largest_value(values);
  if (std::isnan(largest)) {
    for (double& w : weights) w = std::numeric_limits<double>::quiet_NaN();
    return std::numeric_limits<double>::quiet_NaN();
  }
  std::size_t first = values.size(), last = 0, tied = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    weights[i] = 0.0;
    if (values[i] == largest) {
      if (first == values.size()) first = i;
      last = i;
      ++tied;
    }
  }
  if (tied == 1) {
    weights[first] = 1.0;
    return largest;
  }
  switch (rule.kind) {
    case KinkRule::Kind::min_norm:
    case KinkRule::Kind::midpoint:
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i] == largest) weights[i] = 1.0 / static_cast<double>(tied);
      }
      break;
    case KinkRule::Kind::right:
      weights[first] = 1.0;
      break;
    case KinkRule::Kind::left:
      weights[last] = 1.0;
      break;
    case KinkRule::Kind::convex:
      weights[first] = rule.weight;
      weights[last] = 1.0 - rule.weight;
      break;
  }
  return largest;
}
}  // namespace detail

/// The kink rule in force on this thread (kink::min_norm unless a KinkScope says otherwise).
inline KinkRule current_kink_rule() noexcept { return detail::thread_kink_rule; }

namespace detail {
template <class T>
constexpr T mix(const T& left, const T& right, double t) {
  if (t == 0.0) return left;  // the endpoint itself, so an infinite other side does not leak in
  if (t == 1.0) return right;
  return (1.0 - t) * left + t * right;
}
}  // namespace detail

/// The derivative a rule picks from one-sided slopes (the common value where they agree).
/// T is double, or a Dual in nested forward mode (the choice is made on the plain values).
template <class T>
constexpr T resolve(const BasicSlopes<T>& slopes, KinkRule rule) {
  const double left = primal_value(slopes.left);
  const double right = primal_value(slopes.right);
  if (left == right) return slopes.left;
  if (rule.kind == KinkRule::Kind::min_norm) {
    // Exactly 0 when the interval contains it; otherwise the end nearer to 0.
    if ((left <= 0.0 && right >= 0.0) || (left >= 0.0 && right <= 0.0)) return T(0.0);
    if (std::isnan(left) || std::isnan(right)) return slopes.left + slopes.right;
    return std::abs(left) < std::abs(right) ? slopes.left : slopes.right;
  }
  return detail::mix(slopes.left, slopes.right, detail::kink_weight(rule, &left, &right, 1));
}

/// The partials a rule picks for a binary primitive; at a tie both are chosen with one weight,
/// so the result is a point of the Clarke subdifferential.
template <class T>
constexpr BinaryPartials<T> resolve(const BasicBinarySlopes<T>& slopes, KinkRule rule) {
  const double left[2] = {primal_value(slopes.x.left), primal_value(slopes.y.left)};
  const double right[2] = {primal_value(slopes.x.right), primal_value(slopes.y.right)};
  if (left[0] == right[0] && left[1] == right[1]) return {slopes.x.left, slopes.y.left};
  // Only one partial has a kink: the segment is one-dimensional, and the scalar rule gives its
  // pick exactly (0, not a rounding residue, where the interval contains 0).
  if (left[1] == right[1]) return {resolve(slopes.x, rule), slopes.y.left};
  if (left[0] == right[0]) return {slopes.x.left, resolve(slopes.y, rule)};
  const double t = detail::kink_weight(rule, left, right, 2);
  return {detail::mix(slopes.x.left, slopes.x.right, t),
          detail::mix(slopes.y.left, slopes.y.right, t)};
}

/// Sets the thread's kink rule until the scope ends; scopes nest.
class KinkScope {
 public:
  explicit KinkScope(KinkRule rule) noexcept : previous_(detail::thread_kink_rule) {
    detail::thread_kink_rule = rule;
  }
  ~KinkScope() { detail::thread_kink_rule = previous_; }
  KinkScope(const KinkScope&) = delete;
  KinkScope& operator=(const KinkScope&) = delete;

 private:
  KinkRule previous_;
};

}  // namespace subgrad
