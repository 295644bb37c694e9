#pragma once
/// \file
/// primal_value: the plain number behind a double, a Var, an expression or a (nested) Dual.

#include <type_traits>

namespace subgrad {

/// The plain number behind x: x itself for arithmetic types, else the primal value of
/// x.value() (a Var, an expression, a Dual of any depth). Kink decisions are made on it.
template <class T>
constexpr double primal_value(const T& x) {
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<double>(x);
  } else {
    return primal_value(x.value());
  }
}

}  // namespace subgrad
