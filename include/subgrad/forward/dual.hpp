#pragma once
/// \file
/// Forward mode: Dual<T> carries a value and a tangent. Every primitive works on it through the
/// same rule as reverse mode (`apply_primitive` below), so forward and reverse give the same
/// number at every kink under every rule. Dual<Dual<double>> gives second derivatives.

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <iosfwd>
#include <limits>
#include <type_traits>
#include <vector>

#include "subgrad/core/kink.hpp"
#include "subgrad/core/limits.hpp"
#include "subgrad/core/primitive.hpp"
#include "subgrad/math/elementary.hpp"
#include "subgrad/math/maxout.hpp"

namespace subgrad {

template <class T>
class Dual;

template <class T>
struct is_dual : std::false_type {};
template <class T>
struct is_dual<Dual<T>> : std::true_type {};
/// Satisfied by Dual<T> for any T.
template <class T>
concept DualNumber = is_dual<std::remove_cvref_t<T>>::value;

/// A value and a tangent (the derivative along one direction). T is double or a Dual.
template <class T>
class Dual {
 public:
  using value_type = T;
  constexpr Dual() = default;
  /// A constant (tangent 0) or, with a tangent, a seeded input: Dual<double>{x, 1.0}. Constants
  /// record nothing: on Dual<Var> the tangent 0 and a value from a double are Vars on no tape.
  constexpr Dual(T value, T tangent = detail::passive<T>(0.0))
      : value_(value), tangent_(tangent) {}  // NOLINT: implicit
  template <class U>
  requires std::is_arithmetic_v<U> &&(!std::same_as<T, double>)constexpr Dual(U value)
      : value_(detail::passive<T>(static_cast<double>(value))),
        tangent_(detail::passive<T>(0.0)) {}  // NOLINT: implicit

  constexpr const T& value() const noexcept { return value_; }
  constexpr const T& tangent() const noexcept { return tangent_; }

  constexpr Dual& operator+=(const Dual& other) { return *this = *this + other; }
  constexpr Dual& operator-=(const Dual& other) { return *this = *this - other; }
  constexpr Dual& operator*=(const Dual& other) { return *this = *this * other; }
  constexpr Dual& operator/=(const Dual& other) { return *this = *this / other; }

  friend constexpr Dual operator+(const Dual& a, const Dual& b) {
    return {a.value_ + b.value_, a.tangent_ + b.tangent_};
  }
  friend constexpr Dual operator-(const Dual& a, const Dual& b) {
    return {a.value_ - b.value_, a.tangent_ - b.tangent_};
  }
  friend constexpr Dual operator*(const Dual& a, const Dual& b) {
    return {a.value_ * b.value_, a.tangent_ * b.value_ + a.value_ * b.tangent_};
  }
  friend constexpr Dual operator/(const Dual& a, const Dual& b) {
    const T quotient = a.value_ / b.value_;
    return {quotient, (a.tangent_ - quotient * b.tangent_) / b.value_};
  }
  friend constexpr Dual operator-(const Dual& a) { return {-a.value_, -a.tangent_}; }
  friend constexpr Dual operator+(const Dual& a) { return a; }

  // Comparisons look at values only.
  friend constexpr bool operator==(const Dual& a, const Dual& b) { return a.value_ == b.value_; }
  friend constexpr bool operator<(const Dual& a, const Dual& b) { return a.value_ < b.value_; }
  friend constexpr bool operator>(const Dual& a, const Dual& b) { return a.value_ > b.value_; }
  friend constexpr bool operator<=(const Dual& a, const Dual& b) { return a.value_ <= b.value_; }
  friend constexpr bool operator>=(const Dual& a, const Dual& b) { return a.value_ >= b.value_; }

