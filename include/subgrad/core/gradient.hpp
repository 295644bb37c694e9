#pragma once
/// \file
/// Reverse sweeps: backward(y), grad(y, x...), and the functional forms gradient,
/// value_and_gradient and jacobian.

#include <array>
#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <span>
#include <type_traits>
#include <vector>

#include "subgrad/core/error.hpp"
#include "subgrad/core/expression.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"

namespace subgrad {

/// Sweeps the active tape backwards from y (a Var or an expression) with adjoint `seed`;
/// afterwards x.adjoint() is d(seed * y)/dx. Each call starts from zero adjoints.
template <Expression E>
void backward(const E& y, double seed = 1.0) {
  if constexpr (std::same_as<E, Var>) {
    Tape::active().backward(y.index(), y.tape_id(), seed, "subgrad::backward");
  } else {
    const Var recorded = y;
    Tape::active().backward(recorded.index(), recorded.tape_id(), seed, "subgrad::backward");
  }
}

/// dy/dx.
template <Expression E>
double grad(const E& y, const Var& x) {
  backward(y);
  return Tape::active().adjoint(x.index(), x.tape_id(), "subgrad::grad");
}

/// grad(y, e) with an expression e does not compile: e would be recorded as a new Var on which y
/// does not depend, and its derivative would be 0.
template <Expression E, Expression X>
requires(!std::same_as<X, Var>) double grad(const E&, const X&) {
  static_assert(std::same_as<X, Var>,
                "subgrad::grad(y, x): x is an expression, not a Var: y depends on the Vars the "
                "expression was built from, not on the expression; assign it to a Var before "
                "computing y (`Var u = a * b; Var y = f(u); grad(y, u)`) or differentiate with "
                "respect to a and b");
  return 0.0;
}

/// {dy/dx1, dy/dx2, ...}.
template <Expression E, std::same_as<Var>... Vars>
requires(sizeof...(Vars) >= 2) std::array<double, sizeof...(Vars)> grad(const E& y,
                                                                        const Vars&... xs) {
  backward(y);
  const Tape& tape = Tape::active();
  return {tape.adjoint(xs.index(), xs.tape_id(), "subgrad::grad")...};
}

/// dy/dx for each Var of a range.
template <Expression E, std::ranges::input_range R>
requires std::same_as<std::ranges::range_value_t<R>, Var> std::vector<double> grad(const E& y,
                                                                                   const R& xs) {
  backward(y);
  const Tape& tape = Tape::active();
  std::vector<double> result;
  if constexpr (std::ranges::sized_range<R>) result.reserve(std::ranges::size(xs));
  for (const Var& x : xs) result.push_back(tape.adjoint(x.index(), x.tape_id(), "subgrad::grad"));
  return result;
}

/// New independent variables with these values on the active tape, recorded in one call.
inline void variables(std::span<const double> values, std::span<Var> out) {
  if (values.size() != out.size()) {
    throw Error(detail::message("subgrad::variables: {} values but room for {} Vars",
                                {values.size(), out.size()}));
  }
  Tape& tape = Tape::active();
  const Index first = tape.new_variables(values.size());
  const std::uint32_t id = tape.id();
  for (std::size_t i = 0; i < values.size(); ++i) {
    out[i] = detail::VarAccess::make(values[i], static_cast<Index>(first + i), id);
  }
}
inline std::vector<Var> variables(std::span<const double> values) {
  std::vector<Var> out(values.size());
  variables(values, out);
  return out;
}

/// The adjoints of these Vars after the last sweep of their (active) tape.
inline void adjoints(std::span<const Var> xs, std::span<double> out) {
  if (xs.size() != out.size()) {
    throw Error(detail::message("subgrad::adjoints: {} Vars but room for {} adjoints",
                                {xs.size(), out.size()}));
  }
  const Tape& tape = Tape::active();
  for (std::size_t i = 0; i < xs.size(); ++i)
    out[i] = tape.adjoint(xs[i].index(), xs[i].tape_id(), "subgrad::adjoints");
}
inline std::vector<double> adjoints(std::span<const Var> xs) {
  std::vector<double> out(xs.size());
  adjoints(xs, out);
  return out;
}

/// The result of value_and_gradient.
struct ValueAndGradient {
  double value;
  std::vector<double> gradient;
};

namespace detail {
// A function of Vars to a Var or an expression of Vars. A function returning double is not one:
// it would compile through Var(double), a new independent variable, and give a zero gradient.
template <class F>
concept ScalarFunction = std::invocable<F&, std::span<const Var>> &&
    Expression<std::invoke_result_t<F&, std::span<const Var>>>;
template <class F>
constexpr bool is_scalar_function = ScalarFunction<F>;

// The sentences a user sees when f of gradient, value_and_gradient or check_gradient returns the
// wrong thing.
template <class Result>
constexpr void check_scalar_result() {
  static_assert(
      !Passive<Result>,
      "subgrad: the function to differentiate returns a number (double), which carries "
      "no derivative: build the result from the Vars f is given, in a Var (`Var sum = 0.0; "
      "for (const Var& v : x) sum += v * v; return sum;`), not in a double accumulator");
  static_assert(Passive<Result> || Expression<Result>,
                "subgrad: the function to differentiate must return a subgrad::Var or an "
                "expression of Vars");
}

template <class R>
constexpr bool is_double_range =
    std::ranges::contiguous_range<R>&& std::same_as<std::ranges::range_value_t<R>, double>;

template <class F, class R>
ValueAndGradient value_and_gradient_on_new_tape(F& f, const R& x) {
  detail::ScratchTape scratch;
  Tape& tape = scratch.tape();
  const std::vector<Var> inputs =
      variables(std::span<const double>(std::ranges::data(x), std::ranges::size(x)));
  const Var y = std::invoke(f, std::span<const Var>(inputs));
  if (y.tape_id() == 0) {  // the constant 0 on no tape: nothing depends on x (as in jacobian)
    return ValueAndGradient{y.value(), std::vector<double>(inputs.size(), 0.0)};
  }
  tape.backward(y.index(), y.tape_id(), 1.0, "subgrad::gradient");
  return ValueAndGradient{y.value(), adjoints(inputs)};
}
}  // namespace detail

/// f(x) and its gradient. f is called with std::span<const Var> and returns a Var or an
/// expression; x is a contiguous range of double. Records on a tape of its own.
template <class F, class R>
ValueAndGradient value_and_gradient(F&& f, const R& x) {
  static_assert(detail::is_double_range<R>,
                "subgrad::value_and_gradient(f, x): x must be a contiguous range of double, "
                "such as std::vector<double> or std::array<double, N>");
  static_assert(std::invocable<F&, std::span<const Var>>,
                "subgrad::value_and_gradient(f, x): f must be callable with "
                "std::span<const subgrad::Var>");
  if constexpr (detail::is_double_range<R> && std::invocable<F&, std::span<const Var>>) {
    detail::check_scalar_result<std::invoke_result_t<F&, std::span<const Var>>>();
    if constexpr (detail::is_scalar_function<F>)
      return detail::value_and_gradient_on_new_tape(f, x);
  }
  return {};
}

/// The gradient of f at x; f and x as for value_and_gradient.
template <class F, class R>
std::vector<double> gradient(F&& f, const R& x) {
  static_assert(detail::is_double_range<R>,
                "subgrad::gradient(f, x): x must be a contiguous range of double, "
                "such as std::vector<double> or std::array<double, N>");
  static_assert(std::invocable<F&, std::span<const Var>>,
                "subgrad::gradient(f, x): f must be callable with std::span<const subgrad::Var>");
  if constexpr (detail::is_double_range<R> && std::invocable<F&, std::span<const Var>>) {
    detail::check_scalar_result<std::invoke_result_t<F&, std::span<const Var>>>();
    if constexpr (detail::is_scalar_function<F>) {
      return detail::value_and_gradient_on_new_tape(f, x).gradient;
    }
  }
  return {};
}

/// The Jacobian of f at x, one row per output: f is called with std::span<const Var> and
/// returns std::vector<Var>; x is a contiguous range of double.
template <class F, class R>
std::vector<std::vector<double>> jacobian(F&& f, const R& x) {
  static_assert(detail::is_double_range<R>,
                "subgrad::jacobian(f, x): x must be a contiguous range of double");
  static_assert(std::invocable<F&, std::span<const Var>>,
                "subgrad::jacobian(f, x): f must be callable with std::span<const subgrad::Var>");
  std::vector<std::vector<double>> rows;
  if constexpr (detail::is_double_range<R> && std::invocable<F&, std::span<const Var>>) {
    static_assert(
        std::convertible_to<std::invoke_result_t<F&, std::span<const Var>>, std::vector<Var>>,
        "subgrad::jacobian(f, x): f must return std::vector<subgrad::Var>");
    if constexpr (std::convertible_to<std::invoke_result_t<F&, std::span<const Var>>,
                                      std::vector<Var>>) {
      detail::ScratchTape scratch;
      Tape& tape = scratch.tape();
      const std::vector<Var> inputs =
          variables(std::span<const double>(std::ranges::data(x), std::ranges::size(x)));
      const std::vector<Var> outputs = std::invoke(f, std::span<const Var>(inputs));
      rows.reserve(outputs.size());
      for (const Var& output : outputs) {
        std::vector<double>& row = rows.emplace_back();
        row.reserve(inputs.size());
        if (output.tape_id() == 0) {  // a passive output (a constant): its row is zero
          row.assign(inputs.size(), 0.0);
          continue;
        }
        tape.backward(output.index(), output.tape_id(), 1.0, "subgrad::jacobian");
        for (const Var& input : inputs) {
          row.push_back(tape.adjoint(input.index(), input.tape_id(), "subgrad::jacobian"));
        }
      }
    }
  }
  return rows;
}

}  // namespace subgrad
