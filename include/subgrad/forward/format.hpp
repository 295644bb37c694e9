#pragma once
/// \file
/// The fmt formatter for Dual: "value + tangentε", both with the format spec of double.
/// <subgrad/subgrad.hpp> includes it.

#include <fmt/format.h>

#include "subgrad/core/primal_value.hpp"
#include "subgrad/forward/dual.hpp"

template <class T>
struct fmt::formatter<subgrad::Dual<T>> : fmt::formatter<double> {
  template <class Context>
  auto format(const subgrad::Dual<T>& x, Context& context) const {
    auto out = fmt::formatter<double>::format(subgrad::primal_value(x.value()), context);
    out = fmt::format_to(out, " + ");
    out = fmt::formatter<double>::format(subgrad::primal_value(x.tangent()), context);
    return fmt::format_to(out, "ε");
  }
};
