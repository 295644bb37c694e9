#pragma once
/// \file
/// Second order by forward over reverse: f is evaluated once on Dual<Var> inputs (value x, tangent
/// v), which records f(x) and its directional derivative grad f(x) . v on a tape; one reverse
/// sweep from that derivative gives the Hessian-vector product H v. hessian(f, x) takes one such
/// product per input.
///
/// At a kink the rule's choice of slope is a constant of the piece it picked, so the second
/// derivative there is the one-sided f'' on that side (0 for every piecewise-linear primitive):
/// docs/conventions.md.

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <span>
#include <type_traits>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/forward/dual.hpp"

namespace subgrad {

namespace detail {
// A function returning double is not one: it would convert to a Dual<Var> with no derivative
// recorded, and give a Hessian of zeros.
template <class F>
concept SecondOrderFunction =
    std::invocable<F&, std::span<const Dual<Var>>> &&
    !Passive<std::invoke_result_t<F&, std::span<const Dual<Var>>>> &&
    std::convertible_to<std::invoke_result_t<F&, std::span<const Dual<Var>>>, Dual<Var>>;

// H v at x, recorded on `tape` (cleared first): one evaluation of f on Dual<Var>, one sweep.
template <class F>
void hessian_vector_product_on(Tape& tape, F& f, std::span<const double> x,
                               std::span<const double> v, std::span<double> out) {
  tape.clear();
  std::vector<Var> values = variables(x);
  std::vector<Dual<Var>> inputs;
  inputs.reserve(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) inputs.emplace_back(values[i], Var(v[i]));
  const Dual<Var> y = std::invoke(f, std::span<const Dual<Var>>(inputs));
  const Var directional = y.tangent();  // grad f(x) . v, as recorded
  if (directional.tape_id() == 0) {     // f is linear along v: nothing was recorded for it
    for (double& h : out) h = 0.0;
    return;
  }
  tape.backward(directional.index(), directional.tape_id(), 1.0, "subgrad::hessian_vector_product");
  adjoints(values, out);
}

template <class F, class X>
void check_second_order_call() {
  static_assert(
      std::ranges::contiguous_range<X> && std::same_as<std::ranges::range_value_t<X>, double>,
      "subgrad::hessian(f, x): x must be a contiguous range of double");
  constexpr bool returns_number = [] {
    if constexpr (std::invocable<F&, std::span<const Dual<Var>>>) {
      return Passive<std::invoke_result_t<F&, std::span<const Dual<Var>>>>;
    }
    return false;
  }();
  static_assert(!returns_number,
                "subgrad::hessian(f, x): f returns a number (double), which carries no "
                "derivative: compute the result from the Dual<Var>s f is given and return it "
                "as a subgrad::Dual<subgrad::Var>, not a value() of it");
  static_assert(returns_number || SecondOrderFunction<F>,
                "subgrad::hessian(f, x): f must be callable with "
                "std::span<const subgrad::Dual<subgrad::Var>> and return a "
                "subgrad::Dual<subgrad::Var>");
}
}  // namespace detail

/// The Hessian of f at x times v. f takes std::span<const Dual<Var>> and returns Dual<Var>; x and
/// v are contiguous ranges of double of the same size. Records on a tape of its own.
template <class F, class X, class V>
std::vector<double> hessian_vector_product(F&& f, const X& x, const V& v) {
  detail::check_second_order_call<std::remove_reference_t<F>, X>();
  if constexpr (detail::SecondOrderFunction<std::remove_reference_t<F>>) {
    const std::span<const double> point(std::ranges::data(x), std::ranges::size(x));
    const std::span<const double> direction(std::ranges::data(v), std::ranges::size(v));
    if (point.size() != direction.size()) {
      throw Error(detail::message("subgrad::hessian_vector_product: x has {} elements but v has {}",
                                  {point.size(), direction.size()}));
    }
    detail::ScratchTape scratch;
    Tape& tape = scratch.tape();
    std::vector<double> out(point.size());
    detail::hessian_vector_product_on(tape, f, point, direction, std::span<double>(out));
    return out;
  }
  return {};
}

/// The Hessian of f at x, row by row (n Hessian-vector products with the unit vectors, on one
/// reused tape); f and x as for hessian_vector_product.
template <class F, class X>
std::vector<std::vector<double>> hessian(F&& f, const X& x) {
  detail::check_second_order_call<std::remove_reference_t<F>, X>();
  std::vector<std::vector<double>> rows;
  if constexpr (detail::SecondOrderFunction<std::remove_reference_t<F>>) {
    const std::span<const double> point(std::ranges::data(x), std::ranges::size(x));
    detail::ScratchTape scratch;
    Tape& tape = scratch.tape();
    std::vector<double> unit(point.size(), 0.0);
    for (std::size_t i = 0; i < point.size(); ++i) {
      unit[i] = 1.0;
      rows.emplace_back(point.size());
      detail::hessian_vector_product_on(tape, f, point, unit, std::span<double>(rows.back()));
      unit[i] = 0.0;
    }
  }
  return rows;
}

}  // namespace subgrad
