#include "subgrad/forward/dual.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/gradient.hpp"
#include "subgrad/forward/derivative.hpp"
#include "subgrad/forward/format.hpp"
#include "subgrad/math/registry.hpp"

using subgrad::Dual;
using subgrad::KinkRule;
using subgrad::Tape;
using subgrad::Var;
namespace kink = subgrad::kink;

namespace {}

BOOST_AUTO_TEST_CASE(arithmetic_carries_tangents) {
  const Dual<double> x{3.0, 1.0};
  const Dual<double> y = x * x / (x + 1.0) - 2.0 * x;
  const double expected = (2 * 3.0 * 4.0 - 9.0) / 16.0 - 2.0;  // d/dx x^2/(x+1) - 2x
  BOOST_TEST(y.value() == 9.0 / 4.0 - 6.0);
  BOOST_TEST(y.tangent() == expected, boost::test_tools::tolerance(1e-15));
  Dual<double> z = x;
  z += x;
  z *= 2.0;
  BOOST_TEST(z.tangent() == 4.0);
  BOOST_TEST((x > 2.0));
  BOOST_TEST((1.0 < x));
  BOOST_TEST(fmt::format("{}", x) == "3 + 1ε");
  std::ostringstream out;
  out << x << ", " << std::setprecision(2) << Dual<double>{1.0 / 3.0, 2.0 / 3.0} << ", "
      << Dual<Dual<double>>{{0.5, 1.0}, {1.0, 0.0}};
  BOOST_TEST(out.str() == "3 + 1ε, 0.33 + 0.67ε, 0.5 + 1ε");
}

BOOST_AUTO_TEST_CASE(forward_equals_reverse_at_every_kink_under_every_rule) {
  int compared = 0;
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    const subgrad::Primitive<decltype(entry.rule)> f{entry.rule};
    std::vector<double> points{entry.low, 0.5 * (entry.low + entry.high), entry.high};
    for (const auto& k : subgrad::rule_kinks(entry.rule, entry.low, entry.high))
      points.push_back(k.at);
    for (double at : points) {
      for (KinkRule rule : kink::all) {
        BOOST_TEST_CONTEXT(entry.name << " at " << at << " rule " << rule.name()) {
          Tape tape;
          Var x = at;
          const double reverse = subgrad::grad(f(x, rule), x);
          const Dual<double> forward = f(Dual<double>{at, 1.0}, rule);
          BOOST_TEST(forward.value() == f(at));
          if (std::isnan(reverse)) {
            BOOST_TEST(std::isnan(forward.tangent()));
          } else {
            BOOST_TEST(forward.tangent() == reverse);  // the same rule: bit for bit
          }
          ++compared;
        }
      }
    }
  });
  BOOST_TEST(compared > 500);
}

BOOST_AUTO_TEST_CASE(binary_primitives_and_maxout_forward_equal_reverse) {
  for (KinkRule rule : kink::all) {
    Tape tape;
    Var a = 1.5, b = 1.5, c = -0.5;
    const auto reverse_max = subgrad::grad(max(a, b, rule), a, b);
    BOOST_TEST(max(Dual<double>{1.5, 1.0}, Dual<double>{1.5, 0.0}, rule).tangent() ==
               reverse_max[0]);
    BOOST_TEST(max(Dual<double>{1.5, 0.0}, Dual<double>{1.5, 1.0}, rule).tangent() ==
               reverse_max[1]);
    const auto reverse_min = subgrad::grad(min(a, b, rule), a, b);
    BOOST_TEST(min(Dual<double>{1.5, 1.0}, 1.5, rule).tangent() == reverse_min[0]);
    const auto reverse_maxout = subgrad::grad(maxout(a, c, b, rule), a, c, b);
    const Dual<double> forward =
        maxout(Dual<double>{1.5, 1.0}, Dual<double>{-0.5, 10.0}, Dual<double>{1.5, 100.0}, rule);
    BOOST_TEST(forward.tangent() ==
               reverse_maxout[0] + 10.0 * reverse_maxout[1] + 100.0 * reverse_maxout[2]);
    Var x = 0.0, slope = 0.25;
    const auto reverse_prelu = subgrad::grad(prelu(x, slope, rule), x, slope);
    BOOST_TEST(prelu(Dual<double>{0.0, 1.0}, 0.25, rule).tangent() == reverse_prelu[0]);
  }
  BOOST_TEST(pow(Dual<double>{2.0, 1.0}, Dual<double>{3.0, 0.0}).tangent() == 12.0,
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(pow(2.0, Dual<double>{3.0, 1.0}).tangent() == 8.0 * std::log(2.0),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(atan2(Dual<double>{1.0, 1.0}, 2.0).tangent() == 2.0 / 5.0,
             boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(nested_duals_give_second_derivatives) {
  // d2/dx2 at x0 of several functions, against their analytic second derivatives.
  auto second = [](auto f, double x0) {
    const Dual<Dual<double>> x{Dual<double>{x0, 1.0}, Dual<double>{1.0, 0.0}};
    return f(x).tangent().tangent();
  };
  const double x0 = 0.7;
  BOOST_TEST(second([](auto x) { return sin(x) * x; }, x0) == 2 * std::cos(x0) - x0 * std::sin(x0),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(second([](auto x) { return exp(x * 2.0); }, x0) == 4 * std::exp(2 * x0),
             boost::test_tools::tolerance(1e-14));
  const double phi = std::exp(-x0 * x0 / 2) / std::sqrt(2 * M_PI);
  BOOST_TEST(second([](auto x) { return gelu(x); }, x0) == phi * (2 - x0 * x0),
             boost::test_tools::tolerance(1e-13));
  BOOST_TEST(second([](auto x) { return elu(x - 1.0); }, x0) == std::exp(x0 - 1),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(second([](auto x) { return relu(x) * relu(x); }, x0) == 2.0);
  BOOST_TEST(second([](auto x) { return pow(x, 3.0); }, x0) == 6 * x0,
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(second([](auto x) { return max(x * x, 0.1); }, x0) == 2.0,
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(second([](auto x) { return tanh(x); }, 2.0) ==
                 -2 * std::tanh(2.0) * (1 - std::tanh(2.0) * std::tanh(2.0)),
             boost::test_tools::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(derivative_and_jvp) {
  BOOST_TEST(subgrad::derivative([](Dual<double> x) { return x * sin(x); }, 1.2) ==
                 std::sin(1.2) + 1.2 * std::cos(1.2),
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(subgrad::derivative([](Dual<double> x) { return relu(x); }, 0.0) == 0.0);
  auto f = [](std::span<const Dual<double>> x) {
    return std::vector<Dual<double>>{x[0] * x[1], relu(x[0] - x[1])};
  };
  const std::vector<double> jv =
      subgrad::jvp(f, std::vector<double>{2.0, 3.0}, std::vector<double>{1.0, -1.0});
  BOOST_TEST(jv == (std::vector<double>{3.0 - 2.0, 0.0}), boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(subgrad::jvp(f, std::vector<double>{2.0, 3.0}, std::vector<double>{1.0}),
                        subgrad::Error, [](const subgrad::Error& e) {
                          return std::string(e.what()).find("subgrad::jvp") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(scopes_apply_to_forward_mode) {
  subgrad::KinkScope scope{kink::right};
  BOOST_TEST(relu(Dual<double>{0.0, 1.0}).tangent() == 1.0);
  BOOST_TEST(abs(Dual<double>{0.0, 1.0}).tangent() == 1.0);
}
