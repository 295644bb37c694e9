#pragma once
/// \file
/// Eigen interoperability: Eigen::NumTraits for subgrad::Var and subgrad::Dual<T>, so that Eigen
/// treats them as signed real numbers (norms, abs, maxCoeff, epsilon, solvers), and
/// ScalarBinaryOpTraits for mixing Var with double. A layer of its own above math/ and forward/,
/// so that core/ and math/ stay free of Eigen (docs/eigen.md).

#include <Eigen/Core>

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
  // Passive values: on a Var or Dual they carry no derivative (a Var made from a double records
  // an independent variable, which nothing depends on).
  static T epsilon() { return T(std::numeric_limits<double>::epsilon()); }
  static T dummy_precision() { return T(1e-12); }
  static T highest() { return T(std::numeric_limits<double>::max()); }
  static T lowest() { return T(std::numeric_limits<double>::lowest()); }
  static T infinity() { return T(std::numeric_limits<double>::infinity()); }
  static T quiet_NaN() { return T(std::numeric_limits<double>::quiet_NaN()); }
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
}  // namespace Eigen
