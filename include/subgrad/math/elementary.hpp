#pragma once
/// \file
/// The elementary functions, each defined once as a rule (value and one-sided slopes) and made
/// callable on Var expressions (and, through higher layers, Dual and tensors).
///
/// On passive numbers call the standard functions (std::exp); the functions here that have no
/// standard counterpart (square, sigmoid, clamp) also accept double.
/// Rules are generic over the scalar type T so that nested forward mode can differentiate them.

#include <cmath>
#include <concepts>
#include <limits>
#include <numbers>
#include <string_view>
#include <type_traits>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/math/piecewise.hpp"

namespace subgrad {

namespace detail {
/// The jumps of a step function: the points n + offset (n an integer) inside [low, high].
inline std::vector<KinkPoint> steps(double low, double high, double offset) {
  std::vector<KinkPoint> points;
  for (double at = std::ceil(low - offset) + offset; at <= high; at += 1.0) {
    points.push_back({at, Smoothness::discontinuous});
  }
  return points;
}
template <class T>
constexpr BasicBinarySlopes<T> first_wins() {
  return {{detail::passive<T>(1.0), detail::passive<T>(1.0)},
          {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
}
template <class T>
constexpr BasicBinarySlopes<T> second_wins() {
  return {{detail::passive<T>(0.0), detail::passive<T>(0.0)},
          {detail::passive<T>(1.0), detail::passive<T>(1.0)}};
}
template <class T>
constexpr BasicBinarySlopes<T> not_a_number(const T& x, const T& y) {
  const T nan = x + y;
  return {{nan, nan}, {nan, nan}};
}
}  // namespace detail

namespace rules {

/// exp(x); d/dx = exp(x).
struct Exp {
  static constexpr std::string_view name = "exp";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    const T e = exp(x);
    return {e, {e, e}};
  }
};
/// 2^x; d/dx = ln 2 * 2^x.
struct Exp2 {
  static constexpr std::string_view name = "exp2";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp2;
    const T e = exp2(x);
    const T d = std::numbers::ln2 * e;
    return {e, {d, d}};
  }
};
/// exp(x) - 1; d/dx = exp(x).
struct Expm1 {
  static constexpr std::string_view name = "expm1";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::expm1;
    const T e = expm1(x);
    const T d = e + 1.0;
    return {e, {d, d}};
  }
};
/// log(x); d/dx = 1/x.
struct Log {
  static constexpr std::string_view name = "log";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::log;
    const T d = 1.0 / x;
    return {log(x), {d, d}};
  }
};
/// log2(x); d/dx = 1/(x ln 2).
struct Log2 {
  static constexpr std::string_view name = "log2";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::log2;
    const T d = 1.0 / (x * std::numbers::ln2);
    return {log2(x), {d, d}};
  }
};
/// log10(x); d/dx = 1/(x ln 10).
struct Log10 {
  static constexpr std::string_view name = "log10";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::log10;
    const T d = 1.0 / (x * std::numbers::ln10);
    return {log10(x), {d, d}};
  }
};
/// log(1 + x); d/dx = 1/(1 + x).
struct Log1p {
  static constexpr std::string_view name = "log1p";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::log1p;
    const T d = 1.0 / (1.0 + x);
    return {log1p(x), {d, d}};
  }
};
/// sqrt(x); d/dx = 1/(2 sqrt(x)) (+inf at 0).
struct Sqrt {
  static constexpr std::string_view name = "sqrt";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::sqrt;
    const T r = sqrt(x);
    const T d = 0.5 / r;
    return {r, {d, d}};
  }
};
/// cbrt(x); d/dx = 1/(3 cbrt(x)^2) (+inf at 0).
struct Cbrt {
  static constexpr std::string_view name = "cbrt";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::cbrt;
    const T r = cbrt(x);
    const T d = 1.0 / (3.0 * r * r);
    return {r, {d, d}};
  }
};
/// x^2; d/dx = 2x.
struct Square {
  static constexpr std::string_view name = "square";
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    const T d = 2.0 * x;
    return {x * x, {d, d}};
  }
};
/// sin(x); d/dx = cos(x).
struct Sin {
  static constexpr std::string_view name = "sin";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::cos;
    using std::sin;
    const T d = cos(x);
    return {sin(x), {d, d}};
  }
};
/// cos(x); d/dx = -sin(x).
struct Cos {
  static constexpr std::string_view name = "cos";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::cos;
    using std::sin;
    const T d = -sin(x);
    return {cos(x), {d, d}};
  }
};
/// tan(x); d/dx = 1 + tan(x)^2.
struct Tan {
  static constexpr std::string_view name = "tan";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::tan;
    const T t = tan(x);
    const T d = 1.0 + t * t;
    return {t, {d, d}};
  }
};
/// asin(x); d/dx = 1/sqrt(1 - x^2).
struct Asin {
  static constexpr std::string_view name = "asin";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::asin;
    using std::sqrt;
    const T d = 1.0 / sqrt((1.0 - x) * (1.0 + x));
    return {asin(x), {d, d}};
  }
};
/// acos(x); d/dx = -1/sqrt(1 - x^2).
struct Acos {
  static constexpr std::string_view name = "acos";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::acos;
    using std::sqrt;
    const T d = -1.0 / sqrt((1.0 - x) * (1.0 + x));
    return {acos(x), {d, d}};
  }
};
/// atan(x); d/dx = 1/(1 + x^2).
struct Atan {
  static constexpr std::string_view name = "atan";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::atan;
    const T d = 1.0 / (1.0 + x * x);
    return {atan(x), {d, d}};
  }
};
/// sinh(x); d/dx = cosh(x).
struct Sinh {
  static constexpr std::string_view name = "sinh";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::cosh;
    using std::sinh;
    const T d = cosh(x);
    return {sinh(x), {d, d}};
  }
};
/// cosh(x); d/dx = sinh(x).
struct Cosh {
  static constexpr std::string_view name = "cosh";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::cosh;
    using std::sinh;
    const T d = sinh(x);
    return {cosh(x), {d, d}};
  }
};
/// tanh(x); d/dx = 1 - tanh(x)^2.
struct Tanh {
  static constexpr std::string_view name = "tanh";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    using std::tanh;
    const T t = tanh(x);
    if (x > -0.55 && x < 0.55) {
      const T d = 1.0 - t * t;
      return {t, {d, d}};
    }
    // In the tails 1 - t^2 cancels; 4e/(1 + e)^2 with e = exp(-2|x|) keeps full precision.
    const T e = exp(x > 0.0 ? T(-2.0 * x) : T(2.0 * x));
    const T d = 4.0 * e / ((1.0 + e) * (1.0 + e));
    return {t, {d, d}};
  }
};
/// asinh(x); d/dx = 1/sqrt(x^2 + 1).
struct Asinh {
  static constexpr std::string_view name = "asinh";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::asinh;
    using std::sqrt;
    const T d = 1.0 / sqrt(x * x + 1.0);
    return {asinh(x), {d, d}};
  }
};
/// acosh(x); d/dx = 1/sqrt(x^2 - 1).
struct Acosh {
  static constexpr std::string_view name = "acosh";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::acosh;
    using std::sqrt;
    const T d = 1.0 / sqrt((x - 1.0) * (x + 1.0));
    return {acosh(x), {d, d}};
  }
};
/// atanh(x); d/dx = 1/(1 - x^2).
struct Atanh {
  static constexpr std::string_view name = "atanh";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::atanh;
    const T d = 1.0 / ((1.0 - x) * (1.0 + x));
    return {atanh(x), {d, d}};
  }
};
/// erf(x); d/dx = 2/sqrt(pi) exp(-x^2).
struct Erf {
  static constexpr std::string_view name = "erf";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::erf;
    using std::exp;
    const T d = std::numbers::inv_sqrtpi * 2.0 * exp(-(x * x));
    return {erf(x), {d, d}};
  }
};
/// erfc(x) = 1 - erf(x); d/dx = -2/sqrt(pi) exp(-x^2).
struct Erfc {
  static constexpr std::string_view name = "erfc";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::erfc;
    using std::exp;
    const T d = std::numbers::inv_sqrtpi * -2.0 * exp(-(x * x));
    return {erfc(x), {d, d}};
  }
};
/// 1/(1 + exp(-x)); d/dx = s(1 - s).
struct Sigmoid {
  static constexpr std::string_view name = "sigmoid";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::exp;
    // With e = exp(-|x|) neither the value nor s(1 - s) = e/(1 + e)^2 cancels or overflows.
    // (Each branch of ?: is made a T: on a Var they would be expressions of different types.)
    const T e = exp(x > 0.0 ? T(-x) : x);
    const T s = x >= 0.0 ? T(1.0 / (1.0 + e)) : T(e / (1.0 + e));
    const T d = e / ((1.0 + e) * (1.0 + e));
    return {s, {d, d}};
  }
};
/// |x|; d/dx = sign(x).
struct Abs {
  static constexpr std::string_view name = "abs";
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > 0.0) return {x, {detail::passive<T>(1.0), detail::passive<T>(1.0)}};
    if (x < 0.0) return {-x, {detail::passive<T>(-1.0), detail::passive<T>(-1.0)}};
    if (x == 0.0)
      return {detail::passive<T>(0.0),
              {detail::passive<T>(-1.0),
               detail::passive<T>(1.0)}};  // at 0: left -1, right 1; min_norm 0
    return {x, {x, x}};                    // NaN
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    if (low <= 0.0 && high >= 0.0) return {{0.0, Smoothness::kink}};
    return {};
  }
};
/// floor(x); derivative 0, jumps at the integers.
struct Floor {
  static constexpr std::string_view name = "floor";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::floor;
    return {floor(x), {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::steps(low, high, 0.0);
  }
};
/// ceil(x); derivative 0, jumps at the integers.
struct Ceil {
  static constexpr std::string_view name = "ceil";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::ceil;
    return {ceil(x), {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::steps(low, high, 0.0);
  }
};
/// round(x) (halves away from zero); derivative 0, jumps at the half-integers.
struct Round {
  static constexpr std::string_view name = "round";
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::round;
    return {round(x), {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return detail::steps(low, high, 0.5);
  }
};
/// clip(x, min, max): x limited to [min, max]; d/dx = [min < x < max]. The one clip logic:
/// hardtanh, clamp, relu6 and hardsigmoid are made of it.
struct Clip {
  static constexpr std::string_view name = "clip";
  double min;
  double max;
  constexpr Clip(double min_, double max_) : min(min_), max(max_) {
    detail::require_order(name, "min", min, "max", max);
  }
  template <class T>
  constexpr Evaluation<T> evaluate(const T& x) const {
    if (x > min && x < max) return detail::line(x, 1.0);
    if (x < min) return detail::line(T(min), 0.0);
    if (x > max) return detail::line(T(max), 0.0);
    if (min == max) return detail::line(T(min), 0.0);
    // at min: left 0, right 1; min_norm 0 (= PyTorch hardtanh; PyTorch clamp 1; JAX 1)
    if (x == min) return detail::corner(T(min), 0.0, 1.0);
    // at max: left 1, right 0; min_norm 0 (= PyTorch hardtanh; PyTorch clamp 1; JAX 1)
    if (x == max) return detail::corner(T(max), 1.0, 0.0);
    return detail::not_a_number(x);
  }
  std::vector<KinkPoint> kinks(double low, double high) const {
    return min == max ? std::vector<KinkPoint>{} : detail::points_in(low, high, {min, max});
  }

