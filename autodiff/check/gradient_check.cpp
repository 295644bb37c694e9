#include "subgrad/check/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <fmt/format.h>

namespace subgrad::detail {

namespace {

constexpr double eps = std::numeric_limits<double>::epsilon();
constexpr int max_max_levels = 60;  // the most CheckOptions::max_levels may be

// One step size: the three samples and the difference quotients built from them.
struct Level {
  double h;
  double plus;     // g(h)
  double minus;    // g(-h)
  double right;    // (g(h) - g(0)) / h
  double left;     // (g(0) - g(-h)) / h
  double central;  // (g(h) - g(-h)) / 2h
  double gap;      // |g(h) - g(-h)|: shrinks with h unless g jumps at 0
  double split;    // |right - left|: shrinks with h unless g has a kink at 0
};

double distance_outside(double value, double low, double high) {
  if (value < low) return low - value;
  if (value > high) return value - high;
  return 0.0;
}

// The limit of difference quotients a, b, c at steps h, h/2, h/4 whose errors shrink by a steady
// factor (Aitken's delta-squared): exact for D(h) = slope + C h^r with any r > 0, so it serves at
// a domain's edge, where g(0 + h) - g(0) may go like h^1.5, as well as where it goes like h^2.
double extrapolated_slope(double a, double b, double c) {
  const double first = b - a, second = c - b, curvature = second - first;
  if (curvature == 0.0 || std::abs(second) >= std::abs(first)) return 2 * c - b;  // Richardson
  return c - second * second / curvature;
}

// A side's slope at 0 from its last four difference quotients D(h) ... D(h/8) (right:
// (g(h) - g(0)) / h, left: (g(0) - g(-h)) / h): finite when two successive extrapolations agree,
// infinite when |D| grows by a steady factor as h halves (g(h) - g(0) ~ C h^p with p < 1: sqrt at
// 0, asin at 1), undefined when the side's samples are NaN.
struct SideSlope {
  enum class Kind { undefined, finite, infinite, unresolved } kind = Kind::unresolved;
  double slope = std::numeric_limits<double>::quiet_NaN();
  double exponent = 0.0;  // p, when infinite
};

// p <= 7/8: each halving multiplies |D| by at least 2^(1/8).
constexpr double least_growth = 1.0905;

template <class Noise>
SideSlope side_slope(const std::vector<Level>& levels, double Level::*sample,
                     double Level::*quotient, const CheckOptions& options, const Noise& noise) {
  SideSlope side;
  const std::size_t n = levels.size();
  if (std::isnan(levels[n - 1].*sample) && std::isnan(levels[n - 2].*sample)) {
    side.kind = SideSlope::Kind::undefined;
    return side;
  }
  if (n < 4) return side;
  const double q0 = levels[n - 4].*quotient, q1 = levels[n - 3].*quotient,
               q2 = levels[n - 2].*quotient, q3 = levels[n - 1].*quotient;
  if (!std::isfinite(q0) || !std::isfinite(q1) || !std::isfinite(q2) || !std::isfinite(q3))
    return side;
  const double coarse = extrapolated_slope(q0, q1, q2), fine = extrapolated_slope(q1, q2, q3);
  if (std::abs(fine - coarse) <=
      options.atol + options.rtol * std::abs(fine) + noise(levels[n - 1].h)) {
    side.kind = SideSlope::Kind::finite;
    side.slope = fine;
  } else if (q2 / q1 >= least_growth && q3 / q2 >= least_growth) {
    side.kind = SideSlope::Kind::infinite;
    side.slope = std::copysign(std::numeric_limits<double>::infinity(), q3);
    side.exponent = 1.0 - std::log2(q3 / q2);
  }
  return side;
}

// Forward and reverse mode evaluate the same rules in another order: only rounding may differ
// (forward NaN: not compared).
void compare_with_forward(double forward, double ad, CoordinateCheck& result) {
  if (std::isnan(forward) || forward == ad) return;
  const double difference = std::abs(forward - ad);
  if (!(difference <= 1e-12 * std::max({1.0, std::abs(ad), std::abs(forward)}))) {
    result.passed = false;
    result.note +=
        (result.note.empty() ? "" : "; ") + fmt::format("forward mode gives {:.17g}", forward);
  }
}

// The verdict where only one side of the point is in f's domain, or where the AD value is
// infinite: every side that is defined must have the AD value's slope.
void judge_one_sided(const SideSlope& left, const SideSlope& right, double ad, double rtol,
                     double slack, CoordinateCheck& result) {
  using Kind = SideSlope::Kind;
  result.left = left.slope;
  result.right = right.slope;
  result.kind = Smoothness::smooth;
  std::string sides = left.kind == Kind::undefined    ? "f is undefined left of the point"
                      : right.kind == Kind::undefined ? "f is undefined right of the point"
                                                      : "";
  auto agrees = [ad, rtol, slack](const SideSlope& side) {
    if (side.kind == Kind::undefined) return true;
    if (side.kind == Kind::finite)
      return std::abs(ad - side.slope) <= slack + rtol * std::abs(side.slope);
    return side.kind == Kind::infinite && ad == side.slope;
  };
  result.passed = agrees(left) && agrees(right);
  const SideSlope& defined = left.kind == Kind::undefined ? right : left;
  result.numeric = defined.slope;
  result.error = std::isinf(ad) ? (result.passed ? 0.0 : std::numeric_limits<double>::infinity())
                                : std::abs(ad - defined.slope);
  auto add_note = [&sides](const std::string& note) {
    sides += (sides.empty() ? "" : "; ") + note;
  };
  for (const SideSlope* side : {&left, &right}) {
    if (side->kind == Kind::infinite) {
      add_note(fmt::format("infinite slope (|D(h)| grows like h^{:.2f})", side->exponent - 1.0));
    } else if (side->kind == Kind::unresolved) {
      add_note("unresolved: the difference quotients neither settle nor diverge");
    }
  }
  result.note = std::move(sides);
}

}  // namespace

void validate(const CheckOptions& options, std::size_t size, std::string_view operation) {
  if (size == 0) throw Error(fmt::format("{}: x is empty", operation));
  if (!(options.rtol >= 0.0) || !(options.atol >= 0.0) || !std::isfinite(options.rtol) ||
      !std::isfinite(options.atol)) {
    throw Error(fmt::format("{}: need finite rtol >= 0 and atol >= 0, got rtol = {}, atol = {}",
                            operation, options.rtol, options.atol));
  }
  if (options.levels < 3 || options.max_levels < options.levels ||
      options.max_levels > max_max_levels) {
    throw Error(
        fmt::format("{}: need 3 <= levels <= max_levels <= {}, got levels = {}, max_levels = {}",
                    operation, max_max_levels, options.levels, options.max_levels));
  }
  if (!(options.step >= 0.0) || !std::isfinite(options.step)) {
    throw Error(fmt::format("{}: step = {} must be finite and >= 0 (0: automatic)", operation,
                            options.step));
  }
  if (options.directions < 0) {
    throw Error(fmt::format("{}: directions = {} must be >= 0", operation, options.directions));
  }
}

CoordinateCheck check_line(const std::function<double(double)>& along, double ad, double forward,
                           double position, const CheckOptions& options, std::string label) {
  CoordinateCheck result;
  result.label = std::move(label);
  result.ad = ad;
  result.forward = forward;
  const double first_step =
      options.step > 0.0 ? options.step : std::cbrt(eps) * std::max(1.0, position);
  const double center = along(0.0);
  double magnitude = std::abs(center);
  std::vector<Level> levels;
  auto add_level = [&](double h) {
    const double plus = along(h);
    const double minus = along(-h);
    magnitude = std::max({magnitude, std::abs(plus), std::abs(minus)});
    const double right = (plus - center) / h;
    const double left = (center - minus) / h;
    levels.push_back({h, plus, minus, right, left, (plus - minus) / (2 * h), std::abs(plus - minus),
                      std::abs(right - left)});
  };
  for (int k = 0; k < options.levels; ++k) add_level(first_step / std::ldexp(1.0, k));
  // Rounding in the samples, as a slope at step h.
  auto noise = [&](double h) { return 16.0 * eps * std::max(magnitude, 1e-300) / h; };

  // Where f itself is not finite, finite differences measure nothing.
  if (!std::isfinite(center)) {
    result.numeric = std::numeric_limits<double>::quiet_NaN();
    if (std::isnan(center)) {  // outside f's domain: the derivative must be undefined too
      result.passed = std::isnan(ad);
      result.note = "f is NaN here";
    } else {  // an overflow (x * x at 1e300) or a pole: unverifiable, as a jump is
      result.passed = !std::isnan(ad) && !options.strict;
      result.note = "f is infinite here: finite differences cannot check the derivative";
    }
    return result;
  }
  if (std::isnan(ad)) {
    result.numeric = std::numeric_limits<double>::quiet_NaN();
    result.note = "NaN derivative where f is finite";
    return result;
  }
  // max_levels counts the levels that see f on both sides: near the edge of its domain
  // (sqrt at 1e-10) the first steps reach past it, and the levels that do are not counted. Those
  // extra levels stop where x + h would round (1024 units in the last place of x) and at twice
  // the most max_levels may be.
  const double smallest_extra_step = 1024 * eps * position;
  auto within_budget = [&] {
    if (static_cast<int>(levels.size()) < options.max_levels) return true;
    const auto first_defined = std::ranges::find_if(
        levels, [](const Level& l) { return !std::isnan(l.plus) && !std::isnan(l.minus); });
    const auto counted = static_cast<int>(levels.end() - first_defined);
    return counted < options.max_levels && levels.size() < 2 * max_max_levels &&
           levels.back().h / 2 >= smallest_extra_step;
  };
  // At the edge of f's domain (a side's samples all NaN: sqrt or log at 0), or where the AD value
  // is infinite, each side's slope is measured on its own, down to the smallest steps rounding
  // allows (a domain edge just beside the point is then passed and both sides defined again).
  if (std::isinf(ad) || std::isnan(levels.back().plus) || std::isnan(levels.back().minus)) {
    SideSlope left, right;
    while (true) {
      left = side_slope(levels, &Level::minus, &Level::left, options, noise);
      right = side_slope(levels, &Level::plus, &Level::right, options, noise);
      const bool settled =
          left.kind != SideSlope::Kind::unresolved && right.kind != SideSlope::Kind::unresolved &&
          left.kind != SideSlope::Kind::infinite && right.kind != SideSlope::Kind::infinite;
      const Level& fine = levels.back();
      const double steepest = std::max({1.0, std::isnan(fine.left) ? 0.0 : std::abs(fine.left),
                                        std::isnan(fine.right) ? 0.0 : std::abs(fine.right)});
      if (settled || !within_budget() || noise(fine.h / 2) >= 0.1 * steepest) break;
      add_level(fine.h / 2);
    }
    result.step = levels.back().h;
    const bool both_defined =
        left.kind != SideSlope::Kind::undefined && right.kind != SideSlope::Kind::undefined;
    if (std::isinf(ad) || !both_defined) {
      judge_one_sided(left, right, ad, options.rtol, options.atol + noise(levels.back().h), result);
      compare_with_forward(forward, ad, result);
      return result;
    }
    // Both sides defined at the finest steps: the two-sided analysis below reads those.
  }

  while (true) {
    const std::size_t n = levels.size();
    const Level& coarse = levels[n - 2];
    const Level& fine = levels[n - 1];
    const double slope_noise = noise(fine.h);
    result.step = fine.h;

    // A jump: the two sides do not meet however small the step.
    if (fine.gap > 0.75 * coarse.gap && fine.gap > 1e3 * eps * std::max(magnitude, 1e-300)) {
      result.kind = Smoothness::discontinuous;
      // One-sided slopes from samples on one side only (g(0) belongs to one of them).
      result.right = (along(2 * fine.h) - fine.plus) / fine.h;
      result.left = (fine.minus - along(-2 * fine.h)) / fine.h;
      result.numeric = std::numeric_limits<double>::quiet_NaN();
      result.passed = !options.strict;
      result.note = fmt::format("jump of {:.3g}", fine.plus - fine.minus);
      break;
    }
    // A kink: the one-sided slopes stay apart as the step halves.
    const double split_tolerance =
        options.atol + options.rtol * std::max(std::abs(fine.left), std::abs(fine.right)) +
        slope_noise;
    if (fine.split > split_tolerance && fine.split > 0.75 * coarse.split) {
      result.kind = Smoothness::kink;
      // Richardson: one-sided differences err by O(h); 2 D(h/2) - D(h) cancels that term.
      result.left = 2 * fine.left - coarse.left;
      result.right = 2 * fine.right - coarse.right;
      break;
    }
    // Smooth: the Richardson-extrapolated central differences have converged.
    if (n >= 3) {
      const double extrapolated = (4 * fine.central - coarse.central) / 3;
      const double previous = (4 * coarse.central - levels[n - 3].central) / 3;
      const double tolerance = options.atol + options.rtol * std::abs(extrapolated) + slope_noise;
      if (std::abs(extrapolated - previous) <= tolerance) {
        result.kind = Smoothness::smooth;
        result.numeric = extrapolated;
        result.left = 2 * fine.left - coarse.left;
        result.right = 2 * fine.right - coarse.right;
        result.error = std::abs(ad - extrapolated);
        result.passed = result.error <= tolerance;
        break;
      }
    }
    // Undecided (a kink just inside the stencil): halve again while rounding allows.
    if (within_budget() && noise(fine.h / 2) < 0.1 * std::max(1.0, fine.split)) {
      add_level(fine.h / 2);
      continue;
    }
    result.kind = Smoothness::kink;
    result.left = fine.left;
    result.right = fine.right;
    result.note = "unresolved: a kink within the finest step; judged on the one-sided interval";
    break;
  }

  if (result.kind == Smoothness::kink) {
    const double low = std::min(result.left, result.right);
    const double high = std::max(result.left, result.right);
    const double tolerance =
        options.atol + options.rtol * std::max(std::abs(low), std::abs(high)) + noise(result.step);
    const KinkRule rule = options.rule.value_or(current_kink_rule());
    result.numeric = resolve(Slopes{result.left, result.right}, rule);
    result.error = distance_outside(ad, low - tolerance, high + tolerance);
    result.passed = result.error == 0.0;
    if (options.check_rule) {
      const double rule_error = std::abs(ad - result.numeric);
      const double rule_tolerance =
          options.atol + options.rtol * std::abs(result.numeric) + noise(result.step);
      if (rule_error > rule_tolerance) {
        result.passed = false;
        result.error = std::max(result.error, rule_error);
        result.note = fmt::format("kink rule {} picks {:.9g}", rule.name(), result.numeric);
      }
    }
  }
  compare_with_forward(forward, ad, result);
  return result;
}

std::vector<double> standard_normal_draws(std::uint64_t seed, std::size_t count) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal;
  std::vector<double> draws(count);
  for (double& d : draws) d = normal(generator);
  return draws;
}

