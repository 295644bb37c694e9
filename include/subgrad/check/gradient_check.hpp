#pragma once
/// \file
/// check_gradient and check_jacobian: reverse-mode gradients against finite differences that
/// know about kinks and jumps (and, optionally, against forward mode).
///
/// Per coordinate (and per random direction) the function is restricted to a line,
/// g(t) = f(x + t d), and sampled with steps h_k = h_0 / 2^k, h_0 = cbrt(eps) max(1, |x|):
/// - a jump: |g(h) - g(-h)| does not shrink with h -> `discontinuous` (reported, not failed
///   unless `strict`);
/// - a kink: the one-sided slopes D+ and D- stay apart as h halves -> the AD value must lie in
///   [min, max] of the Richardson-extrapolated one-sided slopes (and, with `check_rule`, equal
///   what the kink rule picks from them);
/// - smooth: the Richardson-extrapolated central differences converge -> the AD value must match
///   them within atol + rtol |numeric|.
/// Steps keep halving while neither verdict is clear (a kink just inside the stencil), down to
/// where rounding dominates; then the one-sided interval is used.
/// Where f is NaN the AD value must be NaN; where f is infinite nothing can be measured (reported,
/// failed only when `strict`). At the edge of f's domain (one side NaN) or where the AD value is
/// infinite, each defined side's slope (finite, or infinite when the quotients keep growing) must
/// be the AD value's (docs/checking.md).

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/kink.hpp"
#include "subgrad/core/tape.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/forward/dual.hpp"

namespace subgrad {

/// Settings of check_gradient and check_jacobian.
struct CheckOptions {
  /// Relative and absolute tolerance of the comparison (rounding noise is added to them).
  double rtol = 1e-6;
  double atol = 1e-8;
  /// Step levels computed before a verdict (at least 3), and the most levels used (counted from
  /// the first that sees f on both sides of the point, near the edge of f's domain).
  int levels = 4;
  int max_levels = 30;
  /// The first step; 0 means cbrt(eps) * max(1, |x|).
  double step = 0.0;
  /// Fail at jumps instead of reporting them.
  bool strict = false;
  /// At a kink, the AD value must also equal what the kink rule (`rule`, or the thread's rule)
  /// picks from the measured one-sided slopes.
  bool check_rule = false;
  std::optional<KinkRule> rule;
  /// Compare with forward mode too (f must also accept std::span<const Dual<double>>).
  bool forward = false;
  /// Random directions checked besides the coordinates (seeded by `seed`).
  int directions = 0;
  std::uint64_t seed = 0x5eed;
  /// Check each coordinate (turn off to check only random directions of a large input).
  bool coordinates = true;
  /// check_jacobian: check <w, F> for random output weights w instead of every output.
  bool fast = false;
};

/// The verdict for one coordinate or direction.
struct CoordinateCheck {
  std::string label;     // "x[3]" or "direction 1"
  double ad = 0.0;       // reverse mode
  double numeric = 0.0;  // extrapolated central difference (smooth) or the rule's pick (kink)
  double left = 0.0;     // extrapolated one-sided slopes
  double right = 0.0;
  double forward = std::numeric_limits<double>::quiet_NaN();  // forward mode, when compared
  Smoothness kind = Smoothness::smooth;
  bool passed = false;
  double error = 0.0;  // distance of the AD value from what was required
  double step = 0.0;   // the finest step used
  std::string note;
};

/// What check_gradient found.
struct GradientReport {
  double value = 0.0;
  std::vector<CoordinateCheck> coordinates;
  std::vector<CoordinateCheck> directions;
  bool ok() const {
    for (const CoordinateCheck& c : coordinates) {
      if (!c.passed) return false;
    }
    for (const CoordinateCheck& c : directions) {
      if (!c.passed) return false;
    }
    return true;
  }
};

/// What check_jacobian found: one report per output (or one for the weighted sum when fast).
struct JacobianReport {
  std::vector<GradientReport> outputs;
  std::vector<double> output_weights;  // the random weights, in fast mode
  bool ok() const {
    for (const GradientReport& r : outputs) {
      if (!r.ok()) return false;
    }
    return true;
  }
};

namespace detail {
/// The numeric core (compiled): the line analysis of one direction, at a point whose largest
/// coordinate along it has magnitude `position` (it sets the first step and the smallest).
CoordinateCheck check_line(const std::function<double(double)>& along, double ad, double forward,
                           double position, const CheckOptions& options, std::string label);
void validate(const CheckOptions& options, std::size_t size, std::string_view operation);
std::string format_report(const GradientReport& report);
std::string format_report(const JacobianReport& report);
/// `count` draws of a standard normal from a std::mt19937_64 seeded with `seed`, in order
/// (compiled, so that this header does not include <random>).
std::vector<double> standard_normal_draws(std::uint64_t seed, std::size_t count);

}  // namespace detail

/// Writes the report's table (the text fmt's `{}` gives, check/format.hpp).
template <class Report, class Traits>
requires std::same_as<Report, GradientReport> || std::same_as<Report, JacobianReport>
    std::basic_ostream<char, Traits>
&operator<<(std::basic_ostream<char, Traits>& out, const Report& report) {
  return out << detail::format_report(report);
}

namespace detail {
template <class F>
constexpr bool forward_capable = std::invocable<F&, std::span<const Dual<double>>>;

/// The value of f at a point, recorded on a tape of its own and discarded.
template <class F>
double value_at(F& f, std::span<const double> point) {
  Tape tape;
  std::vector<Var> inputs(point.begin(), point.end());
  const Var y = std::invoke(f, std::span<const Var>(inputs));
  return y.value();
}

template <class F>
GradientReport check_scalar(F& f, std::span<const double> x, const CheckOptions& options) {
  validate(options, x.size(), "subgrad::check_gradient");
  GradientReport report;
  const ValueAndGradient reverse = value_and_gradient(f, x);
  report.value = reverse.value;
  std::vector<double> point(x.begin(), x.end());
  auto along = [&](std::span<const double> direction) {
    return [&f, &point, direction, x](double t) {
      for (std::size_t i = 0; i < point.size(); ++i) point[i] = x[i] + t * direction[i];
      return value_at(f, point);
    };
  };
  auto forward_along = [&](std::span<const double> direction) {
    if constexpr (forward_capable<F>) {
      if (options.forward) {
        std::vector<Dual<double>> inputs;
        for (std::size_t i = 0; i < x.size(); ++i) inputs.emplace_back(x[i], direction[i]);
        const Dual<double> y = std::invoke(f, std::span<const Dual<double>>(inputs));
        return y.tangent();
      }
    }
    return std::numeric_limits<double>::quiet_NaN();
  };
  std::vector<double> direction(x.size(), 0.0);
  if (options.coordinates) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      direction.assign(x.size(), 0.0);
      direction[i] = 1.0;
      report.coordinates.push_back(check_line(along(direction), reverse.gradient[i],
                                              forward_along(direction), std::abs(x[i]), options,
                                              detail::message("x[{}]", {i})));
    }
  }
  const std::vector<double> draws = detail::standard_normal_draws(
      options.seed, static_cast<std::size_t>(options.directions) * x.size());
  auto draw = draws.begin();
  double largest = 0.0;
  for (double v : x) largest = std::max(largest, std::abs(v));
  for (int k = 0; k < options.directions; ++k) {
    double norm = 0.0;
    for (double& d : direction) {
      d = *draw++;
      norm += d * d;
    }
    norm = std::sqrt(norm);
    double ad = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      direction[i] /= norm;
      ad += reverse.gradient[i] * direction[i];
    }
    report.directions.push_back(check_line(along(direction), ad, forward_along(direction), largest,
                                           options, detail::message("direction {}", {k})));
  }
  return report;
}
}  // namespace detail

