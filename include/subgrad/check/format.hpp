#pragma once
/// \file
/// fmt formatters for the checker's reports (the text of detail::format_report).
/// <subgrad/subgrad.hpp> includes it.

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "subgrad/check/gradient_check.hpp"

template <>
struct fmt::formatter<subgrad::GradientReport> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const subgrad::GradientReport& report, Context& context) const {
    const std::string text = subgrad::detail::format_report(report);
    return fmt::formatter<std::string_view>::format(text, context);
  }
};
template <>
struct fmt::formatter<subgrad::JacobianReport> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const subgrad::JacobianReport& report, Context& context) const {
    const std::string text = subgrad::detail::format_report(report);
    return fmt::formatter<std::string_view>::format(text, context);
  }
};
