// FiniteCheck: recording throws at the first non-finite value or partial, naming the primitive
// and its argument, and records nothing of that statement; off by default, per thread, nested.
#include "subgrad/core/finite_check.hpp"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/math/elementary.hpp"
#include "subgrad/math/find_primitive.hpp"

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

// A rule named at run time (the registry's) is named in the report too.
BOOST_AUTO_TEST_CASE(a_primitive_found_at_run_time_is_named) {
  Tape tape;
  Var x = 0.0;
  FiniteCheck scope;
  const subgrad::Primitive<subgrad::DynamicUnaryRule> log_by_name{
      *subgrad::find_unary_primitive("log")};
  const std::string message = error_of([&] { Var y = log_by_name(x); });
  BOOST_TEST(contains(message, "subgrad::FiniteCheck: log at x = 0 gives value -inf"), message);
}

BOOST_AUTO_TEST_CASE(a_binary_primitive_is_named_with_both_arguments) {
  Tape tape;
  Var x = -1.0;
  Var p = 0.5;
  FiniteCheck scope;
  const std::string message = error_of([&] { Var y = pow(x, p); });
  BOOST_TEST(contains(message, "pow at (x, y) = (-1, 0.5) gives value nan"), message);
}

// The report names the innermost primitive that fails, with its own arguments (the values of its
// operands in the statement's expression), not an inner one's.
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

// A FiniteCheck makes every tape of its thread send each statement to the recorder's slow path,
// where the check is made (the path with room tests nothing): tapes with room when it starts,
// tapes made, cleared or active again while it lives, a statement after one that failed; and
// when it ends the tapes record as before, the gradient unchanged.
BOOST_AUTO_TEST_CASE(every_statement_is_checked_on_every_tape_and_none_is_lost) {
  auto chain = [](Var x, int steps) {  // long enough to fill several blocks
    Var y = x;
    for (int k = 0; k < steps; ++k) y = sin(y) * 0.5 + x;
    return y;
  };
  Tape outer;
  Var x = 0.25;
  const Var unchecked = chain(x, 30000);
  const double unchecked_gradient = subgrad::grad(unchecked, x);
  Var zero = 0.0;
  {
    FiniteCheck scope;
    BOOST_TEST(!error_of([&] { Var y = log(zero); }).empty());
    BOOST_TEST(!error_of([&] { Var y = log(zero); }).empty());  // after a failure too
    const std::vector<Var> made = subgrad::variables(std::vector<double>{0.0, 2.0});
    BOOST_TEST(!error_of([&] { Var y = log(made[0]); }).empty());
    const std::size_t before = outer.statement_count();
    const Var checked = chain(x, 30000);
    BOOST_TEST(outer.statement_count() == before + 30000);
    BOOST_TEST(subgrad::grad(checked, x) == unchecked_gradient);
    {
      Tape nested;
      Var z = 0.0;
      BOOST_TEST(!error_of([&] { Var y = log(z); }).empty());
      nested.clear();
      Var w = 0.0;
      BOOST_TEST(!error_of([&] { Var y = log(w); }).empty());
    }
    BOOST_TEST(!error_of([&] { Var y = sqrt(zero); }).empty());  // the outer tape, active again
    BOOST_TEST(!error_of([&] {
                  subgrad::gradient([](auto v) { return log(v[0]); }, std::vector<double>{0.0});
                }).empty());
    outer.clear();
    Var cleared = 0.0;
    BOOST_TEST(!error_of([&] { Var y = log(cleared); }).empty());
  }
  Var after = 0.25;
  Var y = log(after - 0.25);  // off again: recorded
  BOOST_TEST(std::isinf(y.value()));
  const Var again = chain(after, 30000);
  BOOST_TEST(subgrad::grad(again, after) == unchecked_gradient);
}

// A primitive notes its failure and its statement's check throws it: one built but never recorded
// (compared, say) is reported by the next statement, once; a new FiniteCheck forgets it.
BOOST_AUTO_TEST_CASE(a_primitive_never_recorded_is_reported_by_the_next_statement) {
  Tape tape;
  Var zero = 0.0;
  Var one = 1.0;
  {
    FiniteCheck scope;
    BOOST_TEST((log(zero) < 0.0));  // compared: nothing recorded
    const std::string message = error_of([&] { Var y = one * 2.0; });
    BOOST_TEST(contains(message, "log at x = 0 gives value -inf"), message);
    Var y = one * 2.0;  // reported once
    BOOST_TEST(y.value() == 2.0);
    BOOST_TEST((sqrt(zero) < 1.0));  // noted, then the scope ends
  }
  FiniteCheck again;
  BOOST_TEST(error_of([&] { Var y = one * 2.0; }).empty());
}
