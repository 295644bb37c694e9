// The checker never fails a correct primitive at any kink under any rule, and catches each
// mutation: slopes off by 1e-4 relative, a kink value outside the subdifferential, and the
// composite relu(x) - relu(-x) at 0.
#include "subgrad/check/gradient_check.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/check/format.hpp"
#include "subgrad/math/maxout.hpp"
#include "subgrad/math/registry.hpp"

using subgrad::CheckOptions;
using subgrad::KinkRule;
using subgrad::Smoothness;
using subgrad::Var;
namespace kink = subgrad::kink;

namespace {

template <class Rule>
auto on_first(const Rule& rule, KinkRule kink_rule) {
  return [rule, kink_rule](std::span<const Var> x) {
    return Var(subgrad::Primitive<Rule>{rule}(x[0], kink_rule));
  };
}

// A mutant: the inner rule with both slopes scaled by `factor` (the value is untouched).
template <class Rule>
struct ScaledSlopes {
  Rule inner;
  double factor;
  subgrad::Evaluation<double> evaluate(double x) const {
    subgrad::Evaluation<double> at = subgrad::evaluate(inner, x);
    at.slopes.left *= factor;
    at.slopes.right *= factor;
    return at;
  }
};

// A mutant relu that claims slope 2 at its kink.
struct ReluClaimingTwo {
  double value(double x) const { return x > 0 ? x : 0.0; }
  subgrad::Slopes slopes(double x) const {
    if (x > 0) return {1.0, 1.0};
    if (x < 0) return {0.0, 0.0};
    return {2.0, 2.0};
  }
};
constexpr subgrad::Primitive<ReluClaimingTwo> bad_relu{};

// x^1.5, defined for x >= 0 only (NaN below), whose slope at 0 is `slope_at_zero` (correct: 0).
struct PowerOneAndAHalf {
  double slope_at_zero = 0.0;
  double value(double x) const {
    return x >= 0 ? x * std::sqrt(x) : std::numeric_limits<double>::quiet_NaN();
  }
  subgrad::Slopes slopes(double x) const {
    const double d = x == 0 ? slope_at_zero : 1.5 * std::sqrt(x);
    return {d, d};
  }
};
// sqrt, whose slope at 0 is `slope_at_zero` (correct: +inf).
struct SquareRoot {
  double slope_at_zero = std::numeric_limits<double>::infinity();
  double value(double x) const { return std::sqrt(x); }
  subgrad::Slopes slopes(double x) const {
    const double d = x == 0 ? slope_at_zero : 0.5 / std::sqrt(x);
    return {d, d};
  }
};
// The identity, claiming `slope` everywhere.
struct IdentityClaiming {
  double slope;
  double value(double x) const { return x; }
  subgrad::Slopes slopes(double) const { return {slope, slope}; }
};
template <class Rule>
auto checked_at(const Rule& rule, double x, CheckOptions options = {}) {
  auto f = [rule](std::span<const Var> v) { return Var(subgrad::Primitive<Rule>{rule}(v[0])); };
  return subgrad::check_gradient(f, std::vector<double>{x}, options);
}
}  // namespace

BOOST_AUTO_TEST_CASE(never_fails_a_correct_primitive_at_or_near_a_kink) {
  int checked = 0;
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    for (const auto& k : subgrad::rule_kinks(entry.rule, entry.low, entry.high)) {
      for (double offset : {0.0, 1e-12, -1e-12, 1e-9, -1e-9, 3e-7, -3e-7, 2e-6, -2e-6, 1e-4}) {
        for (KinkRule rule : kink::all) {
          const double at = k.at + offset * std::max(1.0, std::abs(k.at));
          CheckOptions options;
          options.check_rule = offset == 0.0 && k.kind == Smoothness::kink;
          options.rule = rule;
          const subgrad::GradientReport report =
              subgrad::check_gradient(on_first(entry.rule, rule), std::vector<double>{at}, options);
          BOOST_TEST_CONTEXT(entry.name << " at " << at << " rule " << rule.name() << "\n"
                                        << fmt::format("{}", report)) {
            BOOST_TEST(report.ok());
            if (offset == 0.0) {
              // The declared kind is found: a kink is a kink, a jump large enough to see is a jump
              // (softplus's switch jumps by 2e-9 only and reads as a kink).
              const subgrad::Primitive<std::remove_cvref_t<decltype(entry.rule)>> f{entry.rule};
              const double jump = std::abs(f(at + 1e-9) - f(at - 1e-9));
              const Smoothness expected = k.kind == Smoothness::discontinuous && jump > 1e-6
                                              ? Smoothness::discontinuous
                                              : Smoothness::kink;
              BOOST_TEST((report.coordinates[0].kind == expected));
            }
          }
          ++checked;
        }
      }
    }
  });
  BOOST_TEST(checked > 1000);
}

