#pragma once
/// \file
/// fmt formatters for core types: a Var prints as its value (with the format spec of double).

#include <fmt/format.h>

#include "subgrad/core/kink.hpp"
#include "subgrad/core/var.hpp"

template <>
struct fmt::formatter<subgrad::Var> : fmt::formatter<double> {
  template <class Context>
  auto format(const subgrad::Var& var, Context& context) const {
    return fmt::formatter<double>::format(var.value(), context);
  }
};
