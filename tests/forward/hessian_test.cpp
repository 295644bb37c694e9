// Second order: hessian and hessian_vector_product (forward over reverse, Dual<Var>) against
// forward over forward (Dual<Dual<double>>), analytic Hessians and finite differences of the
// gradient; every registered primitive on Dual<Var> and Dual<Dual<double>>, kinks included.
#include "subgrad/forward/hessian.hpp"

#include <cmath>
#include <span>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/math/registry.hpp"
#include "subgrad/subgrad.hpp"

using subgrad::Dual;
using subgrad::KinkRule;
using subgrad::Tape;
using subgrad::Var;
namespace kink = subgrad::kink;

namespace {

// A smooth function of three inputs, written once for every scalar type.
template <class T>
T smooth(std::span<const T> x) {
  using std::exp;
  using std::sin;
  return x[0] * x[0] * x[1] + sin(x[1]) * x[2] + exp(x[0] * x[2]) + subgrad::softplus(x[1] - x[2]);
}

// H[i][j] by forward over forward: seed e_i in the inner tangent, e_j in the outer one.
template <class F>
std::vector<std::vector<double>> forward_over_forward(F f, const std::vector<double>& x) {
  const std::size_t n = x.size();
  std::vector<std::vector<double>> h(n, std::vector<double>(n));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      std::vector<Dual<Dual<double>>> in;
      for (std::size_t k = 0; k < n; ++k) {
        in.emplace_back(Dual<double>{x[k], k == i ? 1.0 : 0.0},
                        Dual<double>{k == j ? 1.0 : 0.0, 0.0});
      }
      h[i][j] = f(std::span<const Dual<Dual<double>>>(in)).tangent().tangent();
    }
  }
  return h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_hessian_equals_forward_over_forward_and_finite_differences) {
  const std::vector<double> x{0.3, -0.7, 1.1};
  const auto h = subgrad::hessian([](std::span<const Dual<Var>> v) { return smooth(v); }, x);
  const auto reference =
      forward_over_forward([](std::span<const Dual<Dual<double>>> v) { return smooth(v); }, x);
  BOOST_REQUIRE(h.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      BOOST_TEST_CONTEXT("H[" << i << "][" << j << "]") {
        BOOST_TEST(h[i][j] == reference[i][j], boost::test_tools::tolerance(1e-13));
        BOOST_TEST(h[i][j] == h[j][i], boost::test_tools::tolerance(1e-13));  // symmetric
      }
    }
  }
  // Central differences of the reverse-mode gradient, step 1e-5: agreement to about 1e-9.
  const double step = 1e-5;
  for (std::size_t j = 0; j < 3; ++j) {
    std::vector<double> up = x, down = x;
    up[j] += step;
    down[j] -= step;
    const auto f = [](std::span<const Var> v) { return smooth(v); };
    const std::vector<double> g_up = subgrad::gradient(f, up), g_down = subgrad::gradient(f, down);
    for (std::size_t i = 0; i < 3; ++i) {
      BOOST_TEST(h[i][j] == (g_up[i] - g_down[i]) / (2 * step), boost::test_tools::tolerance(1e-7));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_hessian_vector_product_is_h_times_v_from_one_sweep) {
  const std::vector<double> x{0.3, -0.7, 1.1}, v{0.5, -2.0, 0.25};
  auto f = [](std::span<const Dual<Var>> in) { return smooth(in); };
  const auto h = subgrad::hessian(f, x);
  const auto hv = subgrad::hessian_vector_product(f, x, v);
  for (std::size_t i = 0; i < 3; ++i) {
    const double expected = h[i][0] * v[0] + h[i][1] * v[1] + h[i][2] * v[2];
    BOOST_TEST(hv[i] == expected, boost::test_tools::tolerance(1e-13));
  }
  // The Rosenbrock function's Hessian, analytically.
  auto rosenbrock = [](std::span<const Dual<Var>> in) {
    const Dual<Var> a = 1.0 - in[0], b = in[1] - in[0] * in[0];
    return a * a + 100.0 * b * b;
  };
  const std::vector<double> p{1.5, 0.5};
  const auto hr = subgrad::hessian(rosenbrock, p);
  BOOST_TEST(hr[0][0] == 1200 * p[0] * p[0] - 400 * p[1] + 2, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(hr[0][1] == -400 * p[0], boost::test_tools::tolerance(1e-14));
  BOOST_TEST(hr[1][1] == 200.0);
  BOOST_CHECK_THROW(subgrad::hessian_vector_product(f, x, std::vector<double>{1.0}),
                    subgrad::Error);
  // A function linear along v: H v = 0 though nothing second-order was recorded.
  auto linear = [](std::span<const Dual<Var>> in) { return 3.0 * in[0] - in[1]; };
  const auto zero = subgrad::hessian_vector_product(linear, std::vector<double>{1.0, 2.0},
                                                    std::vector<double>{1.0, 1.0});
  BOOST_TEST(zero[0] == 0.0);
  BOOST_TEST(zero[1] == 0.0);
}

BOOST_AUTO_TEST_CASE(every_primitive_works_on_dual_var_and_dual_dual_double_alike) {
  // f''(x) of each registered unary primitive at points of its range and at its kinks, under
  // every kink rule: forward over reverse equals forward over forward.
  int compared = 0;
  subgrad::for_each_unary_primitive([&](const auto& entry) {
    const subgrad::Primitive<decltype(entry.rule)> f{entry.rule};
    std::vector<double> points{entry.low, 0.3 * entry.low + 0.7 * entry.high, entry.high};
    for (const auto& k : subgrad::rule_kinks(entry.rule, entry.low, entry.high))
      points.push_back(k.at);
    for (const double at : points) {
      for (const KinkRule rule : kink::all) {
        BOOST_TEST_CONTEXT(entry.name << " at " << at << " rule " << rule.name()) {
          const std::vector<double> x{at};
          const auto over_reverse = subgrad::hessian(
              [&](std::span<const Dual<Var>> in) { return Dual<Var>(f(in[0], rule)); }, x);
          const Dual<Dual<double>> in{Dual<double>{at, 1.0}, Dual<double>{1.0, 0.0}};
          const double over_forward = f(in, rule).tangent().tangent();
          if (std::isnan(over_forward)) {
            BOOST_TEST(std::isnan(over_reverse[0][0]));
          } else {
            BOOST_TEST(over_reverse[0][0] == over_forward, boost::test_tools::tolerance(1e-12));
          }
          ++compared;
        }
      }
    }
  });
  BOOST_TEST(compared > 500);
}

BOOST_AUTO_TEST_CASE(at_a_kink_the_second_derivative_is_that_of_the_side_the_rule_took) {
  auto second = [](auto function, double at, KinkRule rule) {
    return subgrad::hessian(
        [&](std::span<const Dual<Var>> in) { return Dual<Var>(function(in[0], rule)); },
        std::vector<double>{at})[0][0];
  };
  auto relu = [](const auto& x, KinkRule rule) { return subgrad::relu(x, rule); };
  auto elu = [](const auto& x, KinkRule rule) { return subgrad::elu(x, 0.5, rule); };
  for (const KinkRule rule : kink::all) BOOST_TEST(second(relu, 0.0, rule) == 0.0);
  // elu with alpha 0.5: 0.5 (e^x - 1) on the left (f' = 0.5, f'' = 0.5 at 0), x on the right
  // (f' = 1, f'' = 0); convex(0.25) weighs the right side 0.25.
  BOOST_TEST(second(elu, 0.0, kink::left) == 0.5);
  BOOST_TEST(second(elu, 0.0, kink::right) == 0.0);
  BOOST_TEST(second(elu, 0.0, kink::convex(0.25)) == 0.375, boost::test_tools::tolerance(1e-15));
  // With alpha 1 the slopes agree at 0 (f' = 1 on both sides), so no rule is involved: the left
  // piece's f'' (1) is used under every rule.
  auto elu1 = [](const auto& x, KinkRule rule) { return subgrad::elu(x, 1.0, rule); };
  for (const KinkRule rule : kink::all) BOOST_TEST(second(elu1, 0.0, rule) == 1.0);
}

BOOST_AUTO_TEST_CASE(at_a_kink_nested_duals_carry_the_rules_first_derivative_too) {
  // The value part of a nested Dual has the derivative the rule picks, as a plain Dual does.
  for (const KinkRule rule : kink::all) {
    BOOST_TEST_CONTEXT(rule.name()) {
      const double expected = subgrad::relu(Dual<double>{0.0, 1.0}, rule).tangent();
      const Dual<Dual<double>> x{Dual<double>{0.0, 1.0}, Dual<double>{0.0, 0.0}};
      BOOST_TEST(subgrad::relu(x, rule).value().tangent() == expected);
      Tape tape;
      const Var v = 0.0;
      const Dual<Var> y = subgrad::relu(Dual<Var>(v), rule);
      BOOST_TEST(subgrad::grad(y.value(), v) == expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(newtons_method_converges_on_a_smooth_and_on_a_relu_problem) {
  // Newton steps x -= H^-1 g with H from hessian and g from gradient, on two inputs.
  auto newton = [](auto f, std::vector<double> x, int steps) {
    for (int s = 0; s < steps; ++s) {
      const auto h = subgrad::hessian(f, x);
      const std::vector<double> g = subgrad::gradient(
          [&](std::span<const Var> v) {
            std::vector<Dual<Var>> d(v.begin(), v.end());
            return f(std::span<const Dual<Var>>(d)).value();
          },
          x);
      // 2 x 2 solve.
      const double det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
      x[0] -= (h[1][1] * g[0] - h[0][1] * g[1]) / det;
      x[1] -= (h[0][0] * g[1] - h[1][0] * g[0]) / det;
    }
    return x;
  };
  auto smooth_problem = [](std::span<const Dual<Var>> x) {
    const Dual<Var> a = x[0] - 1.0, b = x[1] + 2.0;
    return a * a * a * a * 0.25 + a * a * 0.5 + b * b * 0.5 + a * b * 0.1;
  };
  // The gradient (a^3 + a + 0.1 b, b + 0.1 a) vanishes only at a = b = 0.
  const auto smooth_minimum = newton(smooth_problem, {3.0, 3.0}, 30);
  BOOST_TEST(std::abs(smooth_minimum[0] - 1.0) < 1e-12);
  BOOST_TEST(std::abs(smooth_minimum[1] + 2.0) < 1e-12);
  // With a relu penalty active at the solution: minimum of (x-2)^2 + (y-2)^2 + 10 relu(x+y-2)^2.
  auto relu_problem = [](std::span<const Dual<Var>> x) {
    const Dual<Var> a = x[0] - 2.0, b = x[1] - 2.0;
    const Dual<Var> r = subgrad::relu(x[0] + x[1] - 2.0);
    return a * a + b * b + 10.0 * r * r;
  };
  const auto relu_minimum = newton(relu_problem, {0.0, 0.0}, 20);
  // The first step lands on (2, 2), where the penalty is active; on that quadratic piece Newton
  // is exact. By symmetry x = y = t with 2 (t - 2) + 20 (2t - 2) = 0: t = 22 / 21.
  BOOST_TEST(relu_minimum[0] == 22.0 / 21.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(relu_minimum[1] == 22.0 / 21.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(constants_on_dual_var_record_nothing) {
  // A Dual<Var> made from a number, the tangent 0 of a Dual<Var> made from a Var, and the
  // constants inside the rules (relu's slope 1, max's constant side) are Vars on no tape. Each
  // used to record a new independent variable: relu recorded 4 statements, max(x, 0.0) 9.
  Tape tape;
  const Var value = 0.3, direction = 1.0;
  const Dual<Var> x{value, direction};
  auto recorded = [&tape](auto&& make) {
    const std::size_t before = tape.statement_count();
    const Dual<Var> result = make();
    return std::pair{tape.statement_count() - before, result};
  };
  BOOST_TEST(recorded([] { return Dual<Var>(2.0); }).first == 0u);
  BOOST_TEST(recorded([&] { return Dual<Var>(value); }).first == 0u);
  const auto [relu_statements, relu] = recorded([&] { return subgrad::relu(x); });
  BOOST_TEST(relu_statements == 1u);  // the tangent 1 * direction; the value is x's own Var
  BOOST_TEST(relu.value().value() == 0.3);
  BOOST_TEST(subgrad::grad(relu.tangent(), direction) == 1.0);
  const auto [max_statements, larger] = recorded([&] { return subgrad::max(x, 0.0); });
  BOOST_TEST(max_statements == 2u);  // the value and the tangent
  BOOST_TEST(larger.value().value() == 0.3);
  BOOST_TEST(subgrad::grad(larger.tangent(), direction) == 1.0);
}
