#include "subgrad/math/maxout.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <array>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/gradient.hpp"
#include "subgrad/math/elementary.hpp"

using subgrad::Tape;
using subgrad::Var;
namespace kink = subgrad::kink;
using Triple = std::array<double, 3>;

BOOST_AUTO_TEST_CASE(the_largest_piece_gets_the_derivative) {
  Tape tape;
  Var a = 1.0, b = 3.0, c = 2.0;
  Var y = maxout(a, b * 2.0, c);
  BOOST_TEST(y.value() == 6.0);
  BOOST_TEST((subgrad::grad(y, a, b, c) == Triple{0.0, 2.0, 0.0}));
  BOOST_TEST(subgrad::maxout(1.0, 4.0, 2.0) == 4.0);
}

BOOST_AUTO_TEST_CASE(a_three_way_tie_under_every_rule) {
  Tape tape;
  Var a = 2.0, b = 2.0, c = 2.0;
  auto partials = [&](auto expression) { return subgrad::grad(expression, a, b, c); };
  BOOST_TEST((partials(maxout(a, b, c)) == Triple{1.0 / 3, 1.0 / 3, 1.0 / 3}));
  BOOST_TEST((partials(maxout(a, b, c, kink::midpoint)) == Triple{1.0 / 3, 1.0 / 3, 1.0 / 3}));
  BOOST_TEST((partials(maxout(a, b, c, kink::right)) == Triple{1.0, 0.0, 0.0}));
  BOOST_TEST((partials(maxout(a, b, c, kink::left)) == Triple{0.0, 0.0, 1.0}));
  BOOST_TEST((partials(maxout(a, b, c, kink::convex(0.3))) == Triple{0.3, 0.0, 0.7}));
  {
    subgrad::KinkScope scope{kink::right};
    BOOST_TEST((partials(maxout(a, b, c)) == Triple{1.0, 0.0, 0.0}));
  }
}

BOOST_AUTO_TEST_CASE(two_pieces_agree_with_max) {
  Tape tape;
  Var a = 1.5, b = 1.5;
  for (subgrad::KinkRule rule : kink::all) {
    BOOST_TEST(subgrad::grad(maxout(a, b, rule), a, b) == subgrad::grad(max(a, b, rule), a, b));
  }
}

BOOST_AUTO_TEST_CASE(a_partial_tie_splits_among_the_tied_only) {
  Tape tape;
  Var a = 5.0, b = 1.0, c = 5.0;
  BOOST_TEST((subgrad::grad(maxout(a, b, c), a, b, c) == Triple{0.5, 0.0, 0.5}));
}

BOOST_AUTO_TEST_CASE(ranges_record_one_statement) {
  Tape tape;
  std::vector<Var> pieces{1.0, 7.0, 7.0, 3.0};
  const std::size_t before = tape.statement_count();
  Var y = maxout(pieces);
  BOOST_TEST(tape.statement_count() == before + 1);
  BOOST_TEST(y.value() == 7.0);
  BOOST_TEST(subgrad::grad(y, pieces) == (std::vector<double>{0.0, 0.5, 0.5, 0.0}),
             boost::test_tools::per_element());
  Var z = maxout(pieces, kink::left);
  BOOST_TEST(subgrad::grad(z, pieces) == (std::vector<double>{0.0, 0.0, 1.0, 0.0}),
             boost::test_tools::per_element());
  BOOST_TEST(subgrad::maxout(std::vector<double>{2.0, -1.0}) == 2.0);
  BOOST_CHECK_THROW(subgrad::maxout(std::vector<Var>{}), subgrad::Error);
}

BOOST_AUTO_TEST_CASE(nan_pieces_give_nan) {
  Tape tape;
  Var a = std::nan(""), b = 1.0;
  Var y = maxout(a, b, b);
  BOOST_TEST(std::isnan(y.value()));
}
