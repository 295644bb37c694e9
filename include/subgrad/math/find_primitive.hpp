#pragma once
/// \file
/// A registered unary primitive chosen at run time, by name. The registry itself
/// (registry.hpp) is a compile-time list that costs seconds to compile; the lookup is compiled
/// once, in libsubgrad, so that code which only picks an activation by name does not pay for it.

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "subgrad/core/kink.hpp"

namespace subgrad {

/// A registered unary primitive chosen at run time (by name): the same rule, behind a function.
/// Usable as a rule itself: Primitive<DynamicUnaryRule>{*find_unary_primitive("gelu")}(x).
struct DynamicUnaryRule {
  std::string_view name;
  std::function<Evaluation<double>(double)> evaluation;
  std::function<std::vector<KinkPoint>(double, double)> kink_points;
  Evaluation<double> evaluate(double x) const { return evaluation(x); }
  std::vector<KinkPoint> kinks(double low, double high) const { return kink_points(low, high); }
};

/// The registered unary primitive called `name`, or nothing.
std::optional<DynamicUnaryRule> find_unary_primitive(std::string_view name);

/// The names of all registered unary primitives, in registry order.
std::vector<std::string_view> unary_primitive_names();

}  // namespace subgrad
