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
#include <tuple>
#include <type_traits>
#include <vector>

#include "subgrad/core/expression.hpp"
#include "subgrad/core/finite_check.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/primal_value.hpp"

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

/// The same for a rule object, whose name may also be a data member (rules made at run time).
template <class R>
constexpr std::string_view rule_name(const R& rule) {
  if constexpr (requires { std::string_view(rule.name); }) {
    return std::string_view(rule.name);
  } else {
    return "primitive";
  }
}

/// The kink rule of a statement is the thread's rule when its expression is built ...
struct ThreadKinkRule {
  KinkRule get() const noexcept { return current_kink_rule(); }
};
/// ... unless the call named one.
struct CallKinkRule {
  KinkRule rule;
  KinkRule get() const noexcept { return rule; }
};

/// The derivative a kink rule picks from one-sided slopes; the rule is read only at a kink.
template <class Choice>
constexpr double chosen_derivative(const Slopes& slopes, const Choice& choice) {
  return slopes.left == slopes.right ? slopes.left : resolve(slopes, choice.get());
}
/// The partials a kink rule picks for a binary primitive; the rule is read only at a kink.
template <class Choice>
constexpr BinaryPartials<double> chosen_partials(const BinarySlopes& slopes, const Choice& choice) {
  if (slopes.x.left == slopes.x.right && slopes.y.left == slopes.y.right) {
    return {slopes.x.left, slopes.y.left};
  }
  return resolve(slopes, choice.get());
}

/// A unary primitive applied to an expression. Value and derivative are fixed when it is built,
/// with the kink rule in force then (the statement's rule). A node holds only what recording
/// needs: a compiler keeps small nodes in registers (GCC stops at 64 bytes under -mtune=znver3),
/// while a larger one is copied through memory at every level of nesting.
template <Expression A>
struct UnaryExpression {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count;
  A argument;
  double result;
  double derivative;
  constexpr double value() const noexcept { return result; }
  template <std::size_t Offset>
  void record(Index* indices, double* partials, double multiplier) const {
    argument.template record<Offset>(indices, partials, multiplier * derivative);
  }
  template <class F>
  void for_each_var(F&& f) const {
    argument.for_each_var(f);
  }
};

/// A binary primitive applied to two expressions (a passive side is a Constant); its partials
/// are fixed when it is built, as for UnaryExpression.
template <Expression A, Expression B>
struct BinaryExpression {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = A::leaf_count + B::leaf_count;
  A first;
  B second;
  double result;
  BinaryPartials<double> partials;
  constexpr double value() const noexcept { return result; }
  template <std::size_t Offset>
  void record(Index* indices, double* partials_out, double multiplier) const {
    first.template record<Offset>(indices, partials_out, multiplier * partials.x);
    second.template record<Offset + A::leaf_count>(indices, partials_out, multiplier * partials.y);
  }
  template <class F>
  void for_each_var(F&& f) const {
    first.for_each_var(f);
    second.for_each_var(f);
  }
};

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
    return make_unary(x, ThreadKinkRule{});
  }
  template <Expression E>
  requires UnaryRule<Rule>
  constexpr UnaryExpression<E> operator()(const E& x, KinkRule kink_rule) const {
    return make_unary(x, CallKinkRule{kink_rule});
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
  requires BinaryRule<Rule> && ExpressionOperands<X, Y>
  constexpr auto operator()(const X& x, const Y& y) const {
    return make_binary(x, y, ThreadKinkRule{});
  }
  template <class X, class Y>
  requires BinaryRule<Rule> && ExpressionOperands<X, Y>
  constexpr auto operator()(const X& x, const Y& y, KinkRule kink_rule) const {
    return make_binary(x, y, CallKinkRule{kink_rule});
  }
  template <class X, class Y>
  requires BinaryRule<Rule> &&
      (!ExpressionOperands<X, Y>)&&(!(Passive<X> && Passive<Y>)) constexpr auto
      operator()(const X& x, const Y& y) const
      -> decltype(apply_primitive(rule, x, y, ThreadKinkRule{})) {
    return apply_primitive(rule, x, y, ThreadKinkRule{});
  }
  template <class X, class Y>
  requires BinaryRule<Rule> &&
      (!ExpressionOperands<X, Y>)&&(!(Passive<X> && Passive<Y>)) constexpr auto
      operator()(const X& x, const Y& y, KinkRule kink_rule) const
      -> decltype(apply_primitive(rule, x, y, CallKinkRule{kink_rule})) {
    return apply_primitive(rule, x, y, CallKinkRule{kink_rule});
  }

 private:
  template <class E, class Choice>
  constexpr UnaryExpression<E> make_unary(const E& x, Choice choice) const {
    const double argument = x.value();
    const bool checking = detail::finite_check_on();
    if (checking) [[unlikely]] {
      detail::keep_finite_check_arguments(argument);  // not live across the evaluation
    }
    const Evaluation<double> at = evaluate(rule, argument);
    const double derivative = chosen_derivative(at.slopes, choice);
    if (checking) [[unlikely]] {
      detail::check_finite_unary(rule_name(rule), at.value, derivative);
    }
    return UnaryExpression<E>{x, at.value, derivative};
  }
  template <class X, class Y, class Choice>
  constexpr auto make_binary(const X& x, const Y& y, Choice choice) const {
    using First = detail::ExpressionOf<X>;
    using Second = detail::ExpressionOf<Y>;
    const double first = primal_value(x), second = primal_value(y);
    const bool checking = detail::finite_check_on();
    if (checking) [[unlikely]] {
      detail::keep_finite_check_arguments(first, second);
    }
    const BinaryEvaluation at = evaluate(rule, first, second);
    const BinaryPartials<double> partials = chosen_partials(at.slopes, choice);
    if (checking) [[unlikely]] {
      detail::check_finite_binary(rule_name(rule), at.value, partials.x, partials.y);
    }
    return BinaryExpression<First, Second>{detail::as_expression(x), detail::as_expression(y),
                                           at.value, partials};
  }
};