 protected:
  // For the named forms, whose messages must name themselves.
  constexpr Clip(double min_, double max_, std::string_view primitive,
                 std::string_view min_name = "min", std::string_view max_name = "max")
      : min(min_), max(max_) {
    detail::require_order(primitive, min_name, min, max_name, max);
  }
};

/// clamp(x, lo, hi): clip(x, lo, hi). PyTorch's clamp gives 1 at the bounds; min_norm gives 0.
struct Clamp : Clip {
  static constexpr std::string_view name = "clamp";
  constexpr Clamp(double lo, double hi) : Clip(lo, hi, name, "lo", "hi") {}
};

/// x^p for a passive exponent p; d/dx = p x^(p-1) (0 when p == 0).
struct Power {
  static constexpr std::string_view name = "pow";
  double exponent;
  constexpr explicit Power(double exponent_) : exponent(exponent_) {}
  template <class T>
  Evaluation<T> evaluate(const T& x) const {
    using std::pow;
    const T d = exponent == 0.0 ? detail::passive<T>(0.0) : exponent * pow(x, exponent - 1.0);
    return {pow(x, exponent), {d, d}};
  }
};
/// b^y for a passive base b; d/dy = ln(b) b^y (0 when b == 0).
struct Exponential {
  static constexpr std::string_view name = "pow";
  double base;
  constexpr explicit Exponential(double base_) : base(base_) {}
  template <class T>
  Evaluation<T> evaluate(const T& y) const {
    using std::exp;
    using std::pow;
    T v;
    if constexpr (std::is_floating_point_v<T>) {
      v = pow(base, y);
    } else {
      v = exp(y * std::log(base));
    }
    const T d = base == 0.0 ? detail::passive<T>(0.0) : std::log(base) * v;
    return {v, {d, d}};
  }
};

/// x^y; d/dx = y x^(y-1), d/dy = ln(x) x^y (0 where x == 0).
struct Pow {
  static constexpr std::string_view name = "pow";
  template <class T>
  T value(const T& x, const T& y) const {
    using std::exp;
    using std::log;
    using std::pow;
    if constexpr (std::is_floating_point_v<T>) {
      return pow(x, y);
    } else {
      return exp(y * log(x));
    }
  }
  template <class T>
  BasicBinarySlopes<T> slopes(const T& x, const T& y) const {
    using std::log;
    const T v = value(x, y);
    T dx = y == 0.0 ? detail::passive<T>(0.0) : y * value(x, T(y - 1.0));
    T dy = x == 0.0 ? detail::passive<T>(0.0) : log(x) * v;
    // Where the value is a number but a partial is not, the formula met 0 * inf (x^(y-1) = 0
    // with infinite y; log x infinite with x^y = 0: the limit is 0), a value IEEE pins whatever
    // the other input (pow(1, NaN) = pow(NaN, 0) = 1), or a negative base, where x^y exists
    // at integer y only and has no derivative in y. 0 in each case.
    if (!std::isnan(primal_value(v))) {
      if (std::isnan(primal_value(dx))) dx = detail::passive<T>(0.0);
      if (std::isnan(primal_value(dy))) dy = detail::passive<T>(0.0);
    }
    return {{dx, dx}, {dy, dy}};
  }
};
/// sqrt(x^2 + y^2); partials x/h, y/h; (0, 0) at the origin (min-norm of the unit disk).
struct Hypot {
  static constexpr std::string_view name = "hypot";
  template <class T>
  T value(const T& x, const T& y) const {
    using std::hypot;
    using std::sqrt;
    if constexpr (std::is_floating_point_v<T>) {
      return hypot(x, y);
    } else {
      return sqrt(x * x + y * y);
    }
  }
  template <class T>
  BasicBinarySlopes<T> slopes(const T& x, const T& y) const {
    const T h = value(x, y);
    if (h == 0.0)
      return {{detail::passive<T>(0.0), detail::passive<T>(0.0)},
              {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
    if (std::isinf(primal_value(h))) {
      // The limits of x/h and y/h: +-1 for an infinite argument, 0 for a finite one (inf/inf
      // would be NaN).
      const auto limit = [](const T& a) {
        return std::isinf(primal_value(a)) ? T(std::copysign(1.0, primal_value(a)))
                                           : detail::passive<T>(0.0);
      };
      const T dx = limit(x), dy = limit(y);
      return {{dx, dx}, {dy, dy}};
    }
    return {{x / h, x / h}, {y / h, y / h}};
  }
};

/// atan2(y, x) with y first; d/dy = x/(x^2 + y^2), d/dx = -y/(x^2 + y^2).
struct Atan2 {
  static constexpr std::string_view name = "atan2";
  template <class T>
  T value(const T& y, const T& x) const {
    using std::atan2;
    return atan2(y, x);
  }
  template <class T>
  BasicBinarySlopes<T> slopes(const T& y, const T& x) const {
    // x / (x^2 + y^2) and -y / (x^2 + y^2), with the radius from hypot, so that neither square
    // overflows nor underflows.
    const T r = Hypot{}.value(x, y);
    const double r0 = primal_value(r);
    // The origin, where atan2 jumps: 0, the min-norm choice (as for hypot). At infinite radius
    // both partials tend to 0 (inf / inf would be NaN).
    if (r0 == 0.0 || std::isinf(r0))
      return {{detail::passive<T>(0.0), detail::passive<T>(0.0)},
              {detail::passive<T>(0.0), detail::passive<T>(0.0)}};
    const T dy = (x / r) / r;
    const T dx = -(y / r) / r;
    return {{dy, dy}, {dx, dx}};
  }
};
/// max(x, y); the larger argument gets 1. Tie: left (0, 1), right (1, 0), min_norm (1/2, 1/2).
/// NaN in either argument gives NaN.
struct Max {
  static constexpr std::string_view name = "max";
  template <class T>
  constexpr T value(const T& x, const T& y) const {
    if (x > y) return x;
    if (y > x) return y;
    return x == y ? x : x + y;
  }
  template <class T>
  constexpr BasicBinarySlopes<T> slopes(const T& x, const T& y) const {
    if (x > y) return detail::first_wins<T>();
    if (y > x) return detail::second_wins<T>();
    // tie: left (0, 1), right (1, 0); min_norm and midpoint (1/2, 1/2) (= PyTorch, JAX; TF (1, 0))
    if (x == y)
      return {{detail::passive<T>(0.0), detail::passive<T>(1.0)},
              {detail::passive<T>(1.0), detail::passive<T>(0.0)}};
    return detail::not_a_number(x, y);
  }
};
/// min(x, y); the smaller argument gets 1. Tie: left (1, 0), right (0, 1), min_norm (1/2, 1/2).
/// NaN in either argument gives NaN.
struct Min {
  static constexpr std::string_view name = "min";
  template <class T>
  constexpr T value(const T& x, const T& y) const {
    if (x < y) return x;
    if (y < x) return y;
    return x == y ? x : x + y;
  }
  template <class T>
  constexpr BasicBinarySlopes<T> slopes(const T& x, const T& y) const {
    if (x < y) return detail::first_wins<T>();
    if (y < x) return detail::second_wins<T>();
    // tie: left (1, 0), right (0, 1); min_norm and midpoint (1/2, 1/2)
    if (x == y)
      return {{detail::passive<T>(1.0), detail::passive<T>(0.0)},
              {detail::passive<T>(0.0), detail::passive<T>(1.0)}};
    return detail::not_a_number(x, y);
  }
};
/// fmax(x, y): as max, but a NaN argument is ignored (the other gets 1).
struct Fmax {
  static constexpr std::string_view name = "fmax";
  template <class T>
  constexpr T value(const T& x, const T& y) const {
    if (x != x) return y;
    if (y != y) return x;
    return Max{}.value(x, y);
  }
  template <class T>
  constexpr BasicBinarySlopes<T> slopes(const T& x, const T& y) const {
    if (x != x && y == y) return detail::second_wins<T>();
    if (y != y && x == x) return detail::first_wins<T>();
    return Max{}.slopes(x, y);
  }
};
/// fmin(x, y): as min, but a NaN argument is ignored (the other gets 1).
struct Fmin {
  static constexpr std::string_view name = "fmin";
  template <class T>
  constexpr T value(const T& x, const T& y) const {
    if (x != x) return y;
    if (y != y) return x;
    return Min{}.value(x, y);
  }
  template <class T>
  constexpr BasicBinarySlopes<T> slopes(const T& x, const T& y) const {
    if (x != x && y == y) return detail::second_wins<T>();
    if (y != y && x == x) return detail::first_wins<T>();
    return Min{}.slopes(x, y);
  }
};

}  // namespace rules

// On plain numbers the standard functions serve (std::exp), so these take an active operand.
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(exp, rules::Exp)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(exp2, rules::Exp2)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(expm1, rules::Expm1)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(log, rules::Log)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(log2, rules::Log2)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(log10, rules::Log10)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(log1p, rules::Log1p)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(sqrt, rules::Sqrt)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(cbrt, rules::Cbrt)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(sin, rules::Sin)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(cos, rules::Cos)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(tan, rules::Tan)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(asin, rules::Asin)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(acos, rules::Acos)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(atan, rules::Atan)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(sinh, rules::Sinh)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(cosh, rules::Cosh)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(tanh, rules::Tanh)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(asinh, rules::Asinh)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(acosh, rules::Acosh)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(atanh, rules::Atanh)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(erf, rules::Erf)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(erfc, rules::Erfc)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(floor, rules::Floor)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(ceil, rules::Ceil)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(round, rules::Round)
/// |x|; at 0 the kink rule decides (min_norm: 0).
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(abs, rules::Abs)
/// Same as abs.
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(fabs, rules::Abs)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(atan2, rules::Atan2)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(hypot, rules::Hypot)
/// max(x, y); a tie is split by the kink rule (min_norm: 1/2 each).
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(max, rules::Max)
/// min(x, y); a tie is split by the kink rule (min_norm: 1/2 each).
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(min, rules::Min)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(fmax, rules::Fmax)
SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(fmin, rules::Fmin)
/// x^2 (also on double).
SUBGRAD_PRIMITIVE_FUNCTION(square, rules::Square)
/// 1/(1 + exp(-x)) (also on double).
SUBGRAD_PRIMITIVE_FUNCTION(sigmoid, rules::Sigmoid)
/// x limited to [lo, hi] (also on double); at the bounds the kink rule decides (min_norm: 0).
SUBGRAD_PRIMITIVE_FUNCTION(clamp, rules::Clamp)

/// x^y with Var, Dual or double in either position (not both double: use std::pow); a passive
/// exponent or base makes it a unary primitive. A trailing KinkRule is accepted (pow has none).
template <class X, class Y, class... Rule>
requires(sizeof...(Rule) <= 1) && ActivePrimitiveCall<rules::Pow, X, Y, Rule...> constexpr auto pow(
                                      const X& x, const Y& y, const Rule&... kink_rule) {
  if constexpr (Passive<Y>) {
    return call_primitive<rules::Power>(x, static_cast<double>(y), kink_rule...);
  } else if constexpr (Passive<X>) {
    return call_primitive<rules::Exponential>(y, static_cast<double>(x), kink_rule...);
  } else {
    return call_primitive<rules::Pow>(x, y, kink_rule...);
  }
}

}  // namespace subgrad
