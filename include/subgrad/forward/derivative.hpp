#pragma once
/// \file
/// Forward-mode drivers: derivative(f, x) for scalar functions, jvp(f, x, v) for vector ones.

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <span>
#include <type_traits>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/forward/dual.hpp"

namespace subgrad {

/// f'(x) for f: scalar -> scalar, called once with Dual<double>{x, 1}.
template <class F>
double derivative(F&& f, double x) {
  static_assert(std::invocable<F&, Dual<double>>,
                "subgrad::derivative(f, x): f must be callable with subgrad::Dual<double>");
  if constexpr (std::invocable<F&, Dual<double>>) {
    using Result = std::invoke_result_t<F&, Dual<double>>;
    // A double would convert to a Dual with tangent 0: a derivative of 0, whatever f computes.
    static_assert(!Passive<Result>,
                  "subgrad::derivative(f, x): f returns a number (double), which carries no "
                  "derivative: compute the result from the Dual f is given and return that Dual "
                  "(`return t * t;`), not its value()");
    static_assert(Passive<Result> || std::convertible_to<Result, Dual<double>>,
                  "subgrad::derivative(f, x): f must return subgrad::Dual<double>");
    if constexpr (!Passive<Result> && std::convertible_to<Result, Dual<double>>) {
      const Dual<double> y = std::invoke(f, Dual<double>{x, 1.0});
      return y.tangent();
    }
  }
  return 0.0;
}

/// The Jacobian of f at x times v (one forward sweep): f takes std::span<const Dual<double>> and
/// returns std::vector<Dual<double>>; x and v are contiguous ranges of double of equal size.
template <class F, class X, class V>
std::vector<double> jvp(F&& f, const X& x, const V& v) {
  static_assert(
      std::invocable<F&, std::span<const Dual<double>>>,
      "subgrad::jvp(f, x, v): f must be callable with std::span<const subgrad::Dual<double>>");
  std::vector<double> result;
  if constexpr (std::invocable<F&, std::span<const Dual<double>>>) {
    static_assert(std::convertible_to<std::invoke_result_t<F&, std::span<const Dual<double>>>,
                                      std::vector<Dual<double>>>,
                  "subgrad::jvp(f, x, v): f must return std::vector<subgrad::Dual<double>>");
    const auto size = std::ranges::size(x);
    if (size != std::ranges::size(v)) {
      throw Error(detail::message("subgrad::jvp: x has {} elements but v has {}",
                                  {size, std::ranges::size(v)}));
    }
    std::vector<Dual<double>> inputs;
    inputs.reserve(size);
    auto direction = std::ranges::begin(v);
    for (const double value : x) inputs.emplace_back(value, static_cast<double>(*direction++));
    const std::vector<Dual<double>> outputs = std::invoke(f, std::span<const Dual<double>>(inputs));
    result.reserve(outputs.size());
    for (const Dual<double>& output : outputs) result.push_back(output.tangent());
  }
  return result;
}

}  // namespace subgrad
