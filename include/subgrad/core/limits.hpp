#pragma once
/// \file
/// std::numeric_limits<Var>: those of double. Generic code asks numeric_limits<T> for its
/// thresholds (Eigen: blueNorm's scaling, the zero tests of QR, LDLT, SVD and eigensolvers), and
/// without this specialization it got the primary template's: is_specialized false, every value
/// the Var 0 (blueNorm of (3, 0, -4) was inf).

#include <limits>

#include "subgrad/core/var.hpp"

namespace subgrad::detail {
/// A Var standing for a plain number: on no tape, as a default-constructed Var is; it records
/// nothing and no derivative flows to it.
inline Var passive_constant(double value) noexcept { return VarAccess::make(value, 0, 0); }
}  // namespace subgrad::detail

/// The members of double's limits, values as passive constants.
template <>
class std::numeric_limits<subgrad::Var> : public std::numeric_limits<double> {
  using Double = std::numeric_limits<double>;
  static subgrad::Var constant(double value) noexcept {
    return subgrad::detail::passive_constant(value);
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
