#include "subgrad/math/elementary.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/gradient.hpp"

using subgrad::Tape;
using subgrad::Var;
namespace kink = subgrad::kink;

namespace {

struct UnaryCase {
  std::string name;
  std::function<Var(const Var&)> on_var;
  std::function<double(double)> on_double;
  std::function<double(double)> derivative;  // written here, independently of the rules
  double low;
  double high;
};

std::vector<UnaryCase> unary_cases() {
  using std::numbers::pi;
  return {
      {"exp", [](const Var& x) { return Var(exp(x)); }, [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); }, -5, 5},
      {"exp2", [](const Var& x) { return Var(exp2(x)); }, [](double x) { return std::exp2(x); },
       [](double x) { return std::log(2.0) * std::exp2(x); }, -5, 5},
      {"expm1", [](const Var& x) { return Var(expm1(x)); }, [](double x) { return std::expm1(x); },
       [](double x) { return std::exp(x); }, -5, 5},
      {"log", [](const Var& x) { return Var(log(x)); }, [](double x) { return std::log(x); },
       [](double x) { return 1 / x; }, 0.1, 10},
      {"log2", [](const Var& x) { return Var(log2(x)); }, [](double x) { return std::log2(x); },
       [](double x) { return 1 / (x * std::log(2.0)); }, 0.1, 10},
      {"log10", [](const Var& x) { return Var(log10(x)); }, [](double x) { return std::log10(x); },
       [](double x) { return 1 / (x * std::log(10.0)); }, 0.1, 10},
      {"log1p", [](const Var& x) { return Var(log1p(x)); }, [](double x) { return std::log1p(x); },
       [](double x) { return 1 / (1 + x); }, -0.9, 10},
      {"sqrt", [](const Var& x) { return Var(sqrt(x)); }, [](double x) { return std::sqrt(x); },
       [](double x) { return 0.5 / std::sqrt(x); }, 0.1, 10},
      {"cbrt", [](const Var& x) { return Var(cbrt(x)); }, [](double x) { return std::cbrt(x); },
       [](double x) { return std::pow(std::abs(x), -2.0 / 3.0) / 3.0; }, 0.1, 10},
      {"square", [](const Var& x) { return Var(subgrad::square(x)); },
       [](double x) { return x * x; }, [](double x) { return 2 * x; }, -5, 5},
      {"sin", [](const Var& x) { return Var(sin(x)); }, [](double x) { return std::sin(x); },
       [](double x) { return std::cos(x); }, -5, 5},
      {"cos", [](const Var& x) { return Var(cos(x)); }, [](double x) { return std::cos(x); },
       [](double x) { return -std::sin(x); }, -5, 5},
      {"tan", [](const Var& x) { return Var(tan(x)); }, [](double x) { return std::tan(x); },
       [](double x) { return 1 / (std::cos(x) * std::cos(x)); }, -1.4, 1.4},
      {"asin", [](const Var& x) { return Var(asin(x)); }, [](double x) { return std::asin(x); },
       [](double x) { return 1 / std::sqrt(1 - x * x); }, -0.95, 0.95},
      {"acos", [](const Var& x) { return Var(acos(x)); }, [](double x) { return std::acos(x); },
       [](double x) { return -1 / std::sqrt(1 - x * x); }, -0.95, 0.95},
      {"atan", [](const Var& x) { return Var(atan(x)); }, [](double x) { return std::atan(x); },
       [](double x) { return 1 / (1 + x * x); }, -5, 5},
      {"sinh", [](const Var& x) { return Var(sinh(x)); }, [](double x) { return std::sinh(x); },
       [](double x) { return std::cosh(x); }, -5, 5},
      {"cosh", [](const Var& x) { return Var(cosh(x)); }, [](double x) { return std::cosh(x); },
       [](double x) { return std::sinh(x); }, -5, 5},
      {"tanh", [](const Var& x) { return Var(tanh(x)); }, [](double x) { return std::tanh(x); },
       [](double x) { return 1 / (std::cosh(x) * std::cosh(x)); }, -5, 5},
      {"asinh", [](const Var& x) { return Var(asinh(x)); }, [](double x) { return std::asinh(x); },
       [](double x) { return 1 / std::sqrt(x * x + 1); }, -5, 5},
      {"acosh", [](const Var& x) { return Var(acosh(x)); }, [](double x) { return std::acosh(x); },
       [](double x) { return 1 / std::sqrt(x * x - 1); }, 1.1, 10},
      {"atanh", [](const Var& x) { return Var(atanh(x)); }, [](double x) { return std::atanh(x); },
       [](double x) { return 1 / (1 - x * x); }, -0.95, 0.95},
      {"erf", [](const Var& x) { return Var(erf(x)); }, [](double x) { return std::erf(x); },
       [](double x) { return 2 / std::sqrt(pi) * std::exp(-x * x); }, -3, 3},
      {"erfc", [](const Var& x) { return Var(erfc(x)); }, [](double x) { return std::erfc(x); },
       [](double x) { return -2 / std::sqrt(pi) * std::exp(-x * x); }, -3, 3},
      {"sigmoid", [](const Var& x) { return Var(subgrad::sigmoid(x)); },
       [](double x) { return 1 / (1 + std::exp(-x)); },
       [](double x) { return std::exp(-x) / ((1 + std::exp(-x)) * (1 + std::exp(-x))); }, -8, 8},
      {"abs", [](const Var& x) { return Var(abs(x)); }, [](double x) { return std::abs(x); },
       [](double x) { return x > 0 ? 1.0 : -1.0; }, -5, 5},
      {"fabs", [](const Var& x) { return Var(fabs(x)); }, [](double x) { return std::fabs(x); },
       [](double x) { return x > 0 ? 1.0 : -1.0; }, -5, 5},
      {"pow(x, 2.5)", [](const Var& x) { return Var(pow(x, 2.5)); },
       [](double x) { return std::pow(x, 2.5); }, [](double x) { return 2.5 * std::pow(x, 1.5); },
       0.1, 5},
      {"pow(1.7, x)", [](const Var& x) { return Var(pow(1.7, x)); },
       [](double x) { return std::pow(1.7, x); },
       [](double x) { return std::log(1.7) * std::pow(1.7, x); }, -5, 5},
      {"clamp(x, -2, 3)", [](const Var& x) { return Var(subgrad::clamp(x, -2.0, 3.0)); },
       [](double x) { return std::clamp(x, -2.0, 3.0); },
       [](double x) { return x > -2 && x < 3 ? 1.0 : 0.0; }, -5, 5},
      {"floor", [](const Var& x) { return Var(floor(x)); }, [](double x) { return std::floor(x); },
       [](double) { return 0.0; }, -5, 5},
      {"ceil", [](const Var& x) { return Var(ceil(x)); }, [](double x) { return std::ceil(x); },
       [](double) { return 0.0; }, -5, 5},
      {"round", [](const Var& x) { return Var(round(x)); }, [](double x) { return std::round(x); },
       [](double) { return 0.0; }, -5, 5},
  };
}

