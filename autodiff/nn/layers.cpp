#include "subgrad/nn/layers.hpp"

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "subgrad/math/registry.hpp"

namespace subgrad::nn {

template <class T>
BasicActivation<T> BasicActivation<T>::by_name(std::string_view name,
                                               std::optional<KinkRule> rule) {
  std::optional<detail::BoundActivation<T>> bound;
  for_each_unary_primitive([&](const auto& entry) {
    if (bound || entry.name != name) return;
    bound = rule ? detail::bind_activation<T>(entry.rule, CallKinkRule{*rule})
                 : detail::bind_activation<T>(entry.rule, ThreadKinkRule{});
    bound->name = std::string(entry.name);
    if (rule) bound->name += fmt::format(", kink::{}", rule->name());
  });
  if (!bound) {
    throw Error(
        fmt::format("subgrad::nn::Activation::from_name: no primitive \"{}\"; registered: {}", name,
                    fmt::join(unary_primitive_names(), ", ")));
  }
  return BasicActivation(std::move(*bound));
}

template BasicActivation<float> BasicActivation<float>::by_name(std::string_view,
                                                                std::optional<KinkRule>);
template BasicActivation<double> BasicActivation<double>::by_name(std::string_view,
                                                                  std::optional<KinkRule>);
#if SUBGRAD_HAS_FLOAT16
template BasicActivation<_Float16> BasicActivation<_Float16>::by_name(std::string_view,
                                                                      std::optional<KinkRule>);
#endif

}  // namespace subgrad::nn
