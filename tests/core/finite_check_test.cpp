// FiniteCheck: recording throws at the first non-finite value or partial, naming the primitive
// and its argument, and records nothing of that statement; off by default, per thread, nested.
#include "subgrad/core/finite_check.hpp"

#include <cmath>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/math/elementary.hpp"

using subgrad::FiniteCheck;
using subgrad::Tape;
using subgrad::Var;

namespace {
// The message of the Error `record` throws, or "" if it throws none.
template <class F>
std::string error_of(F&& record) {
  try {
    record();
  } catch (const subgrad::Error& error) {
    return error.what();
  }
  return "";
}
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_CASE(off_by_default_non_finite_values_are_recorded) {
  Tape tape;
  Var x = 0.0;
  Var y = log(x);
  BOOST_TEST(std::isinf(y.value()));
  BOOST_TEST(std::isinf(subgrad::grad(y, x)));
}

BOOST_AUTO_TEST_CASE(a_unary_primitive_is_named_with_its_argument) {
  Tape tape;
  Var x = 0.0;
  FiniteCheck scope;
  const std::string message = error_of([&] { Var y = log(x); });
  BOOST_TEST(contains(message, "subgrad::FiniteCheck: log at x = 0 gives value -inf"), message);
  // A finite value with an infinite derivative is caught too.
  const std::string slope = error_of([&] { Var y = sqrt(x); });
  BOOST_TEST(contains(slope, "sqrt at x = 0 gives value 0 and derivative inf"), slope);
}

BOOST_AUTO_TEST_CASE(a_binary_primitive_is_named_with_both_arguments) {
  Tape tape;
  Var x = -1.0;
  Var p = 0.5;
  FiniteCheck scope;
  const std::string message = error_of([&] { Var y = pow(x, p); });
  BOOST_TEST(contains(message, "pow at (x, y) = (-1, 0.5) gives value nan"), message);
}

// The report takes each primitive's arguments from where it kept them before its evaluation: in a
// nest, the failing primitive's own, not an inner one's evaluated before it.
BOOST_AUTO_TEST_CASE(in_a_nest_the_failing_primitive_is_named_with_its_own_arguments) {
  Tape tape;
  Var x = 2.0;
  Var p = -1.0;
  FiniteCheck scope;
  const std::string unary = error_of([&] { Var y = log(exp(x) * 0.0); });
  BOOST_TEST(contains(unary, "log at x = 0 gives value -inf"), unary);
  const std::string binary = error_of([&] { Var y = pow(sin(x) * 0.0, exp(p) - exp(p) - 1.0); });
  BOOST_TEST(contains(binary, "pow at (x, y) = (0, -1) gives value inf"), binary);
  const std::string inner = error_of([&] { Var y = exp(log(x - 2.0) + x); });
  BOOST_TEST(contains(inner, "log at x = 0 gives value -inf"), inner);
}

BOOST_AUTO_TEST_CASE(arithmetic_is_checked_per_statement_and_nothing_is_recorded) {
  Tape tape;
  Var x = 1.0;
  Var zero = 0.0;
  FiniteCheck scope;
  const std::size_t before = tape.statement_count();
  const std::string message = error_of([&] { Var y = x / zero; });
  BOOST_TEST(contains(message, "a statement (+ - * / of its operands) gives value inf"), message);
  BOOST_TEST(tape.statement_count() == before);
  // Finite statements and primitives record as usual.
  Var y = x * 2.0 + exp(x);
  BOOST_TEST(subgrad::grad(y, x) == 2.0 + std::exp(1.0));
}

BOOST_AUTO_TEST_CASE(a_finite_value_with_a_non_finite_partial_is_caught_at_the_statement) {
  Tape tape;
  Var zero = 0.0;
  Var tiny = 1e-320;  // a denormal: 1 / tiny overflows
  FiniteCheck scope;
  const std::string message = error_of([&] { Var y = zero / tiny; });
  BOOST_TEST(contains(message, "gives value 0 and partial 1 = inf"), message);
}

BOOST_AUTO_TEST_CASE(scopes_nest_and_end) {
  Tape tape;
  Var x = 0.0;
  {
    FiniteCheck outer;
    { FiniteCheck inner; }
    BOOST_TEST(!error_of([&] { Var y = log(x); }).empty());  // still on
  }
  BOOST_TEST(error_of([&] { Var y = log(x); }).empty());  // off again
}

BOOST_AUTO_TEST_CASE(the_check_belongs_to_its_thread) {
  FiniteCheck scope;
  std::string other;
  std::thread([&] {
    Tape tape;
    Var x = 0.0;
    other = error_of([&] { Var y = log(x); });
  }).join();
  BOOST_TEST(other.empty());
}
