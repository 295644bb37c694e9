#pragma once
/// \file
/// FiniteCheck: while one lives, recording on this thread throws subgrad::Error at the first
/// non-finite value or partial (NaN or infinite), naming the primitive and its argument, instead
/// of letting a NaN surface in the gradient later. Off by default. A statement is checked where a
/// statement that finds no room on the tape goes: while a FiniteCheck lives the thread's tapes
/// show no room (core/tape.hpp), so the path with room tests nothing; a primitive tests the
/// thread-local depth once and, when on, notes a non-finite result for its statement's check.

#include <cstddef>
#include <string_view>

#include "subgrad/core/error.hpp"

// Define it to 0 to compile FiniteCheck out: recording then never tests for it, and making a
// FiniteCheck throws. bench_check_costs builds the benchmarks so to measure what the test costs.
#ifndef SUBGRAD_FINITE_CHECK
#define SUBGRAD_FINITE_CHECK 1
#endif

namespace subgrad {

namespace detail {
inline thread_local int finite_check_depth = 0;

/// Whether a FiniteCheck is in force on this thread.
inline bool finite_check_on() noexcept {
  if constexpr (SUBGRAD_FINITE_CHECK != 0) return finite_check_depth != 0;
  return false;
}

/// Whether x is a number other than +-inf (written out: std::isfinite is not constexpr).
constexpr bool finite(double x) noexcept { return x - x == 0.0; }

// The failures, out of line and [[noreturn]]: the recording path that goes on past a check has no
// call in it, so the compiler keeps the tape's cursors in registers. Every argument by value, so
// that a caller's values need no address.
/// Throws: a unary primitive's value or derivative at x is not finite.
[[noreturn]] void throw_non_finite_unary(std::string_view primitive, double x, double value,
                                         double derivative);
/// Throws: a binary primitive's value or a partial at (x, y) is not finite.
[[noreturn]] void throw_non_finite_binary(std::string_view primitive, double x, double y,
                                          double value, double partial_x, double partial_y);
/// Throws: a statement's value or a partial (as written on the tape) is not finite.
[[noreturn]] void throw_non_finite_statement(double value, const double* partials,
                                             std::size_t count);
/// Throws: element (row, col) of an operation's rows x cols result is `value`, not finite (a
/// scalar result: rows and cols 0).
[[noreturn]] void throw_non_finite_element(std::string_view operation, double value,
                                           std::size_t row, std::size_t col, std::size_t rows,
                                           std::size_t cols);
/// Throws: a primitive or an arithmetic operator (a unary one if not `binary`: then `y` and
/// `partial_y` are not used) gives a value or partial that is not finite at element (row, col)
/// of a rows x cols element-wise tensor expression.
[[noreturn]] void throw_non_finite_element_primitive(std::string_view primitive, bool binary,
                                                     double x, double y, double value,
                                                     double partial_x, double partial_y,
                                                     std::size_t row, std::size_t col,
                                                     std::size_t rows, std::size_t cols);
/// Throws: element (row, col) of a rows x cols element-wise tensor expression has a partial that
/// is not finite with respect to its operand number `operand` (from 1, as written), which
/// `operand_is` describes.
[[noreturn]] void throw_non_finite_element_partial(double value, double partial,
                                                   std::size_t operand, std::string_view operand_is,
                                                   std::size_t row, std::size_t col,
                                                   std::size_t rows, std::size_t cols);

/// A primitive's arguments, kept while a FiniteCheck is on for the report of its check after the
/// evaluation: so that the argument need not stay live across the evaluation, which is often a
/// call (exp, log) across which every live double is stored and reloaded.
inline thread_local double finite_check_arguments[2] = {0.0, 0.0};
inline void keep_finite_check_arguments(double x, double y = 0.0) noexcept {
  finite_check_arguments[0] = x;
  finite_check_arguments[1] = y;
}

/// The first primitive found not finite since the last statement was checked. A primitive notes
/// it (stores, no call: a call on the path of every primitive made g++ keep more of the
/// statement in memory) and its statement's check throws it (check_finite_statement).
struct NonFinitePrimitive {
  std::string_view primitive;  // empty: none noted
  bool binary;
  double x, y, value, partial_x, partial_y;
};
inline thread_local NonFinitePrimitive non_finite_primitive{};
/// Notes a primitive's failure. The doubles are stored one by one, through volatile: as one
/// aggregate, g++ -march=native merges four of them into a 256-bit store, and a function holding
/// 256-bit values gets its stack realigned and gives up a register to the frame pointer. Every
/// function a primitive is inlined into paid for it, check on or off (mlp's recording: a spilled
/// index and a reloaded loop bound per statement).
inline void note_non_finite_primitive(std::string_view primitive, bool binary, double x, double y,
                                      double value, double partial_x, double partial_y) noexcept {
  NonFinitePrimitive& noted = non_finite_primitive;
  static_cast<volatile double&>(noted.x) = x;
  static_cast<volatile double&>(noted.y) = y;
  static_cast<volatile double&>(noted.value) = value;
  static_cast<volatile double&>(noted.partial_x) = partial_x;
  static_cast<volatile double&>(noted.partial_y) = partial_y;
  noted.binary = binary;
  noted.primitive = primitive;
}
/// Throws the noted primitive's report and forgets it.
[[noreturn]] void throw_non_finite_primitive();

/// The checks of a primitive, made while a FiniteCheck is on, after keep_finite_check_arguments.
inline void check_finite_unary(std::string_view primitive, double value, double derivative) {
  if (!(finite(value) && finite(derivative)) && non_finite_primitive.primitive.empty())
      [[unlikely]] {
    note_non_finite_primitive(primitive, false, finite_check_arguments[0], 0.0, value, derivative,
                              0.0);
  }
}
inline void check_finite_binary(std::string_view primitive, double value, double partial_x,
                                double partial_y) {
  if (!(finite(value) && finite(partial_x) && finite(partial_y)) &&
      non_finite_primitive.primitive.empty()) [[unlikely]] {
    note_non_finite_primitive(primitive, true, finite_check_arguments[0], finite_check_arguments[1],
                              value, partial_x, partial_y);
  }
}

/// A statement's check, while a FiniteCheck is on: throws the first primitive noted as not finite
/// since the last statement (named with its arguments); otherwise throws if the statement's value
/// or one of its partials is not finite.
inline void check_finite_statement(double value, const double* partials, std::size_t count) {
  if (!non_finite_primitive.primitive.empty()) [[unlikely]]
    throw_non_finite_primitive();
  bool all = finite(value);
  for (std::size_t k = 0; k < count; ++k) all &= finite(partials[k]);
  if (!all) throw_non_finite_statement(value, partials, count);
}
/// The check of a statement recorded without one (independent variables, nodes' outputs).
struct NoFiniteCheck {
  void operator()(const double*, std::size_t) const noexcept {}
};
/// Makes the thread's live tapes show no room, so that their next statement is checked, and
/// forgets a primitive noted by an earlier FiniteCheck (called by the outermost FiniteCheck when
/// it starts; core/tape.cpp).
void finite_check_started() noexcept;
}  // namespace detail

/// Makes recording on this thread throw at the first non-finite value or partial while it lives;
/// scopes nest (the check stays on until the outermost ends).
///   subgrad::FiniteCheck scope;
///   Var y = log(x);  // x = 0: throws "subgrad::FiniteCheck: log at x = 0 gives value -inf ..."
class FiniteCheck {
 public:
  FiniteCheck() noexcept(SUBGRAD_FINITE_CHECK != 0) {
    if constexpr (SUBGRAD_FINITE_CHECK == 0) {
      throw Error("subgrad::FiniteCheck: compiled out in this build (SUBGRAD_FINITE_CHECK is 0)");
    }
    if (detail::finite_check_depth++ == 0) detail::finite_check_started();
  }
  ~FiniteCheck() { --detail::finite_check_depth; }
  FiniteCheck(const FiniteCheck&) = delete;
  FiniteCheck& operator=(const FiniteCheck&) = delete;
};

}  // namespace subgrad