namespace detail {
template <class Rule>
inline constexpr std::size_t rule_arity = UnaryRule<Rule> ? 1 : 2;

template <class... Args>
struct EndsWithKinkRule : std::false_type {};
template <class Last>
struct EndsWithKinkRule<Last> : std::is_same<std::remove_cvref_t<Last>, KinkRule> {};
template <class First, class Second, class... Rest>
struct EndsWithKinkRule<First, Second, Rest...> : EndsWithKinkRule<Second, Rest...> {};

// Whether call_primitive<Rule>(args...) is well formed: the operands come first, then the
// parameters of the rule's constructor, then optionally a KinkRule.
template <class Rule, class... Args>
consteval bool is_primitive_call() {
  if constexpr (!(UnaryRule<Rule> || BinaryRule<Rule>)) {
    return false;
  } else {
    constexpr std::size_t arity = rule_arity<Rule>;
    constexpr bool with_rule = EndsWithKinkRule<Args...>::value;
    if constexpr (sizeof...(Args) < arity + (with_rule ? 1 : 0)) {
      return false;
    } else {
      using Types = std::tuple<const Args&...>;
      constexpr std::size_t parameters = sizeof...(Args) - arity - (with_rule ? 1 : 0);
      return []<std::size_t... O, std::size_t... P>(std::index_sequence<O...>,
                                                    std::index_sequence<P...>) {
        if constexpr (!std::constructible_from<Rule, std::tuple_element_t<arity + P, Types>...>) {
          return false;
        } else if constexpr (with_rule) {
          return std::invocable<const Primitive<Rule>&, std::tuple_element_t<O, Types>...,
                                KinkRule>;
        } else {
          return std::invocable<const Primitive<Rule>&, std::tuple_element_t<O, Types>...>;
        }
      }
      (std::make_index_sequence<arity>{}, std::make_index_sequence<parameters>{});
    }
  }
}
// Whether some operand of the call is not a plain number.
template <class Rule, class... Args>
consteval bool has_active_operand() {
  if constexpr (sizeof...(Args) < rule_arity<Rule>) {
    return false;
  } else {
    return []<std::size_t... O>(std::index_sequence<O...>) {
      return !(Passive<std::tuple_element_t<O, std::tuple<Args...>>> && ...);
    }
    (std::make_index_sequence<rule_arity<Rule>>{});
  }
}
}  // namespace detail

/// A call `f(operands..., parameters..., [KinkRule])` of the primitive of Rule: one operand for a
/// unary rule, two for a binary one, then what Rule's constructor takes (its parameters, which it
/// validates), then optionally the kink rule for this call.
template <class Rule, class... Args>
concept PrimitiveCall = detail::is_primitive_call<Rule, Args...>();

/// The same, with at least one operand that is not a plain number (for the functions whose name
/// the standard library already gives to the plain version, such as exp and abs).
template <class Rule, class... Args>
concept ActivePrimitiveCall = PrimitiveCall<Rule, Args...> &&
    detail::has_active_operand<Rule, Args...>();

/// The one way from a rule to its public function: builds Rule from the parameters and applies
/// it to the operands, with the trailing KinkRule if there is one (else the thread's rule).
template <class Rule, class... Args>
requires PrimitiveCall<Rule, Args...>
constexpr auto call_primitive(const Args&... args) {
  constexpr std::size_t arity = detail::rule_arity<Rule>;
  constexpr bool with_rule = detail::EndsWithKinkRule<Args...>::value;
  constexpr std::size_t parameters = sizeof...(Args) - arity - (with_rule ? 1 : 0);
  const std::tuple<const Args&...> all(args...);
  return [&all]<std::size_t... O, std::size_t... P>(std::index_sequence<O...>,
                                                    std::index_sequence<P...>) {
    const Primitive<Rule> primitive{Rule(std::get<arity + P>(all)...)};
    if constexpr (with_rule) {
      return primitive(std::get<O>(all)..., std::get<sizeof...(Args) - 1>(all));
    } else {
      return primitive(std::get<O>(all)...);
    }
  }
  (std::make_index_sequence<arity>{}, std::make_index_sequence<parameters>{});
}

}  // namespace subgrad

/// Defines the public function of a rule, for every argument Primitive<Rule> accepts (double,
/// Var expressions, Dual, tensor expressions): `function(x, parameters..., [KinkRule])` for a
/// unary rule, `function(x, y, parameters..., [KinkRule])` for a binary one. The parameters go
/// to the rule's constructor, so their defaults and their validation live in the rule:
///   SUBGRAD_PRIMITIVE_FUNCTION(shrink, Shrink)
#define SUBGRAD_PRIMITIVE_FUNCTION(function, Rule) \
  template <class... Args>                         \
  requires ::subgrad::PrimitiveCall<Rule, Args...> \
  constexpr auto function(const Args&... args) { return ::subgrad::call_primitive<Rule>(args...); }
/// The same for a name the standard library gives to the plain-number version (exp, abs, max):
/// the function takes at least one operand that is not a plain number.
#define SUBGRAD_ACTIVE_PRIMITIVE_FUNCTION(function, Rule) \
  template <class... Args>                                \
  requires ::subgrad::ActivePrimitiveCall<Rule, Args...>  \
  constexpr auto function(const Args&... args) { return ::subgrad::call_primitive<Rule>(args...); }