/// Checks the reverse-mode gradient of f at x (f and x as for subgrad::gradient).
template <class F, class R>
GradientReport check_gradient(F&& f, const R& x, const CheckOptions& options = {}) {
  static_assert(detail::is_double_range<R>,
                "subgrad::check_gradient(f, x): x must be a contiguous range of double");
  static_assert(std::invocable<std::remove_reference_t<F>&, std::span<const Var>>,
                "subgrad::check_gradient(f, x): f must be callable with "
                "std::span<const subgrad::Var> and return a subgrad::Var");
  if constexpr (std::invocable<std::remove_reference_t<F>&, std::span<const Var>>) {
    detail::check_scalar_result<
        std::invoke_result_t<std::remove_reference_t<F>&, std::span<const Var>>>();
  }
  if constexpr (detail::is_double_range<R> &&
                detail::is_scalar_function<std::remove_reference_t<F>>) {
    return detail::check_scalar(
        f, std::span<const double>(std::ranges::data(x), std::ranges::size(x)), options);
  }
  return {};
}

/// Checks the reverse-mode Jacobian of f at x, f returning std::vector<Var>: every output, or in
/// fast mode one random weighting of the outputs.
template <class F, class R>
JacobianReport check_jacobian(F&& f, const R& x, const CheckOptions& options = {}) {
  static_assert(detail::is_double_range<R>,
                "subgrad::check_jacobian(f, x): x must be a contiguous range of double");
  static_assert(
      std::convertible_to<std::invoke_result_t<F&, std::span<const Var>>, std::vector<Var>>,
      "subgrad::check_jacobian(f, x): f must return std::vector<subgrad::Var>");
  JacobianReport report;
  const std::span<const double> point(std::ranges::data(x), std::ranges::size(x));
  std::size_t outputs = 0;
  {
    Tape tape;
    const std::vector<Var> inputs = variables(point);
    outputs = std::invoke(f, std::span<const Var>(inputs)).size();
  }
  // <w, F> on Vars, and on Duals when f takes them (so that options.forward is honoured).
  auto weighted = [&f](std::vector<double> weights) {
    return [&f, weights = std::move(weights) ]<class Scalar>(
        std::span<const Scalar> v) requires std::invocable<F&, std::span<const Scalar>> {
      const std::vector<Scalar> y = std::invoke(f, v);
      Scalar sum = 0.0 * v[0];
      for (std::size_t i = 0; i < y.size(); ++i) sum += weights[i] * y[i];
      return sum;
    };
  };
  if (options.fast) {
    report.output_weights =
        detail::standard_normal_draws(options.seed ^ 0x9e3779b97f4a7c15ULL, outputs);
    auto g = weighted(report.output_weights);
    report.outputs.push_back(detail::check_scalar(g, point, options));
    return report;
  }
  for (std::size_t k = 0; k < outputs; ++k) {
    std::vector<double> unit(outputs, 0.0);
    unit[k] = 1.0;
    auto g = weighted(std::move(unit));
    report.outputs.push_back(detail::check_scalar(g, point, options));
  }
  return report;
}

}  // namespace subgrad
