// FiniteCheck compiled out (SUBGRAD_FINITE_CHECK=0, how bench_check_costs measures its cost when
// off): making one throws instead of silently checking nothing, and recording never tests.
#ifndef SUBGRAD_FINITE_CHECK
#error "this test is built with SUBGRAD_FINITE_CHECK=0"
#endif
#include "subgrad/core/finite_check.hpp"

#include <cmath>
#include <type_traits>

#include <boost/test/unit_test.hpp>

#include "error_message.hpp"
#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/math/elementary.hpp"

static_assert(SUBGRAD_FINITE_CHECK == 0);
static_assert(!std::is_nothrow_default_constructible_v<subgrad::FiniteCheck>);

BOOST_AUTO_TEST_CASE(making_a_finite_check_throws) {
  BOOST_CHECK_EXCEPTION(subgrad::FiniteCheck scope, subgrad::Error,
                        says("compiled out in this build (SUBGRAD_FINITE_CHECK is 0)"));
  BOOST_TEST(!subgrad::detail::finite_check_on());
}

// The flag is raised by hand (a FiniteCheck cannot be made here): a build that still tested it
// would throw at log(0).
BOOST_AUTO_TEST_CASE(recording_never_tests_the_flag) {
  subgrad::Tape tape;
  subgrad::Var x = 0.0;
  ++subgrad::detail::finite_check_depth;
  BOOST_TEST(!subgrad::detail::finite_check_on());
  bool threw = false;
  try {
    subgrad::Var y = log(x) * 2.0;
    BOOST_TEST(std::isinf(y.value()));
  } catch (const subgrad::Error&) {
    threw = true;
  }
  --subgrad::detail::finite_check_depth;
  BOOST_TEST(!threw);
  BOOST_TEST(tape.statement_count() == 2u);
}
