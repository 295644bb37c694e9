#include "subgrad/core/var.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/format.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/math/elementary.hpp"
#include "subgrad/math/maxout.hpp"

using subgrad::Tape;
using subgrad::Var;

BOOST_AUTO_TEST_CASE(default_constructed_is_zero_on_no_tape) {
  constexpr Var zero;
  BOOST_TEST(zero.value() == 0.0);
  BOOST_TEST(zero.index() == 0u);
  BOOST_TEST(zero.tape_id() == 0u);
  Tape tape;
  Var x = 2.0;
  Var y = x * zero + x;  // a Var on no tape acts as a constant
  BOOST_TEST(subgrad::grad(y, x) == 1.0);
  Var sum;  // the usual accumulator: on no tape until the first statement is assigned to it
  for (int k = 0; k < 3; ++k) sum += x * zero + x;
  BOOST_TEST(subgrad::grad(sum, x) == 3.0);
  BOOST_CHECK_THROW(zero.adjoint(), subgrad::Error);
}

BOOST_AUTO_TEST_CASE(same_variable_twice) {
  Tape tape;
  Var x = 3.0;
  Var square = x * x;
  BOOST_TEST(subgrad::grad(square, x) == 6.0);
  Var ratio = x / x;
  BOOST_TEST(ratio.value() == 1.0);
  BOOST_TEST(subgrad::grad(ratio, x) == 0.0);
  Var difference = x - x;
  BOOST_TEST(difference.value() == 0.0);
  BOOST_TEST(subgrad::grad(difference, x) == 0.0);
  // Each statement names x twice: one operand where repeated leaves merge.
  BOOST_TEST(tape.operand_count() == (subgrad::detail::merges_repeated_leaves ? 3u : 6u));
}

namespace {
// Out of line, so that the compiler cannot tell whether a and b are one Var.
[[gnu::noinline]] Var product_plus_first(const Var& a, const Var& b) { return a * b + a; }
}  // namespace

BOOST_AUTO_TEST_CASE(repeated_leaves_are_recorded_once) {
  constexpr bool merges = subgrad::detail::merges_repeated_leaves;
  Tape tape;
  Var x = 3.0, y = 0.5;
  std::size_t operands = tape.operand_count();
  auto added = [&tape, &operands] {
    const std::size_t now = tape.operand_count();
    const std::size_t difference = now - operands;
    operands = now;
    return difference;
  };
  Var polynomial = x * x + x;
  BOOST_TEST(added() == (merges ? 1u : 3u));
  BOOST_TEST(subgrad::grad(polynomial, x) == 7.0);

  // Adept's Lax-Wendroff flux names each neighbour twice.
  const std::vector<Var> q{1.5, 2.0};
  constexpr double c = 0.125;
  Var flux = 0.5 * c * (q[0] + q[1] + c * (q[0] - q[1]));
  BOOST_TEST(added() == (merges ? 2u : 4u));
  const auto flux_gradient = subgrad::grad(flux, q[0], q[1]);
  BOOST_TEST(flux_gradient[0] == 0.5 * c * (1.0 + c));
  BOOST_TEST(flux_gradient[1] == 0.5 * c * (1.0 - c));

  // Leaves inside a primitive's argument merge with the ones outside.
  Var smooth = square(x - y) + y;
  BOOST_TEST(added() == (merges ? 2u : 3u));
  const auto smooth_gradient = subgrad::grad(smooth, x, y);
  BOOST_TEST(smooth_gradient[0] == 2.0 * (3.0 - 0.5));
  BOOST_TEST(smooth_gradient[1] == -2.0 * (3.0 - 0.5) + 1.0);

  // Equal values are not the same operand: a and b stay apart.
  Var a = 2.0, b = 2.0;
  Var mixed = a * b + a;
  BOOST_TEST(added() == (merges ? 2u : 3u));
  const auto mixed_gradient = subgrad::grad(mixed, a, b);
  BOOST_TEST(mixed_gradient[0] == 3.0);
  BOOST_TEST(mixed_gradient[1] == 2.0);

  // One Var passed as both arguments where the compiler cannot see it: recorded twice, right.
  Var both = product_plus_first(x, x);
  BOOST_TEST(subgrad::grad(both, x) == 7.0);
  added();  // 2 or 3 operands, depending on what the compiler saw of product_plus_first

  // Past max_leaves_merged leaves a statement is recorded as written.
  Var ninth = x * x * x * x * x * x * x * x * x;
  static_assert(subgrad::detail::max_leaves_merged < 9);
  BOOST_TEST(added() == 9u);
  BOOST_TEST(subgrad::grad(ninth, x) == 9.0 * std::pow(3.0, 8));
}

BOOST_AUTO_TEST_CASE(self_referential_updates) {
  Tape tape;
  Var x = 0.5;
  Var s = 1.0;
  // Horner: s = ((1*x + 1)*x + 1)*x + 1 = x^3 + x^2 + x + 1
  for (int i = 0; i < 3; ++i) s = s * x + 1.0;
  BOOST_TEST(s.value() == 0.125 + 0.25 + 0.5 + 1.0);
  BOOST_TEST(subgrad::grad(s, x) == 3 * 0.25 + 2 * 0.5 + 1.0);
}

