#pragma once
/// \file
/// What an expression is: a value with leaves that record (index, partial) pairs.
///
/// An expression type E has `static constexpr std::size_t leaf_count`, `double value() const`
/// and `template <std::size_t Offset> void record(Index*, double*, double multiplier) const`,
/// which writes d(E)/d(leaf) * multiplier for each Var leaf at position Offset + k, and
/// `template <class F> void for_each_var(F&& f) const`, which calls f on each Var leaf (to check,
/// before recording, that every leaf is on the active tape).
/// Expressions hold their operands by value, so they may outlive the statement that made them.

#include <concepts>
#include <cstddef>
#include <type_traits>

#include "subgrad/core/tape.hpp"

namespace subgrad {

/// Satisfied by Var and every expression over Vars.
template <class T>
concept Expression = requires {
  typename std::remove_cvref_t<T>::subgrad_expression_tag;
};

/// A passive value in an expression: built-in arithmetic types.
template <class T>
concept Passive = std::is_arithmetic_v<std::remove_cvref_t<T>>;

/// What may stand on either side of an arithmetic operator with an expression.
template <class T>
concept ExpressionOperand = Expression<T> || Passive<T>;

/// Two operands of a binary operation or primitive, at least one of them an expression.
template <class A, class B>
concept ExpressionOperands = ExpressionOperand<A> && ExpressionOperand<B> &&
    (Expression<A> || Expression<B>);

/// A passive constant inside an expression: it costs nothing on the tape.
struct Constant {
  using subgrad_expression_tag = void;
  static constexpr std::size_t leaf_count = 0;
  double constant;
  constexpr double value() const noexcept { return constant; }
  template <std::size_t Offset>
  constexpr void record(Index*, double*, double) const noexcept {}
  template <class F>
  constexpr void for_each_var(F&&) const noexcept {}
};

namespace detail {
/// Wraps a passive value as a Constant and leaves expressions as they are.
template <ExpressionOperand T>
constexpr auto as_expression(const T& operand) {
  if constexpr (Passive<T>) {
    return Constant{static_cast<double>(operand)};
  } else {
    return operand;
  }
}
template <ExpressionOperand T>
using ExpressionOf = decltype(as_expression(std::declval<const T&>()));

}  // namespace detail

}  // namespace subgrad
