#pragma once
/// \file
/// std::numeric_limits<Var>: those of double. Generic code asks numeric_limits<T> for its
/// thresholds (Eigen: blueNorm's scaling, the zero tests of QR, LDLT, SVD and eigensolvers), and
/// without this specialization it got the primary template's: is_specialized false, every value
/// the Var 0 (blueNorm of (3, 0, -4) was inf).

#include <limits>
#include <type_traits>

#include "subgrad/core/var.hpp"

namespace subgrad::detail {
/// The number `value` as a T that records nothing: a double or float, a Var on no tape (as a
/// default-constructed Var is; not Var(value), a new independent variable on the tape), or, for
/// another T (a Dual), T(value), whose constructor from a number records nothing. Rules generic
/// over T write their constants with it, so that on Dual<Var> they do not go on the tape.
template <class T>
constexpr T passive(double value) noexcept {
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<T>(value);
  } else if constexpr (std::is_same_v<T, Var>) {
    return VarAccess::make(value, 0, 0);
  } else {
    return T(value);
  }
}
}  // namespace subgrad::detail

/// The members of double's limits, values as passive constants.
template <>
class std::numeric_limits<subgrad::Var> : public std::numeric_limits<double> {
  using Double = std::numeric_limits<double>;
  static subgrad::Var constant(double value) noexcept {
    return subgrad::detail::passive<subgrad::Var>(value);
  }

 public:
  static subgrad::Var min() noexcept { return constant(Double::min()); }
  static subgrad::Var max() noexcept { return constant(Double::max()); }
  static subgrad::Var lowest() noexcept { return constant(Double::lowest()); }
  static subgrad::Var epsilon() noexcept { return constant(Double::epsilon()); }
  static subgrad::Var round_error() noexcept { return constant(Double::round_error()); }
  static subgrad::Var infinity() noexcept { return constant(Double::infinity()); }
  static subgrad::Var quiet_NaN() noexcept { return constant(Double::quiet_NaN()); }
  static subgrad::Var signaling_NaN() noexcept { return constant(Double::signaling_NaN()); }
  static subgrad::Var denorm_min() noexcept { return constant(Double::denorm_min()); }
};
