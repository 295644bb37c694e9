#pragma once
/// \file
/// Primitive<Rule>: one rule (value and one-sided slopes) made callable on double, on Var
/// expressions, and (through `apply_primitive` overloads of higher layers) on Dual and tensors.
///
/// A unary rule has `double value(double) const` and `Slopes slopes(double) const`, or an
/// `evaluate(x)` returning both as an Evaluation (for rules whose value and slope share work).
/// A binary rule has `double value(double, double) const` and
/// `BinarySlopes slopes(double, double) const`. Parameters are data members; a
/// `static constexpr std::string_view name` is optional.

#include <concepts>
#include <cstddef>
#include <string_view>
#include <type_traits>
#include <vector>

#include "subgrad/core/expression.hpp"
#include "subgrad/core/kink.hpp"

namespace subgrad {

/// A unary rule written as value() and slopes().
template <class R>
concept SlopesRule = requires(const R& rule, double x) {
  { rule.value(x) } -> std::convertible_to<double>;
  { rule.slopes(x) } -> std::convertible_to<Slopes>;
};
/// A unary rule written as evaluate(), returning value and slopes together.
template <class R>
concept EvaluatingRule = requires(const R& rule, double x) {
  { rule.evaluate(x) } -> std::convertible_to<Evaluation<double>>;
};
/// Anything Primitive accepts as a unary rule.
template <class R>
concept UnaryRule = SlopesRule<R> || EvaluatingRule<R>;

/// A binary primitive's value and its one-sided partials.
template <class T>
struct BasicBinaryEvaluation {
  T value;
  BasicBinarySlopes<T> slopes;
};
using BinaryEvaluation = BasicBinaryEvaluation<double>;
/// Anything Primitive accepts as a binary rule.
template <class R>
concept BinaryRule = requires(const R& rule, double x, double y) {
  { rule.value(x, y) } -> std::convertible_to<double>;
  { rule.slopes(x, y) } -> std::convertible_to<BinarySlopes>;
};

/// The value and slopes of a unary rule at x (x may be double or a type the rule is generic over).
template <class R, class T>
constexpr Evaluation<T> evaluate(const R& rule, const T& x) {
  if constexpr (requires { rule.evaluate(x); }) {
    return rule.evaluate(x);
  } else {
    return Evaluation<T>{static_cast<T>(rule.value(x)), rule.slopes(x)};
  }
}
/// The value of a unary rule at x.
template <class R, class T>
constexpr T rule_value(const R& rule, const T& x) {
  if constexpr (requires { rule.value(x); }) {
    return rule.value(x);
  } else {
    return rule.evaluate(x).value;
  }
}
/// The slopes of a unary rule at x.
template <class R, class T>
constexpr BasicSlopes<T> rule_slopes(const R& rule, const T& x) {
  return evaluate(rule, x).slopes;
}
/// The value and slopes of a binary rule at (x, y).
template <class R, class T>
constexpr BasicBinaryEvaluation<T> evaluate(const R& rule, const T& x, const T& y) {
  if constexpr (requires { rule.evaluate(x, y); }) {
    return rule.evaluate(x, y);
  } else {
    return BasicBinaryEvaluation<T>{static_cast<T>(rule.value(x, y)), rule.slopes(x, y)};
  }
}

/// The plain number behind a double, a Var, an expression or a (nested) Dual.
template <class T>
constexpr double primal_value(const T& x) {
  if constexpr (Passive<T>) {
    return static_cast<double>(x);
  } else {
    return primal_value(x.value());
  }
}

/// The kinks and jumps a unary rule declares in [low, high] (`kinks(low, high)`), or none.
template <class R>
std::vector<KinkPoint> rule_kinks(const R& rule, double low, double high) {
  if constexpr (requires { rule.kinks(low, high); }) {
    return rule.kinks(low, high);
  } else {
    return {};
  }
}

/// The rule's name for reports, or "primitive" if it has none.
template <class R>
constexpr std::string_view rule_name() {
  if constexpr (requires { R::name; }) {
    return std::string_view(R::name);
  } else {
    return "primitive";
  }
}

/// The kink rule of a statement is the thread's rule at recording time ...
struct ThreadKinkRule {
  KinkRule get() const noexcept { return current_kink_rule(); }
};
/// ... unless the call named one.
struct CallKinkRule {
  KinkRule rule;
  KinkRule get() const noexcept { return rule; }
};

/// A unary primitive applied to an expression; value and slopes are computed when it is built,
/// and the kink rule is applied when the statement is recorded.
template <Expression A, class Choice = ThreadKinkRule>
struct UnaryExpression {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count;
  A argument;
  double result;
  Slopes slopes;
  [[no_unique_address]] Choice choice;
  constexpr double value() const noexcept { return result; }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    const double derivative =
        slopes.left == slopes.right ? slopes.left : resolve(slopes, choice.get());
    argument.template record<Offset>(indices, partials, multiplier * derivative);
  }
};

/// A binary primitive applied to two expressions (a passive side is a Constant).
template <Expression A, Expression B, class Choice = ThreadKinkRule>
struct BinaryExpression {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count + B::leaf_count;
  A first;
  B second;
  double result;
  BinarySlopes slopes;
  [[no_unique_address]] Choice choice;
  constexpr double value() const noexcept { return result; }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    double x = slopes.x.left;
    double y = slopes.y.left;
    if (x != slopes.x.right || y != slopes.y.right) {
      const BinaryPartials<double> chosen = resolve(slopes, choice.get());
      x = chosen.x;
      y = chosen.y;
    }
    first.template record<Offset>(indices, partials, multiplier * x);
    second.template record<Offset + A::leaf_count>(indices, partials, multiplier * y);
  }
};