// A grid that avoids the integers and 0 (kinks and jumps are tested exactly below).
std::vector<double> grid(double low, double high) {
  std::vector<double> points;
  for (int k = 0; k <= 40; ++k) points.push_back(low + (high - low) * (k + 0.37) / 41.0);
  return points;
}

}  // namespace

BOOST_AUTO_TEST_CASE(values_and_derivatives_against_the_analytic_formulas) {
  for (const UnaryCase& c : unary_cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      for (double x0 : grid(c.low, c.high)) {
        BOOST_TEST_CONTEXT("x = " << x0) {
          Tape tape;
          Var x = x0;
          Var y = c.on_var(x);
          BOOST_TEST(y.value() == c.on_double(x0), boost::test_tools::tolerance(1e-15));
          const double expected = c.derivative(x0);
          const double actual = subgrad::grad(y, x);
          BOOST_TEST(actual == expected, boost::test_tools::tolerance(1e-13));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(derivatives_against_central_differences) {
  for (const UnaryCase& c : unary_cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      for (double x0 : grid(c.low, c.high)) {
        const double h = 1e-5 * std::max(1.0, std::abs(x0));
        // Discontinuous functions: skip stencils that straddle a jump.
        if (std::floor(x0 - h) != std::floor(x0 + h) || std::round(x0 - h) != std::round(x0 + h))
          continue;
        const double numeric = (c.on_double(x0 + h) - c.on_double(x0 - h)) / (2 * h);
        Tape tape;
        Var x = x0;
        const double actual = subgrad::grad(c.on_var(x), x);
        // Central difference error: h^2 |f'''| / 6 + eps |f| / h, well below 1e-6 relative here.
        BOOST_TEST(actual == numeric, boost::test_tools::tolerance(1e-6));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(binary_functions_against_analytic_partials) {
  Tape tape;
  Var x = 1.3, y = -0.7;
  auto check = [&](auto expression, double dx, double dy) {
    const auto g = subgrad::grad(expression, x, y);
    BOOST_TEST(g[0] == dx, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(g[1] == dy, boost::test_tools::tolerance(1e-14));
  };
  const double r2 = 1.3 * 1.3 + 0.7 * 0.7;
  check(atan2(y, x), 0.7 / r2, 1.3 / r2);  // d/dx atan2(y, x) = -y/r2, d/dy = x/r2
  check(hypot(x, y), 1.3 / std::sqrt(r2), -0.7 / std::sqrt(r2));
  Var p = 2.0;
  const auto g = subgrad::grad(pow(x, p), x, p);
  BOOST_TEST(g[0] == 2.0 * 1.3, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(g[1] == std::log(1.3) * 1.3 * 1.3, boost::test_tools::tolerance(1e-14));
  check(max(x, y), 1.0, 0.0);
  check(min(x, y), 0.0, 1.0);
  check(fmax(x, y), 1.0, 0.0);
  check(fmin(x, y), 0.0, 1.0);
}

BOOST_AUTO_TEST_CASE(abs_at_zero_under_every_rule) {
  Tape tape;
  Var x = 0.0;
  BOOST_TEST(subgrad::grad(abs(x), x) == 0.0);
  BOOST_TEST(subgrad::grad(abs(x, kink::left), x) == -1.0);
  BOOST_TEST(subgrad::grad(abs(x, kink::right), x) == 1.0);
  BOOST_TEST(subgrad::grad(abs(x, kink::midpoint), x) == 0.0);
  BOOST_TEST(subgrad::grad(abs(x, kink::convex(0.75)), x) == 0.5);
  BOOST_TEST(subgrad::grad(fabs(x, kink::left), x) == -1.0);
  Var negative_zero = -0.0;
  BOOST_TEST(abs(negative_zero).value() == 0.0);
  BOOST_TEST(!std::signbit(abs(negative_zero).value()));
}

BOOST_AUTO_TEST_CASE(max_and_min_ties_under_every_rule) {
  Tape tape;
  Var x = 1.5, y = 1.5;
  auto partials = [&](auto expression) { return subgrad::grad(expression, x, y); };
  using Pair = std::array<double, 2>;
  // max at a tie: left (0, 1), right (1, 0).
  BOOST_TEST((partials(max(x, y)) == Pair{0.5, 0.5}));
  BOOST_TEST((partials(max(x, y, kink::midpoint)) == Pair{0.5, 0.5}));
  BOOST_TEST((partials(max(x, y, kink::left)) == Pair{0.0, 1.0}));
  BOOST_TEST((partials(max(x, y, kink::right)) == Pair{1.0, 0.0}));
  BOOST_TEST((partials(max(x, y, kink::convex(0.3))) == Pair{0.3, 0.7}));
  BOOST_TEST((partials(fmax(x, y, kink::convex(0.3))) == Pair{0.3, 0.7}));
  // min at a tie: left (1, 0), right (0, 1).
  BOOST_TEST((partials(min(x, y)) == Pair{0.5, 0.5}));
  BOOST_TEST((partials(min(x, y, kink::left)) == Pair{1.0, 0.0}));
  BOOST_TEST((partials(min(x, y, kink::right)) == Pair{0.0, 1.0}));
  BOOST_TEST((partials(min(x, y, kink::convex(0.3))) == Pair{0.7, 0.3}));
  BOOST_TEST((partials(fmin(x, y, kink::convex(0.3))) == Pair{0.7, 0.3}));
  // A passive side: max(x, 1.5) at the tie.
  BOOST_TEST(subgrad::grad(max(x, 1.5), x) == 0.5);
  BOOST_TEST(subgrad::grad(max(x, 1.5, kink::right), x) == 1.0);
}

BOOST_AUTO_TEST_CASE(nan_handling_of_max_and_fmax) {
  Tape tape;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Var x = nan, y = 2.0;
  BOOST_TEST(std::isnan(max(x, y).value()));
  BOOST_TEST(fmax(x, y).value() == 2.0);
  const auto g = subgrad::grad(fmax(x, y), x, y);
  BOOST_TEST(g[0] == 0.0);
  BOOST_TEST(g[1] == 1.0);
}

BOOST_AUTO_TEST_CASE(clamp_at_its_bounds_under_every_rule) {
  Tape tape;
  Var lo = -2.0, hi = 3.0;
  // at lo: left 0, right 1; at hi: left 1, right 0.
  BOOST_TEST(subgrad::grad(subgrad::clamp(lo, -2.0, 3.0), lo) == 0.0);
  BOOST_TEST(subgrad::grad(subgrad::clamp(lo, -2.0, 3.0, kink::left), lo) == 0.0);
  BOOST_TEST(subgrad::grad(subgrad::clamp(lo, -2.0, 3.0, kink::right), lo) == 1.0);
  BOOST_TEST(subgrad::grad(subgrad::clamp(lo, -2.0, 3.0, kink::midpoint), lo) == 0.5);
  BOOST_TEST(subgrad::grad(subgrad::clamp(hi, -2.0, 3.0), hi) == 0.0);
  BOOST_TEST(subgrad::grad(subgrad::clamp(hi, -2.0, 3.0, kink::left), hi) == 1.0);
  BOOST_TEST(subgrad::grad(subgrad::clamp(hi, -2.0, 3.0, kink::right), hi) == 0.0);
  BOOST_TEST(subgrad::grad(subgrad::clamp(hi, -2.0, 3.0, kink::convex(0.25)), hi) == 0.75);
  BOOST_CHECK_EXCEPTION(subgrad::clamp(lo, 3.0, -2.0), subgrad::Error, [](const subgrad::Error& e) {
    return std::string(e.what()).find("subgrad::clamp: lo = 3") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(special_points_follow_ieee_and_documented_limits) {
  Tape tape;
  Var zero = 0.0;
  BOOST_TEST(std::isinf(subgrad::grad(sqrt(zero), zero)));
  BOOST_TEST(subgrad::grad(pow(zero, 2.0), zero) == 0.0);
  BOOST_TEST(subgrad::grad(pow(zero, 0.0), zero) == 0.0);
  BOOST_TEST(subgrad::grad(pow(0.0, zero), zero) == 0.0);
  Var y = 0.0;
  BOOST_TEST((subgrad::grad(hypot(zero, y), zero, y) == std::array<double, 2>{0.0, 0.0}));
  Var integer = 2.0;
  BOOST_TEST(subgrad::grad(floor(integer), integer) == 0.0);
}
