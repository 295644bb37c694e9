#pragma once
/// \file
/// Eigen interoperability: Eigen::NumTraits for subgrad::Var and subgrad::Dual<T>, so that Eigen
/// treats them as signed real numbers (norms, abs, maxCoeff, epsilon, solvers), and
/// ScalarBinaryOpTraits for mixing Var with double. A layer of its own above math/ and forward/,
/// so that core/ and math/ stay free of Eigen (docs/eigen.md).

#include <Eigen/Core>

#include <concepts>
#include <limits>

#include "subgrad/core/core.hpp"
#include "subgrad/forward/dual.hpp"
#include "subgrad/math/elementary.hpp"

namespace subgrad::detail {
/// What Eigen needs to know of a real scalar type T that stands for a double.
template <class T>
struct RealNumTraits : Eigen::GenericNumTraits<double> {
  using Real = T;
  using NonInteger = T;
  using Nested = T;
  using Literal = T;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 1,
    AddCost = 3,
    MulCost = 3
  };
  // Passive values, as std::numeric_limits<T> gives them: they record nothing and carry no
  // derivative.
  static T epsilon() { return std::numeric_limits<T>::epsilon(); }
  static T dummy_precision() { return passive<T>(1e-12); }
  static T highest() { return std::numeric_limits<T>::max(); }
  static T lowest() { return std::numeric_limits<T>::lowest(); }
  static T infinity() { return std::numeric_limits<T>::infinity(); }
  static T quiet_NaN() { return std::numeric_limits<T>::quiet_NaN(); }
  static int digits10() { return std::numeric_limits<double>::digits10; }
  static int digits() { return std::numeric_limits<double>::digits; }
};
}  // namespace subgrad::detail

namespace Eigen {
template <>
struct NumTraits<subgrad::Var> : subgrad::detail::RealNumTraits<subgrad::Var> {};
template <class T>
struct NumTraits<subgrad::Dual<T>> : subgrad::detail::RealNumTraits<subgrad::Dual<T>> {};

// Var with double (and double with Var) gives Var: `matrix_of_var * 2.0`,
// `var_vector.dot(doubles)`.
template <class BinaryOp>
struct ScalarBinaryOpTraits<subgrad::Var, double, BinaryOp> {
  using ReturnType = subgrad::Var;
};
template <class BinaryOp>
struct ScalarBinaryOpTraits<double, subgrad::Var, BinaryOp> {
  using ReturnType = subgrad::Var;
};

namespace internal {
// Eigen's own math functions applied to a subgrad expression (blueNorm squares `ax * s`) take it
// as the Var it records, through the hook Eigen has for expression types.
template <class E>
requires(subgrad::Expression<E> &&
         !std::same_as<E, subgrad::Var>) struct global_math_functions_filtering_base<E, void> {
  using type = subgrad::Var;
};
}  // namespace internal
}  // namespace Eigen