std::string format_report(const GradientReport& report) {
  std::string text = fmt::format("gradient check at f = {:.10g}: {}\n", report.value,
                                 report.ok() ? "passed" : "FAILED");
  text +=
      fmt::format("{:<14} {:>17} {:>17} {:>15} {:>15} {:>14} {:>7} {:>10}  {}\n", "coordinate",
                  "AD", "numeric", "left slope", "right slope", "kind", "verdict", "error", "note");
  auto row = [&text](const CoordinateCheck& c) {
    const char* kind = c.kind == Smoothness::smooth
                           ? "smooth"
                           : (c.kind == Smoothness::kink ? "kink" : "discontinuous");
    text += fmt::format(
        "{:<14} {:>17.10g} {:>17.10g} {:>15.8g} {:>15.8g} {:>14} {:>7} {:>10.2e}  {}\n", c.label,
        c.ad, c.numeric, c.left, c.right, kind, c.passed ? "pass" : "FAIL", c.error, c.note);
  };
  for (const CoordinateCheck& c : report.coordinates) row(c);
  for (const CoordinateCheck& c : report.directions) row(c);
  return text;
}

std::string format_report(const JacobianReport& report) {
  std::string text;
  if (!report.output_weights.empty()) {
    text += fmt::format("fast mode: <w, F> with random output weights w = [{:.4g}]\n",
                        fmt::join(report.output_weights, ", "));
  }
  for (std::size_t k = 0; k < report.outputs.size(); ++k) {
    if (report.output_weights.empty()) text += fmt::format("output {}: ", k);
    text += format_report(report.outputs[k]);
  }
  return text;
}

}  // namespace subgrad::detail