namespace detail {
template <class A, class B>
concept BinaryOperands = ExpressionOperand<A> && ExpressionOperand<B> &&
    (Expression<A> || Expression<B>);
}  // namespace detail

/// Turns a rule into a callable: on double it gives the value, on a Var or expression an
/// expression; a trailing KinkRule overrides the thread's rule for this call.
template <class Rule>
struct Primitive {
  static_assert(UnaryRule<Rule> || BinaryRule<Rule>,
                "subgrad::Primitive<Rule>: Rule needs `double value(double) const` and "
                "`Slopes slopes(double) const` (or value/slopes of two doubles for a binary rule)");
  Rule rule{};

  // Unary.
  constexpr double operator()(double x) const requires UnaryRule<Rule> {
    return rule_value(rule, x);
  }
  constexpr double operator()(double x, KinkRule) const requires UnaryRule<Rule> {
    return rule_value(rule, x);
  }
  template <Expression E>
  requires UnaryRule<Rule>
  constexpr UnaryExpression<E> operator()(const E& x) const {
    const Evaluation<double> at = evaluate(rule, x.value());
    return UnaryExpression<E>{x, at.value, at.slopes, {}};
  }
  template <Expression E>
  requires UnaryRule<Rule>
  constexpr UnaryExpression<E, CallKinkRule> operator()(const E& x, KinkRule kink_rule) const {
    const Evaluation<double> at = evaluate(rule, x.value());
    return UnaryExpression<E, CallKinkRule>{x, at.value, at.slopes, {kink_rule}};
  }
  /// Other argument types (Dual, tensors) supply an `apply_primitive(rule, x, choice)` overload
  /// found by ADL; `choice.get()` is the kink rule in force.
  template <class T>
  requires(!Expression<T> && !Passive<T>) constexpr auto operator()(const T& x) const
      -> decltype(apply_primitive(rule, x, ThreadKinkRule{})) {
    return apply_primitive(rule, x, ThreadKinkRule{});
  }
  template <class T>
  requires(!Expression<T> && !Passive<T>) constexpr auto operator()(const T& x,
                                                                    KinkRule kink_rule) const
      -> decltype(apply_primitive(rule, x, CallKinkRule{kink_rule})) {
    return apply_primitive(rule, x, CallKinkRule{kink_rule});
  }

  // Binary.
  template <Passive X, Passive Y>
  requires BinaryRule<Rule>
  constexpr double operator()(X x, Y y) const {
    return rule.value(static_cast<double>(x), static_cast<double>(y));
  }
  template <Passive X, Passive Y>
  requires BinaryRule<Rule>
  constexpr double operator()(X x, Y y, KinkRule) const {
    return rule.value(static_cast<double>(x), static_cast<double>(y));
  }
  template <class X, class Y>
  requires BinaryRule<Rule> && detail::BinaryOperands<X, Y>
  constexpr auto operator()(const X& x, const Y& y) const {
    return make_binary(x, y, ThreadKinkRule{});
  }
  template <class X, class Y>
  requires BinaryRule<Rule> && detail::BinaryOperands<X, Y>
  constexpr auto operator()(const X& x, const Y& y, KinkRule kink_rule) const {
    return make_binary(x, y, CallKinkRule{kink_rule});
  }
  template <class X, class Y>
  requires BinaryRule<Rule> &&
      (!detail::BinaryOperands<X, Y>)&&(!(Passive<X> && Passive<Y>)) constexpr auto
      operator()(const X& x, const Y& y) const
      -> decltype(apply_primitive(rule, x, y, ThreadKinkRule{})) {
    return apply_primitive(rule, x, y, ThreadKinkRule{});
  }
  template <class X, class Y>
  requires BinaryRule<Rule> &&
      (!detail::BinaryOperands<X, Y>)&&(!(Passive<X> && Passive<Y>)) constexpr auto
      operator()(const X& x, const Y& y, KinkRule kink_rule) const
      -> decltype(apply_primitive(rule, x, y, CallKinkRule{kink_rule})) {
    return apply_primitive(rule, x, y, CallKinkRule{kink_rule});
  }

 private:
  template <class X, class Y, class Choice>
  constexpr auto make_binary(const X& x, const Y& y, Choice choice) const {
    using First = detail::ExpressionOf<X>;
    using Second = detail::ExpressionOf<Y>;
    const BinaryEvaluation at = evaluate(rule, static_cast<double>(detail::value_of(x)),
                                         static_cast<double>(detail::value_of(y)));
    return BinaryExpression<First, Second, Choice>{
        detail::as_expression(x), detail::as_expression(y), at.value, at.slopes, choice};
  }
};

}  // namespace subgrad

/// Defines `function(x)` and `function(x, KinkRule)` for a rule without parameters, for every
/// argument Primitive<Rule> accepts (double, Var expressions, Dual, ...):
///   SUBGRAD_PRIMITIVE_FUNCTION(shrink, Shrink)
#define SUBGRAD_PRIMITIVE_FUNCTION(function, Rule)                                               \
  template <class T>                                                                             \
  requires std::invocable < const ::subgrad::Primitive<Rule>                                     \
  &, const T& > constexpr auto function(const T& x) { return ::subgrad::Primitive<Rule>{}(x); }  \
  template <class T>                                                                             \
  requires std::invocable < const ::subgrad::Primitive<Rule>                                     \
  &, const T&,                                                                                   \
      ::subgrad::KinkRule > constexpr auto function(const T& x, ::subgrad::KinkRule kink_rule) { \
    return ::subgrad::Primitive<Rule>{}(x, kink_rule);                                           \
  }
