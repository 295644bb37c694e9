#pragma once
/// \file
/// fmt formatters for core types: a Var prints as its value (with the format spec of double), a
/// KinkRule as its name. Kept apart from core.hpp so that code which only records and sweeps does
/// not compile fmt; <subgrad/subgrad.hpp> includes it.

#include <string>
#include <string_view>

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

template <>
struct fmt::formatter<subgrad::KinkRule> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const subgrad::KinkRule& rule, Context& context) const {
    const std::string name = rule.name();
    return fmt::formatter<std::string_view>::format(name, context);
  }
};