 private:
  T value_{};
  T tangent_{};
};

// Mixed arithmetic with plain numbers.
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator+(const Dual<T>& a, U b) {
  return {a.value() + static_cast<double>(b), a.tangent()};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator+(U a, const Dual<T>& b) {
  return {static_cast<double>(a) + b.value(), b.tangent()};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator-(const Dual<T>& a, U b) {
  return {a.value() - static_cast<double>(b), a.tangent()};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator-(U a, const Dual<T>& b) {
  return {static_cast<double>(a) - b.value(), -b.tangent()};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator*(const Dual<T>& a, U b) {
  return {a.value() * static_cast<double>(b), a.tangent() * static_cast<double>(b)};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator*(U a, const Dual<T>& b) {
  return {static_cast<double>(a) * b.value(), static_cast<double>(a) * b.tangent()};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator/(const Dual<T>& a, U b) {
  return {a.value() / static_cast<double>(b), a.tangent() / static_cast<double>(b)};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr Dual<T> operator/(U a, const Dual<T>& b) {
  const T quotient = static_cast<double>(a) / b.value();
  return {quotient, -quotient * b.tangent() / b.value()};
}
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator==(const Dual<T>& a, U b) { return a.value() == static_cast<double>(b); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator<(const Dual<T>& a, U b) { return a.value() < static_cast<double>(b); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator<(U a, const Dual<T>& b) { return static_cast<double>(a) < b.value(); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator>(const Dual<T>& a, U b) { return a.value() > static_cast<double>(b); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator>(U a, const Dual<T>& b) { return static_cast<double>(a) > b.value(); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator<=(const Dual<T>& a, U b) { return a.value() <= static_cast<double>(b); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator<=(U a, const Dual<T>& b) { return static_cast<double>(a) <= b.value(); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator>=(const Dual<T>& a, U b) { return a.value() >= static_cast<double>(b); }
template <class T, class U>
requires std::is_arithmetic_v<U>
constexpr bool operator>=(U a, const Dual<T>& b) { return static_cast<double>(a) >= b.value(); }

// The classifications of <cmath>, on the value (as for Var: core/arithmetic.hpp).
template <class T>
bool isnan(const Dual<T>& a) {
  return std::isnan(primal_value(a));
}
template <class T>
bool isinf(const Dual<T>& a) {
  return std::isinf(primal_value(a));
}
template <class T>
bool isfinite(const Dual<T>& a) {
  return std::isfinite(primal_value(a));
}

namespace detail {
/// partial * tangent, where a zero tangent contributes exactly nothing, even through an infinite
/// or NaN partial: an input that does not move does not move the output. Reverse mode agrees:
/// its sweep passes nothing on from a zero adjoint.
template <class T>
constexpr T along_tangent(const T& partial, const T& tangent) {
  if constexpr (std::is_same_v<T, double>) {
    return tangent == 0.0 ? 0.0 : partial * tangent;
  } else if constexpr (std::is_same_v<T, Var>) {
    // A constant 0 (on no tape: a Dual<Var> made from a number) records nothing.
    if (tangent.tape_id() == 0 && tangent.value() == 0.0) return Var();
    return partial * tangent;
  } else {
    return partial * tangent;
  }
}
}  // namespace detail

/// A unary primitive on a Dual: the rule's value, and the tangent times the slope the kink rule
/// picks (the same `evaluate` and `resolve` as reverse mode).
template <class Rule, class T, class Choice>
constexpr Dual<T> apply_primitive(const Rule& rule, const Dual<T>& x, Choice choice) {
  const Evaluation<T> at = evaluate(rule, x.value());
  const T slope = resolve(at.slopes, choice.get());
  if constexpr (!std::is_same_v<T, double>) {
    // Nested (Dual<Dual<double>>, Dual<Var>): at a kink the value a rule returns is a constant,
    // so its own derivative would be 0 whatever the rule; give it the chosen slope instead:
    // f(x0) + slope (x - x0), which is f(x0) at x0 and has derivative slope.
    const double left = primal_value(at.slopes.left), right = primal_value(at.slopes.right);
    if (left != right && left == left && right == right) {
      const double x0 = primal_value(x.value());
      return {T(detail::passive<T>(primal_value(at.value)) + slope * T(x.value() - x0)),
              detail::along_tangent(slope, x.tangent())};
    }
  }
  return {at.value, detail::along_tangent(slope, x.tangent())};
}

namespace detail {
template <class T, class U>
constexpr Dual<T> as_dual(const U& x) {
  if constexpr (DualNumber<U>) {
    return x;
  } else {
    return detail::passive<Dual<T>>(static_cast<double>(x));
  }
}
template <class X, class Y>
using DualOf = std::conditional_t<DualNumber<X>, std::remove_cvref_t<X>, std::remove_cvref_t<Y>>;
}  // namespace detail

/// A binary primitive on Duals (one side may be a plain number).
template <class Rule, class X, class Y, class Choice>
requires(DualNumber<X> || DualNumber<Y>) && BinaryRule<Rule> constexpr auto apply_primitive(
                                                const Rule& rule, const X& x, const Y& y,
                                                Choice choice) {
  using D = detail::DualOf<X, Y>;
  using T = typename D::value_type;
  const D first = detail::as_dual<T>(x);
  const D second = detail::as_dual<T>(y);
  const BasicBinaryEvaluation<T> at = evaluate(rule, first.value(), second.value());
  const BinaryPartials<T> chosen = resolve(at.slopes, choice.get());
  return D{at.value, detail::along_tangent(chosen.x, first.tangent()) +
                         detail::along_tangent(chosen.y, second.tangent())};
}

namespace detail {
template <class Choice, class... Pieces>
auto maxout_of_duals(Choice choice, const Pieces&... pieces) {
  using D = std::common_type_t<DualOf<Pieces, Pieces>...>;
  using T = typename D::value_type;
  const std::array<D, sizeof...(Pieces)> duals{as_dual<T>(pieces)...};
  std::array<double, sizeof...(Pieces)> values{};
  for (std::size_t i = 0; i < duals.size(); ++i) values[i] = primal_value(duals[i]);
  std::array<double, sizeof...(Pieces)> weights{};
  maxout_weights(values, choice.get(), weights);
  std::size_t largest = 0;
  for (std::size_t i = 1; i < duals.size(); ++i) {
    if (values[i] > values[largest]) largest = i;
  }
  T tangent = passive<T>(0.0);
  for (std::size_t i = 0; i < duals.size(); ++i) {
    if (weights[i] != 0.0) tangent = tangent + weights[i] * duals[i].tangent();
  }
  const D& result = duals[largest];
  return D{result.value(), tangent};
}
}  // namespace detail

/// Writes "value + tangentε" (the primal values of both, so a Dual<Var> or nested Dual prints its
/// numbers), each as the stream writes a double, as fmt's `{}` does (forward/format.hpp).
template <class T, class Traits>
std::basic_ostream<char, Traits>& operator<<(std::basic_ostream<char, Traits>& out,
                                             const Dual<T>& x) {
  return out << primal_value(x.value()) << " + " << primal_value(x.tangent()) << "ε";
}

/// maxout on Duals (and plain numbers, a trailing KinkRule allowed): the same tie weights as
/// reverse mode.
template <class... Args>
requires(sizeof...(Args) >= 2) &&
    ((DualNumber<Args> || Passive<Args> || std::same_as<Args, KinkRule>)&&...) &&
    (DualNumber<Args> || ...) auto maxout(const Args&... args) {
  return detail::split_kink_rule(
      [](auto choice, const auto&... pieces) { return detail::maxout_of_duals(choice, pieces...); },
      args...);
}

}  // namespace subgrad

/// std::numeric_limits<Dual<T>>: those of double, values as passive Duals (tangent 0, recording
/// nothing), as for Var (core/limits.hpp).
template <class T>
class std::numeric_limits<subgrad::Dual<T>> : public std::numeric_limits<double> {
  using Double = std::numeric_limits<double>;
  static subgrad::Dual<T> constant(double value) {
    return subgrad::detail::passive<subgrad::Dual<T>>(value);
  }

 public:
  static subgrad::Dual<T> min() { return constant(Double::min()); }
  static subgrad::Dual<T> max() { return constant(Double::max()); }
  static subgrad::Dual<T> lowest() { return constant(Double::lowest()); }
  static subgrad::Dual<T> epsilon() { return constant(Double::epsilon()); }
  static subgrad::Dual<T> round_error() { return constant(Double::round_error()); }
  static subgrad::Dual<T> infinity() { return constant(Double::infinity()); }
  static subgrad::Dual<T> quiet_NaN() { return constant(Double::quiet_NaN()); }
  static subgrad::Dual<T> signaling_NaN() { return constant(Double::signaling_NaN()); }
  static subgrad::Dual<T> denorm_min() { return constant(Double::denorm_min()); }
};
