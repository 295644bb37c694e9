#include "subgrad/core/primitive.hpp"

#include <cmath>
#include <optional>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/var.hpp"

using subgrad::Slopes;
using subgrad::Tape;
using subgrad::Var;
namespace kink = subgrad::kink;

namespace {
// A user rule with a kink: x^3 for x >= 0, 2x for x < 0; at 0: left 2, right 0.
struct CubeOrLine {
  static constexpr std::string_view name = "cube_or_line";
  double value(double x) const { return x >= 0.0 ? x * x * x : 2.0 * x; }
  Slopes slopes(double x) const {
    if (x > 0.0) return {3 * x * x, 3 * x * x};
    if (x < 0.0) return {2.0, 2.0};
    return {2.0, 0.0};
  }
};
inline constexpr subgrad::Primitive<CubeOrLine> cube_or_line{};

// A rule with a parameter.
struct Scaled {
  double factor = 1.0;
  double value(double x) const { return factor * x; }
  Slopes slopes(double) const { return {factor, factor}; }
};

// A binary user rule: the larger of x and 2y.
struct MaxOfTwice {
  double value(double x, double y) const { return x >= 2 * y ? x : 2 * y; }
  subgrad::BinarySlopes slopes(double x, double y) const {
    if (x > 2 * y) return {{1.0, 1.0}, {0.0, 0.0}};
    if (x < 2 * y) return {{0.0, 0.0}, {2.0, 2.0}};
    return {{0.0, 1.0}, {2.0, 0.0}};
  }
};
}  // namespace

namespace user_code {
// As a user would, outside namespace subgrad: cube_or_line(x) and cube_or_line(x, rule).
SUBGRAD_PRIMITIVE_FUNCTION(cube_or_line_function, CubeOrLine)
}  // namespace user_code

BOOST_AUTO_TEST_CASE(the_function_macro_defines_both_overloads) {
  BOOST_TEST(user_code::cube_or_line_function(2.0) == 8.0);
  Tape tape;
  Var x = 0.0;
  BOOST_TEST(subgrad::grad(user_code::cube_or_line_function(x), x) == 0.0);
  BOOST_TEST(subgrad::grad(user_code::cube_or_line_function(x, kink::left), x) == 2.0);
  Var y = 2.0;
  BOOST_TEST(subgrad::grad(user_code::cube_or_line_function(y * 1.0), y) == 12.0);
}

BOOST_AUTO_TEST_CASE(a_user_rule_works_on_double_and_var) {
  static_assert(subgrad::UnaryRule<CubeOrLine>);
  static_assert(subgrad::rule_name<CubeOrLine>() == "cube_or_line");
  static_assert(subgrad::rule_name<Scaled>() == "primitive");
  BOOST_TEST(cube_or_line(2.0) == 8.0);
  BOOST_TEST(cube_or_line(-1.0) == -2.0);
  Tape tape;
  Var x = 2.0;
  Var y = cube_or_line(x * 1.0) + 1.0;
  BOOST_TEST(y.value() == 9.0);
  BOOST_TEST(subgrad::grad(y, x) == 12.0);
}

BOOST_AUTO_TEST_CASE(a_user_rule_at_its_kink_under_every_rule) {
  Tape tape;
  Var x = 0.0;
  BOOST_TEST(subgrad::grad(cube_or_line(x), x) == 0.0);  // min_norm of [0, 2]
  BOOST_TEST(subgrad::grad(cube_or_line(x, kink::left), x) == 2.0);
  BOOST_TEST(subgrad::grad(cube_or_line(x, kink::right), x) == 0.0);
  BOOST_TEST(subgrad::grad(cube_or_line(x, kink::midpoint), x) == 1.0);
  BOOST_TEST(subgrad::grad(cube_or_line(x, kink::convex(0.25)), x) == 1.5);
  {
    subgrad::KinkScope scope{kink::left};
    BOOST_TEST(subgrad::grad(cube_or_line(x), x) == 2.0);
    BOOST_TEST(subgrad::grad(cube_or_line(x, kink::right), x) == 0.0);  // the call wins
  }
}

// As for tensors and Dual: the rule in force when the expression is built decides, not the one
// in force when it is assigned.
BOOST_AUTO_TEST_CASE(the_rule_in_force_when_built_decides) {
  Tape tape;
  Var x = 0.0;
  auto under_min_norm = cube_or_line(x);
  Var y;
  {
    subgrad::KinkScope scope{kink::left};
    y = under_min_norm;
  }
  BOOST_TEST(subgrad::grad(y, x) == 0.0);
  std::optional<decltype(cube_or_line(x))> under_left;
  {
    subgrad::KinkScope scope{kink::left};
    under_left.emplace(cube_or_line(x));
  }
  Var z = *under_left;
  BOOST_TEST(subgrad::grad(z, x) == 2.0);
}

BOOST_AUTO_TEST_CASE(rules_carry_parameters) {
  constexpr subgrad::Primitive<Scaled> triple{Scaled{3.0}};
  Tape tape;
  Var x = 1.5;
  BOOST_TEST(subgrad::grad(triple(x), x) == 3.0);
  BOOST_TEST(triple(2.0) == 6.0);
}

BOOST_AUTO_TEST_CASE(binary_user_rules_choose_jointly_at_ties) {
  constexpr subgrad::Primitive<MaxOfTwice> max_of_twice{};
  Tape tape;
  Var x = 2.0, y = 1.0;
  auto partials = [&](subgrad::KinkRule rule) {
    return subgrad::grad(max_of_twice(x, y, rule), x, y);
  };
  // Segment from left (0, 2) to right (1, 0); its min-norm point is t = 0.8: (0.8, 0.4).
  const auto min_norm = partials(kink::min_norm);
  BOOST_TEST(min_norm[0] == 0.8, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(min_norm[1] == 0.4, boost::test_tools::tolerance(1e-15));
  BOOST_TEST((partials(kink::left) == std::array<double, 2>{0.0, 2.0}));
  BOOST_TEST((partials(kink::right) == std::array<double, 2>{1.0, 0.0}));
  BOOST_TEST((partials(kink::midpoint) == std::array<double, 2>{0.5, 1.0}));
  BOOST_TEST(max_of_twice(3.0, 1.0) == 3.0);
  BOOST_TEST(subgrad::grad(max_of_twice(x, 0.5), x) == 1.0);  // a passive side
}

BOOST_AUTO_TEST_CASE(rule_helpers_read_value_and_slopes) {
  const subgrad::Evaluation<double> at = subgrad::evaluate(CubeOrLine{}, 0.0);
  BOOST_TEST(at.value == 0.0);
  BOOST_TEST(at.slopes.left == 2.0);
  BOOST_TEST(at.slopes.right == 0.0);
  BOOST_TEST(subgrad::rule_value(CubeOrLine{}, 2.0) == 8.0);
  BOOST_TEST(subgrad::rule_slopes(CubeOrLine{}, 1.0).left == 3.0);
}
