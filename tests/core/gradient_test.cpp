#include "subgrad/core/gradient.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <array>
#include <cmath>
#include <span>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "allocation_counter.hpp"

#include "subgrad/math/elementary.hpp"

using subgrad::Tape;
using subgrad::Var;

BOOST_AUTO_TEST_CASE(backward_with_a_seed) {
  Tape tape;
  Var x = 3.0;
  Var y = x * x;
  subgrad::backward(y, 2.0);
  BOOST_TEST(x.adjoint() == 12.0);
  subgrad::backward(y);  // each sweep starts from zero
  BOOST_TEST(x.adjoint() == 6.0);
}

BOOST_AUTO_TEST_CASE(grad_of_an_expression_and_of_several_variables) {
  Tape tape;
  Var a = 2.0, b = 5.0;
  BOOST_TEST(subgrad::grad(a * b + a, a) == 6.0);
  const std::array<double, 2> both = subgrad::grad(a * b, a, b);
  BOOST_TEST(both[0] == 5.0);
  BOOST_TEST(both[1] == 2.0);
  const std::vector<Var> xs{a, b};
  const std::vector<double> from_range = subgrad::grad(a * a * b, xs);
  BOOST_TEST(from_range == (std::vector<double>{20.0, 4.0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(grad_of_a_variable_the_output_does_not_depend_on) {
  Tape tape;
  Var a = 2.0, b = 5.0;
  Var y = a * 3.0;
  BOOST_TEST(subgrad::grad(y, b) == 0.0);
}

BOOST_AUTO_TEST_CASE(output_recorded_before_later_statements) {
  Tape tape;
  Var x = 2.0;
  Var y = x * x;
  Var z = y * x;  // recorded after y; sweeping from y ignores it
  BOOST_TEST(subgrad::grad(y, x) == 4.0);
  BOOST_TEST(subgrad::grad(z, x) == 12.0);
}

BOOST_AUTO_TEST_CASE(functional_forms) {
  auto f = [](std::span<const Var> x) { return x[0] * x[0] * x[1] + sin(x[1]); };
  const std::vector<double> point{1.5, 0.25};
  const std::vector<double> g = subgrad::gradient(f, point);
  BOOST_TEST(g[0] == 2 * 1.5 * 0.25);
  BOOST_TEST(g[1] == 1.5 * 1.5 + std::cos(0.25));
  const subgrad::ValueAndGradient vg = subgrad::value_and_gradient(f, point);
  BOOST_TEST(vg.value == 1.5 * 1.5 * 0.25 + std::sin(0.25));
  BOOST_TEST(vg.gradient == g, boost::test_tools::per_element());
  const std::array<double, 2> as_array{1.5, 0.25};
  BOOST_TEST(subgrad::gradient(f, as_array) == g, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(functional_forms_leave_the_active_tape_alone) {
  Tape tape;
  Var x = 1.0;
  const std::size_t before = tape.statement_count();
  auto f = [](std::span<const Var> v) { return v[0] * v[0]; };
  BOOST_TEST(subgrad::gradient(f, std::vector<double>{3.0})[0] == 6.0);
  BOOST_TEST(tape.statement_count() == before);
  BOOST_TEST(&Tape::active() == &tape);
}

BOOST_AUTO_TEST_CASE(jacobian_one_row_per_output) {
  auto f = [](std::span<const Var> x) {
    return std::vector<Var>{x[0] * x[1], sin(x[0]), x[1] * 2.0, Var{}};
  };
  const std::vector<std::vector<double>> j = subgrad::jacobian(f, std::vector<double>{2.0, 3.0});
  BOOST_TEST(j.size() == 4u);
  BOOST_TEST(j[0] == (std::vector<double>{3.0, 2.0}), boost::test_tools::per_element());
  BOOST_TEST(j[1] == (std::vector<double>{std::cos(2.0), 0.0}), boost::test_tools::per_element());
  BOOST_TEST(j[2] == (std::vector<double>{0.0, 2.0}), boost::test_tools::per_element());
  BOOST_TEST(j[3] == (std::vector<double>{0.0, 0.0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_function_constant_at_the_point_has_a_zero_gradient) {
  // The sum of the positive inputs, in the usual accumulator: where none is positive, nothing is
  // assigned to it and it stays the constant 0, on no tape. Its gradient is 0, as a jacobian's row
  // for such an output.
  auto positive_part = [](std::span<const Var> x) {
    Var sum;
    for (const Var& v : x)
      if (v.value() > 0.0) sum += v;
    return sum;
  };
  const std::vector<double> none_positive{-1.0, -2.0};
  const subgrad::ValueAndGradient vg = subgrad::value_and_gradient(positive_part, none_positive);
  BOOST_TEST(vg.value == 0.0);
  BOOST_TEST(vg.gradient == (std::vector<double>{0.0, 0.0}), boost::test_tools::per_element());
  BOOST_TEST(subgrad::gradient(positive_part, none_positive) == vg.gradient,
             boost::test_tools::per_element());
  BOOST_TEST(subgrad::gradient(positive_part, std::vector<double>{-1.0, 2.0}) ==
                 (std::vector<double>{0.0, 1.0}),
             boost::test_tools::per_element());
  // An output on another tape is still refused: that is a stale Var, not a constant.
  Tape outer;
  const Var foreign = 1.0;
  BOOST_CHECK_THROW(subgrad::gradient([&](std::span<const Var>) { return foreign; }, none_positive),
                    subgrad::Error);
}

BOOST_AUTO_TEST_CASE(variables_and_adjoints_in_bulk) {
  Tape tape;
  std::vector<double> values(10000);  // more than the first block holds
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.001 * static_cast<double>(i);
  Var before = 1.0;
  const std::vector<Var> x = subgrad::variables(values);
  BOOST_TEST(tape.statement_count() == 1u + values.size());
  BOOST_TEST(tape.operand_count() == 0u);
  for (std::size_t i = 0; i < x.size(); ++i) {
    BOOST_REQUIRE_EQUAL(x[i].value(), values[i]);
    BOOST_REQUIRE_EQUAL(x[i].index(), before.index() + 1 + i);
  }
  Var sum = before * 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) sum += x[i] * static_cast<double>(i % 5);
  subgrad::backward(sum);
  const std::vector<double> bulk = subgrad::adjoints(x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    BOOST_REQUIRE_EQUAL(bulk[i], static_cast<double>(i % 5));
    BOOST_REQUIRE_EQUAL(bulk[i], x[i].adjoint());
  }
  std::vector<double> too_small(3);
  BOOST_CHECK_EXCEPTION(
      subgrad::adjoints(x, too_small), subgrad::Error, [](const subgrad::Error& e) {
        return std::string(e.what()).find("subgrad::adjoints: 10000 Vars but room for 3") !=
               std::string::npos;
      });
  std::vector<Var> room(2);
  BOOST_CHECK_THROW(subgrad::variables(values, room), subgrad::Error);
  tape.clear();
  BOOST_CHECK_THROW(subgrad::adjoints(x), subgrad::Error);  // x belongs to the tape before clear()
}

BOOST_AUTO_TEST_CASE(repeated_functional_calls_reuse_the_threads_scratch_tape) {
  // Rosenbrock in 2,000 inputs: the first call makes the scratch tape's memory, the second only
  // its own vectors (the inputs, their adjoints, the result), whatever the tape's size.
  auto f = [](std::span<const Var> x) {
    Var sum = 0.0;
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
      sum +=
          100.0 * subgrad::square(x[i + 1] - subgrad::square(x[i])) + subgrad::square(1.0 - x[i]);
    }
    return sum;
  };
  const std::vector<double> x(2000, 0.5);
  const std::vector<double> first = subgrad::gradient(f, x);
  const long before = allocation_count.load();
  const std::vector<double> second = subgrad::gradient(f, x);
  const long allocations = allocation_count.load() - before;
  BOOST_TEST(second == first);
  BOOST_TEST_MESSAGE("allocations of a repeated gradient(): " << allocations);
  BOOST_TEST(allocations <= 3);
  // A functional form inside another's f gets a tape of its own; the user's tape stays active.
  Tape tape;
  Var a = 2.0;
  auto outer = [](std::span<const Var> v) {
    const std::vector<double> inner =
        subgrad::gradient([](std::span<const Var> w) { return w[0] * w[0] * w[0]; },
                          std::vector<double>{v[0].value()});
    return v[0] * inner[0];  // x * 3 x^2 with the inner derivative as a constant
  };
  BOOST_TEST(subgrad::gradient(outer, std::vector<double>{2.0})[0] == 12.0);
  Var b = a * 5.0;
  BOOST_TEST(subgrad::grad(b, a) == 5.0);
}
