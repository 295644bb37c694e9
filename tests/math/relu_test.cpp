#include "subgrad/math/relu.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/gradient.hpp"
#include "subgrad/forward/dual.hpp"
#include "subgrad/math/smooth_activations.hpp"

using subgrad::ReluOptions;
using subgrad::Tape;
using subgrad::Var;
namespace kink = subgrad::kink;

BOOST_AUTO_TEST_CASE(functions_work_on_double_var_and_expressions) {
  BOOST_TEST(subgrad::relu(-2.0) == 0.0);
  BOOST_TEST(subgrad::leaky_relu(-2.0) == -0.02);
  BOOST_TEST(subgrad::hardswish(1.0) == 4.0 / 6.0);
  BOOST_TEST(subgrad::selu(1.0) == 1.0507009873554804934193349852946);
  Tape tape;
  Var x = 1.5;
  Var y = relu(2.0 * x - 1.0) + leaky_relu(-x, 0.2) + relu6(x * 5.0);
  BOOST_TEST(y.value() == 2.0 - 0.3 + 6.0);
  BOOST_TEST(subgrad::grad(y, x) == 2.0 - 0.2 + 0.0);
}

// Relu's branch-free value (what element-wise loops call) is evaluate's value bit for bit,
// signed zeros and NaN included, in double and float.
template <class T>
void check_relu_value_matches_evaluate() {
  const subgrad::rules::Relu rule;
  const T denormal = std::numeric_limits<T>::denorm_min();
  const T infinity = std::numeric_limits<T>::infinity();
  std::vector<T> grid = {T(0),
                         -T(0),
                         denormal,
                         -denormal,
                         T(1),
                         T(-1),
                         infinity,
                         -infinity,
                         std::numeric_limits<T>::max(),
                         std::numeric_limits<T>::lowest(),
                         std::numeric_limits<T>::quiet_NaN()};
  std::mt19937 generator(5);
  std::normal_distribution<double> normal(0.0, 10.0);
  for (int k = 0; k < 1000; ++k) grid.push_back(static_cast<T>(normal(generator)));
  for (const T x : grid) {
    BOOST_TEST_CONTEXT("x = " << x) {
      const T fast = rule.value(x);
      const T reference = rule.evaluate(x).value;
      if (std::isnan(reference)) {
        BOOST_TEST(std::isnan(fast));
      } else {
        BOOST_TEST(fast == reference);
        BOOST_TEST(std::signbit(fast) == std::signbit(reference));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(relu_value_without_a_branch_is_its_evaluation) {
  check_relu_value_matches_evaluate<double>();
  check_relu_value_matches_evaluate<float>();
}

// Relu's and LeakyRelu's branch-free derivative (what element-wise backward loops call), given
// the kink rule's pick at 0, is the derivative the rule picks from evaluate's slopes, for every
// kink rule, on the same grid (float values are widened, as the tensor loops do).
template <class Rule>
void check_derivative_matches_the_chosen_slope(const Rule& rule) {
  const double denormal = std::numeric_limits<double>::denorm_min();
  const double infinity = std::numeric_limits<double>::infinity();
  std::vector<double> grid = {0.0,
                              -0.0,
                              denormal,
                              -denormal,
                              1.0,
                              -1.0,
                              infinity,
                              -infinity,
                              std::numeric_limits<double>::max(),
                              std::numeric_limits<double>::lowest(),
                              std::numeric_limits<double>::quiet_NaN(),
                              static_cast<double>(std::numeric_limits<float>::denorm_min())};
  std::mt19937 generator(6);
  std::normal_distribution<double> normal(0.0, 10.0);
  for (int k = 0; k < 1000; ++k) grid.push_back(normal(generator));
  for (const subgrad::KinkRule kink_rule :
       {kink::min_norm, kink::left, kink::right, kink::midpoint, kink::convex(0.3)}) {
    const double at_kink = subgrad::chosen_derivative(subgrad::rule_slopes(rule, 0.0),
                                                      subgrad::CallKinkRule{kink_rule});
    for (const double x : grid) {
      BOOST_TEST_CONTEXT(rule.name << " under " << kink_rule.name() << ", x = " << x) {
        const double fast = rule.derivative(x, at_kink);
        const double reference = subgrad::chosen_derivative(subgrad::rule_slopes(rule, x),
                                                            subgrad::CallKinkRule{kink_rule});
        if (std::isnan(reference)) {
          BOOST_TEST(std::isnan(fast));
        } else {
          BOOST_TEST(fast == reference);
          BOOST_TEST(std::signbit(fast) == std::signbit(reference));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(relu_derivatives_without_a_branch_are_the_chosen_slopes) {
  check_derivative_matches_the_chosen_slope(subgrad::rules::Relu{});
  check_derivative_matches_the_chosen_slope(subgrad::rules::LeakyRelu{0.01});
  check_derivative_matches_the_chosen_slope(subgrad::rules::LeakyRelu{0.2});
  check_derivative_matches_the_chosen_slope(subgrad::rules::LeakyRelu{1.0});
  check_derivative_matches_the_chosen_slope(subgrad::rules::LeakyRelu{-0.5});
  check_derivative_matches_the_chosen_slope(subgrad::rules::Rrelu{0.1, 0.3});
}

BOOST_AUTO_TEST_CASE(per_call_rules_on_every_kinked_function) {
  Tape tape;
  Var zero = 0.0, three = 3.0, one = 1.0;
  BOOST_TEST(subgrad::grad(relu(zero, kink::right), zero) == 1.0);
  BOOST_TEST(subgrad::grad(leaky_relu(zero, kink::left), zero) == 0.01);
  BOOST_TEST(subgrad::grad(leaky_relu(zero, 0.3, kink::midpoint), zero) == 0.65);
  BOOST_TEST(subgrad::grad(relu6(zero, kink::right), zero) == 1.0);
  BOOST_TEST(subgrad::grad(hardtanh(one, kink::left), one) == 1.0);
  BOOST_TEST(subgrad::grad(hardtanh(one, -1.0, 1.0, kink::right), one) == 0.0);
  BOOST_TEST(subgrad::grad(hardsigmoid(three, kink::left), three) == 1.0 / 6.0);
  BOOST_TEST(subgrad::grad(hardswish(three, kink::left), three) == 1.5);
  BOOST_TEST(subgrad::grad(selu(zero, kink::left), zero) == 1.7580993408473768599402175208123);
  BOOST_TEST(subgrad::grad(elu(zero, 2.0, kink::left), zero) == 2.0);
  BOOST_TEST(subgrad::grad(threshold(one, 1.0, 0.0, kink::right), one) == 1.0);
  BOOST_TEST(subgrad::grad(thresholded_relu(one, 1.0, kink::right), one) == 1.0);
  BOOST_TEST(subgrad::grad(rrelu(zero, 0.1, 0.3, kink::left), zero) == 0.2,
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(subgrad::grad(squareplus(zero, 0.0, kink::right), zero) == 1.0);
  BOOST_TEST(subgrad::grad(relu(zero, ReluOptions{.negative_slope = 0.1}, kink::left), zero) ==
             0.1);
}

BOOST_AUTO_TEST_CASE(prelu_learns_its_slope) {
  Tape tape;
  Var a = 0.25;
  Var negative = -2.0, positive = 3.0, zero = 0.0;
  auto partials = [&](Var& x) { return subgrad::grad(prelu(x, a), x, a); };
  BOOST_TEST((partials(negative) == std::array<double, 2>{0.25, -2.0}));  // d/da = min(x, 0)
  BOOST_TEST((partials(positive) == std::array<double, 2>{1.0, 0.0}));
  BOOST_TEST((partials(zero) == std::array<double, 2>{0.25, 0.0}));  // min_norm of [a, 1]; d/da = 0
  BOOST_TEST(subgrad::grad(prelu(zero, a, kink::right), zero) == 1.0);
  BOOST_TEST(subgrad::grad(prelu(negative, 0.5), negative) == 0.5);  // a passive slope
  BOOST_TEST(subgrad::prelu(-2.0, 0.5) == -1.0);
}

BOOST_AUTO_TEST_CASE(rrelu_evaluation_and_training_forms) {
  Tape tape;
  Var x = -2.0;
  BOOST_TEST(subgrad::grad(rrelu(x), x) == (1.0 / 8.0 + 1.0 / 3.0) / 2.0);
  const unsigned seed = 12345;
  BOOST_TEST_MESSAGE("rrelu seed " << seed);
  std::mt19937 generator(seed);
  std::mt19937 replay(seed);
  for (int i = 0; i < 200; ++i) {
    Var negative = -1.0 - 0.01 * i;
    const double slope = subgrad::grad(rrelu(negative, generator, 0.1, 0.4), negative);
    BOOST_TEST(slope >= 0.1);
    BOOST_TEST(slope <= 0.4);
    BOOST_TEST(slope == std::uniform_real_distribution<double>(0.1, 0.4)(replay));
  }
  // No draw for x > 0: the generator is left untouched.
  const std::mt19937 before = generator;
  Var positive = 2.0;
  BOOST_TEST(subgrad::grad(rrelu(positive, generator), positive) == 1.0);
  BOOST_TEST((generator == before));
  BOOST_CHECK_THROW(rrelu(x, 0.5, 0.1), subgrad::Error);
}

BOOST_AUTO_TEST_CASE(generalized_relu_follows_keras_values) {
  // relu(x, negative_slope, max_value, threshold) of Keras 3 (reference section 1.3).
  const ReluOptions thresholded{.negative_slope = 0.0, .max_value = std::nullopt, .threshold = 5.0};
  BOOST_TEST(subgrad::relu(5.0, thresholded) == 0.0);  // strict test: 5 -> 0, as Keras's docstring
  BOOST_TEST(subgrad::relu(6.0, thresholded) == 6.0);
  BOOST_TEST(subgrad::relu(4.0, thresholded) == 0.0);
  const ReluOptions leaky_capped{.negative_slope = 0.1, .max_value = 6.0, .threshold = 0.0};
  BOOST_TEST(subgrad::relu(-2.0, leaky_capped) == -0.2);
  BOOST_TEST(subgrad::relu(7.0, leaky_capped) == 6.0);
  BOOST_TEST(subgrad::relu(3.0, leaky_capped) == 3.0);
  const ReluOptions shifted{.negative_slope = 0.2, .max_value = std::nullopt, .threshold = 1.0};
  BOOST_TEST(subgrad::relu(-1.0, shifted) == 0.2 * (-1.0 - 1.0),
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(subgrad::relu(1.0, shifted) == 0.0);
  BOOST_TEST(subgrad::relu(1.5, shifted) == 1.5);
  // Keras gives derivative 0 at 0 with slope 0.1 and max_value 6 (outside [0.1, 1]); the rule here
  // keeps it a Clarke subgradient.
  Tape tape;
  Var zero = 0.0;
  const double d = subgrad::grad(relu(zero, leaky_capped), zero);
  BOOST_TEST(d == 0.1);
  BOOST_CHECK_EXCEPTION(subgrad::relu(1.0, ReluOptions{.max_value = -1.0}), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return std::string(e.what()).find("max_value = -1") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(smooth_members_against_their_formulas) {
  Tape tape;
  for (double x0 : {-2.3, -0.7, 0.4, 1.9}) {
    Var x = x0;
    const double r = std::sqrt(x0 * x0 + 4.0);
    BOOST_TEST(squareplus(x).value() == 0.5 * (x0 + r), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(subgrad::grad(squareplus(x), x) == 0.5 * (1 + x0 / r),
               boost::test_tools::tolerance(1e-15));
    const double smelu_value = x0 <= -1 ? 0.0 : (x0 >= 1 ? x0 : (x0 + 1) * (x0 + 1) / 4);
    const double smelu_slope = x0 <= -1 ? 0.0 : (x0 >= 1 ? 1.0 : (x0 + 1) / 2);
    BOOST_TEST(smelu(x).value() == smelu_value, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(subgrad::grad(smelu(x), x) == smelu_slope, boost::test_tools::tolerance(1e-15));
    const double s = 1 / (1 + std::exp(-2 * x0));
    BOOST_TEST(subgrad::grad(swish(x, 2.0), x) == s + 2 * x0 * s * (1 - s),
               boost::test_tools::tolerance(1e-14));
  }
}

// CryptoDL's polynomials (inspire-lab/CryptoDL, python/kalypso/public_functions.py) evaluated by
// hand at x = bound and x = -bound, p(x) = c2 x^2 + x/2:
//   bound  10: c2 = 0.0263068516521283  p(10)  = 2.63068516521283 + 5   = 7.63068516521283
//                                       p(-10) = 2.63068516521283 - 5   = -2.36931483478717
//   bound  20: c2 = 0.0131555717886246  p(20)  = 5.26222871544984 + 10  = 15.26222871544984
//   bound  50: c2 = 0.005262228802542   p(50)  = 13.155572006355 + 25   = 38.155572006355
//   bound 100: c2 = 0.002631114401271   p(100) = 26.31114401271 + 50    = 76.31114401271
// and the slope at the bound, 2 c2 bound + 1/2, is 1.0261370330425660 for bound 10.
BOOST_AUTO_TEST_CASE(relu_poly_matches_the_cryptodl_polynomials) {
  Tape tape;
  const std::pair<double, double> at_bound[] = {{10.0, 7.63068516521283},
                                                {20.0, 15.26222871544984},
                                                {50.0, 38.155572006355},
                                                {100.0, 76.31114401271}};
  for (const auto& [bound, expected] : at_bound) {
    BOOST_TEST(subgrad::relu_poly(bound, bound) == expected, boost::test_tools::tolerance(1e-14));
    // The fit integrates a fit of the step: near the bound the slope is close to relu's 1.
    Var x = bound;
    BOOST_TEST(std::abs(subgrad::grad(relu_poly(x, bound), x) - 1.0) < 0.03);
  }
  BOOST_TEST(subgrad::relu_poly(-10.0, 10.0) == -2.36931483478717,
             boost::test_tools::tolerance(1e-14));
  Var x = 10.0;
  BOOST_TEST(subgrad::grad(relu_poly(x, 10.0), x) == 1.026137033042566,
             boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(softplus_switches_to_the_identity_past_the_threshold) {
  Tape tape;
  Var below = 19.999, above = 20.001, at = 20.0;
  BOOST_TEST(subgrad::grad(softplus(above), above) == 1.0);
  BOOST_TEST(softplus(above).value() == 20.001);
  BOOST_TEST(subgrad::grad(softplus(below), below) == 1 / (1 + std::exp(-19.999)),
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(subgrad::grad(softplus(at), at) == 1 / (1 + std::exp(-20.0)),
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(subgrad::grad(softplus(at, 1.0, 20.0, kink::right), at) == 1.0);
  Var large_negative = -800.0;
  BOOST_TEST(softplus(large_negative).value() == 0.0);
  Var large_positive = 15.0;
  BOOST_TEST(softplus(large_positive, 1.0, 1000.0).value() == std::log1p(std::exp(15.0)),
             boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_named_in_the_error) {
  Tape tape;
  Var x = 1.0;
  auto names = [](std::string text) {
    return [text](const subgrad::Error& e) {
      return std::string(e.what()).find(text) != std::string::npos;
    };
  };
  BOOST_CHECK_EXCEPTION(hardtanh(x, 2.0, 1.0), subgrad::Error, names("subgrad::hardtanh: min = 2"));
  BOOST_CHECK_EXCEPTION(softplus(x, 0.0), subgrad::Error, names("subgrad::softplus: beta = 0"));
  BOOST_CHECK_EXCEPTION(celu(x, 0.0), subgrad::Error, names("subgrad::celu: alpha = 0"));
  BOOST_CHECK_EXCEPTION(squareplus(x, -1.0), subgrad::Error, names("subgrad::squareplus: b = -1"));
  BOOST_CHECK_EXCEPTION(smelu(x, 0.0), subgrad::Error, names("subgrad::smelu: beta = 0"));
  BOOST_CHECK_EXCEPTION(relu_poly(x, -3.0), subgrad::Error,
                        names("subgrad::relu_poly: bound = -3"));
  BOOST_CHECK_EXCEPTION(leaky_relu(x, std::nan("")), subgrad::Error, names("negative_slope = nan"));
  BOOST_CHECK_EXCEPTION(elu(x, -1.0), subgrad::Error, names("subgrad::elu: alpha = -1"));
  BOOST_CHECK_EXCEPTION(threshold(x, std::nan(""), 0.0), subgrad::Error,
                        names("subgrad::threshold: threshold = nan"));
  BOOST_CHECK_EXCEPTION(rrelu(x, 0.5, 0.25), subgrad::Error,
                        names("subgrad::rrelu: lower = 0.5 is not <= upper = 0.25"));
  std::mt19937 generator(1);
  BOOST_CHECK_EXCEPTION(rrelu(x, generator, 0.5, 0.25, kink::left), subgrad::Error,
                        names("subgrad::rrelu: lower = 0.5"));
  BOOST_CHECK_EXCEPTION(clamp(x, 3.0, 2.0), subgrad::Error,
                        names("subgrad::clamp: lo = 3 is not <= hi = 2"));
  BOOST_CHECK_EXCEPTION(swish(x, INFINITY, kink::right), subgrad::Error,
                        names("subgrad::swish: beta = inf"));
  BOOST_CHECK_EXCEPTION(relu(x, subgrad::ReluOptions{0.1, std::nullopt, NAN}), subgrad::Error,
                        names("subgrad::relu(ReluOptions): threshold = nan"));
  // On plain numbers and Duals too: the rule's constructor is the one check.
  BOOST_CHECK_EXCEPTION(subgrad::leaky_relu(1.0, NAN), subgrad::Error,
                        names("negative_slope = nan"));
  BOOST_CHECK_EXCEPTION(elu(subgrad::Dual<double>{1.0, 1.0}, -2.0), subgrad::Error,
                        names("subgrad::elu: alpha = -2"));
}

BOOST_AUTO_TEST_CASE(nan_propagates) {
  Tape tape;
  Var x = std::nan("");
  BOOST_TEST(std::isnan(relu(x).value()));
  BOOST_TEST(std::isnan(subgrad::grad(relu(x), x)));
  BOOST_TEST(std::isnan(subgrad::grad(hardswish(x), x)));
}

BOOST_AUTO_TEST_CASE(rrelu_training_form_takes_a_trailing_kink_rule) {
  Tape tape;
  std::mt19937 generator(7);
  Var x = 0.0;
  // At 0 the slopes are {drawn a, 1}: right gives 1, left the drawn slope in [1/8, 1/3].
  BOOST_TEST(subgrad::grad(rrelu(x, generator, kink::right), x) == 1.0);
  const double left = subgrad::grad(rrelu(x, generator, 0.125, 1.0 / 3.0, kink::left), x);
  BOOST_TEST(left >= 0.125);
  BOOST_TEST(left <= 1.0 / 3.0);
  BOOST_TEST(left != 1.0);
}

// relu and leaky_relu take a branch-free select off the kink; infinities, zeros of either sign,
// subnormals and float must come out as from the plain piecewise definition.
template <class T>
void check_relu_and_leaky_relu_at_the_edges() {
  const subgrad::rules::Relu relu_rule;
  const subgrad::rules::LeakyRelu leaky_rule(0.25);
  const T infinity = std::numeric_limits<T>::infinity();
  const T tiny = std::numeric_limits<T>::denorm_min();
  struct Case {
    T x, relu_value, relu_slope, leaky_value, leaky_slope;
  };
  for (const Case& c :
       {Case{infinity, infinity, 1, infinity, 1}, Case{-infinity, 0, 0, -infinity, 0.25},
        Case{T(3), T(3), 1, T(3), 1}, Case{T(-2), 0, 0, T(-0.5), 0.25},
        Case{tiny, tiny, 1, tiny, 1}, Case{-tiny, 0, 0, T(0.25 * -tiny), 0.25}}) {
    BOOST_TEST_CONTEXT("x = " << c.x) {
      const auto r = subgrad::evaluate(relu_rule, c.x);
      BOOST_TEST(r.value == c.relu_value);
      BOOST_TEST(!std::signbit(r.value));  // relu of a negative is +0, never -0
      BOOST_TEST(r.slopes.left == c.relu_slope);
      BOOST_TEST(r.slopes.right == c.relu_slope);
      const auto l = subgrad::evaluate(leaky_rule, c.x);
      BOOST_TEST(l.value == c.leaky_value);
      BOOST_TEST(l.slopes.left == c.leaky_slope);
      BOOST_TEST(l.slopes.right == c.leaky_slope);
    }
  }
  for (const T zero : {T(0), T(-0.0)}) {
    const auto r = subgrad::evaluate(relu_rule, zero);
    BOOST_TEST((r.value == 0 && r.slopes.left == 0 && r.slopes.right == 1));
    const auto l = subgrad::evaluate(leaky_rule, zero);
    BOOST_TEST((l.value == 0 && l.slopes.left == T(0.25) && l.slopes.right == 1));
  }
  const auto n = subgrad::evaluate(relu_rule, std::numeric_limits<T>::quiet_NaN());
  BOOST_TEST((std::isnan(n.value) && std::isnan(n.slopes.left) && std::isnan(n.slopes.right)));
  BOOST_TEST(subgrad::detail::select(true, T(1), T(2)) == T(1));
  BOOST_TEST(subgrad::detail::select(false, T(1), T(2)) == T(2));
}

BOOST_AUTO_TEST_CASE(relu_and_leaky_relu_keep_their_values_at_infinities_zeros_and_subnormals) {
  check_relu_and_leaky_relu_at_the_edges<double>();
  check_relu_and_leaky_relu_at_the_edges<float>();
}
