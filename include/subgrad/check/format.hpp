#pragma once
/// \file
/// fmt formatters for the checker's reports (the text of detail::format_report).
/// <subgrad/subgrad.hpp> includes it.

#include <concepts>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "subgrad/check/gradient_check.hpp"

// Both reports print as the text of detail::format_report.
template <class Report>
requires std::same_as<Report, subgrad::GradientReport> ||
    std::same_as<Report, subgrad::JacobianReport>
struct fmt::formatter<Report, char> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const Report& report, Context& context) const {
    const std::string text = subgrad::detail::format_report(report);
    return fmt::formatter<std::string_view>::format(text, context);
  }
};
