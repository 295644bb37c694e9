// Every registered primitive on a grid of extreme inputs (signed zeros, denormals, 1e+-300,
// the largest doubles, infinities, NaN), under every kink rule:
// - a finite value never comes with a NaN slope, partial or derivative;
// - the value is the same in double, Var and Dual code;
// - reverse mode (Var) and forward mode (Dual) agree wherever either is defined.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/test/unit_test.hpp>

#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/forward/dual.hpp"
#include "subgrad/math/registry.hpp"

using subgrad::Dual;
using subgrad::KinkRule;
using subgrad::Tape;
using subgrad::Var;

namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double denormal = std::numeric_limits<double>::denorm_min();
constexpr double largest = std::numeric_limits<double>::max();

const std::vector<double> unary_grid = {0.0,      -0.0,      denormal, -denormal, 1e-310,  -1e-310,
                                        1e-300,   -1e-300,   1e-155,   -1e-155,   1e155,   -1e155,
                                        1e300,    -1e300,    1e308,    -1e308,    largest, -largest,
                                        infinity, -infinity, nan,      1.0,       -1.0,    0.5};
const std::vector<double> binary_grid = {0.0,      -0.0,      denormal, -denormal, 1.0,
                                         -1.0,     1e300,     -1e300,   largest,   -largest,
                                         infinity, -infinity, nan,      2.0};

// Equal as values: bit-for-bit up to the sign of zero, or both NaN.
bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }
// Forward and reverse agree where either is defined: equal, or both NaN.
bool agree(double reverse, double forward) { return same(reverse, forward); }

std::string show(double x) { return fmt::format("{}", x); }

}  // namespace

BOOST_AUTO_TEST_CASE(unary_primitives_on_extreme_inputs) {
  int checked = 0;
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    for (const KinkRule rule : subgrad::kink::all) {
      for (const double x : unary_grid) {
        BOOST_TEST_CONTEXT(entry.name << " at x = " << show(x) << " under " << rule.name()) {
          const double value = subgrad::rule_value(entry.rule, x);
          const subgrad::Slopes slopes = subgrad::rule_slopes(entry.rule, x);
          if (std::isfinite(value)) {
            BOOST_TEST(!std::isnan(slopes.left));
            BOOST_TEST(!std::isnan(slopes.right));
          }

          Tape tape;
          Var input = x;
          const Var output = entry.call(input, rule);
          BOOST_TEST(same(output.value(), value));
          const double reverse = subgrad::grad(output, input);

          const Dual<double> forward = entry.call(Dual<double>(x, 1.0), rule);
          BOOST_TEST(same(forward.value(), value));
          BOOST_TEST(agree(reverse, forward.tangent()),
                     "reverse " << reverse << ", forward " << forward.tangent());
          if (std::isfinite(value)) BOOST_TEST(!std::isnan(reverse));
          ++checked;
        }
      }
    }
  });
  BOOST_TEST(checked > 1000);
}

BOOST_AUTO_TEST_CASE(binary_primitives_on_extreme_inputs) {
  int checked = 0;
  subgrad::for_each_binary_primitive([&](const auto& entry) {
    for (const KinkRule rule : subgrad::kink::all) {
      for (const double x : binary_grid) {
        for (const double y : binary_grid) {
          BOOST_TEST_CONTEXT(entry.name << " at (" << show(x) << ", " << show(y) << ") under "
                                        << rule.name()) {
            const auto evaluation = subgrad::evaluate(entry.rule, x, y);
            const double value = evaluation.value;
            const auto& slopes = evaluation.slopes;
            if (std::isfinite(value)) {
              BOOST_TEST(!std::isnan(slopes.x.left));
              BOOST_TEST(!std::isnan(slopes.x.right));
              BOOST_TEST(!std::isnan(slopes.y.left));
              BOOST_TEST(!std::isnan(slopes.y.right));
            }

            Tape tape;
            Var a = x;
            Var b = y;
            const Var output = entry.function(a, b, rule);
            BOOST_TEST(same(output.value(), value));
            subgrad::backward(output);
            const double reverse_x = a.adjoint();
            const double reverse_y = b.adjoint();

            const Dual<double> along_x =
                entry.function(Dual<double>(x, 1.0), Dual<double>(y), rule);
            const Dual<double> along_y =
                entry.function(Dual<double>(x), Dual<double>(y, 1.0), rule);
            BOOST_TEST(same(along_x.value(), value));
            BOOST_TEST(agree(reverse_x, along_x.tangent()),
                       "d/dx: reverse " << reverse_x << ", forward " << along_x.tangent());
            BOOST_TEST(agree(reverse_y, along_y.tangent()),
                       "d/dy: reverse " << reverse_y << ", forward " << along_y.tangent());
            if (std::isfinite(value)) {
              BOOST_TEST(!std::isnan(reverse_x));
              BOOST_TEST(!std::isnan(reverse_y));
            }
            ++checked;
          }
        }
      }
    }
  });
  BOOST_TEST(checked > 1000);
}