BOOST_AUTO_TEST_CASE(passes_every_primitive_away_from_kinks_with_forward_mode) {
  subgrad::for_each_unary_primitive([](const auto& entry) {
    for (int k = 1; k < 8; ++k) {
      const double at = entry.low + (entry.high - entry.low) * (k + 0.123) / 8.0;
      CheckOptions options;
      options.forward = true;
      const subgrad::Primitive<decltype(entry.rule)> f{entry.rule};
      auto both = [f](auto x) { return f(x[0]) * 1.0; };
      const subgrad::GradientReport report =
          subgrad::check_gradient(both, std::vector<double>{at}, options);
      BOOST_TEST_CONTEXT(entry.name << " at " << at << "\n" << fmt::format("{}", report)) {
        BOOST_TEST(report.ok());
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(catches_slopes_off_by_one_part_in_ten_thousand) {
  int caught = 0, mutants = 0;
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    using Rule = std::remove_cvref_t<decltype(entry.rule)>;
    const ScaledSlopes<Rule> mutant{entry.rule, 1.0 + 1e-4};
    for (int k = 1; k < 8; ++k) {
      const double at = entry.low + (entry.high - entry.low) * (k + 0.123) / 8.0;
      if (std::abs(subgrad::rule_slopes(entry.rule, at).left) < 1e-3) continue;  // nothing to scale
      auto f = [mutant](std::span<const Var> x) {
        return Var(subgrad::Primitive<ScaledSlopes<Rule>>{mutant}(x[0]));
      };
      const bool failed = !subgrad::check_gradient(f, std::vector<double>{at}).ok();
      BOOST_TEST_CONTEXT(entry.name << " at " << at) { BOOST_TEST(failed); }
      caught += failed;
      ++mutants;
    }
  });
  BOOST_TEST(mutants > 200);
  BOOST_TEST(caught == mutants);
}

BOOST_AUTO_TEST_CASE(catches_a_kink_value_outside_the_subdifferential) {
  auto f = [](std::span<const Var> x) { return Var(bad_relu(x[0])); };
  const subgrad::GradientReport report = subgrad::check_gradient(f, std::vector<double>{0.0});
  BOOST_TEST(!report.ok());
  BOOST_TEST((report.coordinates[0].kind == Smoothness::kink));
  BOOST_TEST(report.coordinates[0].left == 0.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(report.coordinates[0].right == 1.0, boost::test_tools::tolerance(1e-9));
  // 2 lies 1 above the interval; the error is measured from the interval widened by its
  // tolerance (atol + rtol + rounding, about 1e-6).
  BOOST_TEST(std::abs(report.coordinates[0].error - 1.0) < 1e-5);
}

BOOST_AUTO_TEST_CASE(catches_a_rule_that_picks_the_wrong_side) {
  // relu recorded under kink::right while the check asks for min_norm: inside [0, 1], wrong rule.
  auto f = [](std::span<const Var> x) { return Var(relu(x[0], kink::right)); };
  CheckOptions options;
  BOOST_TEST(subgrad::check_gradient(f, std::vector<double>{0.0}, options).ok());
  options.check_rule = true;
  options.rule = kink::min_norm;
  BOOST_TEST(!subgrad::check_gradient(f, std::vector<double>{0.0}, options).ok());
  options.rule = kink::right;
  BOOST_TEST(subgrad::check_gradient(f, std::vector<double>{0.0}, options).ok());
}

BOOST_AUTO_TEST_CASE(catches_the_relu_difference_composite) {
  auto f = [](std::span<const Var> x) { return relu(x[0]) - relu(-x[0]); };
  const subgrad::GradientReport report = subgrad::check_gradient(f, std::vector<double>{0.0});
  BOOST_TEST(!report.ok());
  BOOST_TEST((report.coordinates[0].kind == Smoothness::smooth));
  BOOST_TEST(report.coordinates[0].ad == 0.0);
  BOOST_TEST(report.coordinates[0].numeric == 1.0, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(a_plain_central_difference_sees_one_half_at_relu_zero) {
  // What other checkers do, and why they fail: (relu(h) - relu(-h)) / 2h = 1/2 against AD's 0.
  const double h = 1e-6;
  BOOST_TEST((subgrad::relu(h) - subgrad::relu(-h)) / (2 * h) == 0.5);
  auto f = [](std::span<const Var> x) { return Var(relu(x[0])); };
  BOOST_TEST(subgrad::check_gradient(f, std::vector<double>{0.0}).ok());
}

BOOST_AUTO_TEST_CASE(jumps_are_reported_and_fail_only_when_strict) {
  auto f = [](std::span<const Var> x) { return threshold(x[0], 1.0, -0.5) + floor(x[1]); };
  CheckOptions options;
  const subgrad::GradientReport report =
      subgrad::check_gradient(f, std::vector<double>{1.0, 2.0}, options);
  BOOST_TEST(report.ok());
  BOOST_TEST((report.coordinates[0].kind == Smoothness::discontinuous));
  BOOST_TEST((report.coordinates[1].kind == Smoothness::discontinuous));
  const std::string table = fmt::format("{}", report);
  BOOST_TEST(table.find("discontinuous") != std::string::npos);
  std::ostringstream out;
  out << report;
  BOOST_TEST(out.str() == table);
  options.strict = true;
  BOOST_TEST(!subgrad::check_gradient(f, std::vector<double>{1.0, 2.0}, options).ok());
}

BOOST_AUTO_TEST_CASE(multivariate_ties_and_random_directions) {
  auto f = [](auto x) { return max(x[0], x[1]) * x[2] + maxout(x[0], x[1], x[2]); };
  CheckOptions options;
  options.directions = 5;
  options.forward = true;
  const subgrad::GradientReport report =
      subgrad::check_gradient(f, std::vector<double>{1.0, 1.0, 1.0}, options);
  BOOST_TEST(report.ok(), fmt::format("{}", report));
  BOOST_TEST(report.directions.size() == 5u);
  const std::string table = fmt::format("{}", report);
  BOOST_TEST(table.find("kink") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(forward_mode_disagreement_is_reported) {
  // A function whose Var and Dual versions differ (a deliberate bug): forward mode catches it.
  auto f = [](auto x) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(x[0])>, Var>) {
      return Var(x[0] * x[0]);
    } else {
      return x[0] * x[0] * 1.0000001;
    }
  };
  CheckOptions options;
  options.forward = true;
  const subgrad::GradientReport report =
      subgrad::check_gradient(f, std::vector<double>{1.5}, options);
  BOOST_TEST(!report.ok());
  BOOST_TEST(report.coordinates[0].note.find("forward mode") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(jacobians_row_by_row_and_fast) {
  auto f = [](std::span<const Var> x) {
    return std::vector<Var>{x[0] * x[1], relu(x[0] - x[1]), sin(x[1])};
  };
  const subgrad::JacobianReport full = subgrad::check_jacobian(f, std::vector<double>{0.5, 0.5});
  BOOST_TEST(full.ok(), fmt::format("{}", full));
  BOOST_TEST(full.outputs.size() == 3u);
  CheckOptions fast;
  fast.fast = true;
  const subgrad::JacobianReport quick =
      subgrad::check_jacobian(f, std::vector<double>{0.3, -0.2}, fast);
  BOOST_TEST(quick.ok());
  BOOST_TEST(quick.outputs.size() == 1u);
  BOOST_TEST(quick.output_weights.size() == 3u);
  auto wrong = [](std::span<const Var> x) {
    return std::vector<Var>{x[0] * x[1], relu(x[0]) - relu(-x[0])};
  };
  BOOST_TEST(!subgrad::check_jacobian(wrong, std::vector<double>{0.0, 1.0}).ok());
}

BOOST_AUTO_TEST_CASE(bad_options_and_inputs_are_errors) {
  auto f = [](std::span<const Var> x) { return Var(x[0] * 2.0); };
  CheckOptions options;
  options.levels = 2;
  BOOST_CHECK_EXCEPTION(subgrad::check_gradient(f, std::vector<double>{1.0}, options),
                        subgrad::Error, [](const subgrad::Error& e) {
                          return std::string(e.what()).find("levels = 2") != std::string::npos;
                        });
  options = {};
  options.rtol = -1.0;
  BOOST_CHECK_THROW(subgrad::check_gradient(f, std::vector<double>{1.0}, options), subgrad::Error);
  BOOST_CHECK_THROW(subgrad::check_gradient(f, std::vector<double>{}), subgrad::Error);
}

BOOST_AUTO_TEST_CASE(check_jacobian_compares_with_forward_mode_when_asked) {
  auto f = []<class T>(std::span<const T> x) { return std::vector<T>{x[0] * x[1], sin(x[1])}; };
  CheckOptions options;
  options.forward = true;
  const subgrad::JacobianReport report =
      subgrad::check_jacobian(f, std::vector<double>{0.5, 0.25}, options);
  BOOST_TEST(report.ok(), fmt::format("{}", report));
  for (const subgrad::GradientReport& output : report.outputs) {
    for (const subgrad::CoordinateCheck& c : output.coordinates) BOOST_TEST(!std::isnan(c.forward));
  }
  // A function whose forward-mode version computes something else is caught.
  auto inconsistent = []<class T>(std::span<const T> x) {
    if constexpr (std::same_as<T, Var>) {
      return std::vector<T>{x[0] * 2.0};
    } else {
      return std::vector<T>{x[0] * 3.0};
    }
  };
  BOOST_TEST(!subgrad::check_jacobian(inconsistent, std::vector<double>{1.0}, options).ok());
  options.forward = false;
  BOOST_TEST(subgrad::check_jacobian(inconsistent, std::vector<double>{1.0}, options).ok());
}

BOOST_AUTO_TEST_CASE(at_the_edge_of_the_domain_the_defined_side_decides) {
  const double inf = std::numeric_limits<double>::infinity();
  // sqrt at 0 and asin at 1: an infinite slope on the one side where f is defined.
  const subgrad::GradientReport root = subgrad::check_gradient(
      [](std::span<const Var> x) { return Var(sqrt(x[0])); }, std::vector<double>{0.0});
  BOOST_TEST(root.ok(), fmt::format("{}", root));
  BOOST_TEST(root.coordinates[0].right == inf);
  BOOST_TEST(std::isnan(root.coordinates[0].left));
  BOOST_TEST(root.coordinates[0].note.find("infinite slope") != std::string::npos);
  const subgrad::GradientReport arcsine = subgrad::check_gradient(
      [](std::span<const Var> x) { return Var(asin(x[0])); }, std::vector<double>{1.0});
  BOOST_TEST(arcsine.ok(), fmt::format("{}", arcsine));
  BOOST_TEST(arcsine.coordinates[0].left == inf);
  // x^1.5 at 0: slope 0 from the right, where the quotients go like h^0.5 (not h).
  const subgrad::GradientReport power = checked_at(PowerOneAndAHalf{}, 0.0);
  BOOST_TEST(power.ok(), fmt::format("{}", power));
  BOOST_TEST(std::abs(power.coordinates[0].numeric) < 1e-9);
  // Wrong values there fail: below the defined side's slope (this passed before: the NaN side
  // made the interval [NaN, 0] accept it), a finite slope where it is infinite, an infinite one
  // where it is finite.
  BOOST_TEST(!checked_at(PowerOneAndAHalf{-5.0}, 0.0).ok());
  BOOST_TEST(!checked_at(PowerOneAndAHalf{1e-3}, 0.0).ok());
  BOOST_TEST(!checked_at(SquareRoot{0.0}, 0.0).ok());
  BOOST_TEST(!checked_at(SquareRoot{-inf}, 0.0).ok());
  BOOST_TEST(checked_at(SquareRoot{}, 0.0).ok());
  BOOST_TEST(!checked_at(IdentityClaiming{inf}, 0.0).ok());
  BOOST_TEST(checked_at(IdentityClaiming{1.0}, 0.0).ok());
  // An edge just beside the point (sqrt(x + 1e-9) at 0): steps below 1e-9 see both sides, and
  // the finite slope 1 / (2 sqrt(1e-9)) is checked as anywhere else.
  const subgrad::GradientReport near_edge = subgrad::check_gradient(
      [](std::span<const Var> x) { return Var(sqrt(x[0] + 1e-9)); }, std::vector<double>{0.0});
  BOOST_TEST(near_edge.ok(), fmt::format("{}", near_edge));
  BOOST_TEST(near_edge.coordinates[0].numeric == 0.5 / std::sqrt(1e-9),
             boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(close_to_the_edge_of_the_domain_a_wrong_slope_is_still_caught) {
  // sqrt at 1e-13: the first steps (about 6e-6) reach far past the edge at 0, and the steps that
  // see both sides come only after some 26 halvings; max_levels counts from there, so the point is
  // judged smooth (it was left "unresolved" on a one-sided interval 6 % wide before).
  for (const double x : {1e-10, 1e-13}) {
    BOOST_TEST_CONTEXT("sqrt at " << x) {
      const subgrad::GradientReport report = checked_at(SquareRoot{}, x);
      BOOST_TEST(report.ok(), fmt::format("{}", report));
      BOOST_TEST((report.coordinates[0].kind == Smoothness::smooth));
      BOOST_TEST(report.coordinates[0].numeric == 0.5 / std::sqrt(x),
                 boost::test_tools::tolerance(1e-6));
      BOOST_TEST(!checked_at(ScaledSlopes<SquareRoot>{SquareRoot{}, 1.0 + 1e-4}, x).ok());
    }
  }
}

BOOST_AUTO_TEST_CASE(where_f_or_its_derivative_is_not_finite) {
  // x * x at 1e300 overflows: finite differences cannot see the (correct, finite) derivative, so
  // the coordinate is reported, failed only when strict (it failed always before).
  auto square = [](std::span<const Var> x) { return Var(x[0] * x[0]); };
  const subgrad::GradientReport overflow =
      subgrad::check_gradient(square, std::vector<double>{1e300});
  BOOST_TEST(overflow.ok());
  BOOST_TEST(overflow.coordinates[0].note.find("infinite") != std::string::npos);
  CheckOptions strict;
  strict.strict = true;
  BOOST_TEST(!subgrad::check_gradient(square, std::vector<double>{1e300}, strict).ok());
  // Outside the domain (log at -1) the value is NaN and a finite derivative is reported as wrong.
  const subgrad::GradientReport outside = subgrad::check_gradient(
      [](std::span<const Var> x) { return Var(log(x[0])); }, std::vector<double>{-1.0});
  BOOST_TEST(!outside.ok());
  BOOST_TEST(outside.coordinates[0].note.find("NaN") != std::string::npos);
  // A NaN derivative where f is finite always fails.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(!checked_at(IdentityClaiming{nan}, 0.5).ok());
}
