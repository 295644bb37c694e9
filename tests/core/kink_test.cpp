#include "subgrad/core/kink.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <sstream>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/format.hpp"

using subgrad::KinkRule;
using subgrad::Slopes;
namespace kink = subgrad::kink;

BOOST_AUTO_TEST_CASE(equal_slopes_need_no_rule) {
  for (KinkRule rule : kink::all) {
    BOOST_TEST(subgrad::resolve(Slopes{2.5, 2.5}, rule) == 2.5);
  }
}

BOOST_AUTO_TEST_CASE(min_norm_picks_the_element_closest_to_zero) {
  BOOST_TEST(subgrad::resolve(Slopes{0.0, 1.0}, kink::min_norm) == 0.0);           // relu
  BOOST_TEST(subgrad::resolve(Slopes{0.01, 1.0}, kink::min_norm) == 0.01);         // leaky relu
  BOOST_TEST(subgrad::resolve(Slopes{-1.0, 1.0}, kink::min_norm) == 0.0);          // abs
  BOOST_TEST(subgrad::resolve(Slopes{1.7581, 1.0507}, kink::min_norm) == 1.0507);  // selu
  BOOST_TEST(subgrad::resolve(Slopes{-0.5, 0.0}, kink::min_norm) == 0.0);  // hardswish at -3
  BOOST_TEST(subgrad::resolve(Slopes{1.5, 1.0}, kink::min_norm) == 1.0);   // hardswish at 3
  BOOST_TEST(subgrad::resolve(Slopes{-3.0, -2.0}, kink::min_norm) == -2.0);
  BOOST_TEST(subgrad::resolve(Slopes{-2.0, 4.0}, kink::min_norm) == 0.0);
}

BOOST_AUTO_TEST_CASE(left_right_midpoint_and_convex) {
  const Slopes slopes{0.2, 1.0};
  BOOST_TEST(subgrad::resolve(slopes, kink::left) == 0.2);
  BOOST_TEST(subgrad::resolve(slopes, kink::right) == 1.0);
  BOOST_TEST(subgrad::resolve(slopes, kink::midpoint) == 0.6);
  BOOST_TEST(subgrad::resolve(slopes, kink::convex(0.25)) == 0.75 * 0.2 + 0.25 * 1.0);
  BOOST_TEST(subgrad::resolve(slopes, kink::convex(0.0)) == 0.2);
  BOOST_TEST(subgrad::resolve(slopes, kink::convex(1.0)) == 1.0);
}

BOOST_AUTO_TEST_CASE(an_infinite_side_does_not_leak_into_the_chosen_end) {
  const double inf = std::numeric_limits<double>::infinity();
  BOOST_TEST(subgrad::resolve(Slopes{0.0, inf}, kink::left) == 0.0);
  BOOST_TEST(subgrad::resolve(Slopes{0.0, inf}, kink::min_norm) == 0.0);
}

BOOST_AUTO_TEST_CASE(binary_ties_choose_jointly) {
  // max(x, y) at a tie: left (0, 1), right (1, 0).
  const subgrad::BinarySlopes max_tie{{0.0, 1.0}, {1.0, 0.0}};
  auto check = [&](KinkRule rule, double x, double y) {
    const subgrad::Partials2 p = subgrad::resolve(max_tie, rule);
    BOOST_TEST(p.x == x);
    BOOST_TEST(p.y == y);
  };
  check(kink::min_norm, 0.5, 0.5);
  check(kink::midpoint, 0.5, 0.5);
  check(kink::left, 0.0, 1.0);
  check(kink::right, 1.0, 0.0);
  check(kink::convex(0.3), 0.3, 0.7);
}

BOOST_AUTO_TEST_CASE(convex_rejects_weights_outside_the_unit_interval) {
  BOOST_CHECK_THROW(kink::convex(-0.1), subgrad::Error);
  BOOST_CHECK_THROW(kink::convex(1.5), subgrad::Error);
  BOOST_CHECK_THROW(kink::convex(std::numeric_limits<double>::quiet_NaN()), subgrad::Error);
  BOOST_CHECK_EXCEPTION(kink::convex(2.0), subgrad::Error, [](const subgrad::Error& error) {
    return std::string(error.what()).find("subgrad::kink::convex: weight t = 2") !=
           std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(scopes_nest_and_restore) {
  BOOST_TEST((subgrad::current_kink_rule() == kink::min_norm));
  {
    subgrad::KinkScope outer{kink::right};
    BOOST_TEST((subgrad::current_kink_rule() == kink::right));
    {
      subgrad::KinkScope inner{kink::convex(0.4)};
      BOOST_TEST((subgrad::current_kink_rule() == kink::convex(0.4)));
    }
    BOOST_TEST((subgrad::current_kink_rule() == kink::right));
  }
  BOOST_TEST((subgrad::current_kink_rule() == kink::min_norm));
}

BOOST_AUTO_TEST_CASE(rules_have_names) {
  BOOST_TEST(kink::min_norm.name() == "min_norm");
  BOOST_TEST(kink::left.name() == "left");
  BOOST_TEST(kink::right.name() == "right");
  BOOST_TEST(kink::midpoint.name() == "midpoint");
  BOOST_TEST(fmt::format("{}", kink::convex(0.25)) == "convex(0.25)");
  std::ostringstream out;
  out << kink::left << ' ' << kink::convex(0.25);
  BOOST_TEST(out.str() == "left convex(0.25)");
}
