#include "subgrad/core/tape.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "subgrad/core/arithmetic.hpp"
#include "subgrad/core/gradient.hpp"
#include "subgrad/core/var.hpp"
#include "subgrad/math/elementary.hpp"

namespace subgrad::detail {
// The tests' handle on the tape's index limit, which is 2^32 - 1 and out of a test's reach.
struct TapeTesting {
  static void set_index_limit(Tape& tape, std::uint64_t limit) { tape.index_limit_ = limit; }
  // The recorder's invariant: a statement with operands checks only the operand room.
  static bool count_room_covers_operand_room(const Tape& tape) {
    return tape.count_room() >= tape.operand_room();
  }
};
}  // namespace subgrad::detail

using subgrad::Tape;
using subgrad::Var;

BOOST_AUTO_TEST_CASE(counts_statements_and_operands) {
  Tape tape;
  Var a = 1.0;
  Var b = 2.0;
  Var c = 3.0;
  BOOST_TEST(tape.statement_count() == 3u);  // independent variables are statements too
  BOOST_TEST(tape.operand_count() == 0u);
  Var d = a * b + c;
  BOOST_TEST(tape.statement_count() == 4u);
  BOOST_TEST(tape.operand_count() == 3u);
  Var e = d * 2.0 + 1.0;  // passive numbers cost nothing
  BOOST_TEST(tape.statement_count() == 5u);
  BOOST_TEST(tape.operand_count() == 4u);
  BOOST_TEST(tape.memory_bytes() == 4u * 12u + 5u * 1u);
  BOOST_TEST(e.value() == 5.0 * 2.0 + 1.0);
}

