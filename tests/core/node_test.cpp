#include "subgrad/core/node.hpp"
#include "subgrad/core/arithmetic.hpp"

#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/gradient.hpp"
#include "subgrad/math/elementary.hpp"

using subgrad::NodeAdjoints;
using subgrad::Tape;
using subgrad::Var;

// An external function F(a, b) = (a * b, a + b) with a hand-written adjoint.
std::vector<Var> external(const Var& a, const Var& b, int* calls) {
  const std::vector<Var> inputs{a, b};
  const std::vector<double> values{a.value() * b.value(), a.value() + b.value()};
  return subgrad::record_node(inputs, values,
                              [calls, av = a.value(), bv = b.value()](NodeAdjoints& adj) {
                                ++*calls;
                                adj.input(0) += bv * adj.output(0) + adj.output(1);
                                adj.input(1) += av * adj.output(0) + adj.output(1);
                              });
}

BOOST_AUTO_TEST_CASE(nodes_are_swept_in_recording_order_with_statements) {
  Tape tape;
  int calls = 0;
  Var x = 2.0;
  Var a = x * x;  // before the node
  Var b = sin(x);
  const std::vector<Var> out = external(a, b, &calls);
  Var y = out[0] * 3.0 + out[1] * out[1];  // after the node
  BOOST_TEST(tape.node_count() == 1u);
  // y = 3 a b + (a + b)^2
  const double av = 4.0, bv = std::sin(2.0);
  const double dy_da = 3 * bv + 2 * (av + bv);
  const double dy_db = 3 * av + 2 * (av + bv);
  BOOST_TEST(subgrad::grad(y, x) == dy_da * 2 * 2.0 + dy_db * std::cos(2.0),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(nodes_after_the_output_are_not_called) {
  Tape tape;
  int calls = 0;
  Var x = 2.0;
  Var y = x * 5.0;
  const std::vector<Var> out = external(x, y, &calls);
  BOOST_TEST(subgrad::grad(y, x) == 5.0);
  BOOST_TEST(calls == 0);
  BOOST_TEST(subgrad::grad(out[1], x) == 6.0);
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(a_node_input_from_another_tape_is_refused) {
  Var stale;
  {
    Tape old;
    stale = 1.0;
  }
  Tape tape;
  int calls = 0;
  Var x = 1.0;
  BOOST_CHECK_EXCEPTION(external(stale, x, &calls), subgrad::Error, [](const subgrad::Error& e) {
    return std::string(e.what()).find("record_node") != std::string::npos;
  });
}