BOOST_AUTO_TEST_CASE(compound_assignment) {
  Tape tape;
  Var x = 2.0;
  Var y = 5.0;
  Var a = x;
  a += y;    // x + y
  a -= 1.0;  // x + y - 1
  a *= x;    // (x + y - 1) x
  a /= y;    // (x + y - 1) x / y
  BOOST_TEST(a.value() == 6.0 * 2.0 / 5.0);
  const auto g = subgrad::grad(a, x, y);
  BOOST_TEST(g[0] == (2.0 * 2.0 + 5.0 - 1.0) / 5.0, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(g[1] == 2.0 / 5.0 - 6.0 * 2.0 / 25.0, boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(comparisons_by_value) {
  Tape tape;
  Var a = 1.0;
  Var b = 2.0;
  BOOST_TEST((a < b));
  BOOST_TEST((a <= 1.0));
  BOOST_TEST((2.0 > a));
  BOOST_TEST((b >= a));
  BOOST_TEST((a == 1.0));
  BOOST_TEST((a != b));
  BOOST_TEST((a * 2.0 == b));
  const std::size_t before = tape.statement_count();
  BOOST_TEST((a + b > 2.5));
  BOOST_TEST(tape.statement_count() == before);  // comparing records nothing
}

BOOST_AUTO_TEST_CASE(one_statement_per_expression) {
  Tape tape;
  Var a = 1.0, b = 2.0, c = 3.0;
  const std::size_t statements = tape.statement_count();
  Var y = a * b + exp(c) - sin(a) / b;
  BOOST_TEST(tape.statement_count() == statements + 1);
  // a and b appear twice: one operand each where repeated leaves merge.
  BOOST_TEST(tape.operand_count() == (subgrad::detail::merges_repeated_leaves ? 3u : 5u));
}

BOOST_AUTO_TEST_CASE(expressions_own_their_operands) {
  Tape tape;
  Var a = 2.0;
  Var b = 3.0;
  auto product = a * b;  // held, not yet recorded
  a = 10.0;              // rebinding a does not change the held expression
  Var y = product + 1.0;
  BOOST_TEST(y.value() == 7.0);
  auto make = [](const Var& x) { return x * x + 1.0; };  // returned by value: safe
  Var z = make(b);
  BOOST_TEST(subgrad::grad(z, b) == 6.0);
}

BOOST_AUTO_TEST_CASE(fifty_leaves_record_as_one_statement) {
  Tape tape;
  Var x = 1.1;
  const std::size_t statements = tape.statement_count();
  Var y = x * x * x * x * x * x * x * x * x * x + x * x * x * x * x * x * x * x * x * x +
          x * x * x * x * x * x * x * x * x * x + x * x * x * x * x * x * x * x * x * x +
          x * x * x * x * x * x * x * x * x * x + x;
  BOOST_TEST(tape.statement_count() == statements + 1);
  BOOST_TEST(tape.operand_count() == 51u);
  BOOST_TEST(subgrad::grad(y, x) == 50.0 * std::pow(1.1, 9) + 1.0,
             boost::test_tools::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(a_var_of_a_cleared_tape_is_refused) {
  Tape tape;
  Var x = 1.0;
  Var y = x * 2.0;
  tape.clear();
  Var z = 1.0;
  Var w = z * 3.0;
  BOOST_CHECK_EXCEPTION(subgrad::grad(y, x), subgrad::Error, [](const subgrad::Error& e) {
    const std::string message = e.what();
    return message.find("subgrad::backward") != std::string::npos &&
           message.find("clear()") != std::string::npos;
  });
  subgrad::backward(w);
  BOOST_CHECK_THROW(x.adjoint(), subgrad::Error);
  BOOST_TEST(z.adjoint() == 3.0);
}

BOOST_AUTO_TEST_CASE(a_var_of_a_destroyed_tape_is_refused) {
  Var x;
  Var y;
  {
    Tape inner;
    x = 2.0;
    y = x * x;
  }
  Tape tape;
  Var z = 1.0;
  BOOST_CHECK_THROW(subgrad::backward(y), subgrad::Error);
  Var w = z * z;
  BOOST_CHECK_THROW(subgrad::grad(w, x), subgrad::Error);
}

BOOST_AUTO_TEST_CASE(a_var_of_another_threads_tape_is_refused) {
  Tape tape;
  Var x = 2.0;
  Var y = x * x;
  bool refused = false;
  std::thread other([&] {
    Var z = 1.0;
    Var w = z + 1.0;
    try {
      subgrad::backward(y);
    } catch (const subgrad::Error&) {
      refused = true;
    }
  });
  other.join();
  BOOST_TEST(refused);
  BOOST_TEST(subgrad::grad(y, x) == 4.0);
}

namespace {
// The error names the recording, the offending Var's value and what may have happened to it.
auto refused_operand(double value, std::string_view cause) {
  return [value, cause](const subgrad::Error& e) {
    const std::string message = e.what();
    BOOST_TEST_MESSAGE(message);
    return message.find("subgrad::Var (recording)") != std::string::npos &&
           message.find(fmt::format("value {}", value)) != std::string::npos &&
           message.find(cause) != std::string::npos;
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_stale_var_in_a_new_expression_is_refused_at_recording) {
  // Recorded before clear(): its index 2 is a valid index of the new recording, so without the
  // check its adjoint would silently go to another variable (a wrong derivative).
  Tape tape;
  Var x = 1.0;
  Var old = x * 4.0;
  tape.clear();
  Var z = 2.0;
  Var w = z * 3.0;
  const auto statements = tape.statement_count();
  BOOST_CHECK_EXCEPTION(Var(w * old), subgrad::Error, refused_operand(4.0, "clear()"));
  BOOST_CHECK_EXCEPTION(Var(subgrad::exp(old) + z), subgrad::Error,
                        refused_operand(4.0, "clear()"));
  BOOST_CHECK_EXCEPTION(w += old, subgrad::Error, refused_operand(4.0, "clear()"));
  BOOST_CHECK_EXCEPTION(Var(subgrad::maxout(std::vector<Var>{z, old})), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return std::string(e.what()).find("subgrad::maxout") != std::string::npos;
                        });
  // A leaf on no tape (the constant 0) is let through, and the leaves after it are still checked.
  const Var constant;
  BOOST_CHECK_EXCEPTION(Var(constant * w + old), subgrad::Error, refused_operand(4.0, "clear()"));
  BOOST_TEST(tape.statement_count() == statements);  // nothing of a refused statement is recorded
  BOOST_TEST(Var(constant * w + z).value() == 2.0);
  BOOST_TEST(subgrad::grad(Var(w * z), z) == 12.0);  // the tape is still usable
}

BOOST_AUTO_TEST_CASE(a_var_of_a_destroyed_tape_is_refused_at_recording) {
  Var stale;
  {
    Tape inner;
    Var x = 5.0;
    stale = x * x;  // index 2 of a tape that is gone
  }
  Tape tape;
  Var z = 1.0, u = 2.0;
  BOOST_CHECK_EXCEPTION(Var(z * stale + u), subgrad::Error, refused_operand(25.0, "destroyed"));
}

BOOST_AUTO_TEST_CASE(a_var_of_another_threads_tape_is_refused_at_recording) {
  Tape tape;
  Var x = 3.0;
  Var y = x * x;
  std::string message;
  std::thread other([&] {
    Var z = 1.0;
    try {
      Var w = z * y;  // y lives on the main thread's tape
    } catch (const subgrad::Error& e) {
      message = e.what();
    }
  });
  other.join();
  BOOST_TEST(message.find("another thread's tape") != std::string::npos);
  BOOST_TEST(message.find("value 9") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_outer_tapes_var_inside_a_nested_tape_is_refused) {
  Tape outer;
  Var x = 2.0;
  {
    Tape inner;
    Var z = 1.0;
    BOOST_CHECK_EXCEPTION(Var(z * x), subgrad::Error, refused_operand(2.0, "outer tape"));
    Var w = z * x.value();  // its value is fine
    BOOST_TEST(subgrad::grad(w, z) == 2.0);
  }
  Var y = x * x;  // back on the outer tape
  BOOST_TEST(subgrad::grad(y, x) == 4.0);
}

BOOST_AUTO_TEST_CASE(backward_from_a_stale_output_names_it_not_the_empty_tape) {
  Tape tape;
  Var x = 1.0;
  Var y = x * 2.0;
  tape.clear();
  BOOST_CHECK_EXCEPTION(subgrad::backward(y), subgrad::Error, [](const subgrad::Error& e) {
    const std::string message = e.what();
    return message.find("the output belongs to tape") != std::string::npos &&
           message.find("empty") == std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(adjoint_before_any_sweep_is_an_error) {
  Tape tape;
  Var x = 1.0;
  BOOST_CHECK_EXCEPTION(x.adjoint(), subgrad::Error, [](const subgrad::Error& e) {
    return std::string(e.what()).find("no backward()") != std::string::npos;
  });
  Var y = x * 2.0;
  subgrad::backward(y);
  Var later = x * 3.0;
  BOOST_CHECK_EXCEPTION(later.adjoint(), subgrad::Error, [](const subgrad::Error& e) {
    return std::string(e.what()).find("after the last backward()") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(formats_as_its_value) {
  Tape tape;
  Var x = 1.25;
  BOOST_TEST(fmt::format("{}", x) == "1.25");
  BOOST_TEST(fmt::format("{:.3f}", Var(x * 2.0 + 0.0005)) == "2.501");
}

BOOST_AUTO_TEST_CASE(streams_as_a_double) {
  Tape tape;
  const Var x = 3.14159;
  std::ostringstream out;
  out << x << ' ' << std::setprecision(3) << x << ' ' << std::fixed << std::setw(8) << x << ' '
      << Var();
  BOOST_TEST(out.str() == "3.14159 3.14    3.142 0.000");
}
