#include "subgrad/math/registry.hpp"

namespace subgrad {

std::optional<DynamicUnaryRule> find_unary_primitive(std::string_view name) {
  std::optional<DynamicUnaryRule> found;
  for_each_unary_primitive([&](const auto& entry) {
    if (entry.name != name || found) return;
    const auto rule = entry.rule;
    found =
        DynamicUnaryRule{entry.name, [rule](double x) { return subgrad::evaluate(rule, x); },
                         [rule](double low, double high) { return rule_kinks(rule, low, high); }};
  });
  return found;
}

std::vector<std::string_view> unary_primitive_names() {
  std::vector<std::string_view> names;
  for_each_unary_primitive([&](const auto& entry) { names.push_back(entry.name); });
  return names;
}

}  // namespace subgrad