BOOST_AUTO_TEST_CASE(a_chain_of_ten_million_statements) {
  Tape tape;
  Var x = 1.0;
  Var y = x;
  constexpr int length = 10'000'000;
  for (int i = 0; i < length; ++i) y = y * 1.0000001 + 1e-9;
  BOOST_TEST(tape.statement_count() == static_cast<std::size_t>(length) + 1);
  const double expected = std::pow(1.0000001, length);
  BOOST_TEST(subgrad::grad(y, x) == expected, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(tape.capacity_bytes() >= tape.memory_bytes());
}

// The sweep keeps what a statement passes to the statement just before it in a register; these
// chains check it where it must reach memory: at block ends (the first block holds 4096
// operands), before a node, for an operand used twice, and in each Var's adjoint. Every expected
// value is exact, or rounded as the sweep rounds it.
BOOST_AUTO_TEST_CASE(chains_through_the_previous_statement_sweep_exactly) {
  Tape tape;
  Var x = 3.0;
  Var y = x;
  for (int i = 0; i < 20'000; ++i) y = y * (i % 2 == 0 ? 2.0 : 0.5) + 1.0;  // crosses blocks
  BOOST_TEST(subgrad::grad(y, x) == 1.0);

  // Each link passes z twice (partial z / 2 each: the first operand's share in a register, the
  // second's through memory), so d(link)/dz is z exactly; the sweep multiplies from the output.
  Var z = x * 1.0;
  std::vector<double> values;
  for (int i = 0; i < 10; ++i) {
    values.push_back(z.value());
    z = z * z * 0.5;
  }
  double expected = 1.0;
  for (auto v = values.rbegin(); v != values.rend(); ++v) expected *= *v;
  BOOST_TEST(subgrad::grad(z, x) == expected);
}

BOOST_AUTO_TEST_CASE(what_a_chain_link_carries_is_each_vars_adjoint) {
  Tape tape;
  Var a = 2.0;
  Var t = a * 2.0;
  Var u = t * 3.0;      // t is the previous statement's left-hand side
  Var b = 5.0;          // an independent variable after statements with operands
  Var y = b * 4.0 + u;  // b is the previous statement's left-hand side
  subgrad::backward(y);
  BOOST_TEST(b.adjoint() == 4.0);
  BOOST_TEST(u.adjoint() == 1.0);
  BOOST_TEST(t.adjoint() == 3.0);
  BOOST_TEST(a.adjoint() == 6.0);
}

BOOST_AUTO_TEST_CASE(a_chain_interrupted_by_a_node_reaches_it) {
  Tape tape;
  Var x = 1.5;
  Var before = x * 2.0;
  // A node after `before` reads the adjoint of `before` (its input) as the sweep left it.
  double seen = 0.0;
  tape.record_node(
      [&seen, index = before.index()](std::span<double> adjoints) { seen = adjoints[index]; });
  Var after = before * 8.0;  // the statement right after `before`: a chain link across the node
  BOOST_TEST(subgrad::grad(after, x) == 16.0);
  BOOST_TEST(seen == 8.0);
}

BOOST_AUTO_TEST_CASE(clear_and_reuse_keeps_memory_bounded) {
  Tape tape;
  std::size_t capacity_after_first = 0;
  for (int cycle = 0; cycle < 10'000; ++cycle) {
    Var x = 0.5 + cycle * 1e-5;
    Var y = x;
    for (int i = 0; i < 50; ++i) y = sin(y) * x;
    const double g = subgrad::grad(y, x);
    BOOST_REQUIRE(std::isfinite(g));
    if (cycle == 0) capacity_after_first = tape.capacity_bytes();
    BOOST_REQUIRE_EQUAL(tape.capacity_bytes(), capacity_after_first);
    tape.clear();
    BOOST_REQUIRE_EQUAL(tape.statement_count(), 0u);
  }
  BOOST_TEST(capacity_after_first > 0u);
}

BOOST_AUTO_TEST_CASE(reuse_after_clear_spans_several_blocks) {
  Tape tape;
  for (int cycle = 0; cycle < 3; ++cycle) {
    Var x = 1.5;
    Var sum = 0.0 * x;
    for (int i = 0; i < 100'000; ++i) sum += x * static_cast<double>(i % 7);
    double expected = 0.0;
    for (int i = 0; i < 100'000; ++i) expected += i % 7;
    BOOST_TEST(subgrad::grad(sum, x) == expected);
    tape.clear();
  }
}

BOOST_AUTO_TEST_CASE(variables_recorded_after_operands_do_not_hide_them_from_the_sweep) {
  // The sweep stops before a block's leading statements without operands; statements without
  // operands recorded later (one variable, a bulk of them, an empty dynamic statement) must not
  // move that point past the statements with operands before them.
  for (int blocks = 0; blocks < 2; ++blocks) {
    Tape tape;
    Var filler = 1.0;
    // With blocks == 1 the statements below start in a second block.
    for (int i = 0; i < (blocks == 1 ? 5000 : 0); ++i) filler = filler * 1.0;
    const std::vector<Var> leading = subgrad::variables(std::vector<double>{2.0, 3.0});
    const Var product = leading[0] * leading[1];
    const Var single = 5.0;
    const std::vector<Var> bulk = subgrad::variables(std::vector<double>{7.0, 11.0});
    tape.record_dynamic(0, [](subgrad::Index*, double*) {});
    const Var y = product * single + bulk[0] * bulk[1];
    tape.backward(y.index(), tape.id(), 1.0);
    BOOST_TEST(leading[0].adjoint() == 15.0);
    BOOST_TEST(leading[1].adjoint() == 10.0);
    BOOST_TEST(single.adjoint() == 6.0);
    BOOST_TEST(bulk[0].adjoint() == 11.0);
    BOOST_TEST(bulk[1].adjoint() == 7.0);
    BOOST_TEST(tape.statement_count() == (blocks == 1 ? 5009u : 9u));
  }
}

BOOST_AUTO_TEST_CASE(independent_variables_interleaved_with_statements_across_blocks) {
  // Statements without operands take room for counts only: however they interleave with
  // statements with operands (one at a time, in bulk), every statement lands and sweeps.
  Tape tape;
  Var x = 0.5;
  Var sum = x * 1.0;
  double expected_x = 1.0;
  for (int i = 0; i < 30'000; ++i) {
    if (i % 1000 == 0) {
      const std::vector<Var> bulk = subgrad::variables(std::vector<double>(10000, 1.0));
      BOOST_REQUIRE(subgrad::detail::TapeTesting::count_room_covers_operand_room(tape));
      const Var single = 2.0;  // right after the bulk, which may have left both rooms equal
      BOOST_REQUIRE(subgrad::detail::TapeTesting::count_room_covers_operand_room(tape));
      sum += bulk[4999] * single * x;
      expected_x += 2.0;
    }
    const Var v = 0.25 * (i % 3);
    BOOST_REQUIRE(subgrad::detail::TapeTesting::count_room_covers_operand_room(tape));
    sum += v * x;
    expected_x += 0.25 * (i % 3);
  }
  BOOST_TEST(tape.statement_count() == 1u + 1u + 30u * 10002u + 30'000u * 2u);
  BOOST_TEST(subgrad::grad(sum, x) == expected_x);
}

BOOST_AUTO_TEST_CASE(a_statement_of_more_operands_than_indices_left_is_refused) {
  // A block keeps no more operand room than count room; near the index limit a statement wider
  // than the indices left is refused with a clear error, and the tape goes on recording.
  Tape tape;
  subgrad::detail::TapeTesting::set_index_limit(tape, 4095);
  Var x = 1.0;
  for (int i = 0; i < 4090; ++i) x = x * 1.0;  // statements 2..4091 of the first block
  const std::vector<Var> leaves(600, x);
  auto wide = [&] {
    tape.record_dynamic(leaves.size(), [&](subgrad::Index* indices, double* partials) {
      for (std::size_t k = 0; k < leaves.size(); ++k) {
        indices[k] = leaves[k].index();
        partials[k] = 0.5;
      }
    });
  };
  BOOST_CHECK_EXCEPTION(wide(), subgrad::Error, [](const subgrad::Error& e) {
    const std::string what = e.what();
    return what.find("statement 4092 of 600 operands") != std::string::npos &&
           what.find("4095") != std::string::npos;
  });
  BOOST_TEST(subgrad::detail::TapeTesting::count_room_covers_operand_room(tape));
  Var y = x * 2.0;  // the 4 statements left: 4092 .. 4095
  for (int i = 0; i < 3; ++i) {
    y = y * 2.0;
    BOOST_TEST(subgrad::detail::TapeTesting::count_room_covers_operand_room(tape));
  }
  BOOST_CHECK_THROW(y = y * 2.0, subgrad::Error);
  BOOST_TEST(tape.statement_count() == 4095u);
  BOOST_TEST(subgrad::grad(y, x) == 16.0);
  BOOST_TEST(tape.operand_count() == 4090u + 4u);
}

BOOST_AUTO_TEST_CASE(statements_with_many_operands) {
  Tape tape;
  std::vector<Var> xs;
  for (int i = 0; i < 600; ++i) xs.emplace_back(0.001 * i);
  // Dynamic statements of 600 operands, past the one-byte count, interleaved with small ones.
  auto weighted_sum = [&](double scale) {
    return tape.record_dynamic(xs.size(), [&](subgrad::Index* indices, double* partials) {
      for (std::size_t i = 0; i < xs.size(); ++i) {
        indices[i] = xs[i].index();
        partials[i] = scale * static_cast<double>(i);
      }
    });
  };
  const subgrad::Index first = weighted_sum(1.0);
  const subgrad::Index second = weighted_sum(2.0);
  tape.backward(first, tape.id(), 1.0);
  BOOST_TEST(xs[10].adjoint() == 10.0);
  tape.backward(second, tape.id(), 1.0);
  BOOST_TEST(xs[599].adjoint() == 2.0 * 599.0);
  BOOST_TEST(tape.memory_bytes() == 2u * 600u * 12u + 602u + 2u * 4u);
}

BOOST_AUTO_TEST_CASE(tapes_nest_like_a_stack) {
  Tape outer;
  Var x = 2.0;
  {
    Tape inner;
    BOOST_TEST(&Tape::active() == &inner);
    Var z = 3.0;
    Var w = z * z;
    BOOST_TEST(subgrad::grad(w, z) == 6.0);
    BOOST_TEST(outer.statement_count() == 1u);
  }
  BOOST_TEST(&Tape::active() == &outer);
  Var y = x * x * x;
  BOOST_TEST(subgrad::grad(y, x) == 12.0);
}

BOOST_AUTO_TEST_CASE(tapes_destroyed_out_of_order_leave_a_valid_chain) {
  Tape& before = Tape::active();
  {
    auto first = std::make_unique<Tape>();
    auto second = std::make_unique<Tape>();
    first.reset();  // out of order
    BOOST_TEST(&Tape::active() == second.get());
  }
  BOOST_TEST(&Tape::active() == &before);
}

BOOST_AUTO_TEST_CASE(two_threads_record_and_sweep_at_once) {
  auto work = [](double start) {
    Tape tape;
    Var x = start;
    Var y = x;
    for (int i = 0; i < 200'000; ++i) y = tanh(y) * 0.5 + x * 0.25;
    return subgrad::grad(y, x);
  };
  const double serial_a = work(0.3);
  const double serial_b = work(-0.7);
  double parallel_a = 0.0;
  double parallel_b = 0.0;
  std::thread first([&] { parallel_a = work(0.3); });
  std::thread second([&] { parallel_b = work(-0.7); });
  first.join();
  second.join();
  BOOST_TEST(parallel_a == serial_a);
  BOOST_TEST(parallel_b == serial_b);
}

BOOST_AUTO_TEST_CASE(the_default_tape_serves_programs_without_a_tape_object) {
  double result = 0.0;
  std::thread thread([&] {
    Var x = 3.0;
    Var y = x * x;
    result = subgrad::grad(y, x);
  });
  thread.join();
  BOOST_TEST(result == 6.0);
}

// A Var finds the tape it records on without a call (Tape::recording_tape): on a thread with no
// active tape, its first statement reaches the default tape through the recorder's slow branch,
// which must give the new Var that tape's id and refuse operands of any other tape.
BOOST_AUTO_TEST_CASE(a_threads_first_statement_starts_its_default_tape) {
  Tape tape;
  const Var foreign = 2.0;
  bool started = false;
  bool linked = false;
  bool independent_started = false;
  double gradient = 0.0;
  std::string refused;
  std::thread([&] {
    const Var constant;            // on no tape
    Var y = constant * 3.0 + 1.0;  // the first statement: its operands are on no tape
    started = y.tape_id() != 0 && y.tape_id() == Tape::active().id();
    // The default tape is now the active one, so later statements find it without grow().
    linked = subgrad::detail::active_tape == &Tape::active();
    Var x = 3.0;
    Var z = x * y + x;
    gradient = subgrad::grad(z, x);
  }).join();
  std::thread([&] {
    Var x = 5.0;  // the first statement: an independent variable
    independent_started = x.tape_id() != 0 && x.tape_id() == Tape::active().id();
  }).join();
  std::thread([&] {
    try {
      Var y = foreign * 2.0;  // the first statement: an operand of another thread's tape
    } catch (const subgrad::Error& error) {
      refused = error.what();
    }
  }).join();
  BOOST_TEST(started);
  BOOST_TEST(linked);
  BOOST_TEST(independent_started);
  BOOST_TEST(gradient == 2.0);
  BOOST_TEST(refused.find("another thread's tape") != std::string::npos, refused);
}

BOOST_AUTO_TEST_CASE(the_default_tape_is_active_again_after_a_nested_tape) {
  bool restored = false;
  double outer_gradient = 0.0;
  double inner_gradient = 0.0;
  std::thread([&] {
    Var x = 2.0;
    Var y = x * x * x;
    Tape& default_tape = Tape::active();
    {
      Tape inner;
      Var z = 4.0;
      Var w = z * z;
      inner_gradient = subgrad::grad(w, z);
    }
    restored = &Tape::active() == &default_tape;
    Var v = y + x;  // recorded on the default tape again
    outer_gradient = subgrad::grad(v, x);
  }).join();
  BOOST_TEST(restored);
  BOOST_TEST(inner_gradient == 8.0);
  BOOST_TEST(outer_gradient == 13.0);
}

// A Tape whose thread has ended is no longer in any running thread's chain: another thread may
// destroy it (and read its adjoints first).
BOOST_AUTO_TEST_CASE(a_tape_whose_thread_has_ended_may_be_destroyed_on_another_thread) {
  Tape mine;
  Var a = 3.0;
  std::unique_ptr<Tape> made;
  double adjoint = 0.0;
  std::thread([&] {
    made = std::make_unique<Tape>();
    Var x = 2.0;
    Var y = x * x;
    subgrad::backward(y);
    adjoint = x.adjoint();
  }).join();
  made.reset();  // on this thread, after the one that made it ended: no abort
  BOOST_TEST(adjoint == 4.0);
  BOOST_TEST(&Tape::active() == &mine);
  Var b = a * a;
  BOOST_TEST(subgrad::grad(b, a) == 6.0);
}

// Destroyed on another thread while the thread that made it runs, a tape would leave that
// thread's active tape pointing to freed memory; a destructor cannot throw, so the program ends
// with a message (as std::thread's destructor does for a joinable thread). Run in a child process.
BOOST_AUTO_TEST_CASE(
    destroying_a_tape_on_another_thread_while_its_thread_runs_aborts_with_a_message) {
  int pipe_ends[2];
  BOOST_REQUIRE(pipe(pipe_ends) == 0);
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    dup2(pipe_ends[1], STDERR_FILENO);
    close(pipe_ends[0]);
    std::signal(SIGABRT, SIG_DFL);  // Boost.Test's handler would turn the abort into a report
    auto* tape = new Tape;          // this thread's active tape
    Var x = 1.0;
    std::thread([tape] { delete tape; }).join();
    _exit(0);  // not reached when the misuse is caught
  }
  close(pipe_ends[1]);
  std::string message;
  char buffer[256];
  for (ssize_t n; (n = read(pipe_ends[0], buffer, sizeof buffer)) > 0;) message.append(buffer, n);
  close(pipe_ends[0]);
  int status = 0;
  BOOST_REQUIRE(waitpid(child, &status, 0) == child);
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
  BOOST_TEST(
      message.find("destroyed on a thread other than the one that made it") != std::string::npos,
      message);
}

BOOST_AUTO_TEST_CASE(index_overflow_throws_rather_than_wraps) {
  Tape tape;
  subgrad::detail::TapeTesting::set_index_limit(tape, 10'000);
  Var x = 1.0;
  try {
    for (int i = 0; i < 20'000; ++i) x = x * 1.0;
    BOOST_FAIL("no error past the index limit");
  } catch (const subgrad::Error& error) {
    BOOST_TEST(std::string(error.what()).find("10001") != std::string::npos);
    BOOST_TEST(std::string(error.what()).find("subgrad::Tape") != std::string::npos);
  }
  BOOST_TEST(tape.statement_count() == 10'000u);
}

BOOST_AUTO_TEST_CASE(sweeping_an_empty_tape_is_an_error) {
  Tape tape;
  BOOST_CHECK_EXCEPTION(tape.backward(1, tape.id(), 1.0), subgrad::Error,
                        [](const subgrad::Error& e) {
                          return std::string(e.what()).find("empty") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(bulk_variables_respect_the_index_limit) {
  Tape tape;
  subgrad::detail::TapeTesting::set_index_limit(tape, 5000);
  BOOST_TEST(tape.new_variables(4000) == 1u);
  BOOST_CHECK_THROW(tape.new_variables(2000), subgrad::Error);
  BOOST_TEST(tape.statement_count() == 4000u);  // nothing of the refused call was recorded
  BOOST_TEST(tape.new_variables(1000) == 4001u);
}
